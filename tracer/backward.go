package tracer

import (
	"context"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"sort"

	"github.com/fundtrace/fundtrace/chains"
)

// Backward tracing asks where the money of a payment came from: the same
// models read the other way. A coin of value v made by a transaction
// whose inputs total I holds, of input i (value in_i):
//
//   - haircut: v × in_i / I (every input contributed to every output in
//     proportion);
//   - FIFO: the satoshis of the input stream that the coin's place in the
//     output stream covers (outputs laid end to end in order over the
//     inputs laid end to end; the fee is the last satoshis);
//   - poison: all of every input.
//
// The trace goes back transaction by transaction until money comes from a
// labeled address (an exchange's withdrawal, a mixer...), a coinbase, or
// the hop limit.

// span is a run [lo, hi) of a coin's satoshis.
type span struct{ lo, hi int64 }

// backCoin is a coin some of a seed's money came through.
type backCoin struct {
	seed   int
	op     chains.Outpoint
	hop    int
	hair   *big.Rat
	fifo   []span
	poison bool
}

// UTXOBackward traces seeds backward through a UTXO chain's store: one
// read of the funding transactions a hop.
func UTXOBackward(ctx context.Context, src UTXOSource, c chains.Chain, seeds []Seed, cfg Config) (*Result, error) {
	on, err := cfg.check(c)
	if err != nil {
		return nil, err
	}
	minAmount := cfg.minFor(c, "").Int64()
	res := &Result{Seeds: seeds}
	var frontier []*backCoin
	for i, s := range seeds {
		frontier = append(frontier, &backCoin{seed: i, op: s.Outpoint, poison: true})
	}
	for round := 0; len(frontier) > 0; round++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hs := make([]chains.Hash, len(frontier))
		for i, b := range frontier {
			hs[i] = b.op.Hash
		}
		txs, err := src.Txs(ctx, c, hs)
		if err != nil {
			if round == 0 {
				return nil, fmt.Errorf("seeds: %w", err)
			}
			return nil, fmt.Errorf("hop %d back: %w", round, err)
		}
		res.Lookups++
		res.Hops = round + 1
		var next []*backCoin
		for i, b := range frontier {
			tx := txs[i]
			if int(b.op.Index) >= len(tx.Outputs) {
				return nil, fmt.Errorf("seed %d (%s): %s has no output %d", b.seed+1, seeds[b.seed].Ref, b.op.Hash, b.op.Index)
			}
			out := tx.Outputs[b.op.Index]
			if round == 0 {
				// The seed itself: all of it.
				b.hair = new(big.Rat).SetInt64(out.Value)
				b.fifo = []span{{0, out.Value}}
			}
			origin := func(reason, cat, name string) {
				pay := chains.Transfer{Chain: c, Height: tx.Height, Time: tx.Time, TxHash: b.op.Hash, To: out.Address(), Amount: big.NewInt(out.Value), Success: true}
				res.Origins = append(res.Origins, Origin{Seed: b.seed, Transfer: pay, Outpoint: b.op, Address: out.Address(),
					Hop: b.hop, Reason: reason, Category: cat, Name: name, Amounts: b.amounts(out.Value)})
			}
			if round > 0 {
				if cat, name, ok := labelOf(cfg.Labels, out.Address()); ok {
					origin(OriginLabeled, cat, name)
					continue
				}
			}
			switch {
			case tx.Coinbase:
				origin(OriginCoinbase, "miner", "coinbase")
				continue
			case b.hop >= cfg.MaxHops:
				origin(StopMaxHops, "", "")
				continue
			case res.Visited >= cfg.MaxNodes:
				origin(StopMaxNodes, "", "")
				continue
			}
			res.Visited++
			for _, pb := range b.back(tx) {
				in := tx.Inputs[pb.op.Index]
				pb.op = in.Prev
				// The flow is the input paying the output b's money is in.
				pay := chains.Transfer{Chain: c, Height: tx.Height, Time: tx.Time, TxHash: tx.Hash, To: out.Address(), Amount: big.NewInt(in.Prevout.Value), Success: true}
				res.Flows = append(res.Flows, Flow{Transfer: pay, Hop: pb.hop, Amounts: pb.amounts(in.Prevout.Value), From: []chains.Address{in.Prevout.Address()},
					Inputs: []chains.Outpoint{in.Prev}, Output: b.op})
				if pb.maxSats(on, in.Prevout.Value) < minAmount {
					continue
				}
				next = append(next, pb)
			}
		}
		frontier = mergeBack(next)
	}
	sort.SliceStable(res.Origins, func(i, j int) bool {
		if res.Origins[i].Seed != res.Origins[j].Seed {
			return res.Origins[i].Seed < res.Origins[j].Seed
		}
		return res.Origins[i].Hop < res.Origins[j].Hop
	})
	return res, nil
}

// maxSats is the most any enabled model says b carries of its seed, in
// a coin of value.
func (b *backCoin) maxSats(on map[string]bool, value int64) int64 {
	var m int64
	if on[Haircut] && b.hair != nil {
		m = max(m, new(big.Int).Quo(b.hair.Num(), b.hair.Denom()).Int64())
	}
	if on[FIFO] {
		m = max(m, b.fifoSats())
	}
	if on[Poison] && b.poison {
		m = max(m, value)
	}
	return m
}

func (b *backCoin) fifoSats() int64 {
	var n int64
	for _, s := range b.fifo {
		n += s.hi - s.lo
	}
	return n
}

// amounts is what b carries of its seed, in a coin of value.
func (b *backCoin) amounts(value int64) Amounts {
	a := Amounts{Poison: new(big.Int), Haircut: b.hair, FIFO: big.NewInt(b.fifoSats())}
	if b.poison {
		a.Poison.SetInt64(value)
	}
	return a
}

// back splits what b holds of its seed over the inputs of tx (the
// transaction that made b's coin): one backCoin per input that
// contributed, with op.Index the input's index (the caller names the
// input's coin).
func (b *backCoin) back(tx *chains.Tx) []*backCoin {
	var total, outStart int64
	for _, in := range tx.Inputs {
		total += in.Prevout.Value
	}
	for _, o := range tx.Outputs[:b.op.Index] {
		outStart += o.Value
	}
	if total == 0 {
		return nil
	}
	var out []*backCoin
	var inStart int64
	for i, in := range tx.Inputs {
		v := in.Prevout.Value
		pb := &backCoin{seed: b.seed, op: chains.Outpoint{Index: uint32(i)}, hop: b.hop + 1, poison: b.poison}
		if b.hair != nil {
			pb.hair = new(big.Rat).Mul(b.hair, big.NewRat(v, total))
		}
		// The coin's runs, placed in the output stream, over this input's
		// place in the input stream.
		for _, s := range b.fifo {
			lo, hi := max(outStart+s.lo, inStart), min(outStart+s.hi, inStart+v)
			if lo < hi {
				pb.fifo = append(pb.fifo, span{lo - inStart, hi - inStart})
			}
		}
		inStart += v
		if pb.hair != nil && pb.hair.Sign() == 0 && len(pb.fifo) == 0 && !pb.poison {
			continue
		}
		out = append(out, pb)
	}
	return out
}

// mergeBack joins what one seed's money came through the same coin by
// several paths.
func mergeBack(bs []*backCoin) []*backCoin {
	type key struct {
		seed int
		op   chains.Outpoint
	}
	at := map[key]*backCoin{}
	var out []*backCoin
	for _, b := range bs {
		k := key{b.seed, b.op}
		m := at[k]
		if m == nil {
			at[k] = b
			out = append(out, b)
			continue
		}
		if b.hair != nil {
			if m.hair == nil {
				m.hair = new(big.Rat)
			}
			m.hair = new(big.Rat).Add(m.hair, b.hair)
		}
		m.fifo = append(m.fifo, b.fifo...)
		m.poison = m.poison || b.poison
		m.hop = min(m.hop, b.hop)
	}
	return out
}

// backItem is money of a seed moved by one transfer, going backward.
type backItem struct {
	seed   int
	tr     chains.Transfer
	hop    int
	hair   *big.Rat
	fifo   []bigSpan
	poison bool
}

type bigSpan struct{ lo, hi *big.Int }

// AccountBackward traces seeds backward over an account chain: for each
// transfer, the address that made it is replayed with each of its
// earlier receipts told apart, and the money is split over them as the
// models say (haircut: by share of the balance; FIFO: by place in the
// queue; poison: all). One history query a hop.
func AccountBackward(ctx context.Context, src AccountSource, c chains.Chain, seeds []Seed, cfg Config) (*Result, error) {
	on, err := cfg.check(c)
	if err != nil {
		return nil, err
	}
	minFor := func(asset chains.Address) *big.Int { return cfg.minFor(c, asset) }
	res := &Result{Seeds: seeds}
	var frontier []*backItem
	for i, s := range seeds {
		tr := s.Transfer
		if !tr.Success || tr.Amount == nil || tr.Amount.Sign() <= 0 {
			return nil, fmt.Errorf("seed %d (%s): transfer %s %s moved nothing", i+1, s.Ref, tr.TxHash, tr.Position)
		}
		frontier = append(frontier, &backItem{seed: i, tr: tr, hair: new(big.Rat).SetInt(tr.Amount),
			fifo: []bigSpan{{new(big.Int), new(big.Int).Set(tr.Amount)}}, poison: true})
	}
	hc := newHistories(src, c, cfg.MaxHistory)
	histories, tooLong := hc.hist, hc.tooLong
	origin := func(b *backItem, reason, cat, name string) {
		res.Origins = append(res.Origins, Origin{Seed: b.seed, Transfer: b.tr, Address: b.tr.From, Hop: b.hop, Reason: reason,
			Category: cat, Name: name, Amounts: b.amounts()})
	}
	for round := 0; len(frontier) > 0; round++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// Where each item's money came from without reading anything.
		var work []*backItem
		for _, b := range frontier {
			switch {
			case b.tr.From == "":
				reason := OriginReward
				if b.tr.Kind == chains.TransferWithdrawal {
					reason = OriginWithdrawal
				}
				origin(b, reason, "", "")
				continue
			}
			if b.tr.Asset != "" && isZeroAccount(b.tr.From) {
				origin(b, OriginMint, "", "")
				continue
			}
			if cat, name, ok := labelOf(cfg.Labels, b.tr.From); ok {
				origin(b, OriginLabeled, cat, name)
				continue
			}
			if b.hop >= cfg.MaxHops {
				origin(b, StopMaxHops, "", "")
				continue
			}
			if res.Visited >= cfg.MaxNodes {
				origin(b, StopMaxNodes, "", "")
				continue
			}
			work = append(work, b)
			hc.want(b.tr.From)
		}
		if len(work) == 0 {
			break
		}
		res.Hops = round + 1
		if asked, err := hc.fetch(ctx); err != nil {
			return nil, fmt.Errorf("hop %d back: %w", round+1, err)
		} else if asked {
			res.Lookups++
		}
		// Replay each address and asset once, every receipt its own colour.
		byHolding := map[holding][]*backItem{}
		var hs []holding
		for _, b := range work {
			h := holding{b.tr.From, b.tr.Asset}
			if _, ok := byHolding[h]; !ok {
				hs = append(hs, h)
			}
			byHolding[h] = append(byHolding[h], b)
		}
		var next []*backItem
		for _, h := range hs {
			items := byHolding[h]
			if tooLong[h.addr] {
				for _, b := range items {
					origin(b, StopMaxHistory, "", "")
					res.Origins[len(res.Origins)-1].Detail = fmt.Sprintf("more than %d transfers: a service nobody has labeled?", cfg.MaxHistory)
				}
				continue
			}
			res.Visited++
			hist := histories[h.addr]
			arr := map[transferID]*arrival{}
			var receipts []chains.Transfer
			for _, tr := range hist {
				if tr.To != h.addr || tr.From == h.addr || tr.Asset != h.asset || !tr.Success || tr.Amount == nil || tr.Amount.Sign() <= 0 {
					continue
				}
				col := len(receipts)
				receipts = append(receipts, tr)
				t := newTaint()
				t.poison = seedSetOf(col)
				t.hair[col] = new(big.Rat).SetInt(tr.Amount)
				t.fifo = []fseg{{col, new(big.Int).Set(tr.Amount)}}
				arr[idOf(&tr)] = &arrival{tr: tr, t: t}
			}
			outs, _ := replay(h, hist, arr, nil, nil)
			// Each colour's runs leave in order: a run's place within its
			// receipt is what the colour had given before it.
			type run struct {
				col     int
				n, from *big.Int
			}
			runs := map[transferID][]run{}
			sent := map[transferID]*taint{}
			given := map[int]*big.Int{}
			for _, o := range outs {
				id := idOf(&o.tr)
				sent[id] = o.t
				for _, f := range o.t.fifo {
					r := run{col: f.seed, n: f.n, from: new(big.Int)}
					if f.seed >= 0 {
						if given[f.seed] == nil {
							given[f.seed] = new(big.Int)
						}
						r.from.Set(given[f.seed])
						given[f.seed].Add(given[f.seed], f.n)
					}
					runs[id] = append(runs[id], r)
				}
			}
			for _, b := range items {
				id := idOf(&b.tr)
				t := sent[id]
				if t == nil {
					origin(b, OriginPreExisting, "", "")
					continue
				}
				parts := map[int]*backItem{}
				part := func(col int) *backItem {
					if p := parts[col]; p != nil {
						return p
					}
					p := &backItem{seed: b.seed, tr: receipts[col], hop: b.hop + 1}
					parts[col] = p
					return p
				}
				if b.hair != nil {
					for col, r := range t.hair {
						x := new(big.Rat).Mul(b.hair, r)
						x.Quo(x, new(big.Rat).SetInt(b.tr.Amount))
						if x.Sign() > 0 {
							part(col).hair = x
						}
					}
				}
				pos := new(big.Int)
				pre := new(big.Int)
				for _, r := range runs[id] {
					end := new(big.Int).Add(pos, r.n)
					for _, s := range b.fifo {
						lo, hi := bigMax(s.lo, pos), bigMin(s.hi, end)
						if lo.Cmp(hi) >= 0 {
							continue
						}
						if r.col < 0 {
							pre.Add(pre, new(big.Int).Sub(hi, lo))
							continue
						}
						off := new(big.Int).Sub(r.from, pos)
						p := part(r.col)
						p.fifo = append(p.fifo, bigSpan{new(big.Int).Add(lo, off), new(big.Int).Add(hi, off)})
					}
					pos = end
				}
				if pre.Sign() > 0 {
					res.Origins = append(res.Origins, Origin{Seed: b.seed, Transfer: b.tr, Address: b.tr.From, Hop: b.hop, Reason: OriginPreExisting,
						Detail: "held before the first indexed block", Amounts: Amounts{Poison: new(big.Int), Haircut: new(big.Rat), FIFO: pre}})
				}
				if b.poison && on[Poison] {
					t.poison.Each(func(col int) { part(col).poison = true })
				}
				for _, col := range slices.Sorted(maps.Keys(parts)) {
					p := parts[col]
					a := p.amounts()
					res.Flows = append(res.Flows, Flow{Transfer: p.tr, Hop: p.hop, Amounts: a})
					if p.maxUnits(on).Cmp(minFor(h.asset)) < 0 {
						continue
					}
					next = append(next, p)
				}
			}
		}
		frontier = next
	}
	sort.SliceStable(res.Origins, func(i, j int) bool {
		if res.Origins[i].Seed != res.Origins[j].Seed {
			return res.Origins[i].Seed < res.Origins[j].Seed
		}
		return res.Origins[i].Hop < res.Origins[j].Hop
	})
	return res, nil
}

func isZeroAccount(a chains.Address) bool {
	if a.Kind() != chains.KindAccount {
		return false
	}
	for _, b := range []byte(a[1:]) {
		if b != 0 {
			return false
		}
	}
	return true
}

func bigMax(a, b *big.Int) *big.Int {
	if a.Cmp(b) >= 0 {
		return a
	}
	return b
}

func bigMin(a, b *big.Int) *big.Int {
	if a.Cmp(b) <= 0 {
		return a
	}
	return b
}

func (b *backItem) amounts() Amounts {
	a := Amounts{Poison: new(big.Int), Haircut: new(big.Rat), FIFO: new(big.Int)}
	if b.hair != nil {
		a.Haircut.Set(b.hair)
	}
	for _, s := range b.fifo {
		a.FIFO.Add(a.FIFO, new(big.Int).Sub(s.hi, s.lo))
	}
	if b.poison {
		a.Poison.Set(b.tr.Amount)
	}
	return a
}

func (b *backItem) maxUnits(on map[string]bool) *big.Int {
	a := b.amounts()
	m := new(big.Int)
	if on[Haircut] && a.HaircutUnits().Cmp(m) > 0 {
		m = a.HaircutUnits()
	}
	if on[FIFO] && a.FIFO.Cmp(m) > 0 {
		m = a.FIFO
	}
	if on[Poison] && a.Poison.Cmp(m) > 0 {
		m = a.Poison
	}
	return m
}
