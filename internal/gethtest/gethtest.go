// Package gethtest runs a real geth in --dev mode on loopback for
// integration tests: instant blocks on every transaction, a funded and
// unlocked developer account, and the eth and debug namespaces.
//
// The binary is built from the Go module proxy by scripts/ensure-geth.sh
// (make test runs it) and found through FUNDTRACE_GETH or PATH. Tests
// skip without it, except when FUNDTRACE_TEST_GETH=1 (make test, CI),
// where a missing geth fails them.
package gethtest

import (
	"context"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
)

// Node is a running geth --dev.
type Node struct {
	URL string
	RPC *rpc.Client
	Dev common.Address // the funded, unlocked developer account
	cmd *exec.Cmd
}

func binary() string {
	if p := os.Getenv("FUNDTRACE_GETH"); p != "" {
		return p
	}
	p, _ := exec.LookPath("geth")
	return p
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start starts geth --dev, or skips the test when no geth is to be had
// (fails instead under FUNDTRACE_TEST_GETH=1).
func Start(t testing.TB) *Node {
	t.Helper()
	bin := binary()
	if bin == "" {
		if os.Getenv("FUNDTRACE_TEST_GETH") == "1" {
			t.Fatal("FUNDTRACE_TEST_GETH=1 but no geth: run scripts/ensure-geth.sh or set FUNDTRACE_GETH")
		}
		t.Skip("no geth binary (set FUNDTRACE_GETH or run scripts/ensure-geth.sh)")
	}
	dir := t.TempDir()
	port := freePort(t)
	cmd := exec.Command(bin, "--dev", "--dev.period", "0", "--datadir", filepath.Join(dir, "data"),
		"--http", "--http.addr", "127.0.0.1", "--http.port", strconv.Itoa(port), "--http.api", "eth,debug,net,web3",
		"--authrpc.addr", "127.0.0.1", "--authrpc.port", strconv.Itoa(freePort(t)),
		"--port", "0", "--nodiscover", "--maxpeers", "0", "--ipcdisable", "--verbosity", "2")
	logf, err := os.Create(filepath.Join(dir, "geth.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start geth: %v", err)
	}
	n := &Node{URL: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "geth.log"))
			t.Logf("geth log:\n%s", b)
		}
	})
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	for {
		rc, err := rpc.DialContext(ctx, n.URL)
		if err == nil {
			var accts []common.Address
			if err = rc.CallContext(ctx, &accts, "eth_accounts"); err == nil && len(accts) > 0 {
				n.RPC, n.Dev = rc, accts[0]
				break
			}
			rc.Close()
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "geth.log"))
			t.Fatalf("geth did not answer on %s: %v\n%s", n.URL, err, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Cleanup(n.RPC.Close)
	return n
}

// Receipt is the part of a receipt the tests read.
type Receipt struct {
	TxHash          common.Hash     `json:"transactionHash"`
	BlockNumber     hexutil.Uint64  `json:"blockNumber"`
	Status          hexutil.Uint64  `json:"status"`
	ContractAddress *common.Address `json:"contractAddress"`
}

// Send sends a transaction from the developer account and waits for it
// to be mined. to nil deploys data as a contract.
func (n *Node) Send(t testing.TB, to *common.Address, value *big.Int, data []byte) Receipt {
	t.Helper()
	ctx := context.Background()
	tx := map[string]any{"from": n.Dev, "gas": hexutil.Uint64(3_000_000)}
	if to != nil {
		tx["to"] = *to
	}
	if value != nil {
		tx["value"] = (*hexutil.Big)(value)
	}
	if len(data) > 0 {
		tx["data"] = hexutil.Bytes(data)
	}
	var h common.Hash
	if err := n.RPC.CallContext(ctx, &h, "eth_sendTransaction", tx); err != nil {
		t.Fatalf("eth_sendTransaction: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var r *Receipt
		err := n.RPC.CallContext(ctx, &r, "eth_getTransactionReceipt", h)
		if err != nil && !strings.Contains(err.Error(), "indexing is in progress") {
			t.Fatalf("eth_getTransactionReceipt: %v", err)
		}
		if r != nil {
			return *r
		}
		if time.Now().After(deadline) {
			t.Fatalf("transaction %s not mined", h.Hex())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
