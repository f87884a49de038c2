package tracer

import (
	"cmp"
	"context"
	"fmt"
	"math/big"
	"slices"
	"sort"

	"github.com/fundtrace/fundtrace/chains"
)

// Exposure is how much of an address's money went to, and came from,
// each category of labeled service within a number of hops, under the
// haircut model: direct (one hop) and in all (up to the hop limit).
type Exposure struct {
	Category string
	Name     string
	Sent     int64 // satoshis of the address's outputs that reached it
	Received int64 // satoshis of the address's receipts that came from it
	MinHops  int   // the fewest hops at which it was met
}

// Exposures computes an address's exposure within hops, from its
// outputs (seeds) forward and from the transactions that paid it
// backward. seeds are the address's received outputs.
func Exposures(ctx context.Context, src Source, c chains.Chain, seeds []chains.Outpoint, hops int, labels Labeler) ([]Exposure, error) {
	if hops <= 0 {
		hops = 3
	}
	byKey := map[[2]string]*Exposure{}
	hit := func(cat, name string, hop int, sent, recv int64) {
		k := [2]string{cat, name}
		e := byKey[k]
		if e == nil {
			e = &Exposure{Category: cat, Name: name, MinHops: hop}
			byKey[k] = e
		}
		e.Sent += sent
		e.Received += recv
		e.MinHops = min(e.MinHops, hop)
	}
	// Forward: what the address's coins paid, through up to hops
	// transactions, stopping at labeled services.
	var ss []Seed
	for _, op := range seeds {
		ss = append(ss, Seed{Outpoint: op})
	}
	if len(ss) > 0 {
		res, err := Bitcoin(ctx, src, c, ss, Config{Models: []string{Haircut}, MaxHops: hops, MinAmount: 1, ThroughMixers: true, Labels: labels,
			OnService: func(cat, name string, hop int, a Amounts) { hit(cat, name, hop, a.HaircutSats(), 0) }})
		if err != nil {
			return nil, err
		}
		for _, d := range res.Deposits {
			hit("exchange", d.Exchange, d.Hop, d.Amounts.HaircutSats(), 0)
		}
	}
	// Backward: where the money the address received came from. Each
	// receipt is spread over the paying transaction's inputs in
	// proportion to their values, and so on up the chain.
	type back struct {
		op     chains.Outpoint
		amount *big.Rat
	}
	var frontier []back
	seedTxs, err := src.Txs(ctx, c, outpointTxs(seeds))
	if err != nil {
		return nil, fmt.Errorf("receipts: %w", err)
	}
	for i, op := range seeds {
		frontier = append(frontier, back{op, new(big.Rat).SetInt64(seedTxs[i].Outputs[op.Index].Value)})
	}
	for hop := 1; hop <= hops && len(frontier) > 0; hop++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var next []back
		ops := make([]chains.Outpoint, len(frontier))
		for i, b := range frontier {
			ops[i] = b.op
		}
		txs, err := src.Txs(ctx, c, outpointTxs(ops))
		if err != nil {
			return nil, fmt.Errorf("hop %d: %w", hop, err)
		}
		for bi, b := range frontier {
			tx := txs[bi]
			if tx.Coinbase {
				hit("miner", "coinbase", hop, 0, ratSats(b.amount))
				continue
			}
			var total int64
			for _, in := range tx.Inputs {
				total += in.Prevout.Value
			}
			if total == 0 {
				continue
			}
			for _, in := range tx.Inputs {
				share := new(big.Rat).Mul(b.amount, big.NewRat(in.Prevout.Value, total))
				if share.Cmp(big.NewRat(1, 1)) < 0 {
					continue
				}
				if cat, name, ok := labelOf(labels, in.Prevout.Address()); ok {
					hit(cat, name, hop, 0, ratSats(share))
					continue
				}
				next = append(next, back{in.Prev, share})
			}
		}
		frontier = next
	}
	out := make([]Exposure, 0, len(byKey))
	for _, e := range byKey {
		out = append(out, *e)
	}
	sortExposures(out)
	return out, nil
}

func ratSats(r *big.Rat) int64 { return new(big.Int).Quo(r.Num(), r.Denom()).Int64() }

func sortExposures(es []Exposure) {
	slices.SortStableFunc(es, func(a, b Exposure) int {
		return cmp.Or(cmp.Compare(a.Category, b.Category), cmp.Compare(a.Name, b.Name))
	})
}

func outpointTxs(ops []chains.Outpoint) []chains.Hash {
	hs := make([]chains.Hash, len(ops))
	for i, op := range ops {
		hs[i] = op.Hash
	}
	return hs
}

// AccountExposure is an account-chain address's exposure to one labeled
// service, in one asset (base units).
type AccountExposure struct {
	Category string
	Name     string
	Asset    chains.Address
	Sent     *big.Int
	Received *big.Int
	MinHops  int
}

// AccountExposures computes an account-chain address's exposure within
// hops under the haircut model: forward, where the money it received
// went (its own outgoing transfers are the first hop); backward, where
// the money it received came from (its payers are the first hop).
func AccountExposures(ctx context.Context, src AccountSource, c chains.Chain, a chains.Address, hops int, labels Labeler) ([]AccountExposure, error) {
	if hops <= 0 {
		hops = 3
	}
	hist, err := src.TransfersOf(ctx, c, []chains.Address{a}, 0, -1)
	if err != nil {
		return nil, err
	}
	var seeds []AccountSeed
	for _, t := range hist[0] {
		if t.To == a && t.From != a && t.Success && t.Amount != nil && t.Amount.Sign() > 0 && t.Kind != chains.TransferERC721 {
			seeds = append(seeds, AccountSeed{Transfer: t})
		}
	}
	if len(seeds) == 0 {
		return nil, nil
	}
	byKey := map[[3]string]*AccountExposure{}
	hit := func(cat, name string, asset chains.Address, hop int, sent, recv *big.Int) {
		k := [3]string{cat, name, string(asset)}
		e := byKey[k]
		if e == nil {
			e = &AccountExposure{Category: cat, Name: name, Asset: asset, Sent: new(big.Int), Received: new(big.Int), MinHops: hop}
			byKey[k] = e
		}
		e.Sent.Add(e.Sent, sent)
		e.Received.Add(e.Received, recv)
		e.MinHops = min(e.MinHops, hop)
	}
	zero := new(big.Int)
	one := map[chains.Address]*big.Int{}
	for _, s := range seeds {
		one[s.Transfer.Asset] = big.NewInt(1)
	}
	// Exposure answers a screening: its walks stop at 10,000 address
	// visits (a trace's default is ten times that).
	fw, err := Account(ctx, src, c, seeds, AccountConfig{Models: []string{Haircut}, MaxHops: hops, MinAmount: one, MaxNodes: exposureMaxNodes, Together: true, Labels: labels})
	if err != nil {
		return nil, err
	}
	for _, f := range fw.Flows {
		if cat, name, ok := labelOf(labels, f.Transfer.To); ok && cat != "exchange" {
			hit(cat, name, f.Transfer.Asset, f.Hop, f.Amounts.HaircutUnits(), zero)
		}
	}
	for _, d := range fw.Deposits {
		hit("exchange", d.Exchange, d.Transfer.Asset, max(d.Hop, 1), d.Amounts.HaircutUnits(), zero)
	}
	bw, err := AccountBackward(ctx, src, c, seeds, AccountConfig{Models: []string{Haircut}, MaxHops: hops - 1, MinAmount: one, MaxNodes: exposureMaxNodes, Labels: labels})
	if err != nil {
		return nil, err
	}
	for _, o := range bw.Origins {
		if o.Reason == OriginLabeled {
			hit(o.Category, o.Name, o.Transfer.Asset, o.Hop+1, zero, o.Amounts.HaircutUnits())
		}
	}
	out := make([]AccountExposure, 0, len(byKey))
	for _, e := range byKey {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Category != out[j].Category {
			return out[i].Category < out[j].Category
		}
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Asset < out[j].Asset
	})
	return out, nil
}

// exposureMaxNodes bounds an account chain's exposure walks.
const exposureMaxNodes = 10_000
