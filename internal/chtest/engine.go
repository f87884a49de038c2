package chtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Engine is a running chdbserve: ClickHouse's current engine (chDB's
// libchdb.so, ClickHouse 26.5) behind the HTTP interface, on loopback.
// A store reaches it as clickhouse://ADDR/db?protocol=http.
type Engine struct {
	addr string
	cmd  *exec.Cmd
}

// Addr is the engine's HTTP address.
func (e *Engine) Addr() string { return e.addr }

// EngineCommand returns the chdbserve command to run, which make test
// builds (scripts/ensure-chdb.sh) and names in FUNDTRACE_CHDBSERVE; ""
// when it is not set. Under CI, with the ClickHouse tests on, it must be
// set, so CI never passes by skipping current ClickHouse.
func EngineCommand() (string, error) {
	if cmd := os.Getenv("FUNDTRACE_CHDBSERVE"); cmd != "" {
		return cmd, nil
	}
	if os.Getenv("CI") != "" && os.Getenv("FUNDTRACE_TEST_CLICKHOUSE") == "1" {
		return "", errors.New("CI is set but FUNDTRACE_CHDBSERVE is not: run the tests with make test")
	}
	return "", nil
}

// StartEngine runs chdbserve with its data in dir and waits until it
// listens.
func StartEngine(ctx context.Context, command, dir string) (*Engine, error) {
	cmd := exec.Command(command, "-dir", dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", command, err)
	}
	addr := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		if s.Scan() {
			addr <- s.Text()
		}
		close(addr)
	}()
	e := &Engine{cmd: cmd}
	select {
	case a, ok := <-addr:
		if ok {
			e.addr = a
			return e, nil
		}
	case <-time.After(60 * time.Second):
	case <-ctx.Done():
	}
	e.Stop()
	return nil, fmt.Errorf("%s did not start: %s", command, stderr.String())
}

// Stop ends the engine's process.
func (e *Engine) Stop() {
	if e.cmd.Process != nil {
		_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
		_ = e.cmd.Wait()
	}
}
