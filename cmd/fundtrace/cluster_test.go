package main

import (
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLICluster clusters the shipped simulated chain, exports the
// clusters and explains a link inside one cluster and its absence across
// two.
func TestCLICluster(t *testing.T) {
	st := filepath.Join(t.TempDir(), "store")
	if _, _, err := run(t, "--store", st, "index", "btc", "--blocks", "../../testdata/sim/btc/blocks"); err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, "--store", st, "cluster", "--heuristics", "multi-input", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Heuristics  []string         `json:"heuristics"`
		Addresses   int64            `json:"addresses"`
		Clusters    int64            `json:"clusters"`
		Links       map[string]int64 `json:"links"`
		Incremental bool             `json:"incremental"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if sum.Addresses == 0 || sum.Clusters >= sum.Addresses || sum.Links["multi-input"] == 0 || sum.Incremental {
		t.Fatalf("cluster summary %+v", sum)
	}
	out, _, err = run(t, "--store", st, "cluster", "export")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || int64(len(rows)-1) != sum.Addresses {
		t.Fatalf("export: %d rows for %d addresses, %v", len(rows)-1, sum.Addresses, err)
	}
	members := map[string][]string{}
	for _, r := range rows[1:] {
		members[r[1]] = append(members[r[1]], r[0])
	}
	var in []string
	var apart [2]string
	for id, ms := range members {
		if len(ms) >= 3 && in == nil {
			in = ms
		}
		if len(ms) == 1 {
			if apart[0] == "" {
				apart[0] = ms[0]
			} else if apart[1] == "" && id != "" {
				apart[1] = ms[0]
			}
		}
	}
	out, _, err = run(t, "--store", st, "cluster", "explain", in[0], in[len(in)-1])
	if err != nil || !strings.Contains(out, "one entity") || !strings.Contains(out, "multi-input") {
		t.Fatalf("explain within a cluster: %v\n%s", err, out)
	}
	out, _, err = run(t, "--store", st, "cluster", "explain", apart[0], apart[1], "--json")
	if err != nil || !strings.Contains(out, `"linked": false`) {
		t.Fatalf("explain across clusters: %v\n%s", err, out)
	}
	out, _, err = run(t, "--store", st, "show", "address", in[0], "--json")
	if err != nil || !strings.Contains(out, `"cluster_id"`) {
		t.Fatalf("show address lacks the cluster: %v\n%s", err, out)
	}
}

// TestClusterSuspects: with a guard small enough to matter on the
// shipped scenario, cluster suspects lists the held-back change links and
// the flagged multi-input merges with their evidence, and show address and
// screen mark an address whose cluster a flagged merge built.
func TestClusterSuspects(t *testing.T) {
	st := t.TempDir() + "/store"
	runEach(t, st, []string{"index", "btc", "--blocks", "../../testdata/sim/btc/blocks"},
		[]string{"cluster", "--heuristics", "multi-input,change-fresh,change-script,change-round,change-optimal", "--guard-size", "3"})
	importList2021(t, st)
	out, _, err := run(t, "--store", st, "cluster", "suspects", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var sus struct {
		GuardSize int64 `json:"guard_size"`
		Suspects  []struct {
			Kind, Heuristic, Tx, A, B string
			SizeA                     uint32 `json:"size_a"`
			SizeB                     uint32 `json:"size_b"`
		}
	}
	if err := json.Unmarshal([]byte(out), &sus); err != nil || sus.GuardSize != 3 {
		t.Fatalf("%v\n%s", err, out)
	}
	kinds := map[string]int{}
	var flaggedAddr string
	for _, s := range sus.Suspects {
		kinds[s.Kind]++
		if s.SizeA <= 3 || s.SizeB <= 3 || len(s.Tx) != 64 || (s.Kind == "flagged") != (s.Heuristic == "multi-input") {
			t.Fatalf("suspect %+v", s)
		}
		if s.Kind == "flagged" && flaggedAddr == "" {
			flaggedAddr = s.A
		}
	}
	if kinds["flagged"] == 0 {
		t.Fatalf("no flagged merge on the shipped scenario with guard 3: %v", kinds)
	}
	out, _, err = run(t, "--store", st, "show", "address", flaggedAddr, "--json")
	if err != nil || !strings.Contains(out, `"cluster_flagged_merge": true`) {
		t.Fatalf("show address %s: %v\n%s", flaggedAddr, err, out)
	}
	out, _, err = run(t, "--store", st, "screen", flaggedAddr, "--json")
	if err != nil || !strings.Contains(out, `"cluster_flagged_merge": true`) || !strings.Contains(out, "cluster suspects") {
		t.Fatalf("screen %s: %v\n%s", flaggedAddr, err, out)
	}
	// With the default guard, nothing in this small scenario is suspect.
	runEach(t, st, []string{"cluster"})
	if out, _, err = run(t, "--store", st, "cluster", "suspects"); err != nil || !strings.Contains(out, "no link joined two btc clusters of more than 10,000") {
		t.Fatalf("default guard: %v\n%s", err, out)
	}
}
