package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/ingest/btc"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/store/clickhouse"
	"github.com/fundtrace/fundtrace/store/embedded"
)

func indexCommand() *cli.Command {
	return &cli.Command{
		Name:  "index",
		Usage: "read a chain into the store",
		Description: `Reads blocks into the store, resuming from what the store already holds.
Run it again at any time: it only adds what is new, and an interrupted run
(Ctrl-C, kill, power loss) continues where its last committed batch ended.`,
		Subcommands: []*cli.Command{indexBTCCommand(), indexETHCommand(), indexTronCommand()},
	}
}

func indexBTCCommand() *cli.Command {
	return &cli.Command{
		Name:      "btc",
		Usage:     "index Bitcoin Core block files (blk*.dat)",
		UsageText: "fundtrace [--store DIR|clickhouse://...] index btc --blocks DIR [--to HEIGHT] [--max-reorg N] [--json]",
		Description: `Reads the blk*.dat files of a Bitcoin Core blocks folder (any network:
mainnet, testnet3/4, signet, regtest, told apart by the files' magic bytes),
de-obfuscating them with xor.dat when Core 28+ wrote one. Blocks are indexed
in height order along the chain with the most work; stale fork blocks are
left out and counted. Every input is resolved to the address and value it
spends. A record that is cut short (a damaged file, or one Core is still
writing) is an error naming the file and offset; with --live, one at the very
end of the newest file is left for the next run. When Core has
reorganised since the last run, the store's blocks above the fork are rolled
back (up to --max-reorg deep) and the new branch indexed.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "blocks", Usage: "Bitcoin Core's blocks folder (e.g. ~/.bitcoin/blocks)", Required: true},
			&cli.Int64Flag{Name: "to", Usage: "stop after this height", DefaultText: "the best tip"},
			&cli.IntFlag{Name: "batch-blocks", Usage: "blocks per atomic write", Value: 1000},
			&cli.IntFlag{Name: "workers", Usage: "parallel block decoders", DefaultText: "one per CPU"},
			&cli.BoolFlag{Name: "live", Usage: "Bitcoin Core is running: leave a record it is still writing (cut short at the end of the newest file) for the next run"},
			&cli.Int64Flag{Name: "max-reorg", Usage: "deepest chain reorganisation to roll back on its own (blocks)", Value: 100},
			&cli.DurationFlag{Name: "progress-every", Usage: "when not on a terminal, log progress at most this often (0: after every batch)", Value: 10 * time.Second},
			&cli.StringFlag{Name: "spill-dir", Usage: "ClickHouse stores: folder for the run's temporary table of unspent outputs, which resolves inputs spending old coins without a query (removed at the end; at most the size of the unspent outputs)", DefaultText: "the system's temporary folder"},
			jsonFlag,
		},
		Action: runIndexBTC,
	}
}

func runIndexBTC(c *cli.Context) error {
	for _, err := range []error{intRange("to", c.Int64("to"), 0, math.MaxInt32), intRange("batch-blocks", int64(c.Int("batch-blocks")), 1, 1_000_000),
		intRange("max-reorg", c.Int64("max-reorg"), 0, 1_000_000), intRange("workers", int64(c.Int("workers")), 0, 1024)} {
		if err != nil {
			return err
		}
	}
	st, err := openStore(c, createStore)
	if err != nil {
		return err
	}
	defer st.Close()
	prog := newProgressPrinter(c.App.ErrWriter, isTerminal(os.Stderr), c.Duration("progress-every"))
	// The embedded store looks up spent outputs in its own sorted
	// tables; a ClickHouse lookup reads a growing share of the outputs
	// table as the chain grows, and the spill spares it.
	var spillDir string
	if _, remote := st.(*clickhouse.Store); remote {
		if spillDir = c.String("spill-dir"); spillDir == "" {
			spillDir = os.TempDir()
		}
	}
	outside := offHeap(st)
	if spillDir != "" {
		outside += btc.SpillOutsideHeap()
	}
	defer limitHeap(outside)()
	res, err := btc.Index(c.Context, st, btc.IndexConfig{
		Dir:         c.String("blocks"),
		ToHeight:    c.Int64("to"),
		BatchBlocks: c.Int("batch-blocks"),
		Workers:     c.Int("workers"),
		Progress:    prog.update,
		MaxReorg:    c.Int64("max-reorg"),
		Live:        c.Bool("live"),
		Logger:      slog.Default(),
		SpillDir:    spillDir,
	})
	prog.done()
	if err != nil {
		return fmt.Errorf("index btc: %w", err)
	}
	if err := settle(c.Context, st); err != nil {
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	return printIndexResult(c.App.Writer, res, c.Bool("json"))
}

// indexMemory is the memory an index command means to stay within: the
// Go runtime's soft limit (runtime/debug.SetMemoryLimit) is set to it,
// less what the stores' Pebble databases hold outside the Go heap
// (offHeap), unless GOMEMLIMIT sets a limit itself. The live heap of a
// Bitcoin index is 0.5 to 0.9 GB whatever the chain's length (the cache
// of young outputs, a batch of decoded blocks, the writer's buffers);
// left to GOGC the collector let the heap reach twice that, and the
// larger batches of a longer chain took it further: the 3.1 M-transaction
// chain's index peaked at 2.1 GB of anonymous memory, the 10.6 M one's
// at 3.0 GB. With the limit the collector runs more often as the heap
// nears it (35 collections instead of 25 on the 3.1 M chain, 1-2 % of
// the processor time). The limit alone did not bound the process in a
// cgo build: the embedded store's block cache and memtables, C
// allocations there, filled up beside it as the chain grew (1.34, 1.79
// and 1.97 GB at 1, 3.1 and 10.56 M transactions).
const indexMemory = 1280 << 20

// limitHeap sets the Go runtime's memory limit to indexMemory less
// offHeap (what the command's Pebble databases hold outside the Go heap;
// the limit is never set below half of indexMemory), unless the user set
// a limit, and returns what puts the previous limit back (commands share
// a process in the tests).
func limitHeap(offHeap int64) (restore func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	prev := debug.SetMemoryLimit(heapLimit(offHeap))
	return func() { debug.SetMemoryLimit(prev) }
}

// heapLimit is the Go heap's share of indexMemory beside offHeap bytes
// held outside it, at least half of indexMemory.
func heapLimit(offHeap int64) int64 {
	return max(indexMemory-offHeap, indexMemory/2)
}

// offHeap is what st holds outside the Go heap: what a store that says
// (the embedded store's Pebble database, in a cgo build) says; nothing
// for one that does not (ClickHouse, whose memory is the server's).
func offHeap(st store.Store) int64 {
	if o, ok := st.(offHeapHolder); ok {
		return o.OutsideHeap()
	}
	return 0
}

// offHeapHolder is a store that holds memory outside the Go heap.
type offHeapHolder interface{ OutsideHeap() int64 }

// The embedded store says: a renamed method fails the build, not the
// index's memory budget.
var _ offHeapHolder = (*embedded.Store)(nil)

// settle lets a store that compacts in the background (the embedded
// store) finish compacting what the run wrote before the command exits,
// so that the next command does not pay for it (see embedded.Store.Settle).
func settle(ctx context.Context, st store.Store) error {
	if s, ok := st.(interface{ Settle(context.Context) error }); ok {
		return s.Settle(ctx)
	}
	return nil
}

// indexRunJSON is what every index command reports about its run.
type indexRunJSON struct {
	Chain        string `json:"chain"`
	Network      string `json:"network"`
	FromHeight   int64  `json:"from_height"`
	ToHeight     int64  `json:"to_height"`
	Blocks       int64  `json:"blocks"`
	Transactions int64  `json:"transactions"`
}

type indexResultJSON struct {
	indexRunJSON
	Bytes       int64      `json:"bytes"`
	Seconds     float64    `json:"seconds"`
	Stale       []blockRef `json:"stale_blocks"`
	Unconnected []blockRef `json:"unconnected_blocks"`
	Duplicates  int        `json:"duplicate_records"`
	ReorgFrom   *int64     `json:"reorg_rolled_back_to,omitempty"`
	Incomplete  string     `json:"incomplete_record,omitempty"`
}

type blockRef struct {
	Hash   string `json:"hash"`
	Height int64  `json:"height"` // -1 when unconnected
	File   string `json:"file"`
	Offset int64  `json:"offset"`
}

func refsJSON(refs []*bitcoin.BlockRef) []blockRef {
	out := make([]blockRef, 0, len(refs))
	for _, r := range refs {
		out = append(out, blockRef{Hash: r.Hash.String(), Height: r.Height, File: r.File, Offset: r.Offset})
	}
	return out
}

func printIndexResult(w io.Writer, res *btc.Result, asJSON bool) error {
	if asJSON {
		j := indexResultJSON{
			indexRunJSON: indexRunJSON{Chain: "btc", Network: res.Network, FromHeight: res.From, ToHeight: res.To,
				Blocks: res.Blocks, Transactions: res.Txs}, Bytes: res.Bytes, Seconds: res.Elapsed.Seconds(),
			Stale: refsJSON(res.Stale), Unconnected: refsJSON(res.Unconnected), Duplicates: res.Duplicates,
		}
		if res.ReorgFrom >= 0 {
			j.ReorgFrom = &res.ReorgFrom
		}
		if res.Incomplete != nil {
			j.Incomplete = res.Incomplete.Error()
		}
		return writeJSON(w, j)
	}
	if res.Incomplete != nil {
		fmt.Fprintf(w, "left for the next run: %v\n", res.Incomplete)
	}
	if res.ReorgFrom >= 0 {
		fmt.Fprintf(w, "chain reorganisation: rolled the store back to block %d, the last block it shares with the best chain\n", res.ReorgFrom)
	}
	if res.Blocks == 0 {
		fmt.Fprintf(w, "btc %s: already up to date at height %d\n", res.Network, res.From-1)
	} else {
		fmt.Fprintf(w, "btc %s: indexed blocks %d..%d: %s blocks, %s transactions, %.1f MB in %s\n",
			res.Network, res.From, res.To, group(res.Blocks), group(res.Txs), float64(res.Bytes)/1e6, res.Elapsed.Round(time.Millisecond))
	}
	if len(res.Stale) > 0 {
		fmt.Fprintf(w, "left out %d stale block(s) not on the best chain:\n", len(res.Stale))
		for _, r := range res.Stale {
			fmt.Fprintf(w, "  height %d  %s  (%s @%d)\n", r.Height, r.Hash, r.File, r.Offset)
		}
	}
	if len(res.Unconnected) > 0 {
		fmt.Fprintf(w, "left out %d block(s) whose parents are missing from the folder\n", len(res.Unconnected))
	}
	if res.Duplicates > 0 {
		fmt.Fprintf(w, "ignored %d duplicate record(s) of blocks stored twice\n", res.Duplicates)
	}
	return nil
}

// progressPrinter shows an index's progress as a progressLine does, at
// every batch on a terminal and at most every "every" when piped; the
// last batch is always shown.
type progressPrinter struct{ *progressLine }

func newProgressPrinter(w io.Writer, tty bool, every time.Duration) *progressPrinter {
	if tty {
		every = 0
	}
	return &progressPrinter{&progressLine{w: w, tty: tty, every: every}}
}

func (p *progressPrinter) update(pr btc.Progress) {
	if pr.Height == pr.Target {
		p.last = time.Time{}
	}
	secs := pr.Elapsed.Seconds()
	if secs <= 0 {
		secs = 1e-9
	}
	eta := "?"
	if pr.Bytes > 0 && pr.TotalBytes > pr.Bytes {
		rem := time.Duration(float64(pr.TotalBytes-pr.Bytes) / float64(pr.Bytes) * float64(pr.Elapsed))
		eta = rem.Round(time.Second).String()
	} else if pr.TotalBytes <= pr.Bytes {
		eta = "0s"
	}
	p.show(fmt.Sprintf("height %s/%s  %.0f blk/s  %.0f tx/s  %.1f MB/s  ETA %s", group(pr.Height), group(pr.Target),
		float64(pr.Blocks)/secs, float64(pr.Txs)/secs, float64(pr.Bytes)/1e6/secs, eta),
		"Indexed", "height", pr.Height, "target", pr.Target,
		"blocks_per_s", int64(float64(pr.Blocks)/secs), "tx_per_s", int64(float64(pr.Txs)/secs),
		"mb_per_s", fmt.Sprintf("%.1f", float64(pr.Bytes)/1e6/secs), "eta", eta)
}
