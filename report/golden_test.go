package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/fundtrace/fundtrace/prices"
	"github.com/fundtrace/fundtrace/tracefile"
)

var update = flag.Bool("update", false, "rewrite the golden files from this build's output (then check them by hand)")

// TestGoldenCSV: the spreadsheets of a two-hop trace built by hand. The
// golden files were written with -update and then checked by hand
// against the trace below, figure by figure:
//   - transactions.csv: the 1.5 BTC flow at hop 1 carries 0.5 BTC haircut
//     and 0.4 BTC FIFO; BTC at 40,000 USD on 2024-01-04 (the price file)
//     makes them 20000.00 and 16000.00 USD, price_status priced; the
//     hop-2 flow on 2024-01-05, a day without a price, has empty USD
//     cells and "no BTC price for 2024-01-05". The first flow came from
//     two addresses: its from cell is empty, sources 2, and
//     flow_sources.csv has one row for each (flow 1); the second from one.
//   - deposits.csv and freeze/Exchange_X.csv (the same columns): victim
//     v1's deposit of 0.25 BTC carrying 0.2 BTC haircut and 0.1 BTC FIFO on
//     2024-01-04: 8000.00 and 4000.00 USD; 8 decimals; hop 3.
//
// A change in a column's name, order or format fails here: scripts and
// compliance desks read these files.
func TestGoldenCSV(t *testing.T) {
	dir := t.TempDir()
	pf := filepath.Join(dir, "prices.csv")
	if err := os.WriteFile(pf, []byte("date,asset,price\n2024-01-04,BTC,40000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pt := prices.New()
	if err := pt.ReadFile(pf); err != nil {
		t.Fatal(err)
	}
	tr := &tracefile.Trace{Schema: tracefile.Schema, Direction: "forward", Models: []string{"haircut", "fifo"},
		Assets: map[string]tracefile.Asset{"BTC": {Chain: "btc", Symbol: "BTC", Decimals: 8}},
		Seeds:  []tracefile.Seed{{Chain: "btc", Victim: "v1", Tx: "aa", Outpoint: "aa:0", Address: "bc1qvictimpayee", Asset: "BTC", Amount: "60000000", Height: 100, Time: "2024-01-03T10:00:00Z"}},
		Flows: []tracefile.Flow{
			{Chain: "btc", Tx: "bb", Height: 101, Time: "2024-01-04T12:00:00Z", Hop: 1, Asset: "BTC", From: []string{"bc1qvictimpayee", "bc1qother"}, To: "bc1qhub",
				Outpoint: "bb:0", Value: "150000000", Haircut: "50000000", FIFO: "40000000", Poison: false},
			{Chain: "btc", Tx: "cc", Height: 102, Time: "2024-01-05T08:00:00Z", Hop: 2, Asset: "BTC", From: []string{"bc1qhub"}, To: "bc1qdeposit",
				Outpoint: "cc:1", Value: "30000000", Haircut: "10000000", FIFO: "0"},
		},
		Deposits: []tracefile.Deposit{{Chain: "btc", Exchange: "Exchange X", Address: "bc1qdeposit", Tx: "dd", Outpoint: "dd:0", Height: 103,
			Time: "2024-01-04T18:00:00Z", Asset: "BTC", Value: "25000000", Victim: "v1", Haircut: "20000000", FIFO: "10000000", Poison: "0", Hop: 3, Evidence: "labeled"}},
		Exchanges: []tracefile.Exchange{{Exchange: "Exchange X", Deposits: 1, FirstSeen: "2024-01-04T18:00:00Z", LastSeen: "2024-01-04T18:00:00Z",
			Addresses: []tracefile.DepositAddress{{Chain: "btc", Address: "bc1qdeposit", Deposits: 1, FirstSeen: "2024-01-04T18:00:00Z", LastSeen: "2024-01-04T18:00:00Z",
				Totals: map[string]map[string]string{"BTC": {"haircut": "20000000", "fifo": "10000000", "poison": "0"}}, Victims: []string{"v1"}}}}},
		StopCounts: map[string]int{},
	}
	b, err := tracefile.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "bundle")
	if _, err := Write(out, Input{TraceBytes: b, Prices: pt, Date: "2024-02-01", Info: Info{Version: "test"}}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"transactions.csv", "flow_sources.csv", "deposits.csv", "freeze/Exchange_X.csv"} {
		got, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", filepath.Base(f)+".golden")
		if *update {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s:\n%s\nwant:\n%s", f, golden, got, want)
		}
	}
}
