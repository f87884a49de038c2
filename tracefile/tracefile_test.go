package tracefile

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func sample() *Trace {
	return &Trace{Schema: Schema, Direction: "forward", Models: []string{"haircut", "fifo", "poison"},
		Params:   Params{MaxHops: 50, MinAmount: map[string]string{"BTC": "1000"}, MaxNodes: 10},
		Assets:   map[string]Asset{"BTC": {Chain: "btc", Symbol: "BTC", Decimals: 8}},
		Seeds:    []Seed{{Chain: "btc", Victim: "v<1>", Tx: "aa", Amount: "5"}, {Chain: "btc", Victim: "v2", Tx: "bb", Amount: "7", MergedIntoOther: "3"}},
		Nodes:    []Node{},
		Flows:    []Flow{{Chain: "btc", Tx: "cc", From: []string{"x", "y"}, To: "z", Value: "12", Haircut: "12", FIFO: "12", Poison: true}},
		Deposits: []Deposit{{Chain: "btc", Exchange: "E", Victim: "v<1>", Haircut: "5"}, {Chain: "btc", Exchange: "E", Victim: OtherVictims, Haircut: "3"}},
		Poisoned: []Poisoned{{Chain: "btc", Exchange: "E", Tx: "dd", Victims: 2, Seeds: "1-2"}},
		Exchanges: []Exchange{{Exchange: "E", Addresses: []DepositAddress{{Totals: map[string]map[string]string{"BTC": {"fifo": "1", "haircut": "2"}},
			Victims: []string{"v<1>"}, PoisonVictims: 2}}}},
		StopCounts: map[string]int{"unspent": 1},
		Stats:      []Stats{{Chain: "btc", Hops: 3, OtherShares: 4}},
	}
}

// Write streams the very bytes encoding/json gives for the whole trace,
// so that a file is the same whichever way it was written.
func TestWriteIsMarshalIndent(t *testing.T) {
	for _, tr := range []*Trace{sample(), {Schema: Schema}} {
		want, err := json.MarshalIndent(tr, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got, err := Marshal(tr)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, append(want, '\n')) {
			t.Errorf("Write:\n%s\nwant:\n%s", got, want)
		}
	}
}

func TestScanStreamsSections(t *testing.T) {
	b, err := Marshal(sample())
	if err != nil {
		t.Fatal(err)
	}
	whole, err := Parse(b, "x.json")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(whole, sample()) {
		t.Errorf("Parse:\n%+v\nwant\n%+v", whole, sample())
	}
	var flows, deps, pois int
	tr, err := Scan(bytes.NewReader(b), "x.json", Handler{
		Flow:     func(Flow) error { flows++; return nil },
		Deposit:  func(Deposit) error { deps++; return nil },
		Poisoned: func(Poisoned) error { pois++; return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if flows != 1 || deps != 2 || pois != 1 || tr.Flows != nil || tr.Deposits != nil || tr.Poisoned != nil || len(tr.Seeds) != 2 {
		t.Errorf("streamed %d flows, %d deposits, %d poisoned; collected %d, %d, %d", flows, deps, pois, len(tr.Flows), len(tr.Deposits), len(tr.Poisoned))
	}
	// Start: once, before the first long section, with the head read.
	starts := 0
	flows = 0
	_, err = Scan(bytes.NewReader(b), "x.json", Handler{
		Start: func(h *Trace) error {
			starts++
			if len(h.Seeds) != 2 || h.Assets["BTC"].Decimals != 8 || h.Params.MaxHops != 50 || flows != 0 {
				t.Errorf("Start saw %+v after %d flows", h, flows)
			}
			return nil
		},
		Flow: func(Flow) error { flows++; return nil },
	})
	if err != nil || starts != 1 {
		t.Errorf("Start called %d times: %v", starts, err)
	}
	stop := errors.New("enough")
	if _, err := Scan(bytes.NewReader(b), "x.json", Handler{Start: func(*Trace) error { return stop }}); !errors.Is(err, stop) {
		t.Errorf("Start's error: %v", err)
	}
	if _, err := Scan(bytes.NewReader(b), "x.json", Handler{Flow: func(Flow) error { return stop }}); !errors.Is(err, stop) {
		t.Errorf("handler's error: %v", err)
	}
}

func TestScanRefuses(t *testing.T) {
	for body, says := range map[string]string{
		`{"schema":"fundtrace-trace/0"}`: "re-run the trace",
		`{"deposits":[]}`:                "not a trace file",
		`[1]`:                            "not a trace file",
		`{"schema":"fundtrace-trace/2","flows":[{"hop":"x"`: "at byte",
		`{"schema":"fundtrace-trace/2","flows":{}}`:         "want an array",
	} {
		_, err := Parse([]byte(body), "t.json")
		if err == nil || !strings.Contains(err.Error(), says) || !strings.Contains(err.Error(), "t.json") {
			t.Errorf("%s: %v, want %q and the file's name", body, err, says)
		}
	}
}

// A version 1 file (as fundtrace wrote it before version 2, by hand here):
// three victims, one deposit reached by the money of v1 (haircut) and by
// poison from v2 and v3; a second deposit reached by v3's poison only;
// v3 was two seeds (two payments) under one name.
const v1File = `{
  "schema": "fundtrace-trace/1",
  "direction": "forward",
  "models": ["haircut", "fifo", "poison"],
  "seeds": [
    {"chain": "eth", "victim": "v1", "txid": "0x01", "amount": "10"},
    {"chain": "eth", "victim": "v2", "txid": "0x02", "amount": "20"},
    {"chain": "eth", "victim": "v3", "txid": "0x03", "amount": "30"},
    {"chain": "eth", "victim": "v3", "txid": "0x04", "amount": "40"}
  ],
  "deposits": [
    {"chain": "eth", "exchange": "X", "deposit_address": "0xd1", "txid": "0xa1", "height": 5, "asset": "ETH", "value": "100", "victim": "v1", "haircut": "10", "fifo": "0", "poison": "100", "hop": 2},
    {"chain": "eth", "exchange": "X", "deposit_address": "0xd1", "txid": "0xa1", "height": 5, "asset": "ETH", "value": "100", "victim": "v2", "haircut": "0", "fifo": "0", "poison": "100", "hop": 3},
    {"chain": "eth", "exchange": "X", "deposit_address": "0xd1", "txid": "0xa1", "height": 5, "asset": "ETH", "value": "100", "victim": "v3", "haircut": "0", "fifo": "0", "poison": "100", "hop": 3},
    {"chain": "eth", "exchange": "A", "deposit_address": "0xd2", "txid": "0xa2", "height": 9, "asset": "ETH", "value": "7", "victim": "v3", "haircut": "0", "fifo": "0", "poison": "7", "hop": 4}
  ],
  "exchanges": [],
  "stops": []
}`

func TestScanConvertsV1(t *testing.T) {
	tr, err := Parse([]byte(v1File), "old.json")
	if err != nil {
		t.Fatal(err)
	}
	if tr.Schema != Schema || len(tr.Deposits) != 1 || tr.Deposits[0].Victim != "v1" {
		t.Fatalf("schema %s, deposits %+v: want the one row carrying money", tr.Schema, tr.Deposits)
	}
	want := []Poisoned{
		{Chain: "eth", Exchange: "A", Address: "0xd2", Tx: "0xa2", Height: 9, Asset: "ETH", Value: "7", Hop: 4, Victims: 2, Seeds: "3-4"},
		{Chain: "eth", Exchange: "X", Address: "0xd1", Tx: "0xa1", Height: 5, Asset: "ETH", Value: "100", Hop: 2, Victims: 4, Seeds: "1-4"},
	}
	if !reflect.DeepEqual(tr.Poisoned, want) {
		t.Errorf("poisoned:\n%+v\nwant\n%+v", tr.Poisoned, want)
	}
	// Without the poison model, version 1's poison-only rows were noise:
	// they go, and nothing is poisoned.
	noPoison := strings.Replace(v1File, `"haircut", "fifo", "poison"`, `"haircut", "fifo"`, 1)
	tr, err = Parse([]byte(noPoison), "old.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Deposits) != 1 || len(tr.Poisoned) != 0 {
		t.Errorf("without poison: %d deposits, %d poisoned; want 1, 0", len(tr.Deposits), len(tr.Poisoned))
	}
}

func TestRanges(t *testing.T) {
	for _, c := range []struct {
		ids []int
		s   string
	}{{nil, ""}, {[]int{0}, "1"}, {[]int{0, 1, 2, 5, 7, 8}, "1-3,6,8-9"}} {
		if got := FormatRanges(c.ids); got != c.s {
			t.Errorf("FormatRanges(%v) = %q, want %q", c.ids, got, c.s)
		}
		back, err := ParseRanges(c.s, 9)
		if err != nil || len(back) != len(c.ids) || (len(back) > 0 && !reflect.DeepEqual(back, c.ids)) {
			t.Errorf("ParseRanges(%q) = %v, %v", c.s, back, err)
		}
	}
	for _, bad := range []string{"0", "3-2", "1,1", "2,1", "10", "x", "1-"} {
		if _, err := ParseRanges(bad, 9); err == nil {
			t.Errorf("ParseRanges(%q): no error", bad)
		}
	}
}

var update = flag.Bool("update", false, "rewrite the golden file from this build's output (then check it by hand)")

// TestGoldenFile: the file Write makes of sample(), a trace with a value
// in every section. The golden file was written with -update and checked
// by hand against docs/tracing.md's table (every field name, in the
// order written; amounts as decimal strings; the other-victims row, a
// seed's merged_into_other, a poisoned deposit's victims and seed
// ranges). Renaming or reordering a field fails here: scripts read them.
func TestGoldenFile(t *testing.T) {
	got, err := Marshal(sample())
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "sample.trace.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the trace file differs from %s:\n%s", golden, got)
	}
}
