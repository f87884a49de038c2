package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestLabelsCLI labels two addresses of one cluster of the shipped
// simulated chain as two different exchanges (a CSV written here, with a
// bad row), then checks the import report, the conflict, what screen and
// show address say of a third member, and the TagPack export.
func TestLabelsCLI(t *testing.T) {
	st := t.TempDir() + "/store"
	if _, _, err := run(t, "--store", st, "index", "btc", "--blocks", "../../testdata/sim/btc/blocks"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, "--store", st, "cluster", "--heuristics", "multi-input"); err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, "--store", st, "cluster", "export")
	if err != nil {
		t.Fatal(err)
	}
	byCluster := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Split(line, ",")
		byCluster[f[1]] = append(byCluster[f[1]], f[0])
	}
	var ms []string
	for _, m := range byCluster {
		if len(m) >= 3 && (ms == nil || m[0] < ms[0]) {
			ms = m
		}
	}
	// Labels are read for the store's network (regtest here).
	main := func(s string) string { return s }
	csv := "chain,address,label,category,source,confidence\n" +
		"btc," + main(ms[0]) + ",Exchange One deposit,exchange,case 17 subpoena,90\n" +
		"btc," + main(ms[1]) + ",Exchange Two hot wallet,exchange,vendor feed,70\n" +
		"btc,1NotAnAddressAtAll,broken,exchange,,\n" +
		"btc," + main(ms[2]) + ",,exchange,,\n" +
		"btc," + main(ms[2]) + ",dated badly,exchange,,,5 May 2024\n"
	path := t.TempDir() + "/labels.csv"
	if err := os.WriteFile(path, []byte(strings.Replace(csv, "confidence\n", "confidence,date\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	// The good rows are imported; the rejected ones are listed with their
	// lines, and the exit status is 1.
	out, _, err = run(t, "--store", st, "labels", "import", path)
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "3 rows") || !strings.Contains(out, "2 labels imported") ||
		!strings.Contains(out, "line 4") || !strings.Contains(out, "line 5: "+ms[2]+": the label is empty") || !strings.Contains(out, "line 6") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	out, _, err = run(t, "--store", st, "labels", "conflicts")
	if err != nil || !strings.Contains(out, "exchange one deposit") || !strings.Contains(out, "exchange two hot wallet") {
		t.Fatalf("conflicts: %v\n%s", err, out)
	}
	out, _, _ = run(t, "--store", st, "screen", ms[2], "--json")
	var res []struct {
		ClusterLabels []struct {
			Label  string `json:"label"`
			Source string `json:"source"`
		} `json:"cluster_labels"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 1 || len(res[0].ClusterLabels) != 2 {
		t.Fatalf("screen: %v\n%s", err, out)
	}
	out, _, err = run(t, "--store", st, "show", "address", ms[0])
	if err != nil || !strings.Contains(out, "Exchange One deposit [exchange] (case 17 subpoena)") || !strings.Contains(out, "In cluster") {
		t.Fatalf("show address: %v\n%s", err, out)
	}
	pack := t.TempDir() + "/out.yaml"
	if out, _, err = run(t, "--store", st, "labels", "export", "--out", pack); err != nil || !strings.Contains(out, "2 labels") {
		t.Fatalf("export: %v %s", err, out)
	}
	b, _ := os.ReadFile(pack)
	if !strings.Contains(string(b), main(ms[0])) || !strings.Contains(string(b), "category: exchange") {
		t.Fatalf("TagPack:\n%s", b)
	}
}
