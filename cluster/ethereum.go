package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/heuristics"
	"github.com/fundtrace/fundtrace/store"
)

// AccountSource is what clustering an account chain reads.
type AccountSource interface {
	store.ChainReader
	AccountTx(ctx context.Context, c chains.Chain, h chains.Hash) (*chains.AccountTx, []chains.Transfer, error)
	BlockTransfers(ctx context.Context, c chains.Chain, h int64) ([]chains.Transfer, error)
}

// Ethereum clusters an account chain's addresses with the deposit-address
// heuristic, reading every transfer in chain order.
func Ethereum(ctx context.Context, src AccountSource, c chains.Chain, d *heuristics.Deposit) (*Clusters, error) {
	m, err := src.Meta(ctx, c)
	if err != nil {
		return nil, err
	}
	cl := newClusters()
	if err := cl.scanAccount(ctx, src, c, d, m.TipHeight-m.Blocks+1, m.TipHeight); err != nil {
		return nil, err
	}
	if err := cl.linkDeposits(d); err != nil {
		return nil, err
	}
	return cl, nil
}

// transferStreamer is a store that reads an account chain's transfers of
// a range of blocks in chain order, returning how many transactions the
// blocks hold.
type transferStreamer interface {
	EachTransfer(ctx context.Context, c chains.Chain, from, to int64, fn func(*chains.Transfer) error) (int64, error)
}

// scanAccount feeds the transfers of blocks from..to to d, in order, and
// registers every address they touch.
func (cl *Clusters) scanAccount(ctx context.Context, src AccountSource, c chains.Chain, d *heuristics.Deposit, from, to int64) error {
	see := func(t *chains.Transfer) {
		var from, to uint32
		if t.From != "" {
			from = cl.id(t.From)
		}
		if t.To != "" {
			to = cl.id(t.To)
		}
		d.Observe(t, from, to)
	}
	// A store that reads a range of blocks' transfers in one key-ordered
	// query (ClickHouse) is read so: a query per transaction would be a
	// round trip per transaction.
	if es, ok := src.(transferStreamer); ok {
		last := from - 1
		txs, err := es.EachTransfer(ctx, c, from, to, func(t *chains.Transfer) error {
			if t.Height != last {
				if err := ctx.Err(); err != nil {
					return err
				}
				if cl.progress != nil && t.Height/100 != last/100 {
					cl.progress("blocks", t.Height, to)
				}
				last = t.Height
			}
			see(t)
			return nil
		})
		cl.Txs += txs
		if err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
		return nil
	}
	for h := from; h <= to; h++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if cl.progress != nil && h%100 == 0 {
			cl.progress("blocks", h, to)
		}
		_, txids, err := src.BlockByHeight(ctx, c, h)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("cluster: block %d: %w", h, err)
		}
		for _, id := range txids {
			_, ts, err := src.AccountTx(ctx, c, id)
			if err != nil {
				return fmt.Errorf("cluster: block %d: %w", h, err)
			}
			cl.Txs++
			for i := range ts {
				see(&ts[i])
			}
		}
		ws, err := src.BlockTransfers(ctx, c, h)
		if err != nil {
			return err
		}
		for i := range ws {
			see(&ws[i])
		}
	}
	return nil
}

// linkDeposits applies the deposit heuristic's links, keeping them in
// memory (Ethereum's in-memory clusters; a stored run writes them).
func (cl *Clusters) linkDeposits(d *heuristics.Deposit) error {
	cl.index[heuristics.DepositName] = 0
	cl.names = []string{heuristics.DepositName}
	return d.Links(func(a, b uint32, f heuristics.Forward) error {
		l := heuristics.Link{A: cl.addrs[a], B: cl.addrs[b], Heuristic: heuristics.DepositName, Tx: f.Tx}
		cl.guarded(a, b, l, f.Height) // deposit links are kept, and flagged between two large clusters
		cl.uf.Union(a, b)
		cl.Links[l.Heuristic]++
		cl.fresh = append(cl.fresh, link{a: a, b: b, tx: l.Tx})
		return nil
	})
}
