// Package chtest starts real ClickHouse servers for tests: on loopback,
// on free ports, with a throwaway data folder, stopped at the end. The
// servers are the clickhouse-server binary from the machine's packages
// (make test installs it); ZooKeeper, for ON CLUSTER DDL, likewise.
package chtest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Server is a running clickhouse-server.
type Server struct {
	Dir     string
	TCPPort int
	cmd     *exec.Cmd
}

// Addr is the server's native-protocol address.
func (s *Server) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.TCPPort) }

// Enabled reports whether tests should use real servers: make test sets
// FUNDTRACE_TEST_CLICKHOUSE=1. Under CI it must be set, so CI never
// passes by skipping ClickHouse.
func Enabled() (bool, error) {
	if os.Getenv("FUNDTRACE_TEST_CLICKHOUSE") == "1" {
		return true, nil
	}
	if os.Getenv("CI") != "" {
		return false, errors.New("CI is set but FUNDTRACE_TEST_CLICKHOUSE is not: run the tests with make test")
	}
	return false, nil
}

// FreePort returns a TCP port free on loopback now.
func FreePort() (int, error) { return freePort() }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Cluster describes a cluster the servers' config declares.
type Cluster struct {
	Name      string
	Shards    []int // TCP ports of the shards' servers, one replica each
	ZooKeeper string
}

// Start starts a server in dir (created), with cluster definitions if
// given; tcpPort 0 picks a free one.
func Start(ctx context.Context, dir string, tcpPort int, clusters ...Cluster) (*Server, error) {
	bin, err := exec.LookPath("clickhouse-server")
	if err != nil {
		return nil, fmt.Errorf("clickhouse-server not installed (make test installs it): %w", err)
	}
	if tcpPort == 0 {
		if tcpPort, err = freePort(); err != nil {
			return nil, err
		}
	}
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	interPort, err := freePort()
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"data", "tmp", "user_files", "format_schemas", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	var remote, zk strings.Builder
	for _, c := range clusters {
		fmt.Fprintf(&remote, "<%s>", c.Name)
		for _, p := range c.Shards {
			fmt.Fprintf(&remote, "<shard><replica><host>127.0.0.1</host><port>%d</port></replica></shard>", p)
		}
		fmt.Fprintf(&remote, "</%s>", c.Name)
		if c.ZooKeeper != "" {
			host, port, _ := strings.Cut(c.ZooKeeper, ":")
			zk.Reset()
			fmt.Fprintf(&zk, "<zookeeper><node><host>%s</host><port>%s</port></node></zookeeper>", host, port)
		}
	}
	config := fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>%[1]s/log/server.log</log><errorlog>%[1]s/log/error.log</errorlog><size>10M</size><count>1</count></logger>
  <tcp_port>%[2]d</tcp_port>
  <http_port>%[3]d</http_port>
  <interserver_http_port>%[4]d</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <listen_host>127.0.0.1</listen_host>
  <path>%[1]s/data/</path>
  <tmp_path>%[1]s/tmp/</tmp_path>
  <user_files_path>%[1]s/user_files/</user_files_path>
  <format_schema_path>%[1]s/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <remote_servers>%[5]s</remote_servers>
  %[6]s
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
</yandex>
`, dir, tcpPort, httpPort, interPort, remote.String(), zk.String())
	users := `<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users><default><password></password><networks><ip>::1</ip><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), []byte(config), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(users), 0o644); err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, TCPPort: tcpPort}
	if err := s.start(ctx, bin); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) start(ctx context.Context, bin string) error {
	cmd := exec.Command(bin, "--config-file="+filepath.Join(s.Dir, "config.xml"))
	cmd.Dir = s.Dir
	out, err := os.Create(filepath.Join(s.Dir, "log", "stdout.log"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start clickhouse-server: %w", err)
	}
	s.cmd = cmd
	return waitPort(ctx, s.Addr(), 30*time.Second, func() string {
		b, _ := os.ReadFile(filepath.Join(s.Dir, "log", "error.log"))
		return string(b)
	})
}

func waitPort(ctx context.Context, addr string, limit time.Duration, why func() string) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("server at %s did not come up in %s: %s", addr, limit, why())
}

// Stop stops the server and waits for it to exit.
func (s *Server) Stop() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	s.cmd = nil
	return nil
}

// Restart stops and starts the server on the same port and data.
func (s *Server) Restart(ctx context.Context) error {
	if err := s.Stop(); err != nil {
		return err
	}
	bin, err := exec.LookPath("clickhouse-server")
	if err != nil {
		return err
	}
	return s.start(ctx, bin)
}

// ZooKeeper is a running ZooKeeper for ON CLUSTER DDL.
type ZooKeeper struct {
	Addr string
	cmd  *exec.Cmd
}

// StartZooKeeper runs Debian's ZooKeeper standalone in dir on a free port.
func StartZooKeeper(ctx context.Context, dir string) (*ZooKeeper, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf("tickTime=2000\ndataDir=%s/data\nclientPort=%d\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=ruok\n", dir, port)
	if err := os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	const jar = "/usr/share/java/zookeeper.jar" // Debian's; its manifest names its dependencies
	if _, err := os.Stat(jar); err != nil {
		return nil, errors.New("no " + jar + ": install the zookeeper package")
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("java not installed (the zookeeper package brings it): %w", err)
	}
	cmd := exec.Command(java, "-Xmx256m", "-cp", "/etc/zookeeper/conf:"+jar,
		"-Dzookeeper.log.dir="+dir, "org.apache.zookeeper.server.quorum.QuorumPeerMain", filepath.Join(dir, "zoo.cfg"))
	out, err := os.Create(filepath.Join(dir, "zookeeper.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start zookeeper: %w", err)
	}
	z := &ZooKeeper{Addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd}
	// The port opens before ZooKeeper serves; "ruok" answers "imok" once
	// it does (ClickHouse gives up on a ZooKeeper that drops its handshake).
	deadline := time.Now().Add(60 * time.Second)
	for {
		if zkOK(z.Addr) && zkSession(z.Addr) {
			return z, nil
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "zookeeper.log"))
			z.Stop()
			return nil, fmt.Errorf("zookeeper at %s did not come up: %s", z.Addr, b)
		}
		select {
		case <-ctx.Done():
			z.Stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// zkSession opens a real ZooKeeper session (the protocol's
// ConnectRequest): "ruok" answers before ZooKeeper accepts sessions, and
// a ClickHouse that cannot get one at start may crash on its first DDL.
func zkSession(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	req := make([]byte, 4+44)
	binary.BigEndian.PutUint32(req, 44)
	binary.BigEndian.PutUint32(req[4+12:], 30000) // timeout; protocol version, zxid, session id and password stay zero
	binary.BigEndian.PutUint32(req[4+24:], 16)    // password length
	if _, err := c.Write(req); err != nil {
		return false
	}
	var n [4]byte
	if _, err := io.ReadFull(c, n[:]); err != nil {
		return false
	}
	return binary.BigEndian.Uint32(n[:]) > 0
}

func zkOK(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("ruok")); err != nil {
		return false
	}
	b := make([]byte, 4)
	n, _ := io.ReadFull(c, b)
	return string(b[:n]) == "imok"
}

// Stop stops ZooKeeper.
func (z *ZooKeeper) Stop() {
	if z.cmd != nil && z.cmd.Process != nil {
		_ = syscall.Kill(-z.cmd.Process.Pid, syscall.SIGKILL)
		_ = z.cmd.Wait()
	}
}

// Main runs a test package's tests with a ClickHouse server started for
// them when Enabled (stored in *srv, nil otherwise), stops it, and
// returns the exit code: TestMain calls os.Exit(chtest.Main(m, &server)).
func Main(m interface{ Run() int }, srv **Server) int {
	on, err := Enabled()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if !on {
		fmt.Fprintln(os.Stderr, "ClickHouse tests skipped: FUNDTRACE_TEST_CLICKHOUSE is not 1 (make test sets it)")
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "fundtrace-ch-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if *srv, err = Start(context.Background(), dir, 0); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer (*srv).Stop()
	return m.Run()
}
