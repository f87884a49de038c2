package tracer

import (
	"context"
	"fmt"
	"math/big"
	"sort"

	"github.com/fundtrace/fundtrace/chains"
)

// On an account chain (Ethereum) money is not held in coins but as each
// address's balance of each asset, so the models read an address's whole
// history of that asset, in chain order (within a transaction: the fee,
// then its value, its internal calls, its token transfers; a block's
// withdrawals after its transactions):
//
//   - poison: once tainted money arrives, everything the address sends
//     of that asset afterwards is tainted, wholly.
//   - haircut: every amount leaving (the fee too) carries each seed's
//     share of the balance in proportion: share × amount / balance. (An
//     address holding 1 ETH of its own receives 3 ETH of a victim's and
//     sends 2 ETH: they carry 1.5 ETH of the victim's.)
//   - FIFO: units leave in the order they arrived, the fee too; what
//     the address held before (pre-existing balance) leaves first. (In
//     the same example the 2 ETH sent carry 1 ETH of the address's own
//     and 1 ETH of the victim's.)
//
// A balance the store cannot account for (funds from before the first
// indexed block, or a genesis allocation) is taken as clean and older
// than anything recorded.

// AccountSource is what a trace over an account chain reads: a
// transaction (to check and read seeds) and the histories of a whole
// frontier of addresses at once.
type AccountSource interface {
	AccountTx(ctx context.Context, c chains.Chain, h chains.Hash) (*chains.AccountTx, []chains.Transfer, error)
	// TransfersOf reads the addresses' transfers between heights from
	// and to (to < 0: the tip), oldest first; with limit > 0, an address
	// with more than limit transfers there is not read, only reported
	// in over (a trace takes it for a service: an unlabeled exchange
	// wallet has millions of transfers, which the trace need not hold).
	TransfersOf(ctx context.Context, c chains.Chain, addrs []chains.Address, from, to int64, limit int) (hist [][]chains.Transfer, over []bool, err error)
}

// taint is what one transfer, or one address's balance, carries of the
// seeds: per seed, under each model.
type taint struct {
	poison *SeedSet // nil: none (or the poison model is off)
	hair   map[int]*big.Rat
	fifo   []fseg // in arrival order; clean runs hold their place
}

type fseg struct {
	seed int // -1 clean
	n    *big.Int
}

func newTaint() *taint { return &taint{hair: map[int]*big.Rat{}} }

func (t *taint) empty() bool {
	if t.poison.Len() > 0 || len(t.hair) > 0 {
		return false
	}
	for _, s := range t.fifo {
		if s.seed >= 0 {
			return false
		}
	}
	return true
}

// add merges o into t (the models are linear: parts add up).
func (t *taint) add(o *taint) {
	t.poison = union(t.poison, o.poison)
	for s, r := range o.hair {
		if t.hair[s] == nil {
			t.hair[s] = new(big.Rat)
		}
		t.hair[s].Add(t.hair[s], r)
	}
	// FIFO parts of one transfer arriving by different paths: keep both
	// lists' tainted runs (their order within one transfer is immaterial
	// to the sum), clean runs of the later one dropped.
	for _, s := range o.fifo {
		if s.seed >= 0 {
			t.fifo = append(t.fifo, s)
		}
	}
}

// amounts sums t over all seeds (the Other remainder included: FIFO
// never merges, so only haircut holds one).
func (t *taint) amounts(value *big.Int) Amounts {
	a := Amounts{Poison: new(big.Int), Haircut: new(big.Rat), FIFO: new(big.Int)}
	if t.poison.Len() > 0 {
		a.Poison.Set(value)
	}
	for _, r := range t.hair {
		a.Haircut.Add(a.Haircut, r)
	}
	for _, f := range t.fifo {
		if f.seed >= 0 {
			a.FIFO.Add(a.FIFO, f.n)
		}
	}
	return a
}

// perSeed splits t by seed, in one pass: the seeds (Other among them,
// for haircut) whose money haircut or FIFO carry, in ascending order, each with its
// amounts (poison: the whole value when the seed's money touched it).
func (t *taint) perSeed(value *big.Int) ([]int, map[int]Amounts) {
	per := map[int]Amounts{}
	get := func(s int) Amounts {
		a, ok := per[s]
		if !ok {
			a = Amounts{Poison: new(big.Int), Haircut: new(big.Rat), FIFO: new(big.Int)}
			if t.poison.Has(s) {
				a.Poison.Set(value)
			}
			per[s] = a
		}
		return a
	}
	for s, r := range t.hair {
		if r.Sign() > 0 {
			get(s).Haircut.Add(get(s).Haircut, r)
		}
	}
	for _, f := range t.fifo {
		if f.seed >= 0 && f.n.Sign() > 0 {
			get(f.seed).FIFO.Add(get(f.seed).FIFO, f.n)
		}
	}
	ids := make([]int, 0, len(per))
	for s := range per {
		ids = append(ids, s)
	}
	sort.Ints(ids)
	return ids, per
}

// maxUnits is the most any enabled model says t carries of any one seed.
func (t *taint) maxUnits(on map[string]bool, value *big.Int) *big.Int {
	m := new(big.Int)
	if on[Poison] && t.poison.Len() > 0 {
		m.Set(value)
	}
	if on[Haircut] {
		for _, r := range t.hair {
			if u := new(big.Int).Quo(r.Num(), r.Denom()); u.Cmp(m) > 0 {
				m = u
			}
		}
	}
	if on[FIFO] {
		per := map[int]*big.Int{}
		for _, f := range t.fifo {
			if f.seed < 0 {
				continue
			}
			if per[f.seed] == nil {
				per[f.seed] = new(big.Int)
			}
			per[f.seed].Add(per[f.seed], f.n)
			if per[f.seed].Cmp(m) > 0 {
				m = new(big.Int).Set(per[f.seed])
			}
		}
	}
	return m
}

// transferID names a transfer within the chain.
type transferID struct {
	tx  chains.Hash
	pos string
	to  chains.Address
	blk int64 // the height, for transfers outside transactions
}

func idOf(t *chains.Transfer) transferID {
	id := transferID{tx: t.TxHash, pos: t.Position, to: t.To}
	if t.TxHash == (chains.Hash{}) {
		id.blk = t.Height
	}
	return id
}

type holding struct {
	addr  chains.Address
	asset chains.Address
}

// arrival is tainted money arriving at an address by one transfer.
type arrival struct {
	tr  chains.Transfer
	t   *taint
	hop int
}

// Account traces seeds forward over an account chain's store, each asset
// separately, hop by hop: one history query per hop for the whole
// frontier.
func Account(ctx context.Context, src AccountSource, c chains.Chain, seeds []Seed, cfg Config) (*Result, error) {
	on, err := cfg.check(c)
	if err != nil {
		return nil, err
	}
	minFor := func(asset chains.Address) *big.Int { return cfg.minFor(c, asset) }
	// Haircut shares under the least amount followed are merged into one
	// remainder (Other) as they leave an address: a hub that mixed a
	// thousand victims' money would otherwise pay each of its transfers
	// out with a thousand shares, most too small to follow or to report.
	mergeBelow := func(asset chains.Address) *big.Rat {
		if cfg.Together || len(seeds) < 2 {
			return nil
		}
		return new(big.Rat).SetInt(minFor(asset))
	}
	res := &Result{Seeds: seeds, Remainder: Remainder{Merged: map[int]*big.Rat{}}}
	frontier := map[holding]map[transferID]*arrival{}
	addArrival := func(f map[holding]map[transferID]*arrival, tr chains.Transfer, t *taint, hop int) {
		h := holding{tr.To, tr.Asset}
		if f[h] == nil {
			f[h] = map[transferID]*arrival{}
		}
		id := idOf(&tr)
		if a := f[h][id]; a != nil {
			a.t.add(t)
			return
		}
		f[h][id] = &arrival{tr: tr, t: t, hop: hop}
	}
	if cfg.Prefetch != nil {
		as := make([]chains.Address, len(seeds))
		for i, s := range seeds {
			as[i] = s.Transfer.To
		}
		if err := cfg.Prefetch(as); err != nil {
			return nil, fmt.Errorf("seeds: labels: %w", err)
		}
	}
	for i, s := range seeds {
		tr := s.Transfer
		if !tr.Success || tr.Amount == nil || tr.Amount.Sign() <= 0 || tr.To == "" {
			return nil, fmt.Errorf("seed %d (%s): transfer %s %s moved nothing", i+1, s.Ref, tr.TxHash, tr.Position)
		}
		col := i
		if cfg.Together {
			col = 0
		}
		t := newTaint()
		if on[Poison] {
			t.poison = seedSetOf(col)
		}
		t.hair[col] = new(big.Rat).SetInt(tr.Amount)
		t.fifo = []fseg{{col, new(big.Int).Set(tr.Amount)}}
		if cat, name, ok := labelOf(cfg.Labels, tr.To); ok && cfg.StopAtLabeledSeeds {
			// A victim paying a known service directly: an exchange's
			// deposit is the seed itself; any other service is a stop.
			if cat == "exchange" {
				res.depositTransfer(tr, t, name, "labeled", 0)
			} else {
				res.Stops = append(res.Stops, accountStop(tr.To, tr.Asset, tr.TxHash, StopService, cat+": "+name, t.amounts(tr.Amount)))
			}
			continue
		}
		addArrival(frontier, tr, t, 0)
	}
	hc := newHistories(src, c, cfg.MaxHistory)
	histories, tooLong := hc.hist, hc.tooLong
	for hop := 0; len(frontier) > 0; hop++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hs := make([]holding, 0, len(frontier))
		for h := range frontier {
			hs = append(hs, h)
		}
		sort.Slice(hs, func(i, j int) bool {
			if hs[i].addr != hs[j].addr {
				return hs[i].addr < hs[j].addr
			}
			return hs[i].asset < hs[j].asset
		})
		if hop >= cfg.MaxHops {
			for _, h := range hs {
				for _, a := range frontier[h] {
					res.Stops = append(res.Stops, accountStop(h.addr, h.asset, a.tr.TxHash, StopMaxHops, fmt.Sprintf("after %d hops", cfg.MaxHops), a.t.amounts(a.tr.Amount)))
				}
			}
			break
		}
		res.Hops = hop + 1
		if cfg.OnHop != nil {
			cfg.OnHop(hop+1, len(hs), res.Visited)
		}
		for _, h := range hs {
			hc.want(h.addr)
		}
		if asked, err := hc.fetch(ctx); err != nil {
			return nil, fmt.Errorf("hop %d: %w", hop+1, err)
		} else if asked {
			res.Lookups++
		}
		if cfg.Prefetch != nil {
			// The hop labels where its addresses paid (a sweep into an
			// exchange's wallet, a payment to a service).
			var as []chains.Address
			for _, h := range hs {
				for _, t := range histories[h.addr] {
					if t.From == h.addr && t.To != "" {
						as = append(as, t.To)
					}
				}
			}
			if err := cfg.Prefetch(as); err != nil {
				return nil, fmt.Errorf("hop %d: labels: %w", hop+1, err)
			}
		}
		next := map[holding]map[transferID]*arrival{}
		for _, h := range hs {
			arr := frontier[h]
			if tooLong[h.addr] {
				for _, a := range sortedArrivals(arr) {
					res.Stops = append(res.Stops, accountStop(h.addr, h.asset, a.tr.TxHash, StopMaxHistory,
						fmt.Sprintf("more than %d transfers: a service nobody has labeled?", cfg.MaxHistory), a.t.amounts(a.tr.Amount)))
				}
				continue
			}
			if res.Visited >= cfg.MaxNodes {
				for _, a := range sortedArrivals(arr) {
					res.Stops = append(res.Stops, accountStop(h.addr, h.asset, a.tr.TxHash, StopMaxNodes,
						fmt.Sprintf("more than %d addresses visited", cfg.MaxNodes), a.t.amounts(a.tr.Amount)))
				}
				continue
			}
			res.Visited++
			hist := histories[h.addr]
			// An address that pays a labeled exchange wallet is that
			// exchange's deposit address: what reached it is deposited.
			if ex, via, ok := sweptInto(h.addr, hist, cfg.SweepTargets); ok {
				for _, a := range sortedArrivals(arr) {
					res.depositTransfer(a.tr, a.t, ex, "swept into its labeled wallet in "+via.String(), a.hop)
				}
				continue
			}
			outs, left := replay(h, hist, arr, mergeBelow(h.asset), &res.Remainder)
			if !left.empty() {
				res.Stops = append(res.Stops, accountStop(h.addr, h.asset, chains.Hash{}, StopUnspent, "still held", left.amounts(new(big.Int))))
			}
			for _, o := range outs {
				tr := o.tr
				amts := o.t.amounts(tr.Amount)
				switch {
				case tr.Kind == chains.TransferFee:
					res.Stops = append(res.Stops, accountStop(h.addr, h.asset, tr.TxHash, StopFee, "paid for gas", amts))
					continue
				case tr.To == "":
					res.Stops = append(res.Stops, accountStop(h.addr, h.asset, tr.TxHash, StopBurnt, tr.Kind.String(), amts))
					continue
				case cfg.Until > 0 && tr.Time > cfg.Until:
					res.Stops = append(res.Stops, accountStop(h.addr, h.asset, tr.TxHash, StopAfterUntil, "moved after the time window", amts))
					continue
				}
				res.Flows = append(res.Flows, Flow{Transfer: tr, Hop: o.hop + 1, Amounts: amts})
				if cat, name, ok := labelOf(cfg.Labels, tr.To); ok {
					switch cat {
					case "exchange":
						res.depositTransfer(tr, o.t, name, "labeled", o.hop+1)
					default:
						reason := StopService
						if cat == "mixer" {
							reason = StopMixer
						}
						res.Stops = append(res.Stops, accountStop(tr.To, h.asset, tr.TxHash, reason, cat+": "+name, amts))
						if cfg.OnService != nil {
							cfg.OnService(cat, name, o.hop+1, amts)
						}
					}
					continue
				}
				if o.t.maxUnits(on, tr.Amount).Cmp(minFor(h.asset)) < 0 {
					res.Stops = append(res.Stops, accountStop(tr.To, h.asset, tr.TxHash, StopBelowMinAmount, "carries less than "+minFor(h.asset).String()+" under every model", amts))
					continue
				}
				addArrival(next, tr, o.t, o.hop+1)
			}
		}
		frontier = next
	}
	res.Deposits = mergeDeposits(res.Deposits)
	res.Poisoned = mergePoisoned(res.Poisoned)
	return res, nil
}

// histories holds the address histories a trace has read: each address
// read once, all the addresses a hop needs in one query.
type histories struct {
	src     AccountSource
	c       chains.Chain
	max     int
	hist    map[chains.Address][]chains.Transfer // in chain order
	tooLong map[chains.Address]bool              // more than max transfers: not kept
	need    []chains.Address
	asked   map[chains.Address]bool
}

func newHistories(src AccountSource, c chains.Chain, maxHistory int) *histories {
	return &histories{src: src, c: c, max: maxHistory, hist: map[chains.Address][]chains.Transfer{},
		tooLong: map[chains.Address]bool{}, asked: map[chains.Address]bool{}}
}

// want asks for a's history at the next fetch, unless it is known.
func (h *histories) want(a chains.Address) {
	if _, ok := h.hist[a]; ok || h.tooLong[a] || h.asked[a] {
		return
	}
	h.asked[a] = true
	h.need = append(h.need, a)
}

// fetch reads the histories wanted since the last fetch, in one query,
// and says whether it asked the store at all.
func (h *histories) fetch(ctx context.Context) (bool, error) {
	if len(h.need) == 0 {
		return false, nil
	}
	got, over, err := h.src.TransfersOf(ctx, h.c, h.need, 0, -1, h.max)
	if err != nil {
		return true, fmt.Errorf("histories of %d addresses: %w", len(h.need), err)
	}
	for i, a := range h.need {
		if over[i] || len(got[i]) > h.max {
			h.tooLong[a] = true
			continue
		}
		h.hist[a] = chainOrder(got[i])
	}
	h.need = h.need[:0]
	clear(h.asked)
	return true, nil
}

func sortedArrivals(m map[transferID]*arrival) []*arrival {
	out := make([]*arrival, 0, len(m))
	for _, a := range m {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return before(&out[i].tr, &out[j].tr) })
	return out
}

// before orders transfers as they happened: by block, a block's
// transactions before its withdrawals and rewards, by transaction.
func before(a, b *chains.Transfer) bool {
	if a.Height != b.Height {
		return a.Height < b.Height
	}
	ab, bb := a.TxHash == (chains.Hash{}), b.TxHash == (chains.Hash{})
	if ab != bb {
		return bb
	}
	return a.TxIndex < b.TxIndex
}

// chainOrder sorts a history (as the store returns it: by block, position
// and order within the block) into the order the transfers happened.
func chainOrder(ts []chains.Transfer) []chains.Transfer {
	sort.SliceStable(ts, func(i, j int) bool { return before(&ts[i], &ts[j]) })
	return ts
}

// sweptInto says whether a pays a labeled exchange wallet, and in which
// transaction first.
func sweptInto(a chains.Address, hist []chains.Transfer, l Labeler) (string, chains.Hash, bool) {
	for i := range hist {
		t := &hist[i]
		if t.From != a || t.To == a || !t.Success || t.Kind == chains.TransferFee || t.Amount == nil || t.Amount.Sign() <= 0 {
			continue
		}
		if cat, name, ok := labelOf(l, t.To); ok && cat == "exchange" {
			return name, t.TxHash, true
		}
	}
	return "", chains.Hash{}, false
}

// outflow is tainted money leaving an address by one transfer.
type outflow struct {
	tr  chains.Transfer
	t   *taint
	hop int // the hop of the latest tainted arrival before it
}

// replay runs an address's history of one asset with the tainted
// arrivals marked and returns what each later transfer out carried, and
// what the address still holds.
//
// Shares of a transfer out under mergeBelow (nil: none are) move to the
// Other remainder, recorded in rem.
func replay(h holding, hist []chains.Transfer, arr map[transferID]*arrival, mergeBelow *big.Rat, rem *Remainder) ([]outflow, *taint) {
	bal := new(big.Int)
	held := newTaint()
	var queue []fseg
	hop := 0
	var out []outflow
	for i := range hist {
		tr := hist[i]
		if tr.Asset != h.asset || !tr.Success || tr.Amount == nil || tr.Amount.Sign() <= 0 || tr.Kind == chains.TransferERC721 {
			continue
		}
		var sent *taint
		if tr.From == h.addr {
			amt := tr.Amount
			if bal.Cmp(amt) < 0 {
				// More leaves than the store saw arrive: the rest was
				// there before (clean, and first to leave).
				d := new(big.Int).Sub(amt, bal)
				queue = append([]fseg{{-1, d}}, queue...)
				bal.Add(bal, d)
			}
			sent = newTaint()
			sent.poison = held.poison
			ratio := new(big.Rat).SetFrac(amt, bal)
			for s, r := range held.hair {
				x := new(big.Rat).Mul(r, ratio)
				r.Sub(r, x)
				if r.Sign() == 0 {
					delete(held.hair, s)
				}
				addShare(sent.hair, s, x, mergeBelow, rem)
			}
			need := new(big.Int).Set(amt)
			for need.Sign() > 0 && len(queue) > 0 {
				head := queue[0]
				take := head.n
				if take.Cmp(need) > 0 {
					take = new(big.Int).Set(need)
					queue[0].n = new(big.Int).Sub(head.n, need)
				} else {
					queue = queue[1:]
				}
				sent.fifo = appendSeg(sent.fifo, fseg{head.seed, take})
				need.Sub(need, take)
			}
			bal.Sub(bal, amt)
			if !sent.empty() {
				out = append(out, outflow{tr: tr, t: sent, hop: hop})
			}
		}
		if tr.To == h.addr {
			bal.Add(bal, tr.Amount)
			in := sent // a transfer to oneself carries back what it took
			if a := arr[idOf(&tr)]; a != nil {
				in = a.t
				hop = max(hop, a.hop)
			}
			if in == nil {
				queue = appendSeg(queue, fseg{-1, new(big.Int).Set(tr.Amount)})
				continue
			}
			held.poison = union(held.poison, in.poison)
			for s, r := range in.hair {
				if held.hair[s] == nil {
					held.hair[s] = new(big.Rat)
				}
				held.hair[s].Add(held.hair[s], r)
			}
			rest := new(big.Int).Set(tr.Amount)
			for _, f := range in.fifo {
				n := f.n
				if n.Cmp(rest) > 0 {
					n = rest
				}
				queue = appendSeg(queue, fseg{f.seed, new(big.Int).Set(n)})
				rest = new(big.Int).Sub(rest, n)
			}
			if rest.Sign() > 0 {
				queue = appendSeg(queue, fseg{-1, rest})
			}
		}
	}
	// What is left: poison never wears off, so only the haircut share
	// (of a whole unit or more) and FIFO's runs count as still held.
	left := newTaint()
	for s, r := range held.hair {
		if r.Cmp(big.NewRat(1, 1)) >= 0 {
			left.hair[s] = r
		}
	}
	for _, f := range queue {
		if f.seed >= 0 {
			left.fifo = append(left.fifo, f)
		}
	}
	return out, left
}

func appendSeg(q []fseg, s fseg) []fseg {
	if s.n.Sign() == 0 {
		return q
	}
	if n := len(q); n > 0 && q[n-1].seed == s.seed {
		q[n-1].n = new(big.Int).Add(q[n-1].n, s.n)
		return q
	}
	return append(q, s)
}

// depositTransfer records t reaching an exchange by tr: a row per seed whose
// money haircut or FIFO carry, and the poison set.
func (res *Result) depositTransfer(tr chains.Transfer, t *taint, exchange, evidence string, hop int) {
	ids, per := t.perSeed(tr.Amount)
	for _, s := range ids {
		res.Deposits = append(res.Deposits, Deposit{Seed: s, Transfer: tr, Address: tr.To, Hop: hop, Exchange: exchange, Evidence: evidence,
			Amounts: per[s]})
	}
	if t.poison.Len() > 0 {
		res.Poisoned = append(res.Poisoned, Poisoned{Transfer: tr, Address: tr.To, Hop: hop, Exchange: exchange, Evidence: evidence, Seeds: t.poison})
	}
}

// accountStop is the trace stopping at address a's holding of asset.
func accountStop(a, asset chains.Address, tx chains.Hash, reason, detail string, amts Amounts) Stop {
	return Stop{Address: a, Asset: asset, Tx: tx, Reason: reason, Detail: detail, Amounts: amts}
}

// FindAccountSeed finds the victim payment a case names: the successful
// transfer in transaction h at position pos (when given: "" is the
// transaction's own value, "log:N" a token transfer) or else the one
// paying to (and of asset and amount, when given). An ambiguous or
// missing payment is an error saying what the transaction holds.
func FindAccountSeed(ctx context.Context, src AccountSource, c chains.Chain, h chains.Hash, pos *string, to, asset *chains.Address, amount *big.Int) (chains.Transfer, error) {
	_, ts, err := src.AccountTx(ctx, c, h)
	if err != nil {
		return chains.Transfer{}, fmt.Errorf("transaction %s: %w", h, err)
	}
	var match []chains.Transfer
	for _, t := range ts {
		if t.Kind == chains.TransferFee || !t.Success || t.Amount == nil || t.Amount.Sign() <= 0 {
			continue
		}
		if (pos != nil && t.Position != *pos) || (to != nil && t.To != *to) || (asset != nil && t.Asset != *asset) || (amount != nil && t.Amount.Cmp(amount) != 0) {
			continue
		}
		match = append(match, t)
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		return chains.Transfer{}, fmt.Errorf("transaction %s has no successful transfer matching the seed (%d transfers in it)", h, len(ts))
	default:
		return chains.Transfer{}, fmt.Errorf("transaction %s has %d transfers matching the seed: give the position (log index) or the address and amount", h, len(match))
	}
}
