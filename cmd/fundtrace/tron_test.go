package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/fundtrace/fundtrace/internal/csvtest"
	"github.com/fundtrace/fundtrace/internal/simtest"
	"github.com/fundtrace/fundtrace/tracefile"
)

// TestTraceTron: the shipped TRON scenario served over the java-tron
// HTTP API, indexed with index tron, labeled, clustered with the deposit
// heuristic, and traced from its case file (USDT and TRX followed
// separately): every deposit the trace reports is one the truth lists,
// at least 95 % of them are found, USDT is written with its 6 decimals,
// and freeze writes the requests.
func TestTraceTron(t *testing.T) {
	const scen = "../../testdata/sim/tron"
	url, w := simtest.ServeTron(t, scen)
	st := t.TempDir() + "/store"
	runEach(t, st,
		[]string{"index", "tron", "--api", url, "--confirmations", "0"},
		[]string{"labels", "import", scen + "/labels.csv"},
		[]string{"cluster", "--chain", "tron"},
	)
	out := filepath.Join(t.TempDir(), "trace.json")
	if _, _, err := run(t, "--store", st, "trace", "--case", scen+"/case.csv", "--out", out); err != nil {
		t.Fatal(err)
	}
	tr, err := readTrace(out)
	if err != nil {
		t.Fatal(err)
	}
	truth := map[[3]string]bool{}
	for _, r := range csvtest.Read(t, scen+"/truth/exposures.csv") {
		truth[[3]string{r["deposit_address"], r["tx_hash"], r["asset"]}] = true
	}
	found := map[[3]string]bool{}
	for _, d := range tr.Deposits {
		asset := "TRX"
		if d.Asset != "TRX" {
			asset = "USDT"
		}
		k := [3]string{d.Address, d.Tx, asset}
		if !truth[k] {
			t.Fatalf("deposit %+v is not one the truth lists", d)
		}
		found[k] = true
	}
	usdt := tr.Assets["TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"]
	if len(tr.Seeds) != 26 || len(found) < len(truth)*95/100 || usdt.Symbol != "USDT" || usdt.Decimals != 6 || tr.Assets["TRX"].Decimals != 6 {
		t.Fatalf("%d seeds, %d deposits of %d in the truth, assets %+v", len(tr.Seeds), len(found), len(truth), tr.Assets)
	}
	if msg, _, err := run(t, "freeze", "--trace", out, "--out", t.TempDir()); err != nil || !strings.Contains(msg, "deposits") {
		t.Fatalf("freeze: %v %s", err, msg)
	}
	// A seed given as tron:TXID, and the address seeds of a T-address.
	seed := tr.Seeds[0]
	if _, _, err := run(t, "--store", st, "trace", "tron:"+seed.Tx, "--out", filepath.Join(t.TempDir(), "one.json")); err != nil {
		t.Fatalf("tron: seed: %v", err)
	}
	if _, _, err := run(t, "--store", st, "trace", "--address", seed.Address, "--out", filepath.Join(t.TempDir(), "addr.json")); err != nil {
		t.Fatalf("address seeds: %v", err)
	}
	// The deposit clustering behind the deposits is visible and citable:
	// the deposit's evidence names its exchange's labeled wallet and the
	// link, cluster explain gives the sweep and the collector's forwarders,
	// show address the cluster and its labels.
	d := tr.Deposits[0]
	hot := ""
	for _, r := range csvtest.Read(t, scen+"/labels.csv") {
		if r["label"] == d.Exchange {
			hot = r["address"]
		}
	}
	if hot == "" || !strings.Contains(d.Evidence, "in the cluster of the exchange's labeled wallet "+hot) || !strings.Contains(d.Evidence, "deposit heuristic") {
		t.Fatalf("deposit evidence %q (hot wallet %s)", d.Evidence, hot)
	}
	js0, _, err := run(t, "--store", st, "cluster", "explain", d.Address, hot, "--json")
	var ex struct {
		Chain  string
		Linked bool
		Steps  []struct {
			Heuristic, Collector string
			Forwarders           int `json:"collector_forwarders"`
		}
	}
	if err != nil || json.Unmarshal([]byte(js0), &ex) != nil || ex.Chain != "tron" || !ex.Linked || len(ex.Steps) != 1 ||
		ex.Steps[0].Heuristic != "deposit" || ex.Steps[0].Collector != hot || ex.Steps[0].Forwarders < 3 {
		t.Fatalf("cluster explain: %v\n%s", err, js0)
	}
	js0, _, err = run(t, "--store", st, "show", "address", d.Address, "--json")
	var sa struct {
		Cluster       *uint32                  `json:"cluster_id"`
		ClusterSize   int                      `json:"cluster_size"`
		ClusterLabels []struct{ Label string } `json:"cluster_labels"`
	}
	if err != nil || json.Unmarshal([]byte(js0), &sa) != nil || sa.Cluster == nil || sa.ClusterSize < 3 || len(sa.ClusterLabels) == 0 || sa.ClusterLabels[0].Label != d.Exchange {
		t.Fatalf("show address %s: %v\n%s", d.Address, err, js0)
	}
	if out, _, err := run(t, "--store", st, "cluster", "export"); err != nil || !strings.Contains(out, d.Address+",") || !strings.Contains(out, hot+",") {
		t.Fatalf("cluster export: %v", err)
	}
	// show reads TRON transactions, addresses and blocks.
	js, _, err := run(t, "--store", st, "show", "tx", seed.Tx, "--json")
	var tx struct {
		Chain, Hash string
		Height      int64
		Transfers   []struct{ To, Amount string }
	}
	if err != nil || json.Unmarshal([]byte(js), &tx) != nil || tx.Chain != "tron" || tx.Hash != seed.Tx || tx.Height != seed.Height {
		t.Fatalf("show tx: %v\n%s", err, js)
	}
	paid := false
	for _, tr := range tx.Transfers {
		paid = paid || (tr.To == seed.Address && tr.Amount == seed.Amount)
	}
	if !paid {
		t.Fatalf("show tx %s has no transfer of %s to %s:\n%s", seed.Tx, seed.Amount, seed.Address, js)
	}
	if js, _, err := run(t, "--store", st, "show", "address", seed.Address, "--json"); err != nil || !strings.Contains(js, seed.Tx) {
		t.Fatalf("show address: %v\n%s", err, js)
	}
	b := w.Blocks[seed.Height]
	if js, _, err := run(t, "--store", st, "show", "block", fmt.Sprint(seed.Height), "--json"); err != nil || !strings.Contains(js, hex.EncodeToString(b.ID[:])) {
		t.Fatalf("show block: %v\n%s", err, js)
	}
}

// TestTronOnClickHouse: the TRON case through the command line on a
// ClickHouse store — index tron, labels, cluster, trace, cluster export
// and explain — answers exactly as on the embedded store.
func TestTronOnClickHouse(t *testing.T) {
	if chServer == nil {
		t.Skip("no ClickHouse server (make test starts one)")
	}
	const scen = "../../testdata/sim/tron"
	url, _ := simtest.ServeTron(t, scen)
	answers := func(st string) string {
		runEach(t, st,
			[]string{"index", "tron", "--api", url, "--confirmations", "0"},
			[]string{"labels", "import", scen + "/labels.csv"},
			[]string{"cluster"},
		)
		js, _, err := run(t, "--store", st, "trace", "--case", scen+"/case.csv", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var tr tracefile.Trace
		if err := json.Unmarshal([]byte(js), &tr); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, d := range tr.Deposits {
			fmt.Fprintf(&b, "%s %s %s %s %s %s %s\n", d.Exchange, d.Address, d.Tx, d.Victim, d.Haircut, d.FIFO, d.Evidence)
		}
		export, _, err := run(t, "--store", st, "cluster", "export")
		if err != nil {
			t.Fatal(err)
		}
		// Stores list clusters in their own orders (the embedded store by
		// address, ClickHouse by first sight): compared sorted.
		lines := strings.Split(strings.TrimSpace(export), "\n")
		sort.Strings(lines)
		b.WriteString(strings.Join(lines, "\n") + "\n")
		explain, _, err := run(t, "--store", st, "cluster", "explain", tr.Deposits[0].Address, tr.Deposits[len(tr.Deposits)-1].Address)
		if err != nil {
			t.Fatal(err)
		}
		return b.String() + explain
	}
	emb := answers(t.TempDir() + "/store")
	ch := answers("clickhouse://" + chServer.Addr() + "/tron_cli")
	if len(emb) < 10_000 {
		t.Fatalf("only %d bytes of answers", len(emb))
	}
	if emb != ch {
		a, b := strings.Split(emb, "\n"), strings.Split(ch, "\n")
		for i := range min(len(a), len(b)) {
			if a[i] != b[i] {
				t.Fatalf("answers differ at line %d of %d and %d:\nembedded:   %s\nclickhouse: %s", i+1, len(a), len(b), a[i], b[i])
			}
		}
		t.Fatalf("answers differ in length: %d and %d lines", len(a), len(b))
	}
}
