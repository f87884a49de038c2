package investigate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/fundtrace/fundtrace/labels"
	"github.com/fundtrace/fundtrace/tracefile"
)

// A trace establishes deposit addresses: each one it found an exchange's,
// with the evidence why. DepositLabels turns them into labels, so that
// show, screen and later traces know them (fundtrace labels import
// --from-trace), with the trace as their provenance.

// Confidence of a deposit address's attribution, by the trace's evidence
// (docs/reports.md):
const (
	// Swept: the address paid the exchange's labeled wallet itself, as
	// exchanges sweep deposits; the strongest evidence short of a label.
	ConfidenceSwept = 90
	// Labeled: the address, or its cluster, carries the exchange's label.
	ConfidenceLabeled = 80
	// Deposit heuristic: one link of the deposit-address heuristic to the
	// exchange's labeled wallet.
	ConfidenceDepositLink = 70
	// Cluster: several links away in the exchange's cluster.
	ConfidenceCluster = 60
)

// confidenceOf reads a deposit's evidence.
func confidenceOf(evidence string) int {
	switch {
	case strings.HasPrefix(evidence, "swept into"):
		return ConfidenceSwept
	case evidence == "labeled":
		return ConfidenceLabeled
	case strings.Contains(evidence, "the deposit heuristic links them"):
		return ConfidenceDepositLink
	}
	return ConfidenceCluster
}

// TraceSource names a trace as a label source: its SHA-256 and the
// case's reference.
func TraceSource(traceBytes []byte, caseRef string) string {
	h := sha256.Sum256(traceBytes)
	s := "trace sha256:" + hex.EncodeToString(h[:])
	if caseRef != "" {
		s += " case " + caseRef
	}
	return s
}

// DepositLabels labels every deposit address of a trace (those money
// reached and those only poison reached) with its exchange, category
// exchange, the source given, dated by the last deposit seen there, at
// the confidence its evidence earns (the best of its deposits'). An
// address that does not parse is a problem, not a label.
func DepositLabels(ds []tracefile.Deposit, ps []tracefile.Poisoned, source string) ([]labels.Label, []labels.Problem) {
	type key struct{ chain, addr string }
	best := map[key]*labels.Label{}
	var order []key
	var probs []labels.Problem
	add := func(i int, chain, addr, exchange, evidence, when string) {
		k := key{chain, addr}
		l := best[k]
		if l == nil {
			c, a, err := labels.ParseAddress(chain, addr)
			if err != nil {
				probs = append(probs, labels.Problem{Line: i, Text: addr, Err: err.Error()})
				return
			}
			l = &labels.Label{Chain: c, Address: a, Text: addr, Label: exchange, Category: "exchange", Actor: exchange, Source: source}
			best[k] = l
			order = append(order, k)
		}
		if l.Label != exchange {
			probs = append(probs, labels.Problem{Line: i, Text: addr, Err: fmt.Sprintf("the trace attributes it to %s and to %s: not labeled", l.Label, exchange)})
			l.Category = "" // dropped below
			return
		}
		l.Confidence = max(l.Confidence, confidenceOf(evidence))
		if len(when) >= 10 {
			l.SourceDate = max(l.SourceDate, when[:10])
		}
	}
	for i, d := range ds {
		add(i+1, d.Chain, d.Address, d.Exchange, d.Evidence, d.Time)
	}
	for i, p := range ps {
		add(len(ds)+i+1, p.Chain, p.Address, p.Exchange, p.Evidence, p.Time)
	}
	var out []labels.Label
	for _, k := range order {
		if l := best[k]; l.Category != "" {
			out = append(out, *l)
		}
	}
	slices.SortStableFunc(out, func(a, b labels.Label) int { return strings.Compare(string(a.Chain)+a.Text, string(b.Chain)+b.Text) })
	return out, probs
}
