package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/internal/shareddata"
	"github.com/fundtrace/fundtrace/labels"
)

// TestSanctionsAndScreen imports two real OFAC CSV sets as dated
// snapshots and screens an address whose listing OFAC corrected in
// between: entry 29702 (LIFSHITS) carried a malformed ETH address on
// 2021-07-07 and the corrected 0xa7e5…b008 by 2024-05-03.
func TestSanctionsAndScreen(t *testing.T) {
	st := t.TempDir() + "/store"
	d2021 := shareddata.Path(t, "sanctions", "ofac", "legacy-csv", "2021-07-07_watchman-bench")
	d2024 := shareddata.Path(t, "sanctions", "ofac", "legacy-csv", "git-scrape", "sdn_2024-05-03.csv.gz")
	out, _, err := run(t, "--store", st, "sanctions", "import", d2021+"/sdn.csv.gz", "--date", "2021-07-07")
	if err != nil || !strings.Contains(out, "0xa7e5d5a720f06526557c513402f2e6b5fa20b00 (OFAC 29702") {
		t.Fatalf("import 2021: %v\n%s", err, out)
	}
	out, _, err = run(t, "--store", st, "sanctions", "import", d2024, "--date", "2024-05-03", "--allow-truncated", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var imp struct {
		ID       int64    `json:"id"`
		Previous int64    `json:"previous_snapshot"`
		Added    []string `json:"added"`
	}
	if err := json.Unmarshal([]byte(out), &imp); err != nil || imp.ID != 2 || imp.Previous != 1 {
		t.Fatalf("import 2024: %v %+v", err, imp)
	}
	if !strings.Contains(strings.Join(imp.Added, "\n"), "eth 0xa7e5d5a720f06526557c513402f2e6b5fa20b008 (LIFSHITS") {
		t.Fatal("the corrected address is not reported as added")
	}
	const lifshits = "0xA7E5D5A720F06526557C513402F2E6B5FA20B008" // upper case: compared case-insensitively
	if _, _, err := run(t, "--store", st, "screen", "--as-of", "2022-01-01", lifshits); err != nil {
		t.Fatalf("as of 2022 the corrected address was not listed yet: %v", err)
	}
	out, _, err = run(t, "--store", st, "screen", lifshits, "1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "--json")
	if !errors.Is(err, errSanctionsHit) {
		t.Fatalf("a hit must end with errSanctionsHit (exit status 2), got %v", err)
	}
	var res []struct {
		Address    string `json:"address"`
		Sanctioned *struct {
			Entity   string   `json:"entity"`
			Programs []string `json:"programs"`
			Snapshot int64    `json:"snapshot"`
		} `json:"sanctioned"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(res) != 2 || res[0].Sanctioned == nil || res[0].Sanctioned.Entity != "LIFSHITS, Artem Mikhaylovich" ||
		strings.Join(res[0].Sanctioned.Programs, ",") != "CYBER2,ELECTION-EO13848" || res[0].Sanctioned.Snapshot != 2 || res[1].Sanctioned != nil {
		t.Fatalf("screen: %s", out)
	}
	// A malformed address is reported per address, never as clear, and
	// the exit status is 1 (errNotScreened).
	out, _, err = run(t, "--store", st, "screen", "1BoatSLRHtKNngkdXEeobR76b53LETtpyX")
	var ns errNotScreened
	if !errors.As(err, &ns) || !strings.Contains(out, "invalid") || !strings.Contains(out, "NOT SCREENED") {
		t.Fatalf("bad address: %v\n%s", err, out)
	}
}

// TestScreenClusterHit lists (in a hand-written sdn.csv) one address of a
// cluster of the shipped simulated chain and screens another address of
// the same cluster: a same-cluster hit, with exit status 2.
func TestScreenClusterHit(t *testing.T) {
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
	var members []string
	for _, ms := range byCluster {
		if len(ms) >= 2 && strings.HasPrefix(ms[0], "bcrt1q") && (members == nil || ms[0] < members[0]) {
			members = ms
		}
	}
	if members == nil {
		t.Fatal("no cluster of two P2WPKH addresses")
	}
	// OFAC lists mainnet addresses: the same key hash, mainnet encoding.
	regtest, mainnet := bitcoin.NetworkByName("regtest"), bitcoin.NetworkByName("mainnet")
	a, err := regtest.ParseAddress(members[0])
	if err != nil {
		t.Fatal(err)
	}
	listed := mainnet.MustEncode(a)
	sdn := t.TempDir() + "/sdn.csv"
	line := `99999,"TEST ENTITY","-0- ","CYBER2",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"Digital Currency Address - XBT ` + listed + `;"` + "\n\x1a\n"
	if err := os.WriteFile(sdn, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, "--store", st, "sanctions", "import", sdn, "--date", "2024-01-01"); err != nil {
		t.Fatal(err)
	}
	out, _, err = run(t, "--store", st, "screen", members[1], "--json")
	if !errors.Is(err, errSanctionsHit) || !strings.Contains(out, `"cluster_sanctioned": [`) || !strings.Contains(out, listed) || !strings.Contains(out, `"sanctioned": null`) {
		t.Fatalf("same-cluster hit not reported: %v\n%s", err, out)
	}
}

// TestScreenExitCodes: screen exits 0 only when every address was
// screened and none is a hit, 2 on any hit, and 1 when none is a hit but
// any could not be screened. Direct hits on TRON, Litecoin and Monero
// addresses need no chain data. The listed addresses are read from the
// real 2024-05-03 sdn.csv.
func TestScreenExitCodes(t *testing.T) {
	st := t.TempDir() + "/store"
	const clean = "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"
	screen := func(addrs ...string) (int, []map[string]any) {
		t.Helper()
		out, _, err := run(t, append([]string{"--store", st, "screen", "--json"}, addrs...)...)
		var res []map[string]any
		if jerr := json.Unmarshal([]byte(out), &res); jerr != nil {
			t.Fatalf("screen %v: %v (%v)\n%s", addrs, jerr, err, out)
		}
		return exitCode(err), res
	}
	// No list in the store: nothing is screened. (The store holds a
	// label, no chain: a store without a chain is mainnet's.)
	lf := filepath.Join(t.TempDir(), "labels.csv")
	if err := os.WriteFile(lf, []byte("chain,address,label,category\nbtc,1dice8EMZmqKvrGE4Qc9bUFf9PX3xaYDp,Satoshi Dice,gambling\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, "--store", st, "labels", "import", lf); err != nil {
		t.Fatal(err)
	}
	if code, res := screen(clean); code != 1 || res[0]["status"] != "no_list" || res[0]["sanctioned"] != nil {
		t.Fatalf("no list: exit %d %v", code, res)
	}
	sdn := shareddata.Path(t, "sanctions", "ofac", "legacy-csv", "git-scrape", "sdn_2024-05-03.csv.gz")
	if _, _, err := run(t, "--store", st, "sanctions", "import", sdn, "--date", "2024-05-03", "--allow-truncated"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, addr string
		code       int
		status     string
	}{
		{"clean", clean, 0, "screened"},
		{"bad checksum", "1BoatSLRHtKNngkdXEeobR76b53LETtpyX", 1, "invalid"},
		{"testnet address", "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", 1, "invalid"},
		{"not an address", "hello", 1, "unsupported"},
		{"TRX", "TMStbg5fgb4uTV7fK1gEYF9hKAzP3siPsG", 2, "screened"},
		{"USDT on TRON", "TX5GV4DyfxNB3rPkzZJhmqZ1efVmL4rEqG", 2, "screened"},
		{"TRON, bad checksum", "TMStbg5fgb4uTV7fK1gEYF9hKAzP3siPsH", 1, "invalid"},
		{"LTC", "LaizKtS5DUhPuP1nTQcc83MS7HwK6vk85z", 2, "screened"},
		{"XMR", "884Bz8UH63aYsjVdkfWfScRYWZGGNbjFL7pztqvWNSrtYT4reFSwyvkCj9KEGUtheHhhMUj87ciTBFyzoesrMJ4L1FvSoxL", 2, "screened"},
	} {
		code, res := screen(c.addr)
		_, hasSanctioned := res[0]["sanctioned"]
		if code != c.code || res[0]["status"] != c.status || (c.status != "screened" && res[0]["sanctioned"] != nil) || !hasSanctioned {
			t.Errorf("%s: exit %d %v; want exit %d, status %s", c.name, code, res, c.code, c.status)
		}
	}
	// A clean address and one that could not be screened: 1, never 0.
	if code, _ := screen(clean, "hello"); code != 1 {
		t.Errorf("clean + unscreened: exit %d, want 1", code)
	}
	// A hit wins over an unscreened address.
	if code, _ := screen("hello", "TMStbg5fgb4uTV7fK1gEYF9hKAzP3siPsG"); code != 2 {
		t.Errorf("unscreened + hit: exit %d, want 2", code)
	}
	// The store holds no chain: the cluster answer says so.
	out, _, _ := run(t, "--store", st, "screen", clean)
	if !strings.Contains(out, "chain not indexed") || !strings.Contains(out, "no btc blocks") {
		t.Errorf("the cluster column does not say the chain is not indexed:\n%s", out)
	}
	// A mainnet address on a regtest store is of another network.
	reg := t.TempDir() + "/regtest"
	runEach(t, reg, []string{"index", "btc", "--blocks", "../../testdata/sim/btc/blocks"},
		[]string{"sanctions", "import", sdn, "--date", "2024-05-03", "--allow-truncated"})
	out, _, err := run(t, "--store", reg, "screen", clean)
	if exitCode(err) != 1 || !strings.Contains(out, "mainnet network; this store holds Bitcoin regtest") {
		t.Errorf("mainnet address on a regtest store: exit %d\n%s", exitCode(err), out)
	}
}

// TestLabelListOnce: a label that several members of a cluster carry
// from one source is said once, with how many carry it.
func TestLabelListOnce(t *testing.T) {
	l := labels.Label{Label: "Exchange A", Category: "exchange", Source: "s"}
	o := labels.Label{Label: "Mixer", Category: "mixer", Source: "s"}
	if got := labelList([]labels.Label{l, o, l, l}); got != "Exchange A [exchange] (s) ×3 addresses; Mixer [mixer] (s)" {
		t.Fatalf("labelList: %q", got)
	}
}

// TestScreenExposureNumber: "screen --exposure 3 ADDR" is a mistake for
// --hops 3, said as such rather than screening "3" as an address.
func TestScreenExposureNumber(t *testing.T) {
	_, _, err := run(t, "--store", t.TempDir()+"/s", "screen", "--exposure", "3", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT")
	if err == nil || !strings.Contains(err.Error(), "--hops 3") {
		t.Fatalf("screen --exposure 3: %v", err)
	}
}
