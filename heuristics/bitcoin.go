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
	if first == "" || IsTx0(tx) {
		// A Tx0's inputs are one wallet's, but its odd outputs are the
		// coordinator's fee and the wallet's change, which the change
		// heuristics cannot tell apart (the fee is the smallest output).
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
// owner's (CoinJoinKind says which).
func IsCoinJoin(tx *chains.Tx) bool { return CoinJoinKind(tx) != "" }

// CoinJoin kinds, as CoinJoinKind names them.
const (
	// CoinJoinEqual: k equal outputs paid from at least k inputs of
	// several addresses, with at most one other output per participant
	// and the coordinator's fee: Whirlpool's mix (five equal outputs and
	// nothing else), Wasabi 1's many equal outputs plus change,
	// JoinMarket's k equal outputs plus the makers' and taker's change.
	CoinJoinEqual = "equal-outputs"
	// CoinJoinDenominations: WabiSabi (Wasabi 2): many inputs and
	// outputs, most outputs in standard denominations that repeat, one
	// participant often receiving several outputs of one denomination,
	// so that equal outputs of one value may outnumber the inputs.
	CoinJoinDenominations = "denominations"
)

// IsTx0 recognises a Whirlpool Tx0: one wallet's coins split into two or
// more equal premix outputs, beside the coordinator's fee, change, and an
// OP_RETURN.
func IsTx0(tx *chains.Tx) bool {
	opReturn := false
	count := map[int64]int{}
	k := 0
	for _, o := range tx.Outputs {
		if o.Type == chains.ScriptNullData {
			opReturn = true
			continue
		}
		if o.Value > 0 {
			count[o.Value]++
			k = max(k, count[o.Value])
		}
	}
	return opReturn && k >= 2
}

// CoinJoinKind tells what kind of CoinJoin tx is, or "" when it is none.
// An exchange's batch payout may repeat an amount a few times among many
// others: the other outputs outnumber the participants' change, and a
// batch has few inputs, so it is not taken for a CoinJoin (its inputs are
// one owner's). A Whirlpool Tx0, which splits one wallet's coins into
// equal premix outputs, carries an OP_RETURN (the coordinator's data):
// its inputs are one owner's, and it is not a CoinJoin either.
func CoinJoinKind(tx *chains.Tx) string {
	count := map[int64]int{}
	outs := 0
	for _, o := range tx.Outputs {
		if o.Type == chains.ScriptNullData {
			return "" // a Tx0, or a payment with a memo: not a mix
		}
		if o.Value > 0 && o.Address() != "" {
			count[o.Value]++
			outs++
		}
	}
	k := 0
	repeated, repeatedValues := 0, 0
	for _, n := range count {
		k = max(k, n)
		if n >= 2 {
			repeated += n
			repeatedValues++
		}
	}
	if k < 2 {
		return ""
	}
	addrs := map[chains.Address]bool{}
	for _, in := range tx.Inputs {
		addrs[in.Prevout.Address()] = true
	}
	if len(tx.Inputs) >= k && len(addrs) >= 2 && outs-k <= k+1 {
		return CoinJoinEqual
	}
	if len(tx.Inputs) >= 10 && outs >= 10 && 2*repeated >= outs && repeatedValues >= 2 {
		return CoinJoinDenominations
	}
	return ""
}
