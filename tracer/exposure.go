package tracer

import (
	"cmp"
	"context"
	"fmt"
	"math/big"
	"slices"

	"github.com/fundtrace/fundtrace/chains"
)

// exposures adds up an address's exposure, service by service and asset
// by asset.
type exposures map[[3]string]*Exposure

func (x exposures) hit(cat, name string, asset chains.Address, hop int, sent, recv *big.Int) {
	k := [3]string{cat, name, string(asset)}
	e := x[k]
	if e == nil {
		e = &Exposure{Category: cat, Name: name, Asset: asset, Sent: new(big.Int), Received: new(big.Int), MinHops: hop}
		x[k] = e
	}
	e.Sent.Add(e.Sent, sent)
	e.Received.Add(e.Received, recv)
	e.MinHops = min(e.MinHops, hop)
}

// list is the exposures by category, name and asset.
func (x exposures) list() []Exposure {
	out := make([]Exposure, 0, len(x))
	for _, e := range x {
		out = append(out, *e)
	}
	slices.SortFunc(out, func(a, b Exposure) int {
		return cmp.Or(cmp.Compare(a.Category, b.Category), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Asset, b.Asset))
	})
	return out
}

// UTXOExposures computes an address's exposure within hops on a UTXO
// chain, from its outputs (seeds) forward and from the transactions that
// paid it backward. seeds are the address's received outputs.
func UTXOExposures(ctx context.Context, src UTXOSource, c chains.Chain, seeds []chains.Outpoint, hops int, labels Labeler) ([]Exposure, error) {
	if hops <= 0 {
		hops = 3
	}
	x := exposures{}
	zero := new(big.Int)
	hit := func(cat, name string, hop int, sent, recv *big.Int) { x.hit(cat, name, "", hop, sent, recv) }
	// Forward: what the address's coins paid, through up to hops
	// transactions, stopping at labeled services.
	var ss []Seed
	for _, op := range seeds {
		ss = append(ss, Seed{Outpoint: op})
	}
	if len(ss) > 0 {
		res, err := UTXO(ctx, src, c, ss, Config{Models: []string{Haircut}, MaxHops: hops, MinAmount: map[chains.Address]*big.Int{"": big.NewInt(1)},
			ThroughMixers: true, Labels: labels,
			OnService: func(cat, name string, hop int, a Amounts) { hit(cat, name, hop, a.HaircutUnits(), zero) }})
		if err != nil {
			return nil, err
		}
		for _, d := range res.Deposits {
			hit("exchange", d.Exchange, d.Hop, d.Amounts.HaircutUnits(), zero)
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
				hit("miner", "coinbase", hop, zero, ratUnits(b.amount))
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
					hit(cat, name, hop, zero, ratUnits(share))
					continue
				}
				next = append(next, back{in.Prev, share})
			}
		}
		frontier = next
	}
	return x.list(), nil
}

func ratUnits(r *big.Rat) *big.Int { return new(big.Int).Quo(r.Num(), r.Denom()) }

func outpointTxs(ops []chains.Outpoint) []chains.Hash {
	hs := make([]chains.Hash, len(ops))
	for i, op := range ops {
		hs[i] = op.Hash
	}
	return hs
}

// AccountExposures computes an account-chain address's exposure within
// hops under the haircut model: forward, where the money it received
// went (its own outgoing transfers are the first hop); backward, where
// the money it received came from (its payers are the first hop).
func AccountExposures(ctx context.Context, src AccountSource, c chains.Chain, a chains.Address, hops int, labels Labeler) ([]Exposure, error) {
	if hops <= 0 {
		hops = 3
	}
	hist, _, err := src.TransfersOf(ctx, c, []chains.Address{a}, 0, -1, 0)
	if err != nil {
		return nil, err
	}
	var seeds []Seed
	for _, t := range hist[0] {
		if t.To == a && t.From != a && t.Success && t.Amount != nil && t.Amount.Sign() > 0 && t.Kind != chains.TransferERC721 {
			seeds = append(seeds, Seed{Transfer: t})
		}
	}
	if len(seeds) == 0 {
		return nil, nil
	}
	x := exposures{}
	hit := x.hit
	zero := new(big.Int)
	one := map[chains.Address]*big.Int{}
	for _, s := range seeds {
		one[s.Transfer.Asset] = big.NewInt(1)
	}
	// Exposure answers a screening: its walks stop at 10,000 address
	// visits (a trace's default is ten times that).
	fw, err := Account(ctx, src, c, seeds, Config{Models: []string{Haircut}, MaxHops: hops, MinAmount: one, MaxNodes: exposureMaxNodes, Together: true, Labels: labels})
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
	bw, err := AccountBackward(ctx, src, c, seeds, Config{Models: []string{Haircut}, MaxHops: hops - 1, MinAmount: one, MaxNodes: exposureMaxNodes, Labels: labels})
	if err != nil {
		return nil, err
	}
	for _, o := range bw.Origins {
		if o.Reason == OriginLabeled {
			hit(o.Category, o.Name, o.Transfer.Asset, o.Hop+1, zero, o.Amounts.HaircutUnits())
		}
	}
	return x.list(), nil
}

// exposureMaxNodes bounds an account chain's exposure walks.
const exposureMaxNodes = 10_000
