package clickhouse_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/internal/chtest"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/store/clickhouse"
	"github.com/fundtrace/fundtrace/store/embedded"
	"github.com/fundtrace/fundtrace/store/storetest"
)

// server is the ClickHouse server TestMain starts for the package.
var server *chtest.Server

func TestMain(m *testing.M) {
	on, err := chtest.Enabled()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if !on {
		fmt.Fprintln(os.Stderr, "skipping the ClickHouse tests: FUNDTRACE_TEST_CLICKHOUSE is not 1 (make test sets it)")
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "fundtrace-ch-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	server, err = chtest.Start(context.Background(), dir, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	server.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

var dbSeq atomic.Int64

// openTest opens a fresh database on the test server.
func openTest(t testing.TB) *clickhouse.Store {
	t.Helper()
	if server == nil {
		t.Skip("no ClickHouse server")
	}
	db := fmt.Sprintf("ft_test_%d_%d", os.Getpid(), dbSeq.Add(1))
	st, err := clickhouse.Open(context.Background(), "clickhouse://"+server.Addr()+"/"+db, clickhouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return openTest(t) })
}

// TestSameAnswersAsEmbedded: the ClickHouse store answers every lookup
// exactly as the embedded store does for the same blocks.
func TestSameAnswersAsEmbedded(t *testing.T) {
	ch := openTest(t)
	storetest.Index(t, ch, 0, 100)
	em, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	storetest.Index(t, em, 0, 100)
	a, b := storetest.Answers(t, em), storetest.Answers(t, ch)
	if a != b {
		al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
		for i := range min(len(al), len(bl)) {
			if al[i] != bl[i] {
				t.Fatalf("answer %d differs:\nembedded:   %s\nclickhouse: %s", i, al[i], bl[i])
			}
		}
		t.Fatalf("answers differ in length: %d vs %d", len(al), len(bl))
	}
}

func TestServerDown(t *testing.T) {
	_, err := clickhouse.Open(context.Background(), "clickhouse://127.0.0.1:1/x", clickhouse.Options{})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("got %v, want an error naming the address", err)
	}
}

func TestSchemaTooNew(t *testing.T) {
	st := openTest(t)
	if err := st.RecordMigration(context.Background(), 999); err != nil {
		t.Fatal(err)
	}
	_, err := clickhouse.Open(context.Background(), "clickhouse://"+server.Addr()+"/"+st.Database(), clickhouse.Options{})
	if !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("got %v, want ErrSchemaTooNew", err)
	}
}

var _ = chains.Bitcoin

// TestCluster runs two ClickHouse servers as one two-shard cluster (with
// ZooKeeper for ON CLUSTER DDL), indexes the real blocks through it, and
// checks the answers equal the embedded store's and both shards hold rows.
func TestCluster(t *testing.T) {
	if server == nil {
		t.Skip("no ClickHouse server")
	}
	ctx := context.Background()
	dir := t.TempDir()
	zk, err := chtest.StartZooKeeper(ctx, dir+"/zk")
	if err != nil {
		t.Fatal(err)
	}
	defer zk.Stop()
	p1, _ := chtest.FreePort()
	p2, _ := chtest.FreePort()
	cl := chtest.Cluster{Name: "ft_two_shards", Shards: []int{p1, p2}, ZooKeeper: zk.Addr}
	var servers []*chtest.Server
	for i, p := range []int{p1, p2} {
		s, err := chtest.Start(ctx, fmt.Sprintf("%s/ch%d", dir, i), p, cl)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Stop()
		servers = append(servers, s)
	}
	st, err := clickhouse.Open(ctx, fmt.Sprintf("clickhouse://%s/ftc", servers[0].Addr()), clickhouse.Options{Cluster: cl.Name})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	storetest.Index(t, st, 0, 100)

	em, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	storetest.Index(t, em, 0, 100)
	if storetest.Answers(t, em) != storetest.Answers(t, st) {
		t.Fatal("the cluster answers differently from the embedded store")
	}
	for i, s := range servers {
		one, err := clickhouse.Open(ctx, fmt.Sprintf("clickhouse://%s/ftc", s.Addr()), clickhouse.Options{})
		if err != nil {
			t.Fatal(err)
		}
		counts, err := one.CountRows(ctx, "outputs_local", "address_history_local", "spends_local")
		one.Close()
		if err != nil {
			t.Fatal(err)
		}
		for table, n := range counts {
			if n == 0 {
				t.Errorf("shard %d holds no rows of %s", i, table)
			}
		}
		t.Logf("shard %d: %v", i, counts)
	}
}
