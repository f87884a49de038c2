package investigate

import (
	"strings"
	"testing"

	"github.com/fundtrace/fundtrace/tracefile"
)

// TestSummarizeExchanges: a hand-made case. Exchange X's address d1 took
// victim a's money twice and b's once, and poison reached it twice (seeds
// 1-3, then 2 and 4): its poison total is the two deposits' values once
// each, and four victims touched it. Exchange Y was reached by poison
// only: it is listed, with no deposit rows.
func TestSummarizeExchanges(t *testing.T) {
	ds := []tracefile.Deposit{
		{Chain: "btc", Exchange: "X", Address: "d1", Time: "2024-01-02T00:00:00Z", Asset: "BTC", Victim: "a", Haircut: "5", FIFO: "7"},
		{Chain: "btc", Exchange: "X", Address: "d1", Time: "2024-01-01T00:00:00Z", Asset: "BTC", Victim: "b", Haircut: "3", FIFO: "0"},
		{Chain: "btc", Exchange: "X", Address: "d1", Time: "2024-01-03T00:00:00Z", Asset: "BTC", Victim: "a", Haircut: "1", FIFO: "1"},
	}
	ps := []tracefile.Poisoned{
		{Chain: "btc", Exchange: "X", Address: "d1", Time: "2024-01-02T00:00:00Z", Asset: "BTC", Value: "100", Seeds: "1-3"},
		{Chain: "btc", Exchange: "X", Address: "d1", Time: "2024-01-04T00:00:00Z", Asset: "BTC", Value: "50", Seeds: "2,4"},
		{Chain: "btc", Exchange: "Y", Address: "d2", Time: "2024-01-05T00:00:00Z", Asset: "BTC", Value: "9", Seeds: "4"},
	}
	ex := SummarizeExchanges(ds, ps, 4)
	if len(ex) != 2 || ex[0].Exchange != "X" || ex[1].Exchange != "Y" {
		t.Fatalf("exchanges %+v", ex)
	}
	x := ex[0]
	if x.Deposits != 3 || len(x.Addresses) != 1 || x.FirstSeen != "2024-01-01T00:00:00Z" || x.LastSeen != "2024-01-04T00:00:00Z" {
		t.Fatalf("X: %+v", x)
	}
	a := x.Addresses[0]
	want := map[string]string{"haircut": "9", "fifo": "8", "poison": "150"}
	for m, v := range want {
		if a.Totals["BTC"][m] != v {
			t.Errorf("X d1 %s total %s, want %s", m, a.Totals["BTC"][m], v)
		}
	}
	if a.Deposits != 3 || a.PoisonVictims != 4 || strings.Join(a.Victims, ",") != "a,b" {
		t.Errorf("X d1: %d deposits, %d poison victims, victims %v", a.Deposits, a.PoisonVictims, a.Victims)
	}
	y := ex[1]
	if y.Deposits != 0 || len(y.Addresses) != 1 || y.Addresses[0].PoisonVictims != 1 || y.Addresses[0].Totals["BTC"]["poison"] != "9" || y.Addresses[0].Victims == nil {
		t.Errorf("Y: %+v", y)
	}
}

// TestDiffs: a re-run that changed an amount, lost a deposit and found
// another says each.
func TestDiffs(t *testing.T) {
	d := func(tx, victim, haircut string) tracefile.Deposit {
		return tracefile.Deposit{Chain: "btc", Exchange: "X", Address: "d", Tx: tx, Victim: victim, Haircut: haircut, FIFO: "0"}
	}
	was := &tracefile.Trace{Deposits: []tracefile.Deposit{d("t1", "a", "5"), d("t2", "a", "1")}}
	now := &tracefile.Trace{Deposits: []tracefile.Deposit{d("t1", "a", "6"), d("t3", "b", "2")}}
	got := strings.Join(Diffs(was, now), "\n")
	for _, want := range []string{"haircut 5 → 6", "a new deposit now: btc X d t3 b", "no longer reached: btc X d t2 a"} {
		if !strings.Contains(got, want) {
			t.Errorf("diffs lack %q:\n%s", want, got)
		}
	}
	if same := Diffs(was, was); len(same) != 1 || !strings.Contains(same[0], "same deposits") {
		t.Errorf("identical deposits: %v", same)
	}
}
