package investigate

import (
	"testing"

	"github.com/fundtrace/fundtrace/tracefile"
)

// TestDepositLabels: hand-made deposits, each address labeled once with
// the best evidence of its deposits (swept 90 over labeled 80; a
// deposit-heuristic link 70; further in a cluster 60), dated by its last
// deposit; an address two exchanges claim is not labeled but reported; a
// poisoned deposit counts too; an address that does not parse is reported.
func TestDepositLabels(t *testing.T) {
	const a1, a2, a3 = "0x1111111111111111111111111111111111111111", "0x2222222222222222222222222222222222222222", "0x3333333333333333333333333333333333333333"
	ds := []tracefile.Deposit{
		{Chain: "eth", Exchange: "X", Address: a1, Time: "2024-01-02T00:00:00Z", Evidence: "labeled"},
		{Chain: "eth", Exchange: "X", Address: a1, Time: "2024-01-05T00:00:00Z", Evidence: "swept into its labeled wallet in 0xab"},
		{Chain: "eth", Exchange: "Y", Address: a2, Time: "2024-01-03T00:00:00Z", Evidence: "in the cluster of the exchange's labeled wallet 0xcd: the deposit heuristic links them (forwarded in 0xef)"},
		{Chain: "eth", Exchange: "X", Address: a3, Time: "2024-01-03T00:00:00Z", Evidence: "labeled"},
		{Chain: "eth", Exchange: "Y", Address: a3, Time: "2024-01-04T00:00:00Z", Evidence: "labeled"},
		{Chain: "eth", Exchange: "X", Address: "0xnot", Time: "2024-01-04T00:00:00Z", Evidence: "labeled"},
	}
	ps := []tracefile.Poisoned{{Chain: "btc", Exchange: "Z", Address: "1BoatSLRHtKNngkdXEeobR76b53LETtpyT", Time: "2024-01-06T00:00:00Z",
		Evidence: "in the cluster of the exchange's labeled wallet 1x, 3 links away"}}
	ls, probs := DepositLabels(ds, ps, "trace sha256:00 case C")
	if len(ls) != 3 || len(probs) != 2 {
		t.Fatalf("%d labels %+v, %d problems %v", len(ls), ls, len(probs), probs)
	}
	want := map[string][3]any{a1: {"X", 90, "2024-01-05"}, a2: {"Y", 70, "2024-01-03"}, "1BoatSLRHtKNngkdXEeobR76b53LETtpyT": {"Z", 60, "2024-01-06"}}
	for _, l := range ls {
		w, ok := want[l.Text]
		if !ok || l.Label != w[0] || l.Confidence != w[1] || l.SourceDate != w[2] || l.Category != "exchange" || l.Source != "trace sha256:00 case C" {
			t.Errorf("label %+v, want %v", l, w)
		}
	}
}
