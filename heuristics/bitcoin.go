package heuristics

import (
	"github.com/fundtrace/fundtrace/chains"
)

// Heuristic names, as flags, links and reports write them.
const (
	MultiInput    = "multi-input"    // all inputs of a transaction belong to one owner
	ChangeFresh   = "change-fresh"   // the only output to a never-seen address is change
	ChangeScript  = "change-script"  // the only output whose script type matches the inputs' is change
	ChangeRound   = "change-round"   // in a two-output payment, the output that is not a round amount is change
	ChangeOptimal = "change-optimal" // the only output smaller than every input is change (else an input was unnecessary)
)

// Confidence states how far each heuristic is to be trusted, from the
// literature and from fundtrace's own measurement on simulated chains
// (make eval): multi-input holds unless the transaction is a CoinJoin,
// which is detected and skipped; the change heuristics are weaker and
// link only when exactly one output qualifies.
var Confidence = map[string]string{
	MultiInput:    "high: common-input ownership (Nakamoto 2008; Meiklejohn et al. 2013), CoinJoins excluded",
	ChangeFresh:   "medium: one-time change addresses (Meiklejohn et al. 2013); wrong when the payee also uses a fresh address",
	ChangeScript:  "medium: wallets pay change to their own script type (Möser & Narayanan 2022)",
	ChangeRound:   "low: payments are often round amounts, change rarely is (Androulaki et al. 2013)",
	ChangeOptimal: "medium: wallets do not add an input the payment did not need, so change is smaller than every input (Nick 2015; Möser & Narayanan 2022)",
}

// Link says that two addresses belong together, why, and on what
// evidence.
type Link struct {
	A, B      chains.Address
	Heuristic string
	Tx        chains.Hash
}

// Seen tells whether an address was paid before a given height (the
// store's first-seen record answers it).
type Seen func(a chains.Address, before int64) bool

// Bitcoin applies the enabled heuristics to one transaction.
type Bitcoin struct {
	Enabled map[string]bool
	Seen    Seen // needed by ChangeFresh
	// LinkCoinJoins turns CoinJoin detection off, to measure what it
	// prevents; never for real use.
	LinkCoinJoins bool
}

// Links returns the links tx gives under the enabled heuristics.
func (h *Bitcoin) Links(tx *chains.Tx) []Link {
	if tx.Coinbase || len(tx.Inputs) == 0 {
		return nil
	}
	if !h.LinkCoinJoins && IsCoinJoin(tx) {
		return nil // its inputs have many owners, and its change is theirs
	}
	first := tx.Inputs[0].Prevout.Address()
	var links []Link
	if h.Enabled[MultiInput] {
		for _, in := range tx.Inputs[1:] {
			if a := in.Prevout.Address(); a != "" && first != "" && a != first {
				links = append(links, Link{A: first, B: a, Heuristic: MultiInput, Tx: tx.Hash})
			}
		}
	}
	if first == "" {
		return links
	}
	for _, name := range []string{ChangeFresh, ChangeScript, ChangeRound, ChangeOptimal} {
		if !h.Enabled[name] {
			continue
		}
		if c := h.change(name, tx); c != "" && c != first {
			links = append(links, Link{A: first, B: c, Heuristic: name, Tx: tx.Hash})
		}
	}
	return links
}

// spendable lists the outputs that pay an address.
func spendable(tx *chains.Tx) []*chains.Output {
	var outs []*chains.Output
	for i := range tx.Outputs {
		if tx.Outputs[i].Address() != "" {
			outs = append(outs, &tx.Outputs[i])
		}
	}
	return outs
}

// change returns the address heuristic name identifies as the change of
// tx, or "" when it is not sure: exactly one output must qualify, and an
// output to an address among the inputs is never a payment.
func (h *Bitcoin) change(name string, tx *chains.Tx) chains.Address {
	outs := spendable(tx)
	if len(outs) < 2 {
		return ""
	}
	ins := map[chains.Address]bool{}
	types := map[chains.ScriptType]bool{}
	minIn := int64(-1)
	for _, in := range tx.Inputs {
		ins[in.Prevout.Address()] = true
		types[in.Prevout.Type] = true
		if minIn < 0 || in.Prevout.Value < minIn {
			minIn = in.Prevout.Value
		}
	}
	for _, o := range outs {
		if ins[o.Address()] {
			return "" // change back to an input address: the link is already there
		}
	}
	var hit *chains.Output
	count := 0
	for _, o := range outs {
		ok := false
		switch name {
		case ChangeFresh:
			ok = h.Seen != nil && !h.Seen(o.Address(), tx.Height)
		case ChangeScript:
			ok = len(types) == 1 && types[o.Type]
		case ChangeRound:
			ok = len(outs) == 2 && !isRound(o.Value)
		case ChangeOptimal:
			ok = len(tx.Inputs) > 1 && o.Value < minIn
		}
		if ok {
			hit = o
			count++
		}
	}
	if count != 1 {
		return ""
	}
	if name == ChangeRound {
		// The other output must be round: that is the payment.
		for _, o := range outs {
			if o != hit && !isRound(o.Value) {
				return ""
			}
		}
	}
	return hit.Address()
}

// isRound: a multiple of 0.0001 BTC (10,000 sat), as amounts people choose are.
func isRound(v int64) bool { return v%10_000 == 0 }

// IsCoinJoin recognises the CoinJoin patterns whose inputs are not one
// owner's: several equal-value outputs paid from at least as many inputs
// (Whirlpool's 5-in-5-out of a pool denomination, Wasabi's many equal
// outputs plus change, JoinMarket's k equal outputs plus up to k change
// outputs). Three equal outputs suffice; two do when the rest of the
// outputs are at most two more (a JoinMarket round of two) and the
// inputs come from at least two script types or addresses.
func IsCoinJoin(tx *chains.Tx) bool {
	count := map[int64]int{}
	for _, o := range tx.Outputs {
		if o.Value > 0 && o.Address() != "" {
			count[o.Value]++
		}
	}
	k := 0
	for _, n := range count {
		k = max(k, n)
	}
	if k < 2 || len(tx.Inputs) < k {
		return false
	}
	if k >= 3 {
		return true
	}
	addrs := map[chains.Address]bool{}
	for _, in := range tx.Inputs {
		addrs[in.Prevout.Address()] = true
	}
	return len(tx.Outputs) <= 4 && len(addrs) >= 2
}
