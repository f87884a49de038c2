package tracer

import (
	"context"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"sort"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/heuristics"
	"github.com/fundtrace/fundtrace/store"
)

// On a UTXO chain money is held in coins (outputs), and the models,
// each run separately on the same traversal, say what each output of a
// transaction spending tainted coins carries:
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

// UTXOSource is what a trace over a UTXO chain reads: transactions, and
// who spent an output.
type UTXOSource interface {
	Txs(ctx context.Context, c chains.Chain, hs []chains.Hash) ([]*chains.Tx, error)
	Spenders(ctx context.Context, c chains.Chain, ops []chains.Outpoint) ([]store.Spend, []bool, error)
}

// PlacedSource is a UTXOSource that reads a spending transaction faster
// by the place its spend gives (store.Spend.Position) than by its txid:
// ClickHouse, where a txid's place is one more query a hop.
type PlacedSource interface {
	SpendingTxs(ctx context.Context, c chains.Chain, spends []store.Spend) ([]*chains.Tx, error)
}

// spendingTxs returns the transactions hs, each spendOf's spend's, in
// order, read by place where src can.
func spendingTxs(ctx context.Context, src UTXOSource, c chains.Chain, hs []chains.Hash, spendOf map[chains.Hash]store.Spend) ([]*chains.Tx, error) {
	p, ok := src.(PlacedSource)
	if !ok {
		return src.Txs(ctx, c, hs)
	}
	spends := make([]store.Spend, len(hs))
	for i, h := range hs {
		spends[i] = spendOf[h]
	}
	return p.SpendingTxs(ctx, c, spends)
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

// UTXO traces seeds forward through a UTXO chain's store: one spender
// lookup and one read of the spending transactions a hop for the whole
// frontier.
func UTXO(ctx context.Context, src UTXOSource, c chains.Chain, seeds []Seed, cfg Config) (*Result, error) {
	on, err := cfg.check(c)
	if err != nil {
		return nil, err
	}
	minAmount := cfg.minFor(c, "").Int64()
	res := &Result{Seeds: seeds, Remainder: Remainder{Merged: map[int]*big.Rat{}}}
	// Haircut shares under the least amount followed are merged into one
	// remainder (Other) as a transaction spends them (see the account
	// tracer's note): a hub's outputs then carry the shares worth
	// following, not one for every victim that ever paid into it.
	var mergeBelow *big.Rat
	if len(seeds) > 1 {
		mergeBelow = big.NewRat(minAmount, 1)
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
				res.depositCoin(c, co, name, "labeled", 0)
			} else {
				res.Stops = append(res.Stops, coinStop(co, StopService, cat+": "+name))
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
			cfg.OnHop(round+1, len(frontier), res.Visited)
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
		spendOf := map[chains.Hash]store.Spend{} // one of each transaction's spends
		var hashes []chains.Hash
		for i, co := range frontier {
			switch {
			case !found[i]:
				res.Stops = append(res.Stops, coinStop(co, StopUnspent, ""))
				continue
			case cfg.Until > 0 && spends[i].Time > cfg.Until:
				res.Stops = append(res.Stops, coinStop(co, StopAfterUntil, "spent in "+spends[i].TxHash.String()+", after the time window"))
				continue
			}
			h := spends[i].TxHash
			if _, ok := byTx[h]; !ok {
				hashes = append(hashes, h)
				spendOf[h] = spends[i]
			}
			byTx[h] = append(byTx[h], co)
		}
		sort.Slice(hashes, func(i, j int) bool { return string(hashes[i][:]) < string(hashes[j][:]) })
		txs, err := spendingTxs(ctx, src, c, hashes, spendOf)
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
					res.Stops = append(res.Stops, coinStop(co, StopMaxHops, fmt.Sprintf("after %d hops", cfg.MaxHops)))
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
					res.depositCoin(c, co, ex, "swept into its labeled wallet in "+h.String(), hop)
				}
				continue
			}
			coinJoin := heuristics.IsCoinJoin(tx)
			if coinJoin && !cfg.ThroughMixers {
				for _, co := range byTx[h] {
					res.Stops = append(res.Stops, coinStop(co, StopMixer, "spent in CoinJoin "+h.String()))
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
				f := out.flow(c, tx, from)
				f.Inputs, f.CoinJoin = inputs, coinJoin
				res.Flows = append(res.Flows, f)
				if cat, name, ok := labelOf(cfg.Labels, out.addr); ok {
					if cat == "exchange" {
						res.depositCoin(c, out, name, "labeled", hop+1)
					} else {
						res.Stops = append(res.Stops, coinStop(out, StopService, cat+": "+name))
						if cfg.OnService != nil {
							cfg.OnService(cat, name, hop+1, out.amounts())
						}
					}
					continue
				}
				if out.maxSats(on) < minAmount {
					res.Stops = append(res.Stops, coinStop(out, StopBelowMinAmount, fmt.Sprintf("carries less than %d sat under every model", minAmount)))
					continue
				}
				if res.Visited >= cfg.MaxNodes {
					res.Stops = append(res.Stops, coinStop(out, StopMaxNodes, fmt.Sprintf("more than %d coins followed", cfg.MaxNodes)))
					continue
				}
				res.Visited++
				next = append(next, out)
			}
		}
		frontier = next
	}
	res.Deposits = mergeDeposits(res.Deposits)
	res.Poisoned = mergePoisoned(res.Poisoned)
	return res, nil
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

// coinStop is the trace stopping at co.
func coinStop(co *coin, reason, detail string) Stop {
	return Stop{Outpoint: co.op, Address: co.addr, Reason: reason, Detail: detail}
}

// payment is the output co is, as the payment that made it.
func (co *coin) payment(c chains.Chain) chains.Transfer {
	return chains.Transfer{Chain: c, Height: co.height, Time: co.time, TxHash: co.op.Hash, To: co.addr, Amount: big.NewInt(co.value), Success: true}
}

// depositCoin records co reaching an exchange: a row per seed whose money
// haircut or FIFO carry (in one pass over its shares), and the poison set.
func (res *Result) depositCoin(c chains.Chain, co *coin, exchange, evidence string, hop int) {
	type sums struct {
		hair *big.Rat
		fifo int64
	}
	per := map[int]*sums{}
	get := func(s int) *sums {
		a := per[s]
		if a == nil {
			a = &sums{hair: new(big.Rat)}
			per[s] = a
		}
		return a
	}
	for s, r := range co.haircut {
		if r.Sign() > 0 {
			get(s).hair = r
		}
	}
	for _, sg := range co.fifo {
		if sg.seed >= 0 && sg.sats > 0 {
			get(sg.seed).fifo += sg.sats
		}
	}
	pay := co.payment(c)
	for _, s := range slices.Sorted(maps.Keys(per)) {
		a := Amounts{Poison: new(big.Int), Haircut: per[s].hair, FIFO: big.NewInt(per[s].fifo)}
		if co.poison.Has(s) {
			a.Poison.SetInt64(co.value)
		}
		res.Deposits = append(res.Deposits, Deposit{Seed: s, Transfer: pay, Outpoint: co.op, Address: co.addr, Hop: hop,
			Exchange: exchange, Evidence: evidence, Amounts: a})
	}
	if co.poison.Len() > 0 {
		res.Poisoned = append(res.Poisoned, Poisoned{Transfer: pay, Outpoint: co.op, Address: co.addr, Hop: hop,
			Exchange: exchange, Evidence: evidence, Seeds: co.poison})
	}
}

// amounts is what co carries of all seeds together.
func (co *coin) amounts() Amounts {
	a := Amounts{Poison: new(big.Int), FIFO: new(big.Int)}
	if co.poison.Len() > 0 {
		a.Poison.SetInt64(co.value)
	}
	for _, r := range co.haircut {
		if a.Haircut == nil {
			a.Haircut = new(big.Rat)
		}
		a.Haircut.Add(a.Haircut, r)
	}
	var fifo int64
	for _, s := range co.fifo {
		if s.seed >= 0 {
			fifo += s.sats
		}
	}
	a.FIFO.SetInt64(fifo)
	return a
}

// flow is the flow-graph step into this coin.
func (co *coin) flow(c chains.Chain, tx *chains.Tx, from []chains.Address) Flow {
	return Flow{Transfer: co.payment(c), Hop: co.depth, Amounts: co.amounts(), Output: co.op, From: from, Peel: isPeel(tx)}
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
		h := f.Transfer.TxHash
		if _, ok := outs[h]; !ok {
			order = append(order, h)
			for _, in := range f.Inputs {
				spentBy[in] = h
			}
		}
		// Money of several victims (or reached at several hops) through
		// one output is several flows of it: a step has two outputs,
		// however many flows.
		if !seen[f.Output] {
			seen[f.Output] = true
			outs[h] = append(outs[h], f)
		}
	}
	step := func(h chains.Hash) (rest, peeled Flow, ok bool) {
		fs := outs[h]
		if len(fs) != 2 {
			return rest, peeled, false
		}
		if fs[0].Transfer.Amount.Cmp(fs[1].Transfer.Amount) >= 0 {
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
