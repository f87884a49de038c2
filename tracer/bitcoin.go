// Package tracer follows funds through the store under explicit taint
// models, from victims' payments to the exchange deposit addresses that
// received them.
//
// The models, each run separately on the same traversal:
//
//   - poison: every output of a transaction that spends any tainted coin
//     is tainted, wholly. (A pays 1 BTC of victim money and 9 BTC of its
//     own into a 10 BTC output: all 10 BTC are tainted.)
//   - haircut: each output carries the tainted share of the inputs in
//     proportion to its value. (1 tainted + 9 clean in, outputs 4 and 6:
//     they carry 0.4 and 0.6 tainted; the fee takes its share.)
//   - FIFO: the inputs' satoshis, laid end to end in input order, fill the
//     outputs in output order; the fee is the last satoshis. (Inputs 1
//     tainted then 9 clean; outputs 4 then 6: the 4 carries the 1 tainted,
//     the 6 none.)
package tracer

import (
	"context"
	"fmt"
	"math/big"
	"sort"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/heuristics"
	"github.com/fundtrace/fundtrace/store"
)

// Models.
const (
	Poison  = "poison"
	Haircut = "haircut"
	FIFO    = "fifo"
)

// Source is what a Bitcoin trace reads.
type Source interface {
	Txs(ctx context.Context, c chains.Chain, hs []chains.Hash) ([]*chains.Tx, error)
	Spenders(ctx context.Context, c chains.Chain, ops []chains.Outpoint) ([]store.Spend, []bool, error)
}

// Labeler tells which addresses are known services (exchange hot
// wallets, mixers...): the label sets and clusters.
type Labeler func(a chains.Address) (category, name string, ok bool)

// Config bounds a trace.
type Config struct {
	// Models to run (default haircut and FIFO). Poison taints every coin
	// a tainted coin ever touched; it is bounded by MaxNodes and MaxHops.
	Models []string
	// MaxHops bounds the transactions followed from a seed (default
	// DefaultMaxHops).
	// A peel chain counts as one: its steps (a one-input, two-output
	// transaction spending the like) do not use up hops.
	MaxHops       int
	MinAmount     int64 // satoshis: a coin carrying less under every model is not followed (default DefaultMinAmount)
	MaxNodes      int   // most coins followed in all (default DefaultMaxNodes)
	ThroughMixers bool  // follow funds through CoinJoins (haircut and FIFO carry on); else stop there
	Until         int64 // money moved after this time (Unix seconds; 0 none) is not followed
	// StopAtLabeledSeeds: a seed paid to a labeled address is not followed
	// (an exchange's: a deposit at hop 0; another service's: a stop), as a
	// trace of victims' payments wants; exposure leaves it off.
	StopAtLabeledSeeds bool
	Labels             Labeler
	// SweepTargets labels the wallets a sweep pays (see
	// AccountConfig.SweepTargets): those labeled in their own right, so
	// that paying an exchange's deposit address, in its cluster, is not
	// taken for a sweep into the exchange. Nil: Labels.
	SweepTargets Labeler
	// Prefetch, when set, is given the addresses the trace is about to
	// label (the seeds', then each hop's outputs') before it labels them:
	// a labeler backed by a remote store reads them in one query instead
	// of one each. Its error ends the trace: a label not read is not the
	// absence of one.
	Prefetch func(as []chains.Address) error
	// OnService, when set, is told of money reaching a labeled service
	// other than an exchange (which Deposits list): its category, name,
	// the hop, and what the coin carries of all seeds together.
	OnService func(category, name string, hop int, a Amounts)
	// OnHop, when set, is told as each hop starts: its number, the coins
	// in its frontier and the coins followed so far (for progress).
	OnHop func(hop, frontier, followed int)
}

// Seed is a victim payment to follow: an output.
type Seed struct {
	Outpoint chains.Outpoint
	Ref      string // the case's reference (victim, payment id)
}

// Amounts is what one coin carries of one seed, per model (satoshis;
// haircut exact, as a rational).
type Amounts struct {
	Poison  int64
	Haircut *big.Rat
	FIFO    int64
}

// HaircutSats is the haircut share rounded down to a satoshi.
func (a Amounts) HaircutSats() int64 {
	if a.Haircut == nil {
		return 0
	}
	return new(big.Int).Quo(a.Haircut.Num(), a.Haircut.Denom()).Int64()
}

// Deposit is tainted money reaching an exchange.
type Deposit struct {
	Seed     int // index into the seeds
	Outpoint chains.Outpoint
	Address  chains.Address
	Value    int64
	Height   int64
	Hop      int    // transactions between the seed and the deposit
	Exchange string // the exchange's name from its label
	Evidence string // why this address is the exchange's: "labeled" or "swept into its labeled wallet in <txid>"
	Amounts  Amounts
}

// Poisoned is a deposit that poison reached: the output paying an
// exchange and the set of seeds whose money touched it on the way,
// whether or not any of it is still there under haircut or FIFO (Deposit
// lists those, per seed).
type Poisoned struct {
	Outpoint chains.Outpoint
	Address  chains.Address
	Value    int64
	Height   int64
	Hop      int
	Exchange string
	Evidence string
	Seeds    *SeedSet
}

// Stop records where and why the trace stopped following money.
type Stop struct {
	Outpoint chains.Outpoint
	Reason   string // unspent, max-hops, mixer, service, max-nodes, after-until, below-min-amount
	Detail   string
}

// Flow is one step of the flow graph: tainted coins spent by a
// transaction into one of its outputs, with what the output carries (of
// all seeds together) under each model.
type Flow struct {
	Tx       chains.Hash
	Height   int64
	Time     int64
	Hop      int               // transactions from the seed, a peel chain counting as one
	Peel     bool              // the transaction is a peel-chain step (one input, two outputs)
	CoinJoin bool              // the transaction is a CoinJoin (followed through with --through-mixers)
	From     []chains.Address  // the addresses of the tainted inputs
	Inputs   []chains.Outpoint // the tainted inputs
	To       chains.Address
	Output   chains.Outpoint
	Value    int64
	Haircut  *big.Rat
	FIFO     int64
	Poison   bool
}

// Result is a trace.
type Result struct {
	Seeds []Seed
	// Deposits: one per seed and deposit output where haircut or FIFO
	// carry that seed's money (Seed is Other for the merged remainder).
	Deposits []Deposit
	// Poisoned: one per deposit output poison reached (poison model only).
	Poisoned []Poisoned
	Stops    []Stop
	Flows    []Flow // every step money was followed through, in hop order
	// What haircut merged into the Other remainder (satoshis).
	Remainder
	Hops    int // rounds of store queries
	Lookups int // store queries: one for spenders and one for transactions a round
	Coins   int // tainted coins followed
}

// coin is a tainted output and what it carries of each seed.
type coin struct {
	op     chains.Outpoint
	value  int64
	addr   chains.Address
	height int64
	time   int64
	depth  int  // transactions from the seed, a peel chain counting as one
	peel   bool // made by a one-input, two-output transaction
	// per seed
	poison  *SeedSet // nil: none (or the poison model is off)
	haircut map[int]*big.Rat
	fifo    []segment
}

type segment struct {
	seed int // -1: clean
	sats int64
}

// Bitcoin traces seeds forward through a UTXO chain's store.
func Bitcoin(ctx context.Context, src Source, c chains.Chain, seeds []Seed, cfg Config) (*Result, error) {
	on, err := cfg.check()
	if err != nil {
		return nil, err
	}
	res := &Result{Seeds: seeds, Remainder: Remainder{Merged: map[int]*big.Rat{}}}
	// Haircut shares under the least amount followed are merged into one
	// remainder (Other) as a transaction spends them (see the account
	// tracer's note): a hub's outputs then carry the shares worth
	// following, not one for every victim that ever paid into it.
	var mergeBelow *big.Rat
	if len(seeds) > 1 {
		mergeBelow = big.NewRat(cfg.MinAmount, 1)
	}
	var frontier []*coin
	seedTxs, err := src.Txs(ctx, c, seedHashes(seeds))
	if err != nil {
		return nil, fmt.Errorf("seeds: %w", err)
	}
	res.Lookups++
	if cfg.Prefetch != nil {
		var as []chains.Address
		for i, s := range seeds {
			if tx := seedTxs[i]; int(s.Outpoint.Index) < len(tx.Outputs) {
				as = append(as, tx.Outputs[s.Outpoint.Index].Address())
			}
		}
		if err := cfg.Prefetch(as); err != nil {
			return nil, fmt.Errorf("seeds: labels: %w", err)
		}
	}
	for i, s := range seeds {
		tx := seedTxs[i]
		if int(s.Outpoint.Index) >= len(tx.Outputs) {
			return nil, fmt.Errorf("seed %d (%s): %s has no output %d", i+1, s.Ref, s.Outpoint.Hash, s.Outpoint.Index)
		}
		o := tx.Outputs[s.Outpoint.Index]
		co := &coin{op: s.Outpoint, value: o.Value, addr: o.Address(), height: tx.Height, time: tx.Time, peel: isPeel(tx),
			haircut: map[int]*big.Rat{i: new(big.Rat).SetInt64(o.Value)}, fifo: []segment{{i, o.Value}}}
		if on[Poison] {
			co.poison = seedSetOf(i)
		}
		if cat, name, ok := labelOf(cfg.Labels, co.addr); ok && cfg.StopAtLabeledSeeds {
			if cat == "exchange" {
				res.deposit(co, name, "labeled", 0)
			} else {
				res.Stops = append(res.Stops, Stop{co.op, StopService, cat + ": " + name})
			}
			continue
		}
		frontier = append(frontier, co)
	}
	for round := 0; len(frontier) > 0; round++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res.Hops = round + 1
		if cfg.OnHop != nil {
			cfg.OnHop(round+1, len(frontier), res.Coins)
		}
		ops := make([]chains.Outpoint, len(frontier))
		for i, co := range frontier {
			ops[i] = co.op
		}
		spends, found, err := src.Spenders(ctx, c, ops)
		if err != nil {
			return nil, fmt.Errorf("hop %d: %w", round+1, err)
		}
		res.Lookups++
		// Group the frontier by spending transaction, in a stable order.
		byTx := map[chains.Hash][]*coin{}
		var hashes []chains.Hash
		for i, co := range frontier {
			switch {
			case !found[i]:
				res.Stops = append(res.Stops, Stop{co.op, StopUnspent, ""})
				continue
			case cfg.Until > 0 && spends[i].Time > cfg.Until:
				res.Stops = append(res.Stops, Stop{co.op, StopAfterUntil, "spent in " + spends[i].TxHash.String() + ", after the time window"})
				continue
			}
			h := spends[i].TxHash
			if _, ok := byTx[h]; !ok {
				hashes = append(hashes, h)
			}
			byTx[h] = append(byTx[h], co)
		}
		sort.Slice(hashes, func(i, j int) bool { return string(hashes[i][:]) < string(hashes[j][:]) })
		txs, err := src.Txs(ctx, c, hashes)
		if err != nil {
			return nil, fmt.Errorf("hop %d: %w", round+1, err)
		}
		if len(hashes) > 0 {
			res.Lookups++
		}
		if cfg.Prefetch != nil {
			var as []chains.Address
			for _, tx := range txs {
				for _, o := range tx.Outputs {
					as = append(as, o.Address())
				}
			}
			if err := cfg.Prefetch(as); err != nil {
				return nil, fmt.Errorf("hop %d: labels: %w", round+1, err)
			}
		}
		var next []*coin
		for ti, h := range hashes {
			tx := txs[ti]
			// How far the money has come: a peel chain's next step does
			// not count; the hop limit applies per coin.
			depth := 0
			for _, co := range byTx[h] {
				d := co.depth + 1
				if co.peel && isPeel(tx) {
					d = co.depth
				}
				depth = max(depth, d)
			}
			hop := depth - 1
			if depth > cfg.MaxHops {
				for _, co := range byTx[h] {
					res.Stops = append(res.Stops, Stop{co.op, StopMaxHops, fmt.Sprintf("after %d hops", cfg.MaxHops)})
				}
				continue
			}
			tainted := map[chains.Outpoint]*coin{}
			for _, co := range byTx[h] {
				tainted[co.op] = co
			}
			// A sweep into a labeled exchange wallet makes the swept
			// addresses that exchange's deposit addresses.
			if ex, ok := exchangeOf(tx, cfg.SweepTargets); ok && len(tx.Inputs) > 1 {
				for _, co := range byTx[h] {
					res.deposit(co, ex, "swept into its labeled wallet in "+h.String(), hop)
				}
				continue
			}
			coinJoin := heuristics.IsCoinJoin(tx)
			if coinJoin && !cfg.ThroughMixers {
				for _, co := range byTx[h] {
					res.Stops = append(res.Stops, Stop{co.op, StopMixer, "spent in CoinJoin " + h.String()})
				}
				continue
			}
			var from []chains.Address
			var inputs []chains.Outpoint
			seenFrom := map[chains.Address]bool{}
			for _, co := range byTx[h] {
				inputs = append(inputs, co.op)
				if !seenFrom[co.addr] {
					seenFrom[co.addr] = true
					from = append(from, co.addr)
				}
			}
			for _, out := range propagate(tx, tainted, mergeBelow, &res.Remainder) {
				out.depth, out.peel, out.time = depth, isPeel(tx), tx.Time
				f := out.flow(tx, from)
				f.Inputs, f.CoinJoin = inputs, coinJoin
				res.Flows = append(res.Flows, f)
				if cat, name, ok := labelOf(cfg.Labels, out.addr); ok {
					if cat == "exchange" {
						res.deposit(out, name, "labeled", hop+1)
					} else {
						res.Stops = append(res.Stops, Stop{out.op, StopService, cat + ": " + name})
						if cfg.OnService != nil {
							f := out.flow(tx, nil)
							cfg.OnService(cat, name, hop+1, Amounts{Haircut: f.Haircut, FIFO: f.FIFO})
						}
					}
					continue
				}
				if out.maxSats(on) < cfg.MinAmount {
					res.Stops = append(res.Stops, Stop{out.op, StopBelowMinAmount, fmt.Sprintf("carries less than %d sat under every model", cfg.MinAmount)})
					continue
				}
				if res.Coins >= cfg.MaxNodes {
					res.Stops = append(res.Stops, Stop{out.op, StopMaxNodes, fmt.Sprintf("more than %d coins followed", cfg.MaxNodes)})
					continue
				}
				res.Coins++
				next = append(next, out)
			}
		}
		frontier = next
	}
	res.Deposits = mergeDeposits(res.Deposits)
	res.Poisoned = mergePoisoned(res.Poisoned)
	return res, nil
}

// mergeDeposits adds up the deposits of one seed to one outpoint. A
// transaction whose inputs became tainted at different hops is followed
// once per hop, each time with the newly tainted inputs: the models are
// linear, so the parts add up to the whole.
func mergeDeposits(ds []Deposit) []Deposit {
	type key struct {
		seed int
		op   chains.Outpoint
	}
	at := map[key]int{}
	var out []Deposit
	for _, d := range ds {
		k := key{d.Seed, d.Outpoint}
		i, ok := at[k]
		if !ok {
			at[k] = len(out)
			out = append(out, d)
			continue
		}
		m := &out[i].Amounts
		m.FIFO += d.Amounts.FIFO
		m.Poison = max(m.Poison, d.Amounts.Poison)
		if d.Amounts.Haircut != nil {
			if m.Haircut == nil {
				m.Haircut = new(big.Rat)
			}
			m.Haircut = new(big.Rat).Add(m.Haircut, d.Amounts.Haircut)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Exchange != out[j].Exchange {
			return out[i].Exchange < out[j].Exchange
		}
		if out[i].Height != out[j].Height {
			return out[i].Height < out[j].Height
		}
		return out[i].Seed < out[j].Seed
	})
	return out
}

func labelOf(l Labeler, a chains.Address) (string, string, bool) {
	if l == nil || a == "" {
		return "", "", false
	}
	return l(a)
}

// exchangeOf names the labeled exchange a transaction pays, if any.
func exchangeOf(tx *chains.Tx, l Labeler) (string, bool) {
	for _, o := range tx.Outputs {
		if cat, name, ok := labelOf(l, o.Address()); ok && cat == "exchange" {
			return name, true
		}
	}
	return "", false
}

// deposit records co reaching an exchange: a row per seed whose money
// haircut or FIFO carry (in one pass over its shares), and the poison set.
func (res *Result) deposit(co *coin, exchange, evidence string, hop int) {
	per := map[int]*Amounts{}
	get := func(s int) *Amounts {
		a := per[s]
		if a == nil {
			a = &Amounts{Haircut: new(big.Rat)}
			if co.poison.Has(s) {
				a.Poison = co.value
			}
			per[s] = a
		}
		return a
	}
	for s, r := range co.haircut {
		if r.Sign() > 0 {
			get(s).Haircut = r
		}
	}
	for _, sg := range co.fifo {
		if sg.seed >= 0 && sg.sats > 0 {
			get(sg.seed).FIFO += sg.sats
		}
	}
	ids := make([]int, 0, len(per))
	for s := range per {
		ids = append(ids, s)
	}
	sort.Ints(ids)
	for _, s := range ids {
		res.Deposits = append(res.Deposits, Deposit{Seed: s, Outpoint: co.op, Address: co.addr, Value: co.value, Height: co.height, Hop: hop,
			Exchange: exchange, Evidence: evidence, Amounts: *per[s]})
	}
	if co.poison.Len() > 0 {
		res.Poisoned = append(res.Poisoned, Poisoned{Outpoint: co.op, Address: co.addr, Value: co.value, Height: co.height, Hop: hop,
			Exchange: exchange, Evidence: evidence, Seeds: co.poison})
	}
}

// mergePoisoned joins the poison sets of one deposit output (reached at
// several hops) and orders them by exchange, height.
func mergePoisoned(ps []Poisoned) []Poisoned {
	at := map[chains.Outpoint]int{}
	var out []Poisoned
	for _, p := range ps {
		if i, ok := at[p.Outpoint]; ok {
			out[i].Seeds = union(out[i].Seeds, p.Seeds)
			out[i].Hop = min(out[i].Hop, p.Hop)
			continue
		}
		at[p.Outpoint] = len(out)
		out = append(out, p)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Exchange != out[j].Exchange {
			return out[i].Exchange < out[j].Exchange
		}
		return out[i].Height < out[j].Height
	})
	return out
}

// flow is the flow-graph step into this coin.
func (co *coin) flow(tx *chains.Tx, from []chains.Address) Flow {
	f := Flow{Tx: tx.Hash, Height: tx.Height, Time: tx.Time, Hop: co.depth, Peel: isPeel(tx), From: from, To: co.addr, Output: co.op, Value: co.value, Poison: co.poison.Len() > 0}
	for _, r := range co.haircut {
		if f.Haircut == nil {
			f.Haircut = new(big.Rat)
		}
		f.Haircut.Add(f.Haircut, r)
	}
	for _, s := range co.fifo {
		if s.seed >= 0 {
			f.FIFO += s.sats
		}
	}
	return f
}

// maxSats is the most any enabled model says the coin carries of any seed.
func (co *coin) maxSats(on map[string]bool) int64 {
	var m int64
	if on[Haircut] {
		for _, r := range co.haircut {
			m = max(m, new(big.Int).Quo(r.Num(), r.Denom()).Int64())
		}
	}
	if on[FIFO] {
		per := map[int]int64{}
		for _, s := range co.fifo {
			if s.seed >= 0 {
				per[s.seed] += s.sats
				m = max(m, per[s.seed])
			}
		}
	}
	if on[Poison] && co.poison.Len() > 0 {
		m = co.value
	}
	return m
}

// propagate computes the taint of tx's outputs from its tainted inputs
// (the others are clean) under all three models. An output's haircut
// shares under mergeBelow (nil: none) move to the Other remainder,
// recorded in rem.
func propagate(tx *chains.Tx, tainted map[chains.Outpoint]*coin, mergeBelow *big.Rat, rem *Remainder) []*coin {
	var total int64
	hair := map[int]*big.Rat{}
	var poison *SeedSet
	var spans []segment
	for _, in := range tx.Inputs {
		total += in.Prevout.Value
		co := tainted[in.Prev]
		if co == nil {
			spans = append(spans, segment{-1, in.Prevout.Value})
			continue
		}
		for s, r := range co.haircut {
			if hair[s] == nil {
				hair[s] = new(big.Rat)
			}
			hair[s].Add(hair[s], r)
		}
		poison = union(poison, co.poison)
		spans = append(spans, co.fifo...)
	}
	var out []*coin
	for _, o := range tx.Outputs {
		if o.Value == 0 || o.Address() == "" {
			// An OP_RETURN carries nothing on; under FIFO it takes nothing.
			continue
		}
		co := &coin{op: chains.Outpoint{Hash: tx.Hash, Index: o.Index}, value: o.Value, addr: o.Address(), height: tx.Height,
			poison: poison, haircut: map[int]*big.Rat{}}
		if total > 0 {
			for s, r := range hair {
				x := new(big.Rat).Mul(r, big.NewRat(o.Value, total))
				addShare(co.haircut, s, x, mergeBelow, rem)
			}
		}
		need := o.Value
		fifoTainted := false
		for need > 0 && len(spans) > 0 {
			take := min(need, spans[0].sats)
			// Clean runs are kept too: they hold the tainted ones' places.
			if n := len(co.fifo); n > 0 && co.fifo[n-1].seed == spans[0].seed {
				co.fifo[n-1].sats += take
			} else {
				co.fifo = append(co.fifo, segment{spans[0].seed, take})
			}
			fifoTainted = fifoTainted || spans[0].seed >= 0
			spans[0].sats -= take
			need -= take
			if spans[0].sats == 0 {
				spans = spans[1:]
			}
		}
		if !fifoTainted && len(co.haircut) == 0 && co.poison.Len() == 0 {
			continue
		}
		out = append(out, co)
	}
	return out
}

// isPeel says whether tx has the shape of a peel chain's step: one
// input, two outputs (a payment peeled off, the rest sent on).
func isPeel(tx *chains.Tx) bool {
	return !tx.Coinbase && len(tx.Inputs) == 1 && len(tx.Outputs) == 2
}

// PeelChain is money run down a peel chain: transactions of one input
// and two outputs, each spending the previous one's larger output (the
// rest, sent on) and peeling the smaller off as a payment.
type PeelChain struct {
	Txs    []chains.Hash
	Rest   []Flow // step by step, the larger output: what went on
	Peeled []Flow // step by step, the smaller output: what was paid out
}

// PeelChains finds the peel chains of two or more steps in a trace's
// flows, so that a report can show each as one chain rather than as
// dozens of hops.
func PeelChains(flows []Flow) []PeelChain {
	outs := map[chains.Hash][]Flow{}
	var order []chains.Hash
	spentBy := map[chains.Outpoint]chains.Hash{}
	seen := map[chains.Outpoint]bool{}
	for _, f := range flows {
		if !f.Peel {
			continue
		}
		if _, ok := outs[f.Tx]; !ok {
			order = append(order, f.Tx)
			for _, in := range f.Inputs {
				spentBy[in] = f.Tx
			}
		}
		// Money of several victims (or reached at several hops) through
		// one output is several flows of it: a step has two outputs,
		// however many flows.
		if !seen[f.Output] {
			seen[f.Output] = true
			outs[f.Tx] = append(outs[f.Tx], f)
		}
	}
	step := func(h chains.Hash) (rest, peeled Flow, ok bool) {
		fs := outs[h]
		if len(fs) != 2 {
			return rest, peeled, false
		}
		if fs[0].Value >= fs[1].Value {
			return fs[0], fs[1], true
		}
		return fs[1], fs[0], true
	}
	hasPrev := map[chains.Hash]bool{}
	for _, h := range order {
		if r, _, ok := step(h); ok {
			if next, ok := spentBy[r.Output]; ok {
				hasPrev[next] = true
			}
		}
	}
	var chainsOut []PeelChain
	for _, h := range order {
		if hasPrev[h] {
			continue
		}
		var pc PeelChain
		for cur, ok := h, true; ok; {
			r, p, good := step(cur)
			if !good {
				break
			}
			pc.Txs = append(pc.Txs, cur)
			pc.Rest = append(pc.Rest, r)
			pc.Peeled = append(pc.Peeled, p)
			cur, ok = spentBy[r.Output]
		}
		if len(pc.Txs) >= 2 {
			chainsOut = append(chainsOut, pc)
		}
	}
	return chainsOut
}

func seedHashes(seeds []Seed) []chains.Hash {
	hs := make([]chains.Hash, len(seeds))
	for i, s := range seeds {
		hs[i] = s.Outpoint.Hash
	}
	return hs
}

// models checks the models asked for (default haircut and FIFO) and
// returns them as a set.
func models(ms *[]string) (map[string]bool, error) {
	if len(*ms) == 0 {
		*ms = []string{Haircut, FIFO}
	}
	on := map[string]bool{}
	for _, m := range *ms {
		if m != Poison && m != Haircut && m != FIFO {
			return nil, fmt.Errorf("unknown taint model %q (poison, haircut, fifo)", m)
		}
		on[m] = true
	}
	return on, nil
}

// check fills in the defaults and checks the models.
func (cfg *Config) check() (map[string]bool, error) {
	if cfg.SweepTargets == nil {
		cfg.SweepTargets = cfg.Labels
	}
	if cfg.MaxHops <= 0 {
		cfg.MaxHops = DefaultMaxHops
	}
	if cfg.MinAmount <= 0 {
		cfg.MinAmount = DefaultMinAmount(chains.Bitcoin, "").Int64()
	}
	if cfg.MaxNodes <= 0 {
		cfg.MaxNodes = DefaultMaxNodes
	}
	return models(&cfg.Models)
}
