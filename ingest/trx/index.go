// Package trx indexes a TRON full node (java-tron's HTTP API, or TronGrid)
// into a store: final blocks (the head less Confirmations; TRON
// solidifies a block once 19 of its 27 producers have built on it) fetched
// in parallel with their transaction infos, every block checked against
// its own hashes, written in atomic batches that resume where the last
// one ended, following the tip with reorganisations rolled back.
package trx

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/tron"
	"github.com/fundtrace/fundtrace/ingest"
)

// Sink is what the indexer needs of a store.
type Sink interface{ ingest.Sink }

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
	Progress func(ingest.Progress)
}

// Result sums up an index run: the shared loop's, and the network.
type Result struct {
	ingest.Result
	Network string
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
	if len(b.BlockID) != 64 {
		return "", fmt.Errorf("tron node %s: genesis blockID %q is not 32 bytes of hex", node.URL(), b.BlockID)
	}
	return "genesis-" + b.BlockID[16:32], nil
}

// Index reads final blocks from the node into sink, from the store's tip
// (or cfg.From) to cfg.To or the newest final block, then, with Follow,
// keeps up with the chain. A block whose parent is not the stored tip
// means the node's chain reorganised: the store is rolled back to the
// common ancestor (at most MaxReorg blocks) and indexing goes on from it
// (the loop is ingest.Account's, shared with Ethereum).
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
	r, err := ingest.Account(ctx, sink, chains.Tron, network, &loopNode{node, cfg.Workers}, ingest.Config{
		From: cfg.From, To: cfg.To, Confirmations: cfg.Confirmations, Follow: cfg.Follow, Poll: cfg.Poll,
		BatchBlocks: cfg.BatchBlocks, MaxReorg: cfg.MaxReorg, Logger: cfg.Logger, Progress: cfg.Progress,
	})
	if err != nil {
		return nil, err
	}
	return &Result{Result: *r, Network: network}, nil
}

// loopNode is the node as ingest.Account sees it.
type loopNode struct {
	Node
	workers int
}

func (n *loopNode) BlockHash(ctx context.Context, h int64) (chains.Hash, bool, error) {
	b, ok, err := n.Block(ctx, h)
	if err != nil || !ok {
		return chains.Hash{}, ok, err
	}
	hash, err := chains.ParseHash(b.BlockID)
	if err != nil {
		return chains.Hash{}, false, fmt.Errorf("tron block %d: blockID %q: %w", h, b.BlockID, err)
	}
	return hash, true, nil
}

func (n *loopNode) FetchRange(ctx context.Context, from, to int64) ([]chains.BlockData, error) {
	return fetchRange(ctx, n.Node, from, to, n.workers)
}

// fetchRange fetches, checks and extracts blocks from..to, workers at a
// time, checks that each links to the one before it, and gives each
// token met (a TRC-20 contract, a TRC-10 id) its metadata with the first
// block that met it.
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
	if err := ingest.LinkCheck(chains.Tron, bds); err != nil {
		return nil, err
	}
	var contracts []chains.Address
	first := map[chains.Address]int{}
	for i := range bds {
		for _, t := range bds[i].Transfers {
			if t.Asset == "" {
				continue // TRX
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
