package report

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/fundtrace/fundtrace/tracefile"
)

// Measured accuracy of the rules a trace relies on, from make eval on
// the simulator's ground truth (the scenarios named). These are the
// figures the project publishes (README, "Benchmarks"); when a rule or
// the evaluation changes, they are re-measured and changed here with it.
var measured = map[string]string{
	"deposit-btc":    "exchange deposits reached: recall 0.98, precision 1.00 (shipped Bitcoin scenario, 491 deposits in the truth)",
	"deposit-eth":    "exchange deposits reached: recall 1.00, precision 1.00 (shipped Ethereum scenario, 150 deposits in the truth)",
	"haircut-btc":    "mean error against the truth's haircut amounts: 3.7 sat per deposit (the truth rounds at every step)",
	"fifo-btc":       "mean error against the truth's FIFO amounts: 0 sat",
	"haircut-eth":    "mean error against the truth's haircut amounts: 0.43 gwei or token unit per deposit",
	"deposit-tron":   "exchange deposits reached: recall 1.00, precision 1.00 (shipped TRON scenario, 106 deposits in the truth)",
	"haircut-tron":   "mean relative error against the truth's haircut amounts: 0.0000 % (shipped TRON scenario)",
	"fifo-tron":      "mean relative error against the truth's FIFO amounts: 0.0000 % (shipped TRON scenario)",
	"fifo-eth":       "mean error against the truth's FIFO amounts: 0",
	"peel":           "110 of 120 peel steps go on to the sender's own address (the scam's peel addresses or a wallet's change); all 89 peel addresses of the truth found",
	"coinjoin":       "every CoinJoin planted in the evaluation scenario detected (Whirlpool 98, Wasabi 10, WabiSabi 10, JoinMarket 20) and none of its 3,738 other transactions taken for one",
	"multi-input":    "pairwise precision 1.0000, recall 0.0465 (Bitcoin scenario seed 11, 10 days)",
	"change-fresh":   "with multi-input: precision 1.0000, recall 0.0551",
	"change-script":  "with multi-input: precision 0.9058, recall 0.0628",
	"change-round":   "with multi-input: precision 0.9999, recall 0.0467",
	"change-optimal": "with multi-input: precision 0.9966, recall 0.0483",
	"deposit":        "deposit-address clustering: Ethereum precision 1.0000, recall 0.6029 (scenario seed 21, 3 days); TRON precision 0.9998, recall 0.8969 (shipped scenario)",
}

// heuristics lists the rules and parameters the trace used.
func heuristics(t *tracefile.Trace, info Info) []Heuristic {
	chains := map[string]bool{}
	for _, s := range t.Seeds {
		chains[s.Chain] = true
	}
	var out []Heuristic
	for _, c := range []string{"btc", "eth", "tron"} {
		if !chains[c] {
			continue
		}
		for _, mo := range t.Models {
			var rule string
			switch {
			case mo == "haircut" && c == "btc":
				rule = "every output carries the victims' share of the transaction's inputs, in proportion to its value"
			case mo == "haircut":
				rule = "every transfer out of an address carries the victims' share of its balance, in proportion"
			case mo == "fifo" && c == "btc":
				rule = "the inputs' satoshis, in input order, fill the outputs in output order; the fee is the last"
			case mo == "fifo":
				rule = "an address's units leave in the order they arrived (gas fees too; a balance held before the first indexed block leaves first)"
			case mo == "poison":
				rule = "everything a victim's money touched counts wholly"
			}
			conf := measured[mo+"-"+c]
			if conf == "" {
				conf = "an upper bound by construction: not an estimate of the victims' share"
			}
			out = append(out, Heuristic{Name: fmt.Sprintf("taint model: %s (%s)", mo, c), Rule: rule, Confidence: conf})
		}
		rule := "an address labeled exchange (itself or by its cluster), or one swept together into a labeled exchange wallet"
		if c != "btc" {
			rule = "an address labeled exchange (itself or by its cluster), or one that pays a labeled exchange wallet"
		}
		out = append(out, Heuristic{Name: "exchange deposit address (" + c + ")", Rule: rule, Confidence: measured["deposit-"+c]})
	}
	if chains["btc"] {
		out = append(out, Heuristic{Name: "peel chain", Rule: "a transaction of one input and two outputs spending the previous one's larger output; followed as one hop", Confidence: measured["peel"]})
		cj := "money entering a CoinJoin stops there"
		if t.Params.ThroughMixers {
			cj = "money is followed through CoinJoins (Whirlpool, Wasabi, equal-output patterns) under haircut and FIFO"
		}
		out = append(out, Heuristic{Name: "CoinJoin detection", Rule: cj, Confidence: measured["coinjoin"]})
	}
	if cl := info.Clustering; cl != nil {
		for _, h := range cl.Heuristics {
			out = append(out, Heuristic{Name: "clustering (" + cl.Chain + "): " + h, Rule: clusterRule(h), Confidence: measured[h]})
		}
		guard := "off: no link between large clusters was held back or flagged"
		if cl.GuardSize > 0 {
			guard = fmt.Sprintf("a change link between two clusters of more than %d addresses each is held back (%d were), a multi-input merge of two is kept and flagged (%d were; such clusters are marked in the flow graph)",
				cl.GuardSize, cl.HeldBack, cl.Flagged)
		}
		out = append(out, Heuristic{Name: "clustering (" + cl.Chain + "): super-cluster guard", Rule: guard, Confidence: "Harrigan & Fretter 2016: wrong change links merge whole services into super-clusters"})
	}
	p := t.Params
	var mins []string
	for _, a := range slices.Sorted(maps.Keys(p.MinAmount)) {
		mins = append(mins, a+" "+p.MinAmount[a])
	}
	params := fmt.Sprintf("max hops %d (a peel chain counts as one); min amount followed %s (base units); max nodes %d; through mixers %v",
		p.MaxHops, strings.Join(mins, ", "), p.MaxNodes, p.ThroughMixers)
	if p.Until != "" {
		params += "; money moved after " + p.Until + " not followed"
	}
	out = append(out, Heuristic{Name: "parameters", Rule: params, Confidence: "-"})
	return out
}

func clusterRule(h string) string {
	switch h {
	case "multi-input":
		return "the inputs of one transaction (not a CoinJoin) belong to one owner"
	case "change-fresh":
		return "the only output to a never-seen address is the payer's change"
	case "change-script":
		return "the only output of the inputs' script type is the change"
	case "change-round":
		return "with one round payment, the other output is the change"
	case "change-optimal":
		return "the only output smaller than every input is the change"
	case "deposit":
		return "addresses that empty themselves into one collector soon after receiving, with enough others doing the same, are that exchange's deposit addresses"
	}
	return ""
}
