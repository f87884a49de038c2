package investigate

import (
	"context"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/tracefile"
	"github.com/fundtrace/fundtrace/tracer"
)

// Retrace traces a trace file's seeds again with its parameters, against
// st (onHop, when set, as Options.OnHop).
func Retrace(ctx context.Context, st Store, t *tracefile.Trace, onHop func(c chains.Chain, hop, frontier, followed int)) (*tracefile.Trace, error) {
	o := Options{MaxHops: t.Params.MaxHops, MaxNodes: t.Params.MaxNodes, ThroughMixers: t.Params.ThroughMixers, Backward: t.Direction == "backward", OnHop: onHop}
	// A min_amount other than its asset's default was given as
	// --min-amount (one figure for every asset).
	for id, v := range t.Params.MinAmount {
		c, asset := chains.Bitcoin, chains.Address("")
		if ac := accountChainOf(t.Assets[id].Chain); ac != nil {
			c = ac.chain
			a, ok, err := ac.parseAsset(id)
			if err != nil || !ok {
				return nil, fmt.Errorf("the trace's asset %q: not an asset of %s", id, c)
			}
			asset = a
		}
		if v != tracer.DefaultMinAmount(c, asset).String() {
			o.MinAmount, _ = new(big.Int).SetString(v, 10)
		}
	}
	iv := New(st, o)
	var seeds Seeds
	for i, s := range t.Seeds {
		switch s.Chain {
		case "btc":
			hs, vs, _ := strings.Cut(s.Outpoint, ":")
			h, err := chains.ParseHash(hs)
			if err != nil {
				return nil, fmt.Errorf("seed %d: %w", i+1, err)
			}
			var vout uint32
			if _, err := fmt.Sscan(vs, &vout); err != nil {
				return nil, fmt.Errorf("seed %d: outpoint %q", i+1, s.Outpoint)
			}
			op := chains.Outpoint{Hash: h, Index: vout}
			seeds.BTC = append(seeds.BTC, tracer.Seed{Outpoint: op, Ref: s.Victim})
		case "eth", "tron":
			ac := accountChainOf(s.Chain)
			ab, err := iv.account(ctx, ac)
			if err != nil {
				return nil, err
			}
			h, err := chains.ParseHash(strings.TrimPrefix(s.Tx, "0x"))
			if err != nil {
				return nil, fmt.Errorf("seed %d: %w", i+1, err)
			}
			to, err := ac.parse(s.Address)
			if err != nil {
				return nil, fmt.Errorf("seed %d: %w", i+1, err)
			}
			pos := s.Position
			tr, err := tracer.FindAccountSeed(ctx, ab, ac.chain, h, &pos, &to, nil, nil)
			if err != nil {
				return nil, fmt.Errorf("seed %d: %w", i+1, err)
			}
			seeds.add(ac.chain, tracer.Seed{Transfer: tr, Ref: s.Victim})
		default:
			return nil, fmt.Errorf("seed %d: chain %q", i+1, s.Chain)
		}
	}
	var from, until int64
	if t.Params.From != "" {
		ft, _ := time.Parse(time.RFC3339, t.Params.From)
		from = ft.Unix()
	}
	if t.Params.Until != "" {
		ut, _ := time.Parse(time.RFC3339, t.Params.Until)
		until = ut.Unix()
	}
	return iv.Trace(ctx, seeds, t.Models, from, until)
}

// traceDiffs says how two traces of the same seeds differ.
func Diffs(was, now *tracefile.Trace) []string {
	var out []string
	key := func(d tracefile.Deposit) string {
		return d.Chain + " " + d.Exchange + " " + d.Address + " " + d.Tx + d.Outpoint + d.Position + " " + d.Victim
	}
	old := map[string]tracefile.Deposit{}
	for _, d := range was.Deposits {
		old[key(d)] = d
	}
	seen := map[string]bool{}
	for _, d := range now.Deposits {
		k := key(d)
		seen[k] = true
		o, ok := old[k]
		switch {
		case !ok:
			out = append(out, "trace: a new deposit now: "+k)
		case o.Haircut != d.Haircut || o.FIFO != d.FIFO || o.Poison != d.Poison:
			out = append(out, fmt.Sprintf("trace: deposit %s: haircut %s → %s, FIFO %s → %s", k, o.Haircut, d.Haircut, o.FIFO, d.FIFO))
		}
	}
	for k := range old {
		if !seen[k] {
			out = append(out, "trace: a deposit no longer reached: "+k)
		}
	}
	if len(was.Flows) != len(now.Flows) {
		out = append(out, fmt.Sprintf("trace: %d flows, now %d", len(was.Flows), len(now.Flows)))
	}
	if len(out) == 0 {
		out = append(out, "trace: the re-run differs from trace.json (the same deposits; flows, stops or labels differ)")
	}
	sort.Strings(out)
	return out
}
