package bitcoin

// Benchmarks of decoding real mainnet blocks against the floor every
// indexer pays: btcd's wire.MsgBlock deserialization plus one txid per
// transaction (ingest/btc measures the whole index against the same
// floor). "make bench" runs them on one core. Compare runs with benchstat:
//
//	go test -run XXX -bench . -cpu 1 -count 6 ./chains/bitcoin > new.txt
//	benchstat old.txt new.txt

import (
	"testing"

	"github.com/fundtrace/fundtrace/internal/realblocks"
)

// BenchmarkFloor is btcd's bare deserialization plus txid hashing.
// cpu-ms is its processor time per op, every thread counted (the
// garbage collector's included), beside which make bench sets the
// index's.
func BenchmarkFloor(b *testing.B) {
	raws, size, txs := realblocks.LoadBench(b)
	b.SetBytes(size)
	b.ReportAllocs()
	c0 := realblocks.CPUTime()
	for b.Loop() {
		realblocks.Floor(b, raws)
	}
	b.ReportMetric(float64(realblocks.CPUTime()-c0)/float64(b.N)/1e6, "cpu-ms")
	realblocks.ReportTx(b, txs)
}

// BenchmarkDecode is fundtrace's decoder alone: txids, merkle check,
// output classification.
func BenchmarkDecode(b *testing.B) {
	raws, size, txs := realblocks.LoadBench(b)
	dec := NewDecoder()
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		for i, raw := range raws {
			if _, err := dec.Decode(raw, int64(i)); err != nil {
				b.Fatal(err)
			}
		}
	}
	realblocks.ReportTx(b, txs)
}
