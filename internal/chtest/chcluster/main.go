// Command chcluster runs a ClickHouse cluster on loopback for the store
// bench (scripts/bench-store.sh): a ZooKeeper for ON CLUSTER DDL and one
// clickhouse-server per shard (-shards, two by default) whose config
// declares the cluster, each with its data in a folder under -dir. It prints the servers'
// addresses, one line, once both answer, and runs until interrupted
// (SIGINT or SIGTERM), then stops them. The same servers as
// the tests' (chtest), so that the bench measures what TestCluster checks.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/fundtrace/fundtrace/internal/chtest"
)

func main() {
	dir := flag.String("dir", "", "folder for the servers' and ZooKeeper's data (created)")
	name := flag.String("name", "ft_bench", "the cluster's name in the servers' remote_servers")
	shards := flag.Int("shards", 2, "number of shards, one server each")
	flag.Parse()
	if *dir == "" || *shards < 1 {
		fmt.Fprintln(os.Stderr, "usage: chcluster -dir DIR [-name NAME] [-shards N]")
		os.Exit(2)
	}
	if err := run(*dir, *name, *shards); err != nil {
		fmt.Fprintln(os.Stderr, "chcluster:", err)
		os.Exit(1)
	}
}

func run(dir, name string, shards int) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	zk, err := chtest.StartZooKeeper(ctx, filepath.Join(dir, "zk"))
	if err != nil {
		return err
	}
	defer zk.Stop()
	cl := chtest.Cluster{Name: name, ZooKeeper: zk.Addr}
	for range shards {
		p, err := chtest.FreePort()
		if err != nil {
			return err
		}
		cl.Shards = append(cl.Shards, p)
	}
	var addrs []string
	for i, p := range cl.Shards {
		s, err := chtest.Start(ctx, filepath.Join(dir, fmt.Sprintf("ch%d", i)), p, cl)
		if err != nil {
			return err
		}
		defer func() {
			if err := s.Stop(); err != nil {
				slog.Warn("stop server", "addr", s.Addr(), "err", err)
			}
		}()
		addrs = append(addrs, s.Addr())
	}
	fmt.Println(strings.Join(addrs, " "))
	<-ctx.Done()
	return nil
}
