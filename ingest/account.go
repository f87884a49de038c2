// Package ingest holds what the indexers of account chains (ingest/eth,
// ingest/trx) share: the loop that brings a store up to a node's final
// blocks and keeps it there. The chain packages say how to talk to their
// node; the loop decides what to fetch, rolls back what a reorganisation
// orphaned, and writes each batch atomically, so that a run interrupted at
// any moment resumes after its last write.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// Sink is what the loop needs of a store.
type Sink interface {
	store.ChainReader
	store.Writer
}

// Node is an account chain's node as the loop sees it.
type Node interface {
	// URL names the node in messages.
	URL() string
	// Head is the height of the node's newest block.
	Head(ctx context.Context) (int64, error)
	// FetchRange returns blocks from..to, each checked and extracted, and
	// each linked to the one before it (an error otherwise).
	FetchRange(ctx context.Context, from, to int64) ([]chains.BlockData, error)
	// BlockHash is the hash of the node's block h; ok false when the node
	// has no such block.
	BlockHash(ctx context.Context, h int64) (hash chains.Hash, ok bool, err error)
}

// Config says what to index. The indexers set its defaults.
type Config struct {
	// From is the first block of an empty store. A store that already
	// holds blocks continues after its tip.
	From int64
	// To is the last block to index; 0 or less means the newest final
	// block: the node's head less Confirmations.
	To            int64
	Confirmations int64
	Follow        bool // keep indexing new final blocks until the context ends
	Poll          time.Duration
	BatchBlocks   int // blocks per atomic store write
	MaxReorg      int64
	Logger        *slog.Logger
	// Progress, when set, is called after every write.
	Progress func(Progress)
}

// Progress is reported after each write.
type Progress struct {
	Height, Target         int64
	Blocks, Txs, Transfers int64
	Elapsed                time.Duration
	Fetch, Commit          time.Duration // time spent fetching from the node and writing to the store
}

// Result sums up a run.
type Result struct {
	From, To               int64 // blocks written in this run, To < From if none
	Blocks, Txs, Transfers int64
	ReorgFrom              int64 // the lowest height rolled back by a reorg, -1 if none
	Fetch, Commit          time.Duration
}

// Account brings sink's chain c (network, as the node names it) up to the
// node's final blocks, cfg.BatchBlocks a write, and with cfg.Follow keeps
// it there until ctx ends (what was committed stands: every write is
// atomic). A first block whose parent is not the stored tip means the
// node's chain reorganised: the store is rolled back to the common
// ancestor (at most cfg.MaxReorg blocks) and indexing goes on from it.
func Account(ctx context.Context, sink Sink, c chains.Chain, network string, node Node, cfg Config) (*Result, error) {
	res := &Result{ReorgFrom: -1, From: -1, To: -2}
	m, err := sink.Meta(ctx, c)
	if err != nil {
		return nil, err
	}
	if m.Network != "" && m.Network != network {
		return nil, fmt.Errorf("the store holds %s %s; the node at %s serves %s", c, m.Network, node.URL(), network)
	}
	start := time.Now()
	// Following ends when the context does, wherever the loop is then.
	stopped := func(err error) (*Result, error) {
		if cfg.Follow && ctx.Err() != nil {
			return res, nil
		}
		return nil, err
	}
	for {
		m, err := sink.Meta(ctx, c)
		if err != nil {
			return stopped(err)
		}
		next := cfg.From
		if m.Blocks > 0 {
			next = m.TipHeight + 1
			if cfg.From > next {
				return nil, fmt.Errorf("the store's %s tip is %d; --from %d would leave a gap", c, m.TipHeight, cfg.From)
			}
		}
		head, err := node.Head(ctx)
		if err != nil {
			return stopped(err)
		}
		target := head - cfg.Confirmations
		if cfg.To > 0 && cfg.To < target {
			target = cfg.To
		}
		if next > target {
			// Caught up: what the batches left to count is counted now.
			if err := SettleCounts(ctx, sink, c); err != nil {
				return stopped(err)
			}
			if !cfg.Follow || (cfg.To > 0 && next > cfg.To) {
				return res, nil
			}
			select {
			case <-ctx.Done():
				return res, nil
			case <-time.After(cfg.Poll):
			}
			continue
		}
		end := min(target, next+int64(cfg.BatchBlocks)-1)
		t0 := time.Now()
		bds, err := node.FetchRange(ctx, next, end)
		if err != nil {
			return stopped(err)
		}
		res.Fetch += time.Since(t0)
		// The first block must follow the stored tip; if it does not, the
		// node's chain reorganised under the store.
		if m.Blocks > 0 && next == m.TipHeight+1 && bds[0].Block.PrevHash != m.TipHash {
			fork, err := findFork(ctx, sink, c, node, m.TipHeight, cfg.MaxReorg)
			if err != nil {
				return nil, err
			}
			cfg.Logger.Warn("Chain reorganised; rolling back", "chain", c, "from", fork+1, "tip", m.TipHeight)
			if err := sink.Rollback(ctx, c, fork); err != nil {
				return nil, fmt.Errorf("roll back %s to %d after a reorg: %w", c, fork, err)
			}
			if res.ReorgFrom < 0 || fork+1 < res.ReorgFrom {
				res.ReorgFrom = fork + 1
			}
			continue
		}
		t1 := time.Now()
		if err := sink.WriteBlocks(ctx, c, network, bds, store.WriteOptions{Sync: true}); err != nil {
			return nil, fmt.Errorf("write %s blocks %d..%d: %w", c, next, end, err)
		}
		res.Commit += time.Since(t1)
		if res.From < 0 {
			res.From = next
		}
		res.To = end
		for i := range bds {
			res.Blocks++
			res.Txs += int64(len(bds[i].AccountTxs))
			res.Transfers += int64(len(bds[i].Transfers))
		}
		if cfg.Progress != nil {
			cfg.Progress(Progress{Height: end, Target: target, Blocks: res.Blocks, Txs: res.Txs, Transfers: res.Transfers,
				Elapsed: time.Since(start), Fetch: res.Fetch, Commit: res.Commit})
		}
	}
}

// countSettler is a store whose index batches may leave counts to the
// run's end (ClickHouse's address count: store.Meta.AddressesPending).
type countSettler interface {
	SettleCounts(ctx context.Context, c chains.Chain) error
}

// SettleCounts has sink count what its index batches left pending, if it
// is a store that does so. The indexers call it when a run has caught up.
func SettleCounts(ctx context.Context, sink any, c chains.Chain) error {
	if s, ok := sink.(countSettler); ok {
		return s.SettleCounts(ctx, c)
	}
	return nil
}

// findFork walks back from the stored tip to the highest block the node
// and the store agree on.
func findFork(ctx context.Context, sink Sink, c chains.Chain, node Node, tip, maxReorg int64) (int64, error) {
	for h := tip; h >= 0 && h > tip-maxReorg; h-- {
		stored, _, err := sink.BlockByHeight(ctx, c, h)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return h, nil // below the store's first block
			}
			return 0, err
		}
		hash, ok, err := node.BlockHash(ctx, h)
		if err != nil {
			return 0, err
		}
		if ok && hash == stored.Hash {
			return h, nil
		}
	}
	return 0, fmt.Errorf("chain reorganised deeper than %d blocks below the store's %s tip %d; re-index from scratch or raise --max-reorg", maxReorg, c, tip)
}

// LinkCheck returns an error when a block of bds does not follow the one
// before it: the node changed its chain during a fetch.
func LinkCheck(c chains.Chain, bds []chains.BlockData) error {
	for i := 1; i < len(bds); i++ {
		if bds[i].Block.PrevHash != bds[i-1].Block.Hash {
			return fmt.Errorf("%s block %d: parent %s, but block %d was %s: the node changed its chain mid-run; run again",
				c, bds[i].Block.Height, bds[i].Block.PrevHash, bds[i-1].Block.Height, bds[i-1].Block.Hash)
		}
	}
	return nil
}
