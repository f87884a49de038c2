// Package trx indexes a TRON full node (java-tron's HTTP API, or TronGrid)
// into a store: final blocks (the head less Confirmations; TRON
// solidifies a block once 19 of its 27 producers have built on it) fetched
// in parallel with their transaction infos, every block checked against
// its own hashes, written in atomic batches that resume where the last
// one ended, following the tip with reorganisations rolled back.
package trx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/tron"
	"github.com/fundtrace/fundtrace/store"
)

// Sink is what the indexer needs of a store.
type Sink interface {
	store.ChainReader
	store.Writer
}

// Node is what the indexer needs of a node: tron.Client.
type Node interface {
	URL() string
	Head(ctx context.Context) (int64, error)
	Block(ctx context.Context, n int64) (*tron.Block, bool, error)
	Fetch(ctx context.Context, n int64) (chains.BlockData, bool, error)
	Tokens(ctx context.Context, contracts []chains.Address) ([]chains.Token, error)
}

// IndexConfig says what to index and how.
type IndexConfig struct {
	// From is the first block of an empty store (default 1; the genesis
	// block holds only the initial allocations). A store that already
	// holds blocks continues after its tip.
	From int64
	// To is the last block to index; 0 or less (the default) means the
	// newest final block: the node's head less Confirmations.
	To            int64
	Confirmations int64 // blocks below the head before a block is final (the command's default is 20)
	Follow        bool  // keep indexing new final blocks until the context ends
	Poll          time.Duration
	Workers       int // blocks fetched in parallel (default 8)
	BatchBlocks   int // blocks per atomic store write (default 100)
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

// Result sums up an index run.
type Result struct {
	From, To               int64 // blocks written in this run, To < From if none
	Blocks, Txs, Transfers int64
	Network                string
	ReorgFrom              int64 // the lowest height rolled back by a reorg, -1 if none
	Fetch, Commit          time.Duration
}

// Networks by their genesis block's ID.
var networks = map[string]string{
	"00000000000000001ebf88508a03865c71d452e25f4d51194196a1d22b6653dc": "mainnet",
	"0000000000000000d698d4192c56cb6be724a558448e2684802de4d6cd8690dc": "nile",
	"0000000000000000de1aa88295e1fcf982742f773e0419c5a9c134c994a9059e": "shasta",
}

// Network names the node's network by its genesis block: mainnet, nile,
// shasta, or genesis-<ID> for any other (a private chain, a simulation).
func Network(ctx context.Context, node Node) (string, error) {
	b, ok, err := node.Block(ctx, 0)
	if err != nil {
		return "", fmt.Errorf("read the genesis block to tell the network: %w", err)
	}
	if !ok {
		return "", fmt.Errorf("tron node %s has no genesis block", node.URL())
	}
	if n, ok := networks[b.BlockID]; ok {
		return n, nil
	}
	return "genesis-" + b.BlockID[16:min(len(b.BlockID), 32)], nil
}

// Index reads final blocks from the node into sink, from the store's tip
// (or cfg.From) to cfg.To or the newest final block, then, with Follow,
// keeps up with the chain. A block whose parent is not the stored tip
// means the node's chain reorganised: the store is rolled back to the
// common ancestor (at most MaxReorg blocks) and indexing goes on from it.
func Index(ctx context.Context, sink Sink, node Node, cfg IndexConfig) (*Result, error) {
	if cfg.From <= 0 {
		cfg.From = 1
	}
	if cfg.Confirmations < 0 {
		cfg.Confirmations = 0
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.BatchBlocks <= 0 {
		cfg.BatchBlocks = 100
	}
	if cfg.MaxReorg <= 0 {
		cfg.MaxReorg = 64
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 3 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	network, err := Network(ctx, node)
	if err != nil {
		return nil, err
	}
	res := &Result{Network: network, ReorgFrom: -1, From: -1, To: -2}
	m, err := sink.Meta(ctx, chains.Tron)
	if err != nil {
		return nil, err
	}
	if m.Network != "" && m.Network != network {
		return nil, fmt.Errorf("the store holds tron %s; the node at %s serves %s", m.Network, node.URL(), network)
	}
	start := time.Now()
	for {
		m, err := sink.Meta(ctx, chains.Tron)
		if err != nil {
			return stopped(ctx, cfg, res, err)
		}
		next := cfg.From
		if m.Blocks > 0 {
			next = m.TipHeight + 1
			if cfg.From > next {
				return nil, fmt.Errorf("the store's tron tip is %d; --from %d would leave a gap", m.TipHeight, cfg.From)
			}
		}
		head, err := node.Head(ctx)
		if err != nil {
			return stopped(ctx, cfg, res, err)
		}
		target := head - cfg.Confirmations
		if cfg.To > 0 && cfg.To < target {
			target = cfg.To
		}
		if next > target {
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
		bds, err := fetchRange(ctx, node, next, end, cfg.Workers)
		if err != nil {
			return stopped(ctx, cfg, res, err)
		}
		res.Fetch += time.Since(t0)
		// The first block must follow the stored tip; if it does not, the
		// node's chain reorganised under the store.
		if m.Blocks > 0 && next == m.TipHeight+1 && bds[0].Block.PrevHash != m.TipHash {
			fork, err := findFork(ctx, sink, node, m.TipHeight, cfg.MaxReorg)
			if err != nil {
				return nil, err
			}
			cfg.Logger.Warn("Chain reorganised; rolling back", "from", fork+1, "tip", m.TipHeight)
			if err := sink.Rollback(ctx, chains.Tron, fork); err != nil {
				return nil, fmt.Errorf("roll back to %d after a reorg: %w", fork, err)
			}
			if res.ReorgFrom < 0 || fork+1 < res.ReorgFrom {
				res.ReorgFrom = fork + 1
			}
			continue
		}
		t1 := time.Now()
		if err := sink.WriteBlocks(ctx, chains.Tron, network, bds, store.WriteOptions{Sync: true}); err != nil {
			return nil, fmt.Errorf("write tron blocks %d..%d: %w", next, end, err)
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

// stopped ends a run on err, except that following ends quietly when its
// context does: every write is atomic, so what was committed stands.
func stopped(ctx context.Context, cfg IndexConfig, res *Result, err error) (*Result, error) {
	if cfg.Follow && ctx.Err() != nil {
		return res, nil
	}
	return nil, err
}

// fetchRange fetches, checks and extracts blocks from..to, workers at a
// time, checks that each links to the one before it, and gives each
// TRC-20 contract met its metadata with the first block that met it.
func fetchRange(ctx context.Context, node Node, from, to int64, workers int) ([]chains.BlockData, error) {
	bds := make([]chains.BlockData, to-from+1)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for h := from; h <= to; h++ {
		g.Go(func() error {
			bd, ok, err := node.Fetch(gctx, h)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("tron node %s has no block %d, below its head: run again", node.URL(), h)
			}
			bds[h-from] = bd
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i := 1; i < len(bds); i++ {
		if bds[i].Block.PrevHash != bds[i-1].Block.Hash {
			return nil, fmt.Errorf("tron block %d: parent %s, but block %d was %s: the node changed its chain mid-run; run again",
				bds[i].Block.Height, bds[i].Block.PrevHash, bds[i-1].Block.Height, bds[i-1].Block.Hash)
		}
	}
	var contracts []chains.Address
	first := map[chains.Address]int{}
	for i := range bds {
		for _, t := range bds[i].Transfers {
			if t.Asset.Kind() != chains.KindAccount {
				continue // TRX, or a TRC-10 id
			}
			if _, ok := first[t.Asset]; !ok {
				first[t.Asset] = i
				contracts = append(contracts, t.Asset)
			}
		}
	}
	tokens, err := node.Tokens(ctx, contracts)
	if err != nil {
		return nil, err
	}
	for _, t := range tokens {
		i := first[t.Address]
		bds[i].Tokens = append(bds[i].Tokens, t)
	}
	return bds, nil
}

// findFork walks back from the stored tip to the highest block the node
// and the store agree on.
func findFork(ctx context.Context, sink Sink, node Node, tip, maxReorg int64) (int64, error) {
	for h := tip; h >= 0 && h > tip-maxReorg; h-- {
		stored, _, err := sink.BlockByHeight(ctx, chains.Tron, h)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return h, nil // below the store's first block
			}
			return 0, err
		}
		b, ok, err := node.Block(ctx, h)
		if err != nil {
			return 0, err
		}
		if ok && b.BlockID == stored.Hash.String() {
			return h, nil
		}
	}
	return 0, fmt.Errorf("chain reorganised deeper than %d blocks below the store's tron tip %d; re-index from scratch or raise --max-reorg", maxReorg, tip)
}
