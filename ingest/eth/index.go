// Package eth indexes an Ethereum node into a store: blocks fetched in
// parallel through chains/ethereum's client (block, receipts and call
// traces in one batch each), turned into transfers, written in atomic
// batches of final blocks (the head less Confirmations), resumed where the
// last batch ended, following the tip with reorganisations rolled back.
package eth

import (
	"context"
	"fmt"
	"log/slog"
	"math/big"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"golang.org/x/sync/errgroup"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/ingest"
)

// Sink is what the indexer needs of a store.
type Sink interface{ ingest.Sink }

// IndexConfig says what to index and how.
type IndexConfig struct {
	// From is the first block of an empty store (default 0). A store that
	// already holds blocks continues after its tip.
	From int64
	// To is the last block to index; 0 or less (the default) means the
	// newest final block: the node's head less Confirmations.
	To            int64
	Confirmations int64 // blocks below the head before a block is final (default 12)
	Follow        bool  // keep indexing new final blocks until the context ends
	Poll          time.Duration
	Workers       int // blocks fetched in parallel (default 4)
	BatchBlocks   int // blocks per atomic store write (default 50)
	MaxReorg      int64
	Logger        *slog.Logger
	// Progress, when set, is called after every write.
	Progress func(ingest.Progress)
}

// Result sums up an index run: the shared loop's, the network and how
// the node gave internal calls.
type Result struct {
	ingest.Result
	Network string
	Traces  ethereum.TraceMode
	// IncompleteTraces counts the traces the node gave without the fields
	// a transfer needs (logged, each with its transaction).
	IncompleteTraces int64
}

// Networks by chain id; others are named chain-ID.
var networkNames = map[uint64]string{1: "mainnet", 11155111: "sepolia", 17000: "holesky", 560048: "hoodi", 1337: "dev"}

// NetworkName names the network of a chain id.
func NetworkName(id *big.Int) string {
	if id.IsUint64() {
		if n, ok := networkNames[id.Uint64()]; ok {
			return n
		}
	}
	return "chain-" + id.String()
}

// Index fetches blocks from the node and writes them to the sink in
// height order, BatchBlocks at a time, each write atomic: interrupted,
// it resumes after the last write. Blocks are fetched Workers at a time
// and committed in order. A block whose parent is not the stored tip
// means the node's chain reorganised: the store is rolled back to the
// common ancestor (at most MaxReorg blocks) and indexing goes on from it
// (the loop is ingest.Account's, shared with TRON).
func Index(ctx context.Context, sink Sink, cl *ethereum.Client, cfg IndexConfig) (*Result, error) {
	if cfg.Confirmations < 0 {
		cfg.Confirmations = 0
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.BatchBlocks <= 0 {
		cfg.BatchBlocks = 50
	}
	if cfg.MaxReorg <= 0 {
		cfg.MaxReorg = 64
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 4 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	id, err := cl.ChainID(ctx)
	if err != nil {
		return nil, err
	}
	n := &node{cl: cl, cfg: &cfg}
	network := NetworkName(id)
	r, err := ingest.Account(ctx, sink, chains.Ethereum, network, n, ingest.Config{
		From: cfg.From, To: cfg.To, Confirmations: cfg.Confirmations, Follow: cfg.Follow, Poll: cfg.Poll,
		BatchBlocks: cfg.BatchBlocks, MaxReorg: cfg.MaxReorg, Logger: cfg.Logger, Progress: cfg.Progress,
	})
	if err != nil {
		return nil, err
	}
	return &Result{Result: *r, Network: network, Traces: cl.Traces(), IncompleteTraces: n.incomplete.Load()}, nil
}

// node is the Ethereum client as ingest.Account sees it.
type node struct {
	cl         *ethereum.Client
	cfg        *IndexConfig
	incomplete atomic.Int64 // traces Extract could not read
}

func (n *node) URL() string { return n.cl.URL() }

func (n *node) Head(ctx context.Context) (int64, error) {
	h, err := n.cl.Head(ctx)
	return int64(h), err
}

func (n *node) BlockHash(ctx context.Context, h int64) (chains.Hash, bool, error) {
	return n.cl.BlockHash(ctx, uint64(h))
}

func (n *node) FetchRange(ctx context.Context, from, to int64) ([]chains.BlockData, error) {
	return fetchRange(ctx, n.cl, from, to, n.cfg, &n.incomplete)
}

// fetchRange fetches and extracts blocks from..to, workers at a time, and
// checks that each links to the one before it.
func fetchRange(ctx context.Context, cl *ethereum.Client, from, to int64, cfg *IndexConfig, incomplete *atomic.Int64) ([]chains.BlockData, error) {
	// Detect the node's methods once, before the parallel fetch.
	if err := cl.Detect(ctx, uint64(from)); err != nil {
		return nil, err
	}
	bds := make([]chains.BlockData, to-from+1)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.Workers)
	for h := from; h <= to; h++ {
		g.Go(func() error {
			b, err := cl.Fetch(gctx, uint64(h))
			if err != nil {
				return err
			}
			bd, err := ethereum.Extract(b)
			if err != nil {
				return fmt.Errorf("block %d: %w", h, err)
			}
			for _, s := range b.Incomplete {
				incomplete.Add(1)
				cfg.Logger.Warn("A trace could not be read as a transfer; it is left out, not guessed", "block", h, "trace", s)
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
			return nil, fmt.Errorf("block %d: eth_getBlockByNumber gave parent 0x%s, but block %d was 0x%s: the node changed its chain mid-run; run again",
				bds[i].Block.Height, bds[i].Block.PrevHash, bds[i-1].Block.Height, bds[i-1].Block.Hash)
		}
	}
	// Token metadata for the tokens met, once per token per run.
	var toks []common.Address
	for i := range bds {
		for _, t := range bds[i].Transfers {
			if t.Asset != "" {
				toks = append(toks, common.BytesToAddress(t.Asset.Payload()))
			}
		}
	}
	tokens, err := cl.Tokens(ctx, toks)
	if err != nil {
		return nil, err
	}
	// Each token goes with the first block that met it.
	first := map[chains.Address]int{}
	for i := range bds {
		for _, t := range bds[i].Transfers {
			if _, ok := first[t.Asset]; !ok && t.Asset != "" {
				first[t.Asset] = i
			}
		}
	}
	for _, t := range tokens {
		i := first[t.Address]
		bds[i].Tokens = append(bds[i].Tokens, t)
	}
	return bds, nil
}
