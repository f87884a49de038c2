package investigate

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/big"
	"slices"
	"sort"
	"strconv"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/tracefile"
	"github.com/fundtrace/fundtrace/tracer"
)

// Trace traces the seeds under the models (forward, or backward with
// Options.Backward) with money moved after until (Unix seconds; 0 none)
// not followed, and builds the trace file; from is recorded in it (it
// chose the address seeds).
func (iv *Investigation) Trace(ctx context.Context, seeds Seeds, models []string, from, until int64) (*tracefile.Trace, error) {
	o := iv.opts
	j := &tracefile.Trace{Schema: tracefile.Schema, Direction: "forward", Models: models, Assets: map[string]tracefile.Asset{}, StopCounts: map[string]int{},
		Seeds: []tracefile.Seed{}, Nodes: []tracefile.Node{}, Flows: []tracefile.Flow{}, Deposits: []tracefile.Deposit{}, Poisoned: []tracefile.Poisoned{}, Exchanges: []tracefile.Exchange{},
		PeelChains: []tracefile.PeelChain{}, Stops: []tracefile.Stop{},
		Params: tracefile.Params{MaxHops: o.MaxHops, MaxNodes: o.MaxNodes, ThroughMixers: o.ThroughMixers, MinAmount: map[string]string{}}}
	if o.Backward {
		j.Direction = "backward"
	}
	if from > 0 {
		j.Params.From = formatTime(from)
	}
	if until > 0 {
		j.Params.Until = formatTime(until)
	}
	minAmount := o.MinAmount
	g := newGraph()
	if len(seeds.BTC) > 0 {
		if err := iv.traceBTC(ctx, j, g, seeds.BTC, models, minAmount, until); err != nil {
			return nil, err
		}
	}
	for _, a := range []struct {
		ac    *accountChain
		seeds []tracer.Seed
	}{{ethChain, seeds.ETH}, {tronChain, seeds.TRON}} {
		if len(a.seeds) > 0 {
			if err := iv.traceAccount(ctx, a.ac, j, g, a.seeds, models, minAmount, until); err != nil {
				return nil, err
			}
		}
	}
	for _, s := range j.Stops {
		j.StopCounts[s.Reason]++
	}
	j.Exchanges = SummarizeExchanges(j.Deposits, j.Poisoned, len(j.Seeds))
	j.Nodes = iv.nodes(ctx, g)
	return j, nil
}

// graph collects the flow graph's nodes with their role.
type graph struct {
	roles map[[2]string]string
	order [][2]string
	addr  map[[2]string]chains.Address
}

func newGraph() *graph {
	return &graph{roles: map[[2]string]string{}, addr: map[[2]string]chains.Address{}}
}

var rolePriority = map[string]int{"intermediate": 0, "origin": 1, "seed": 2, "service": 3, "deposit": 4, "exchange": 5}

func (g *graph) node(ch, text string, a chains.Address, role string) {
	k := [2]string{ch, text}
	old, ok := g.roles[k]
	if !ok {
		g.order = append(g.order, k)
		g.addr[k] = a
	}
	if !ok || rolePriority[role] > rolePriority[old] {
		g.roles[k] = role
	}
}

func (iv *Investigation) nodes(ctx context.Context, g *graph) []tracefile.Node {
	out := []tracefile.Node{}
	// The trace file names chains as chains.Chain does: btc, eth.
	byChain := map[chains.Chain][]chains.Address{}
	for _, k := range g.order {
		byChain[chains.Chain(k[0])] = append(byChain[chains.Chain(k[0])], g.addr[k])
	}
	labelers := map[chains.Chain]tracer.Labeler{}
	for ch, as := range byChain {
		if err := iv.attr.prefetch(ctx, ch, as); err != nil {
			slog.Warn("Reading the labels and clusters of the trace's addresses in one query failed; reading them one by one", "chain", ch, "err", err)
		}
		labelers[ch] = iv.labeler(ctx, ch)
	}
	for _, k := range g.order {
		ch := chains.Chain(k[0])
		n := tracefile.Node{Chain: k[0], Address: k[1], Role: g.roles[k]}
		a := g.addr[k]
		if cat, name, ok := labelers[ch](a); ok {
			n.Label, n.Category = name, cat
		}
		if iv.attr.cs != nil {
			if id, size, err := iv.attr.cluster(ctx, ch, a); err == nil && size > 1 {
				n.Cluster, n.ClusterSize = id, size
				n.ClusterFlagged = iv.attr.flagged(ctx, ch, id)
			}
		}
		out = append(out, n)
	}
	return out
}

func ratString(r *big.Rat) string {
	if r == nil {
		return "0"
	}
	return new(big.Int).Quo(r.Num(), r.Denom()).String()
}

// view is how one chain's trace is written into the trace file: its
// addresses, transactions and assets as its users write them, and its
// forward and backward walks over the store.
type view struct {
	chain    chains.Chain
	utxo     bool // outputs (Bitcoin), not transfers between accounts
	enc      func(chains.Address) string
	tx       func(chains.Hash) string
	asset    func(chains.Address) string // the asset's id in the file (recorded in its assets)
	forward  func(context.Context, []tracer.Seed, tracer.Config) (*tracer.Result, error)
	backward func(context.Context, []tracer.Seed, tracer.Config) (*tracer.Result, error)
	// evidence, when set, rewrites the evidence of the deposits found.
	evidence func([]tracefile.Deposit, []tracefile.Poisoned)
}

func (iv *Investigation) traceBTC(ctx context.Context, j *tracefile.Trace, g *graph, seeds []tracer.Seed, models []string, minAmount *big.Int, until int64) error {
	net, err := iv.btcNet(ctx)
	if err != nil {
		return err
	}
	j.Assets["BTC"] = tracefile.Asset{Chain: "btc", Symbol: "BTC", Decimals: 8}
	v := &view{chain: chains.Bitcoin, utxo: true,
		enc: func(a chains.Address) string {
			if a == "" {
				return ""
			}
			return net.MustEncode(a)
		},
		tx:    chains.Hash.String,
		asset: func(chains.Address) string { return "BTC" },
		forward: func(ctx context.Context, seeds []tracer.Seed, cfg tracer.Config) (*tracer.Result, error) {
			return tracer.UTXO(ctx, iv.st, chains.Bitcoin, seeds, cfg)
		},
		backward: func(ctx context.Context, seeds []tracer.Seed, cfg tracer.Config) (*tracer.Result, error) {
			return tracer.UTXOBackward(ctx, iv.st, chains.Bitcoin, seeds, cfg)
		}}
	// The seeds as the payments they are, for the file.
	seedTxs, err := iv.st.Txs(ctx, chains.Bitcoin, outpointHashes(seeds))
	if err != nil {
		return err
	}
	seeds = slices.Clone(seeds)
	for i, s := range seeds {
		tx := seedTxs[i]
		if int(s.Outpoint.Index) >= len(tx.Outputs) {
			return fmt.Errorf("seed %d (%s): %s has no output %d", i+1, s.Ref, s.Outpoint.Hash, s.Outpoint.Index)
		}
		o := tx.Outputs[s.Outpoint.Index]
		seeds[i].Transfer = chains.Transfer{Chain: chains.Bitcoin, Height: tx.Height, Time: tx.Time, TxHash: tx.Hash, To: o.Address(), Amount: big.NewInt(o.Value), Success: true}
	}
	return iv.traceChain(ctx, j, g, v, seeds, models, minAmount, until)
}

func outpointHashes(seeds []tracer.Seed) []chains.Hash {
	hs := make([]chains.Hash, len(seeds))
	for i, s := range seeds {
		hs[i] = s.Outpoint.Hash
	}
	return hs
}

// assetID names an account chain's asset in the trace (the native coin,
// a token contract, a TRC-10 id), recording its symbol and decimals.
func (iv *Investigation) assetID(ctx context.Context, j *tracefile.Trace, ac *accountChain, a chains.Address) string {
	id := ac.assetID(a)
	if _, ok := j.Assets[id]; ok {
		return id
	}
	aj := tracefile.Asset{Chain: string(ac.chain), Symbol: id}
	switch {
	case a == "":
		aj.Decimals = ac.decimals
	default: // a token contract, or a TRC-10 id: what the store read of it
		if t, err := iv.ab.Token(ctx, ac.chain, a); err == nil {
			if t.HasSymbol {
				aj.Symbol = t.Symbol
			}
			if t.HasDecimals {
				aj.Decimals = int(t.Decimals)
			}
		}
	}
	j.Assets[id] = aj
	return id
}

func (iv *Investigation) traceAccount(ctx context.Context, ac *accountChain, j *tracefile.Trace, g *graph, seeds []tracer.Seed, models []string, minAmount *big.Int, until int64) error {
	ab, err := iv.account(ctx, ac)
	if err != nil {
		return err
	}
	v := &view{chain: ac.chain, enc: ac.format, tx: ac.tx,
		asset: func(a chains.Address) string { return iv.assetID(ctx, j, ac, a) },
		forward: func(ctx context.Context, seeds []tracer.Seed, cfg tracer.Config) (*tracer.Result, error) {
			return tracer.Account(ctx, ab, ac.chain, seeds, cfg)
		},
		backward: func(ctx context.Context, seeds []tracer.Seed, cfg tracer.Config) (*tracer.Result, error) {
			return tracer.AccountBackward(ctx, ab, ac.chain, seeds, cfg)
		},
		evidence: func(ds []tracefile.Deposit, ps []tracefile.Poisoned) { iv.clusterEvidence(ctx, ac, ds, ps) }}
	return iv.traceChain(ctx, j, g, v, seeds, models, minAmount, until)
}

// traceChain traces one chain's seeds (each with its Transfer: the
// payment) and writes the trace into j: seeds, flows, deposits or
// origins, stops, the graph's nodes and the walk's figures.
func (iv *Investigation) traceChain(ctx context.Context, j *tracefile.Trace, g *graph, v *view, seeds []tracer.Seed, models []string, minAmount *big.Int, until int64) error {
	ch := string(v.chain)
	enc := v.enc
	cfg := tracer.Config{Models: models, MaxHops: iv.opts.MaxHops, MaxNodes: iv.opts.MaxNodes, ThroughMixers: iv.opts.ThroughMixers,
		Until: until, Labels: iv.labeler(ctx, v.chain), SweepTargets: iv.ownLabeler(ctx, v.chain), StopAtLabeledSeeds: true,
		Prefetch: func(as []chains.Address) error { return iv.attr.prefetch(ctx, v.chain, as) },
		OnHop:    iv.onHop(v.chain)}
	if minAmount != nil {
		cfg.MinAmount = map[chains.Address]*big.Int{}
	}
	base := len(j.Seeds) // the file numbers seeds across chains
	for _, s := range seeds {
		t := s.Transfer
		asset := v.asset(t.Asset)
		sj := tracefile.Seed{Chain: ch, Victim: s.Ref, Tx: v.tx(t.TxHash), Position: t.Position, Address: enc(t.To),
			Asset: asset, Amount: t.Amount.String(), Height: t.Height, Time: formatTime(t.Time)}
		if v.utxo {
			sj.Outpoint = s.Outpoint.String()
		}
		j.Seeds = append(j.Seeds, sj)
		g.node(ch, enc(t.To), t.To, "seed")
		m := tracer.MinAmount(v.chain, t.Asset, minAmount)
		if minAmount != nil {
			cfg.MinAmount[t.Asset] = m
		}
		j.Params.MinAmount[asset] = m.String()
	}
	flow := func(f tracer.Flow) tracefile.Flow {
		t := f.Transfer
		fj := tracefile.Flow{Chain: ch, Tx: v.tx(t.TxHash), Height: t.Height, Time: formatTime(t.Time), Hop: f.Hop, Asset: v.asset(t.Asset),
			To: enc(t.To), Position: t.Position, Value: t.Amount.String(), Haircut: f.Amounts.HaircutUnits().String(),
			FIFO: f.Amounts.FIFO.String(), Poison: f.Amounts.Poison.Sign() > 0, Peel: f.Peel, CoinJoin: f.CoinJoin}
		if v.utxo {
			fj.Outpoint = f.Output.String()
			for _, a := range f.From {
				fj.From = append(fj.From, enc(a))
			}
		} else {
			fj.From = []string{enc(t.From)}
		}
		return fj
	}
	if iv.opts.Backward {
		res, err := v.backward(ctx, seeds, cfg)
		if err != nil {
			return fmt.Errorf("trace: %w", err)
		}
		for _, f := range res.Flows {
			j.Flows = append(j.Flows, flow(f))
			from := f.From
			if !v.utxo {
				from = []chains.Address{f.Transfer.From}
			}
			for _, a := range from {
				g.node(ch, enc(a), a, "intermediate")
			}
		}
		for _, o := range res.Origins {
			t := o.Transfer
			oj := tracefile.Origin{Chain: ch, Victim: seeds[o.Seed].Ref, Reason: o.Reason, Category: o.Category, Name: o.Name,
				Tx: v.tx(t.TxHash), Position: t.Position, Height: t.Height, Time: formatTime(t.Time), Hop: o.Hop, Asset: v.asset(t.Asset),
				Haircut: o.Amounts.HaircutUnits().String(), FIFO: o.Amounts.FIFO.String(), Poison: o.Amounts.Poison.String()}
			if v.utxo {
				oj.Outpoint = o.Outpoint.String()
			}
			if o.Address != "" {
				oj.Address = enc(o.Address)
				g.node(ch, oj.Address, o.Address, "origin")
			}
			j.Origins = append(j.Origins, oj)
		}
		j.Stats = append(j.Stats, tracefile.Stats{Chain: ch, Hops: res.Hops, Queries: res.Lookups, Visited: res.Visited})
		return nil
	}
	res, err := v.forward(ctx, seeds, cfg)
	if err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	depBase, poisonBase := len(j.Deposits), len(j.Poisoned)
	for _, f := range res.Flows {
		j.Flows = append(j.Flows, flow(f))
		g.node(ch, enc(f.Transfer.To), f.Transfer.To, "intermediate")
	}
	for _, d := range res.Deposits {
		t := d.Transfer
		dj := tracefile.Deposit{Chain: ch, Exchange: d.Exchange, Address: enc(d.Address), Tx: v.tx(t.TxHash),
			Position: t.Position, Height: t.Height, Time: formatTime(t.Time), Asset: v.asset(t.Asset), Value: t.Amount.String(),
			Victim: victimOf(d.Seed, func(i int) string { return seeds[i].Ref }), Haircut: d.Amounts.HaircutUnits().String(), FIFO: d.Amounts.FIFO.String(),
			Poison: d.Amounts.Poison.String(), Hop: d.Hop, Evidence: d.Evidence}
		if v.utxo {
			dj.Outpoint = d.Outpoint.String()
		}
		j.Deposits = append(j.Deposits, dj)
		g.node(ch, enc(d.Address), d.Address, "deposit")
	}
	for _, p := range res.Poisoned {
		t := p.Transfer
		pj := tracefile.Poisoned{Chain: ch, Exchange: p.Exchange, Address: enc(p.Address), Tx: v.tx(t.TxHash),
			Position: t.Position, Height: t.Height, Time: formatTime(t.Time), Asset: v.asset(t.Asset), Value: t.Amount.String(),
			Hop: p.Hop, Evidence: p.Evidence, Victims: p.Seeds.Len(), Seeds: seedRanges(p.Seeds, base)}
		if v.utxo {
			pj.Outpoint = p.Outpoint.String()
		}
		j.Poisoned = append(j.Poisoned, pj)
		g.node(ch, enc(p.Address), p.Address, "deposit")
	}
	if v.evidence != nil {
		v.evidence(j.Deposits[depBase:], j.Poisoned[poisonBase:])
	}
	mergedInto(j.Seeds[base:], res.Merged)
	for _, s := range res.Stops {
		sj := tracefile.Stop{Chain: ch, Reason: s.Reason, Asset: v.asset(s.Asset), Detail: s.Detail}
		if v.utxo {
			// A coin: its outpoint says where.
			sj.Where = s.Outpoint.String()
		} else {
			sj.Where = enc(s.Address)
			sj.Haircut, sj.FIFO = s.Amounts.HaircutUnits().String(), s.Amounts.FIFO.String()
			if s.Tx != (chains.Hash{}) {
				sj.Tx = v.tx(s.Tx)
			}
		}
		j.Stops = append(j.Stops, sj)
	}
	for _, pc := range tracer.PeelChains(res.Flows) {
		p := tracefile.PeelChain{Chain: ch, Steps: len(pc.Txs), Start: formatTime(pc.Rest[0].Transfer.Time), End: formatTime(pc.Rest[len(pc.Rest)-1].Transfer.Time)}
		for i, h := range pc.Txs {
			p.Txs = append(p.Txs, v.tx(h))
			p.Rest = append(p.Rest, enc(pc.Rest[i].Transfer.To))
			p.Peeled = append(p.Peeled, enc(pc.Peeled[i].Transfer.To))
		}
		j.PeelChains = append(j.PeelChains, p)
	}
	j.Stats = append(j.Stats, tracefile.Stats{Chain: ch, Hops: res.Hops, Queries: res.Lookups, Visited: res.Visited, OtherShares: res.MergedShares})
	return nil
}

// victimOf names a deposit row's seed: its reference, or the
// other-victims remainder.
func victimOf(seed int, ref func(int) string) string {
	if seed == tracer.Other {
		return tracefile.OtherVictims
	}
	return ref(seed)
}

// seedRanges writes a poison set as the file's seed numbers (the chain's
// seeds start at base in the file's list).
func seedRanges(s *tracer.SeedSet, base int) string {
	ids := make([]int, 0, s.Len())
	s.Each(func(i int) { ids = append(ids, base+i) })
	return tracefile.FormatRanges(ids)
}

// mergedInto records on each seed how much of it the haircut model merged
// into the other-victims remainder (base units, rounded down).
func mergedInto(seeds []tracefile.Seed, merged map[int]*big.Rat) {
	for i, r := range merged {
		if i >= 0 && i < len(seeds) && r.Sign() > 0 {
			seeds[i].MergedIntoOther = ratString(r)
		}
	}
}

// WritePoisonPairs writes every victim and deposit a trace's poison sets
// link, one CSV row each, streamed: a case of a thousand victims through
// shared hubs has millions.
func WritePoisonPairs(w io.Writer, j *tracefile.Trace) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"victim", "seed", "chain", "exchange", "deposit_address", "txid", "outpoint", "position", "height", "time", "asset", "value", "hop"})
	for _, p := range j.Poisoned {
		ids, err := tracefile.ParseRanges(p.Seeds, len(j.Seeds))
		if err != nil {
			return fmt.Errorf("poisoned deposit %s: %w", p.Tx, err)
		}
		for _, i := range ids {
			cw.Write([]string{j.Seeds[i].Victim, strconv.Itoa(i + 1), p.Chain, p.Exchange, p.Address, p.Tx, p.Outpoint, p.Position,
				strconv.FormatInt(p.Height, 10), p.Time, p.Asset, p.Value, strconv.Itoa(p.Hop)})
		}
	}
	cw.Flush()
	return cw.Error()
}

// onHop passes a chain's hops on to Options.OnHop.
func (iv *Investigation) onHop(c chains.Chain) func(hop, frontier, followed int) {
	if iv.opts.OnHop == nil {
		return nil
	}
	return func(hop, frontier, followed int) { iv.opts.OnHop(c, hop, frontier, followed) }
}

// SummarizeExchanges groups deposits by exchange and deposit address,
// with first and last seen and totals per asset and model.
// Deposits counts deposit rows (a victim's money by one transaction);
// poison's totals count each poisoned deposit's value once, and
// poison_victims how many victims' money touched the address.
func SummarizeExchanges(ds []tracefile.Deposit, ps []tracefile.Poisoned, nSeeds int) []tracefile.Exchange {
	byEx, names := ByExchange(ds)
	poisonBy := map[string][]tracefile.Poisoned{}
	for _, p := range ps {
		if _, ok := byEx[p.Exchange]; !ok && len(poisonBy[p.Exchange]) == 0 {
			names = append(names, p.Exchange)
		}
		poisonBy[p.Exchange] = append(poisonBy[p.Exchange], p)
	}
	sort.Strings(names)
	out := []tracefile.Exchange{}
	for _, e := range names {
		ex := tracefile.Exchange{Exchange: e, Deposits: len(byEx[e])}
		at := map[[2]string]int{}
		addr := func(chain, address, asset, time string) *tracefile.DepositAddress {
			k := [2]string{chain, address}
			i, ok := at[k]
			if !ok {
				i = len(ex.Addresses)
				at[k] = i
				ex.Addresses = append(ex.Addresses, tracefile.DepositAddress{Chain: chain, Address: address, FirstSeen: time, LastSeen: time,
					Totals: map[string]map[string]string{}})
			}
			a := &ex.Addresses[i]
			a.FirstSeen, a.LastSeen = min(a.FirstSeen, time), max(a.LastSeen, time)
			if a.Totals[asset] == nil {
				a.Totals[asset] = map[string]string{"haircut": "0", "fifo": "0", "poison": "0"}
			}
			if ex.FirstSeen == "" {
				ex.FirstSeen, ex.LastSeen = time, time
			}
			ex.FirstSeen, ex.LastSeen = min(ex.FirstSeen, time), max(ex.LastSeen, time)
			return a
		}
		for _, d := range byEx[e] {
			a := addr(d.Chain, d.Address, d.Asset, d.Time)
			a.Deposits++
			a.Totals[d.Asset]["haircut"] = tracefile.AddUnits(a.Totals[d.Asset]["haircut"], d.Haircut)
			a.Totals[d.Asset]["fifo"] = tracefile.AddUnits(a.Totals[d.Asset]["fifo"], d.FIFO)
			if !slices.Contains(a.Victims, d.Victim) {
				a.Victims = append(a.Victims, d.Victim)
			}
		}
		touched := map[[2]string][]bool{}
		for _, p := range poisonBy[e] {
			a := addr(p.Chain, p.Address, p.Asset, p.Time)
			a.Totals[p.Asset]["poison"] = tracefile.AddUnits(a.Totals[p.Asset]["poison"], p.Value)
			k := [2]string{p.Chain, p.Address}
			if touched[k] == nil {
				touched[k] = make([]bool, nSeeds)
			}
			ids, _ := tracefile.ParseRanges(p.Seeds, nSeeds)
			for _, i := range ids {
				if !touched[k][i] {
					touched[k][i] = true
					a.PoisonVictims++
				}
			}
		}
		for i := range ex.Addresses {
			if ex.Addresses[i].Victims == nil {
				ex.Addresses[i].Victims = []string{}
			}
		}
		sort.SliceStable(ex.Addresses, func(i, k int) bool { return ex.Addresses[i].FirstSeen < ex.Addresses[k].FirstSeen })
		out = append(out, ex)
	}
	return out
}

// ByExchange groups deposits by exchange, the names sorted.
func ByExchange(ds []tracefile.Deposit) (map[string][]tracefile.Deposit, []string) {
	by := map[string][]tracefile.Deposit{}
	for _, d := range ds {
		by[d.Exchange] = append(by[d.Exchange], d)
	}
	return by, slices.Sorted(maps.Keys(by))
}
