// Package btc indexes Bitcoin into a store: Bitcoin Core's block files,
// read in the best chain's order by chains/bitcoin's scanner and decoded in
// parallel, every input resolved against the outputs it spends (a cache of
// recent outputs, the store for the rest), written in atomic batches that
// resume where the last one ended, and a reorganisation rolled back.
package btc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"time"
	"unsafe"

	"golang.org/x/sync/errgroup"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/ingest"
	"github.com/fundtrace/fundtrace/internal/prefetch"
	"github.com/fundtrace/fundtrace/internal/txcodec"
	"github.com/fundtrace/fundtrace/store"
)

// Sink is what the indexer needs of a store: where the chain stands,
// the outputs that inputs spend, and an atomic append of blocks.
type Sink interface {
	store.Writer
	Meta(ctx context.Context, c chains.Chain) (store.Meta, error)
	LookupOutputs(ctx context.Context, c chains.Chain, ops []chains.Outpoint) ([]*chains.Output, error)
	// BlockByHeight and Rollback (a Writer's) let a reorganisation be
	// undone: find where the stored chain leaves the best one, remove
	// what is above. (Narrower than store.ChainReader: a benchmark's
	// in-memory sink has no blocks by hash.)
	BlockByHeight(ctx context.Context, c chains.Chain, h int64) (chains.Block, []chains.Hash, error)
}

// IndexConfig configures Index.
type IndexConfig struct {
	// Dir is Bitcoin Core's blocks folder. Required.
	Dir string
	// ToHeight stops after this height; 0 or less means the best tip.
	ToHeight int64
	// BatchBlocks and BatchBytes bound one atomic write: whichever is
	// reached first ends the batch. Defaults 1,000 blocks and 64 MiB of
	// block data: large enough to amortise the write, small enough that a
	// crash repeats little work and memory stays bounded.
	BatchBlocks int
	BatchBytes  int
	// Workers decode blocks in parallel (order is kept). Default GOMAXPROCS.
	Workers int
	// CacheOutputs bounds the in-memory cache of unspent outputs that
	// spares most prevout lookups a store read. Default 1,000,000
	// (about 150 MB at most, twice that across its two generations).
	CacheOutputs int
	// Progress, if set, is called after each batch is committed.
	Progress func(Progress)
	// Logger receives one line per notable event. Nil discards.
	Logger *slog.Logger
	// MaxReorg is the deepest reorganisation undone without asking: when
	// the store's tip has left the best chain, the blocks above the fork
	// are removed and the new branch indexed. Deeper divergence (another
	// chain, or a folder from elsewhere) is an error. Default 100; Core
	// treats 100 blocks as final (coinbase maturity).
	MaxReorg int64
	// Live tolerates a record cut short at the end of the newest block
	// file, one Bitcoin Core is still writing: it is left for the next run.
	Live bool
	// SpillDir, if set, is where the run keeps, in a temporary table on
	// disk, the unspent outputs the cache drops, so that inputs spending
	// them are resolved there and not by the store (spill.go): for a
	// store whose lookups read far more than they find (ClickHouse).
	// The table is removed at the run's end; it holds at most the
	// outputs unspent at the run's tip.
	SpillDir string
}

func (c *IndexConfig) ensureDefaults() {
	if c.BatchBlocks <= 0 {
		c.BatchBlocks = 1000
	}
	if c.BatchBytes <= 0 {
		c.BatchBytes = 64 << 20
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.CacheOutputs <= 0 {
		c.CacheOutputs = 1_000_000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxReorg <= 0 {
		c.MaxReorg = 100
	}
}

// Progress is a snapshot of a running index.
type Progress struct {
	Height    int64 // last height committed
	Target    int64 // height the run will stop at
	StartedAt int64 // first height of this run
	Blocks    int64 // blocks committed by this run
	Txs       int64
	Bytes     int64
	// TotalBytes is the size of all blocks this run indexes, so that
	// Bytes/TotalBytes is a fair measure of progress (early blocks are tiny).
	TotalBytes int64
	Elapsed    time.Duration
}

// Result summarises an index run.
type Result struct {
	Network     string
	From, To    int64 // heights indexed by this run; From > To when none
	Blocks      int64
	Txs         int64
	Bytes       int64
	TotalBytes  int64
	Elapsed     time.Duration
	Stale       []*bitcoin.BlockRef
	Unconnected []*bitcoin.BlockRef
	Duplicates  int
	// ReorgFrom is the height of the last common block when the store's
	// tip had left the best chain and blocks above it were rolled back;
	// -1 when there was no reorganisation.
	ReorgFrom int64
	// Incomplete is the record left out under IndexConfig.Live, if any.
	Incomplete *bitcoin.RecordError
}

// PrevoutError reports an input whose spent output is in neither the
// store nor the blocks before it.
type PrevoutError struct {
	Height int64
	TxHash chains.Hash
	Vin    uint32
	Prev   chains.Outpoint
}

func (e *PrevoutError) Error() string {
	return fmt.Sprintf("block %d tx %s input %d spends %s, which is not a known output (is the blocks folder complete?)", e.Height, e.TxHash, e.Vin, e.Prev)
}

// Index reads the best chain of a Bitcoin Core blocks folder into sink,
// continuing from the sink's tip. It is idempotent: run again on the same
// folder it writes nothing; interrupted, it resumes where the last
// committed batch ended.
func Index(ctx context.Context, sink Sink, cfg IndexConfig) (*Result, error) {
	cfg.ensureDefaults()
	if cfg.Dir == "" {
		return nil, errors.New("index: no blocks folder given")
	}
	start := time.Now()
	dir, err := bitcoin.ScanDir(cfg.Dir, bitcoin.ScanOptions{Live: cfg.Live})
	if err != nil {
		return nil, err
	}
	plan, err := dir.BestChain()
	if err != nil {
		return nil, err
	}
	res := &Result{Network: plan.Network.Name, Stale: plan.Stale, Unconnected: plan.Unconnected, Duplicates: plan.Duplicates, ReorgFrom: -1, Incomplete: dir.Incomplete}
	cfg.Logger.Info("Scanned blocks folder", "dir", cfg.Dir, "network", plan.Network.Name, "files", len(dir.Files),
		"best_height", len(plan.Chain)-1, "stale", len(plan.Stale), "unconnected", len(plan.Unconnected))

	meta, err := sink.Meta(ctx, chains.Bitcoin)
	if err != nil {
		return nil, err
	}
	if meta.Network != "" && meta.Network != plan.Network.Name {
		return nil, fmt.Errorf("the store holds bitcoin %s, the blocks folder is %s: use another --store", meta.Network, plan.Network.Name)
	}
	if meta.TipHeight >= 0 {
		if res.ReorgFrom, err = reorg(ctx, sink, &cfg, plan, meta); err != nil {
			return nil, err
		}
		if res.ReorgFrom >= 0 {
			if meta, err = sink.Meta(ctx, chains.Bitcoin); err != nil {
				return nil, err
			}
		}
	}
	if err := sink.SetSourceStats(ctx, chains.Bitcoin, plan.Network.Name, int64(len(plan.Stale)), int64(len(plan.Unconnected))); err != nil {
		return nil, err
	}
	from, to := meta.TipHeight+1, int64(len(plan.Chain)-1)
	if cfg.ToHeight > 0 && cfg.ToHeight < to {
		to = cfg.ToHeight
	}
	res.From, res.To = from, to
	if from > to {
		// An earlier run may have stopped with counts pending.
		if err := ingest.SettleCounts(ctx, sink, chains.Bitcoin); err != nil {
			return nil, err
		}
		res.Elapsed = time.Since(start)
		return res, nil
	}
	for h := from; h <= to; h++ {
		res.TotalBytes += int64(plan.Chain[h].Size)
	}
	ix := &indexer{sink: sink, cfg: &cfg, dir: dir, plan: plan, res: res, network: plan.Network.Name,
		cache: newOutputCache(cfg.CacheOutputs), started: start}
	if cfg.SpillDir != "" {
		if ix.spill, err = openSpill(cfg.SpillDir, cfg.Logger); err != nil {
			return res, err
		}
	}
	err = ix.run(ctx, from, to)
	if err := errors.Join(err, ix.spill.close()); err != nil {
		return res, err
	}
	if err := ingest.SettleCounts(ctx, sink, chains.Bitcoin); err != nil {
		return res, err
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// reorg checks that the store's tip is on the folder's best chain. When
// it is not but the best chain is at least as high, it finds the last
// block the two share and rolls the store back to it (at most MaxReorg
// blocks), returning that height; -1 when nothing was rolled back.
func reorg(ctx context.Context, sink Sink, cfg *IndexConfig, plan *bitcoin.Plan, meta store.Meta) (int64, error) {
	best := int64(len(plan.Chain) - 1)
	if meta.TipHeight <= best && plan.Chain[meta.TipHeight].Hash == meta.TipHash {
		return -1, nil
	}
	if meta.TipHeight > best {
		return -1, fmt.Errorf("the store's tip, block %d, is above the best chain of %s (height %d): is this the folder the store was indexed from?", meta.TipHeight, cfg.Dir, best)
	}
	for h := meta.TipHeight - 1; h >= 0 && meta.TipHeight-h <= cfg.MaxReorg; h-- {
		b, _, err := sink.BlockByHeight(ctx, chains.Bitcoin, h)
		if err != nil {
			return -1, fmt.Errorf("find where the stored chain leaves the best chain: %w", err)
		}
		if b.Hash != plan.Chain[h].Hash {
			continue
		}
		cfg.Logger.Warn("Chain reorganisation: rolling back", "from_height", meta.TipHeight, "to_height", h, "blocks", meta.TipHeight-h)
		if err := sink.Rollback(ctx, chains.Bitcoin, h); err != nil {
			return -1, fmt.Errorf("roll back to block %d: %w", h, err)
		}
		return h, nil
	}
	return -1, fmt.Errorf("the store's tip, block %d %s, is not on the best chain of %s and no common block lies within %d blocks (--max-reorg): another chain? index into a fresh store", meta.TipHeight, meta.TipHash, cfg.Dir, cfg.MaxReorg)
}

type indexer struct {
	sink    Sink
	cfg     *IndexConfig
	dir     *bitcoin.Dir
	plan    *bitcoin.Plan
	res     *Result
	network string
	cache   *outputCache
	spill   *spill // nil unless IndexConfig.SpillDir
	started time.Time

	// The outputs the batch being built spends from before it and the
	// cache does not hold, with the inputs that spend them and the
	// blocks (indexes in the batch) they are in: looked up at once
	// before the batch is written (lookUpMissing).
	missing      []chains.Outpoint
	missingAt    []*chains.Input
	missingBlock []int
	arena        txcodec.AddrArena // the addresses of the outputs the cache gives
}

// job is one block travelling through the pipeline. done is closed when
// the decoder has filled bd or err.
type job struct {
	ref  *bitcoin.BlockRef
	raw  []byte
	bd   *chains.BlockData
	err  error
	done chan struct{}
}

// run is a reader → parallel decoders → in-order resolver → writer
// pipeline; the writer stores one batch while the resolver builds the
// next (write). The small channel buffers are the back-pressure: the
// reader never runs more than a few blocks ahead of the resolver, nor
// the resolver more than a batch ahead of the store.
func (ix *indexer) run(ctx context.Context, from, to int64) error {
	g, ctx := errgroup.WithContext(ctx)
	work := make(chan *job, 2*ix.cfg.Workers)
	ordered := make(chan *job, 4*ix.cfg.Workers)
	// Block buffers go back to the reader once decoded (the decoder
	// copies out all it keeps): a fresh buffer per block would be zeroed
	// for nothing, and would bring the next garbage collection nearer by
	// the size of the chain read.
	free := make(chan []byte, 6*ix.cfg.Workers+2)
	g.Go(func() error {
		defer close(work)
		defer close(ordered)
		r := ix.dir.NewBlockReader()
		defer r.Close()
		for h := from; h <= to; h++ {
			ref := ix.plan.Chain[h]
			var buf []byte
			select {
			case buf = <-free:
			default:
			}
			raw, err := r.Read(ref, buf)
			if err != nil {
				return err
			}
			j := &job{ref: ref, raw: raw, done: make(chan struct{})}
			for _, ch := range []chan *job{ordered, work} {
				select {
				case ch <- j:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		return nil
	})
	for range ix.cfg.Workers {
		g.Go(func() error {
			dec := bitcoin.NewDecoder()
			for j := range work {
				j.bd, j.err = dec.Decode(j.raw, j.ref.Height)
				select {
				case free <- j.raw:
				default:
				}
				j.raw = nil
				if j.err != nil {
					j.err = fmt.Errorf("%s: offset %d: %w", j.ref.File, j.ref.RecordOffset(), j.err)
				}
				close(j.done)
			}
			return nil
		})
	}
	g.Go(func() error { return ix.write(ctx, ordered, to) })
	return g.Wait()
}

func (ix *indexer) write(ctx context.Context, ordered <-chan *job, to int64) error {
	var (
		batch      []chains.BlockData
		spare      []chains.BlockData // the batch being written, or room for the next
		batchBytes int
		last       = time.Now()
		// The store writes one batch while the next is resolved: a batch's
		// write no longer waits for its resolution, nor the next batch's
		// resolution for the write (on the embedded store they were 8.5 s
		// and 5.5 s of a 1 M-transaction chain's 19 s, one after the
		// other). written delivers the running write's outcome.
		written chan error
	)
	// wait waits for the running write, then reports it: every batch is
	// made durable before it is reported (a batch is large, up to
	// BatchBlocks, so the sync is cheap beside it, and progress once
	// logged survives a crash or a kill). Only then may the cache drop a
	// generation, whose outputs the store must hold (see rotate).
	wait := func() error {
		if written == nil {
			return nil
		}
		err := <-written
		written = nil
		if err != nil {
			return err
		}
		for i := range spare {
			ix.res.Blocks++
			ix.res.Txs += int64(len(spare[i].Txs))
			ix.res.Bytes += int64(spare[i].Block.Size)
		}
		if ix.cfg.Progress != nil && len(spare) > 0 {
			ix.cfg.Progress(Progress{Height: spare[len(spare)-1].Block.Height, Target: to, StartedAt: ix.res.From,
				Blocks: ix.res.Blocks, Txs: ix.res.Txs, Bytes: ix.res.Bytes, TotalBytes: ix.res.TotalBytes, Elapsed: time.Since(ix.started)})
		}
		clear(spare) // the written blocks go to the collector
		spare = spare[:0]
		return ix.cache.rotate(ix.spill.write)
	}
	// flush looks up what the batch's inputs spend and the cache did not
	// hold while the previous batch is still being written, then waits
	// for that write and starts the batch's. The lookups need nothing
	// of the running write: an output the cache no longer holds was
	// dropped by a rotation before this batch was resolved, and a
	// rotation drops only the older generation, whose outputs came from
	// batches before the one being written, committed before the
	// rotation (see wait). On a long chain these lookups are the store's
	// random reads, about 20 s of the 10.56 M-transaction chain's index;
	// made after the write, they kept the next batch's resolving and
	// writing waiting behind both (the wait for the write alone was 9-10
	// s of that index, and is now under 1 s).
	flush := func() error {
		if err := ix.lookUpMissing(ctx, batch); err != nil {
			return err
		}
		if err := wait(); err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		written = make(chan error, 1)
		go func(batch []chains.BlockData) {
			written <- ix.sink.WriteBlocks(ctx, chains.Bitcoin, ix.network, batch, store.WriteOptions{Sync: true})
		}(batch)
		batch, spare = spare, batch
		batchBytes, last = 0, time.Now()
		return nil
	}
	// Whatever stops the run, a write still running is waited for, and
	// its failure reported with the error that stopped it.
	err := func() error {
		for j := range ordered {
			select {
			case <-j.done:
			case <-ctx.Done():
				return ctx.Err()
			}
			if j.err != nil {
				return j.err
			}
			if err := ix.resolve(j.bd, len(batch)); err != nil {
				return err
			}
			batch = append(batch, *j.bd)
			batchBytes += int(j.bd.Block.Size)
			if len(batch) >= ix.cfg.BatchBlocks || batchBytes >= ix.cfg.BatchBytes || time.Since(last) > 5*time.Second {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return flush()
	}()
	return errors.Join(err, wait())
}

// resolve fills in the output every input of bd spends from the cache,
// which holds outputs of recent blocks (including this batch's, not yet
// committed), and notes the others for lookUpMissing; block is bd's
// index in the batch.
func (ix *indexer) resolve(bd *chains.BlockData, block int) error {
	ix.cache.warm(bd)
	for t := range bd.Txs {
		tx := &bd.Txs[t]
		for i := range tx.Inputs {
			in := &tx.Inputs[i]
			if in.Coinbase {
				continue
			}
			if rec, ok := ix.cache.take(in.Prev); ok {
				d := txcodec.Decoder{B: rec}
				d.OutputInto(in.Prev.Index, &in.Prevout, &ix.arena)
				if err := d.End(); err != nil {
					return fmt.Errorf("block %d: the output cache's copy of %s:%d: %w", bd.Block.Height, in.Prev.Hash, in.Prev.Index, err)
				}
				continue
			}
			ix.missing = append(ix.missing, in.Prev)
			ix.missingAt = append(ix.missingAt, in)
			ix.missingBlock = append(ix.missingBlock, block)
		}
		for o := range tx.Outputs {
			if tx.Outputs[o].Type != chains.ScriptNullData {
				ix.cache.put(chains.Outpoint{Hash: tx.Hash, Index: tx.Outputs[o].Index}, &tx.Outputs[o])
			}
		}
	}
	// The addresses of the outputs the cache gave are substrings of one
	// string per block, as the decoder makes them.
	ix.arena.Fill()
	ix.arena.Reset()
	return nil
}

// lookUpMissing fills in, from the store, the outputs the batch's inputs
// spend that the cache did not hold: one lookup for the whole batch. It
// was one per block, which on ClickHouse cost a round trip and a granule
// per key and part for every block, most of the index's time once a
// chain's old coins were being spent.
func (ix *indexer) lookUpMissing(ctx context.Context, batch []chains.BlockData) error {
	defer func() {
		ix.missing, ix.missingAt, ix.missingBlock = ix.missing[:0], ix.missingAt[:0], ix.missingBlock[:0]
	}()
	if len(ix.missing) == 0 {
		return nil
	}
	if ix.spill != nil {
		if err := ix.takeSpilled(); err != nil {
			return fmt.Errorf("blocks %d..%d: %w", batch[0].Block.Height, batch[len(batch)-1].Block.Height, err)
		}
		if len(ix.missing) == 0 {
			return nil
		}
	}
	found, err := ix.sink.LookupOutputs(ctx, chains.Bitcoin, ix.missing)
	if err != nil {
		return fmt.Errorf("blocks %d..%d: look up spent outputs: %w", batch[0].Block.Height, batch[len(batch)-1].Block.Height, err)
	}
	for i, o := range found {
		if o == nil {
			return ix.prevoutError(&batch[ix.missingBlock[i]], ix.missingAt[i])
		}
		ix.missingAt[i].Prevout = *o
	}
	return nil
}

// takeSpilled resolves the missing inputs whose outputs the spill holds
// and leaves the others in ix.missing.
func (ix *indexer) takeSpilled() error {
	found, err := ix.spill.take(ix.missingAt, &ix.arena)
	if err != nil {
		return err
	}
	ix.arena.Fill()
	ix.arena.Reset()
	n := 0
	for i := range ix.missing {
		if !found[i] {
			ix.missing[n], ix.missingAt[n], ix.missingBlock[n] = ix.missing[i], ix.missingAt[i], ix.missingBlock[i]
			n++
		}
	}
	ix.missing, ix.missingAt, ix.missingBlock = ix.missing[:n], ix.missingAt[:n], ix.missingBlock[:n]
	return nil
}

func (ix *indexer) prevoutError(bd *chains.BlockData, in *chains.Input) error {
	for t := range bd.Txs {
		for i := range bd.Txs[t].Inputs {
			if &bd.Txs[t].Inputs[i] == in {
				return &PrevoutError{Height: bd.Block.Height, TxHash: bd.Txs[t].Hash, Vin: in.Index, Prev: in.Prev}
			}
		}
	}
	return &PrevoutError{Height: bd.Block.Height, Vin: in.Index, Prev: in.Prev}
}

// outputCache holds recently created outputs so that most inputs, which
// spend young coins, resolve without a store read. It has two
// generations and rotates only between batches, after a commit: an
// output of the batch being built is therefore never evicted before the
// store has it.
//
// A generation files its outputs under a 64-bit key made from the txid
// and the index, in a table (keyTable) from key to the output's place in
// a slice that holds the whole outpoint alongside. The table's slots are
// then 16 bytes, not the 56 of a key, an outpoint and a pointer: the
// table of a batch's outputs stays in the processor's cache, where each
// put or take would otherwise wait on memory. An outpoint whose key
// another one already holds goes to a small exact map, so a collision
// costs speed, never an output.
//
// The cache keeps a copy of each output, in txcodec's form, in one
// byte slice per generation, and no pointer. It used to keep a pointer
// into the decoded block, and one unspent output kept its whole block
// alive: the cache's memory then grew with the blocks its outputs came
// from, not with the outputs (the index of a 5.45 M-transaction chain
// peaked at 3.5 GB, of a 0.96 M one at 1.1 GB), and every collection
// walked those blocks' pointers.
type outputCache struct {
	cur, old  cacheGen
	over      map[chains.Outpoint][]byte
	limit     int
	warmKeys  []uint64  // warm's
	warmAddrs []uintptr // warm's
	warmHits  []warmHit // warm's
	places    []uint32  // compact's
}

type cacheGen struct {
	at   keyTable // key → index in ents
	ents []cached // in order put; taken ones stay until compacted
	text []byte   // the outputs of ents, each as txcodec.AppendOutput writes it
}

// cached is one output in a generation: 44 bytes and its copy in text.
type cached struct {
	op        chains.Outpoint
	off, size uint32 // its copy in the generation's text
}

func newOutputCache(limit int) *outputCache {
	return &outputCache{over: map[chains.Outpoint][]byte{}, limit: limit}
}

func cacheKey(op chains.Outpoint) uint64 {
	return binary.LittleEndian.Uint64(op.Hash[:8]) ^ uint64(op.Index)*0x9e3779b97f4a7c15
}

// put files a copy of o under op.
func (c *outputCache) put(op chains.Outpoint, o *chains.Output) {
	g := &c.cur
	g.reserve(c.limit)
	off := len(g.text)
	text := txcodec.AppendOutput(g.text, o)
	e := cached{op: op, off: uint32(off), size: uint32(len(text) - off)}
	if len(text) > math.MaxUint32 {
		c.over[op] = slices.Clone(text[off:])
		return
	}
	if i, had := g.at.insert(cacheKey(op), uint32(len(g.ents))); had {
		if g.ents[i].op != op {
			c.over[op] = slices.Clone(text[off:])
			return
		}
		g.ents[i] = e // a duplicate txid (BIP30): the later one stands
	} else {
		g.ents = append(g.ents, e)
	}
	g.text = text
}

// reserve grows g's slices when full (the text when it has less room
// than an output's record rarely takes): by doubling while they are
// small, then at once to what a generation of limit outputs holds before
// rotate compacts it (twice limit entries and their text), beyond which
// they grow as append grows them. The slices grow only in the first two
// generations (rotate hands the dropped one's slices to the next), but
// at 1.03 M transactions those are most of the run, and growth by
// doubling cost 0.7 s of the index's processor time, all of it in
// resolve, the pipeline's one serial stage: every step copied the slice
// and runtime.growslice cleared the new half, so that each byte of room
// was written before an output was. A slice made at its final size costs
// only its pages as they are filled: fresh memory from the system comes
// zeroed. The Go runtime counts the whole room against the index's
// memory limit from the jump on, pages not yet touched included, as it
// did once doubling had reached it. Small chains (and the tests) never
// reach the jump, so they never hold a generation's room. Growing past
// that size holds memory the cache does not use: the 10.56 M chain's
// index peaked at 1.65 GB so, 1.46 GB with the cap.
func (g *cacheGen) reserve(limit int) {
	const (
		outputRoom = 64
		jumpAt     = 1 << 16 // entries
	)
	most := 2*limit + 1024
	if n := len(g.ents); n == cap(g.ents) {
		switch {
		case n < jumpAt && 2*n < most:
			g.ents = slices.Grow(g.ents, max(n, 1024))
		case n < most:
			g.ents = regrow(g.ents, most)
		default:
			g.ents = slices.Grow(g.ents, 1)
		}
	}
	if n := len(g.text); cap(g.text)-n < outputRoom {
		perOutput := max(n/max(len(g.ents), 1), 1)
		full := most * perOutput
		switch {
		case len(g.ents) < jumpAt && 2*n < full:
			g.text = slices.Grow(g.text, max(n, 64<<10))
		case n+outputRoom < full:
			// A fifth more than the text so far says, so that a
			// generation whose outputs grow a little does not double.
			g.text = regrow(g.text, full+full/5)
		default:
			g.text = slices.Grow(g.text, outputRoom)
		}
	}
}

// regrow returns s with room for size elements, in a slice made at that
// size and not through append (see reserve).
func regrow[T any](s []T, size int) []T {
	r := make([]T, len(s), max(size, len(s)))
	copy(r, s)
	return r
}

// warm asks for the cache's memory a block's inputs and outputs will
// look at, before the block is resolved, in three passes of prefetches
// (internal/prefetch) that wait on nothing: the slots where their keys'
// probes start; for the inputs' keys found there, their entries; then
// the copies those entries point at. Resolved one by one, each take and
// put waited on memory in turn (the table of a generation is 32 MB, its
// entries 88 MB): keyTable.find and the entries' reads were about a
// third of resolving, in a profile of the 1.03 M-transaction chain's
// index. Passes of plain loads overlapped only a few of those waits and
// took a tenth of the index's processor time themselves. Nothing is
// changed; the cache resolves as it would have, sooner.
func (c *outputCache) warm(bd *chains.BlockData) {
	keys, addrs := c.warmKeys[:0], c.warmAddrs[:0]
	for t := range bd.Txs {
		tx := &bd.Txs[t]
		for i := range tx.Inputs {
			if in := &tx.Inputs[i]; !in.Coinbase {
				k := cacheKey(in.Prev)
				keys = append(keys, k)
				addrs = c.cur.at.slotAddr(addrs, k)
				addrs = c.old.at.slotAddr(addrs, k)
			}
		}
		for o := range tx.Outputs {
			addrs = c.cur.at.slotAddr(addrs, cacheKey(chains.Outpoint{Hash: tx.Hash, Index: tx.Outputs[o].Index}))
		}
	}
	prefetch.Lines(addrs)
	// An entry (44 bytes) and a copy may each lie across two cache
	// lines: both ends are asked for.
	hits := c.warmHits[:0]
	addrs = addrs[:0]
	for _, k := range keys {
		for _, g := range [...]*cacheGen{&c.cur, &c.old} {
			if _, i, ok := g.at.lookup(k); ok && int(i) < len(g.ents) {
				e := &g.ents[i]
				addrs = append(addrs, uintptr(unsafe.Pointer(e)), uintptr(unsafe.Pointer(&e.size)))
				hits = append(hits, warmHit{g, i})
			}
		}
	}
	prefetch.Lines(addrs)
	addrs = addrs[:0]
	for _, h := range hits {
		e := &h.g.ents[h.i]
		if end := int(e.off) + int(e.size); end <= len(h.g.text) && e.size > 0 {
			addrs = append(addrs, uintptr(unsafe.Pointer(&h.g.text[e.off])), uintptr(unsafe.Pointer(&h.g.text[end-1])))
		}
	}
	prefetch.Lines(addrs)
	c.warmKeys, c.warmAddrs, c.warmHits = keys, addrs, hits
}

// warmHit is an entry warm found: its generation and its place there.
type warmHit struct {
	g *cacheGen
	i uint32
}

// take returns and forgets the output, as txcodec.AppendOutput wrote
// it: an output is spent once. The bytes stay valid until the next
// rotate.
func (c *outputCache) take(op chains.Outpoint) ([]byte, bool) {
	k := cacheKey(op)
	if rec, ok := c.cur.take(k, op); ok {
		return rec, true
	}
	if rec, ok := c.old.take(k, op); ok {
		return rec, true
	}
	if rec, ok := c.over[op]; ok {
		delete(c.over, op)
		return rec, true
	}
	return nil, false
}

func (g *cacheGen) take(k uint64, op chains.Outpoint) ([]byte, bool) {
	slot, i, ok := g.at.lookup(k)
	if !ok || g.ents[i].op != op {
		return nil, false
	}
	g.at.remove(slot)
	e := &g.ents[i]
	return g.text[e.off : e.off+e.size], true
}

// rotate starts a new generation when the current one holds limit
// outputs, dropping the older (after handing it to drop, if set);
// otherwise it compacts the current one once most of what it holds has
// been taken, so that its slices stay within about twice what it keeps.
func (c *outputCache) rotate(drop func(*cacheGen) error) error {
	g := &c.cur
	switch {
	case g.at.len() >= c.limit:
		if drop != nil {
			if err := drop(&c.old); err != nil {
				return err
			}
		}
		// The dropped generation's table and slices, grown to hold limit
		// outputs, become the new one's.
		next := c.old
		next.empty()
		c.old, c.cur = c.cur, next
	case len(g.ents) > 2*g.at.len()+1024:
		if g.compact(&c.places) {
			return nil
		}
		ents := make([]cached, 0, 2*g.at.len()+1024)
		text := make([]byte, 0, 2*len(g.text)*g.at.len()/len(g.ents)+1024)
		g.at.renumber(func(i uint32) uint32 {
			e := g.ents[i]
			off := len(text)
			text = append(text, g.text[e.off:e.off+e.size]...)
			e.off = uint32(off)
			ents = append(ents, e)
			return uint32(len(ents) - 1)
		})
		g.ents, g.text = ents, text
	}
	return nil
}

// compact drops, in place, the entries taken from g and their copies,
// and reports whether it could: not when the copies of the entries kept
// are out of their entries' order (one put again under its outpoint, a
// duplicate txid, whose new copy lies after the others), which rotate
// compacts into new slices instead. Compacted into new slices, each
// time, a generation's slices were then grown back by doubling, and
// every byte of them was fresh memory to the process: of the 1.9 M page
// faults of the 10.56 M-transaction chain's index, about a fifth were
// in the copying of that growth, and with the garbage it left gone the
// index had 0.7 M in all. places is scratch room, kept between calls.
func (g *cacheGen) compact(places *[]uint32) bool {
	place := slices.Grow((*places)[:0], len(g.ents))[:len(g.ents)]
	*places = place
	clear(place)
	g.at.renumber(func(i uint32) uint32 { place[i] = 1; return i })
	end := uint32(0)
	for i, e := range g.ents {
		if place[i] != 0 {
			if e.off < end {
				return false
			}
			end = e.off + e.size
		}
	}
	n, off := uint32(0), uint32(0)
	for i, e := range g.ents {
		if place[i] == 0 {
			continue
		}
		copy(g.text[off:], g.text[e.off:e.off+e.size])
		e.off = off
		off += e.size
		g.ents[n], place[i] = e, n
		n++
	}
	g.ents, g.text = g.ents[:n], g.text[:off]
	g.at.renumber(func(i uint32) uint32 { return place[i] })
	return true
}

// reset empties the cache, keeping its room.
func (c *outputCache) reset() {
	c.cur.empty()
	c.old.empty()
	clear(c.over)
}

// empty drops g's outputs and keeps its room.
func (g *cacheGen) empty() {
	g.at.reset()
	g.ents = g.ents[:0]
	g.text = g.text[:0]
}
