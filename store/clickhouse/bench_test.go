package clickhouse_test

// Benchmarks against a real server (make bench starts one):
//
//	BenchmarkWrite/writer  rows/s through WriteBlocks (all tables, meta row, address count)
//	BenchmarkWrite/bare    the same rows through plain clickhouse-go batches, one table after another
//	BenchmarkSpenders      one 1,000-outpoint spender lookup (the tracer's hop) on 10 M spends rows,
//	                       through the store (packed spenders, granularity 128), on migration 1's
//	                       spends layout (granularity 256) and on a naive copy (8,192)

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/ingest/btc"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/store/clickhouse"
)

// captureSink resolves prevouts from memory and keeps the batches the
// indexer writes, so that benchmarks can replay identical writes.
type captureSink struct {
	meta    store.Meta
	outputs map[chains.Outpoint]chains.Output
	batches [][]store.BlockData
}

func (c *captureSink) Meta(context.Context, chains.Chain) (store.Meta, error) { return c.meta, nil }
func (c *captureSink) SetSourceStats(context.Context, chains.Chain, string, int64, int64) error {
	return nil
}

func (c *captureSink) BlockByHeight(context.Context, chains.Chain, int64) (chains.Block, []chains.Hash, error) {
	return chains.Block{}, nil, store.ErrNotFound
}
func (c *captureSink) Rollback(context.Context, chains.Chain, int64) error { return nil }

func (c *captureSink) LookupOutputs(_ context.Context, _ chains.Chain, ops []chains.Outpoint) ([]*chains.Output, error) {
	res := make([]*chains.Output, len(ops))
	for i, op := range ops {
		if o, ok := c.outputs[op]; ok {
			res[i] = &o
		}
	}
	return res, nil
}

func (c *captureSink) WriteBlocks(_ context.Context, _ chains.Chain, network string, blocks []store.BlockData, _ store.WriteOptions) error {
	c.batches = append(c.batches, append([]store.BlockData(nil), blocks...))
	for _, b := range blocks {
		for _, tx := range b.Txs {
			for _, o := range tx.Outputs {
				c.outputs[chains.Outpoint{Hash: tx.Hash, Index: o.Index}] = o
			}
		}
		c.meta.TipHeight, c.meta.TipHash = b.Block.Height, b.Block.Hash
	}
	c.meta.Network = network
	return nil
}

func BenchmarkWrite(b *testing.B) {
	if server == nil {
		b.Skip("no ClickHouse server")
	}
	ctx := context.Background()
	dir := synthChainB(b, 150, 200)
	sink := &captureSink{meta: store.EmptyMeta(chains.Bitcoin), outputs: map[chains.Outpoint]chains.Output{}}
	if _, err := btc.Index(ctx, sink, btc.IndexConfig{Dir: dir, BatchBlocks: 50}); err != nil {
		b.Fatal(err)
	}
	fresh := func() *clickhouse.Store {
		b.StopTimer()
		defer b.StartTimer()
		return openTest(b)
	}
	b.Run("writer", func(b *testing.B) {
		rows := 0
		for b.Loop() {
			st := fresh()
			for _, batch := range sink.batches {
				if err := st.WriteBlocks(ctx, chains.Bitcoin, "regtest", batch, store.WriteOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			rows += countRows(sink.batches)
		}
		b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("bare", func(b *testing.B) {
		rows := 0
		for b.Loop() {
			st := fresh()
			for _, batch := range sink.batches {
				n, err := st.InsertBare(ctx, chains.Bitcoin, batch)
				if err != nil {
					b.Fatal(err)
				}
				rows += n
			}
		}
		b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	})
}

// countRows counts the data rows of the batches as the bare insert does.
func countRows(batches [][]store.BlockData) int {
	n := 0
	for _, batch := range batches {
		for _, b := range batch {
			n += 2 // blocks, block_hashes
			for _, tx := range b.Txs {
				n++ // txs
				if !tx.Coinbase {
					n += len(tx.Inputs) // spends
				}
				for _, o := range tx.Outputs {
					n += 1 + len(o.Addresses) // outputs, address_history
				}
			}
		}
	}
	return n
}

// spendsRows is the size of the spender table the lookup is timed on.
const spendsRows = 10_000_000

// fakeTxid is the txid of synthetic transaction n, made on the server as
// SHA256(toString(n)) and here the same way.
func fakeTxid(n int) chains.Hash { return sha256.Sum256([]byte(strconv.Itoa(n))) }

func BenchmarkSpenders(b *testing.B) {
	if server == nil {
		b.Skip("no ClickHouse server")
	}
	ctx := context.Background()
	st := openTest(b)
	db := st.Database()
	// Two outputs per synthetic transaction: spend n spends output n%2 of
	// transaction n/2. Generated on the server: ten million rows in seconds.
	// The same rows go into the store's spenders table, into migration 1's
	// spends layout (granularity 256) and into a naive spends table with
	// ClickHouse's default granularity.
	v1 := "(chain String, prev_txid FixedString(32), prev_vout UInt32, txid FixedString(32), vin UInt32, height UInt64)"
	for _, stmt := range []string{
		fmt.Sprintf("CREATE TABLE %s.spends_naive %s ENGINE = MergeTree ORDER BY (chain, prev_txid, prev_vout)", db, v1),
		fmt.Sprintf(`INSERT INTO %s.spends_naive (chain, prev_txid, prev_vout, txid, vin, height)
			SELECT 'btc', SHA256(toString(intDiv(number, 2))), number %% 2, SHA256(concat('s', toString(number))), 0, intDiv(number, 4000)
			FROM system.numbers LIMIT %d`, db, spendsRows),
		fmt.Sprintf("CREATE TABLE %s.spends_v1 %s ENGINE = MergeTree ORDER BY (chain, prev_txid, prev_vout) SETTINGS index_granularity = 256", db, v1),
		fmt.Sprintf("INSERT INTO %s.spends_v1 SELECT * FROM %s.spends_naive", db, db),
		fmt.Sprintf("INSERT INTO %s.spenders (chain, height, entry) SELECT chain, height, %s FROM %s.spends_naive", db, clickhouse.PackSpendSQL, db),
	} {
		if err := st.Exec(ctx, stmt); err != nil {
			b.Fatal(err)
		}
	}
	for _, t := range []string{"spenders", "spends_v1", "spends_naive"} {
		if err := st.OptimizeToOnePart(ctx, t); err != nil {
			b.Fatal(err)
		}
	}
	if err := st.SetTip(ctx, chains.Bitcoin, spendsRows/4000); err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	pick := func() []chains.Outpoint {
		ops := make([]chains.Outpoint, 1000)
		for i := range ops {
			n := r.IntN(spendsRows)
			ops[i] = chains.Outpoint{Hash: fakeTxid(n / 2), Index: uint32(n % 2)}
		}
		return ops
	}
	b.Run("store", func(b *testing.B) {
		for b.Loop() {
			ops := pick()
			_, found, err := st.Spenders(ctx, chains.Bitcoin, ops)
			if err != nil {
				b.Fatal(err)
			}
			for i := range found {
				if !found[i] {
					b.Fatalf("outpoint %s not found", ops[i])
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/lookup")
	})
	for _, t := range []struct{ name, table string }{{"migration-1-layout", "spends_v1"}, {"naive-granularity", "spends_naive"}} {
		b.Run(t.name, func(b *testing.B) {
			for b.Loop() {
				if err := st.ReadSpendsTable(ctx, t.table, pick()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/lookup")
		})
	}
}
