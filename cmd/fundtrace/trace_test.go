package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTraceAndFreeze runs the main job on the shipped scenario as a
// newcomer would: index, cluster, import the labels, trace the victims'
// payments from the case file, write the freezing requests. The deposits
// found must be exchange deposit addresses in the scenario's truth.
func TestTraceAndFreeze(t *testing.T) {
	const scen = "../../testdata/sim/btc"
	st := t.TempDir() + "/store"
	for _, args := range [][]string{
		{"index", "btc", "--blocks", scen + "/blocks"},
		{"cluster"},
		{"labels", "import", scen + "/labels.csv"},
	} {
		if _, _, err := run(t, append([]string{"--store", st}, args...)...); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	out := filepath.Join(t.TempDir(), "trace.json")
	if _, _, err := run(t, "--store", st, "trace", "--case", scen+"/case.csv", "--through-mixers", "--out", out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var tr traceJSON
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(scen + "/truth/addresses.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	role := map[string]string{}
	for _, r := range recs[1:] {
		role[r[0]] = r[2]
	}
	if len(tr.Seeds) != 18 || len(tr.Deposits) == 0 {
		t.Fatalf("%d seeds, %d deposits", len(tr.Seeds), len(tr.Deposits))
	}
	// The flow graph leads to every deposit: each is a seed or the output
	// of a flow, and every flow's output pays the address it names.
	reached := map[string]string{}
	for _, f := range tr.Flows {
		reached[f.Output] = f.To
	}
	for _, sd := range tr.Seeds {
		reached[sd.Outpoint] = "seed"
	}
	for _, d := range tr.Deposits {
		if role[d.Address] != "deposit" {
			t.Fatalf("%s reported as a deposit of %s; the truth says %q", d.Address, d.Exchange, role[d.Address])
		}
		if to, ok := reached[d.Outpoint]; !ok || (to != "seed" && to != d.Address) {
			t.Fatalf("deposit %s is not reached by the flow graph (%q)", d.Outpoint, to)
		}
	}
	dir := t.TempDir()
	msg, _, err := run(t, "freeze", "--trace", out, "--out", dir)
	if err != nil || !strings.Contains(msg, "deposits") {
		t.Fatalf("freeze: %v %s", err, msg)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
	if len(files) == 0 {
		t.Fatal("no freezing request written")
	}
	// A seed that is not in the store is an error naming it.
	if _, _, err := run(t, "--store", st, "trace", strings.Repeat("ab", 32)+":0"); err == nil || !strings.Contains(err.Error(), "seed 1") {
		t.Fatalf("unknown seed: %v", err)
	}
}

// TestScreenExposure: the scam's address a victim paid (from the case
// file) sent money on to exchanges and received it, through the victims,
// from exchanges (the victims bought there); neither can exceed what the
// address received.
func TestScreenExposure(t *testing.T) {
	const scen = "../../testdata/sim/btc"
	st := t.TempDir() + "/store"
	for _, args := range [][]string{{"index", "btc", "--blocks", scen + "/blocks"}, {"labels", "import", scen + "/labels.csv"}} {
		if _, _, err := run(t, append([]string{"--store", st}, args...)...); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(scen + "/case.csv")
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.Split(strings.Split(string(b), "\n")[1], ",")[2]
	out, _, err := run(t, "--store", st, "screen", "--exposure", "--hops", "6", addr, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res []struct {
		Exposure []struct {
			Category string `json:"category"`
			Sent     int64  `json:"sent_sats"`
			Received int64  `json:"received_sats"`
		} `json:"exposure"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 1 {
		t.Fatalf("%v: %s", err, out)
	}
	js, _, err := run(t, "--store", st, "show", "address", addr, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Received int64 `json:"total_received"`
	}
	if err := json.Unmarshal([]byte(js), &a); err != nil {
		t.Fatal(err)
	}
	var sent, recv int64
	for _, e := range res[0].Exposure {
		if e.Category == "exchange" {
			sent += e.Sent
			recv += e.Received
		}
	}
	if sent <= 0 || recv <= 0 || sent > a.Received || recv > a.Received {
		t.Fatalf("exposure to exchanges: sent %d, received %d, of %d the address received", sent, recv, a.Received)
	}
}
