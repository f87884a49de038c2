package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/internal/ethreplay"
	"github.com/fundtrace/fundtrace/internal/shareddata"
)

// TestCLIEthereum indexes mainnet blocks 1,755,634–5 from ethereum-etl's
// recorded node answers through the command line, then shows the token
// transfer ethereum-etl found in them (5 tokens of 0xbb9bc2…, 18
// decimals, from 0x649807… to 0x8b3b3b…, log 0 of transaction 0x2e3dcd…).
func TestCLIEthereum(t *testing.T) {
	srv := ethreplay.New()
	defer srv.Close()
	if err := srv.LoadETL(shareddata.Path(t, "ethereum", "ethereum-etl", "test_stream", "blocks_1755634_1755635")); err != nil {
		t.Fatal(err)
	}
	srv.AddResult("eth_chainId", nil, "0x1")
	srv.AddResult("eth_blockNumber", nil, "0x1ac9f3")
	st := filepath.Join(t.TempDir(), "store")
	// Without traces the node fails with what to enable.
	if _, _, err := run(t, "--store", st, "index", "eth", "--rpc", srv.URL, "--from", "1755634", "--confirmations", "0"); err == nil || !strings.Contains(err.Error(), "--traces none") {
		t.Fatalf("index eth on a node without traces: %v", err)
	}
	out, _, err := run(t, "--store", st, "index", "eth", "--rpc", srv.URL, "--from", "1755634", "--confirmations", "0", "--traces", "none", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Chain     string `json:"chain"`
		Network   string `json:"network"`
		From      int64  `json:"from_height"`
		To        int64  `json:"to_height"`
		Blocks    int64  `json:"blocks"`
		Transfers int64  `json:"transfers"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if res.Chain != "eth" || res.Network != "mainnet" || res.From != 1755634 || res.To != 1755635 || res.Blocks != 2 {
		t.Fatalf("index result %+v", res)
	}
	const tx = "0x2e3dcd051a91d3a694f6b8de2ac4b5fe7acdba55f58bcf8471ff00d4a430074d"
	out, _, err = run(t, "--store", st, "show", "tx", tx, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var shown struct {
		Hash      string `json:"hash"`
		Height    int64  `json:"height"`
		Success   bool   `json:"success"`
		Transfers []struct {
			Kind     string `json:"kind"`
			Asset    string `json:"asset"`
			From     string `json:"from"`
			To       string `json:"to"`
			Amount   string `json:"amount"`
			Position string `json:"position"`
		} `json:"transfers"`
	}
	if err := json.Unmarshal([]byte(out), &shown); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if shown.Hash != tx || shown.Height != 1755635 || !shown.Success || len(shown.Transfers) != 2 {
		t.Fatalf("show tx: %s", out)
	}
	// The fee first: the receipt's 36,418 gas used at the transaction's 20
	// gwei, all of it (before London) to the block's miner.
	if fee := shown.Transfers[0]; fee.Kind != "fee" || fee.From != "0xed059bc543141c8c93031d545079b3da0233b27f" ||
		fee.To != "0xa027231f42c80ca4125b5cb962a21cd4f812e88f" || fee.Amount != "728360000000000" {
		t.Fatalf("fee %+v", fee)
	}
	tr := shown.Transfers[1]
	if tr.Kind != "erc20" || tr.Asset != "0xbb9bc244d798123fde783fcc1c72d3bb8c189413" || tr.From != "0x6498077292a0921c8804924fdf47b5e91e2a215f" ||
		tr.To != "0x8b3b3b624c3c0397d3da8fd861512393d51dcbac" || tr.Amount != "5000000000000000000" || tr.Position != "log:0" {
		t.Fatalf("transfer %+v", tr)
	}
	out, _, err = run(t, "--store", st, "show", "address", "0x8B3B3B624C3C0397D3DA8FD861512393D51DCBAC")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "erc20") || !strings.Contains(out, "0x6498077292a0921c8804924fdf47b5e91e2a215f") {
		t.Fatalf("show address:\n%s", out)
	}
	out, _, err = run(t, "--store", st, "status")
	if err != nil || !strings.Contains(out, "eth") || !strings.Contains(out, "1755635") {
		t.Fatalf("status: %v\n%s", err, out)
	}
}

// TestKillDuringIndexETH kills a real fundtrace process (SIGKILL) while it
// indexes a node's chain, restarts it each time, and checks that the store
// ends key for key as an uninterrupted run leaves it.
func TestKillDuringIndexETH(t *testing.T) {
	const tip = 3000
	f := &ethreplay.FakeChain{Head: tip, ForkAt: 1 << 40}
	url := f.Serve(t)
	dir := t.TempDir()
	ref := filepath.Join(dir, "ref")
	if _, _, err := run(t, "--store", ref, "index", "eth", "--rpc", url, "--confirmations", "0"); err != nil {
		t.Fatal(err)
	}
	st := filepath.Join(dir, "killed")
	args := []string{"--store", st, "index", "eth", "--rpc", url, "--confirmations", "0", "--batch-blocks", "10"}
	killDuringRun(t, args, args, tip, func() int64 { return chainTip(t, st, chains.Ethereum) })
	sameStores(t, ref, st)
}
