package embedded_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/store/embedded"
)

// readBenchStore writes 200 blocks of 500 random transactions (two
// inputs, three outputs each) into a new store, flushed, and returns it
// with every txid.
func readBenchStore(b *testing.B) (*embedded.Store, []chains.Hash) {
	b.Helper()
	st, err := embedded.Open(filepath.Join(b.TempDir(), "s"), embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	r := rand.New(rand.NewPCG(1, 2))
	hash := func() (h chains.Hash) {
		for i := range h {
			h[i] = byte(r.Uint32())
		}
		return h
	}
	addr := func() chains.Address {
		h := hash()
		return chains.MakeAddress(chains.KindWitnessV0KH, h[:20])
	}
	var ids []chains.Hash
	var prev chains.Hash
	for height := range int64(200) {
		bd := store.BlockData{Block: chains.Block{Chain: chains.Bitcoin, Height: height, Hash: hash(), PrevHash: prev, Time: 1e9 + height}}
		for pos := range uint32(500) {
			tx := chains.Tx{Chain: chains.Bitcoin, Hash: hash(), Height: height, Position: pos, Size: 250, VSize: 150}
			for i := range uint32(2) {
				tx.Inputs = append(tx.Inputs, chains.Input{Index: i, Prev: chains.Outpoint{Hash: hash()},
					Prevout: chains.Output{Value: 1000, Type: chains.ScriptWitnessV0KH, Addresses: []chains.Address{addr()}}})
			}
			for i := range uint32(3) {
				tx.Outputs = append(tx.Outputs, chains.Output{Index: i, Value: 500, Type: chains.ScriptWitnessV0KH, Addresses: []chains.Address{addr()}})
			}
			bd.Txs = append(bd.Txs, tx)
			ids = append(ids, tx.Hash)
		}
		bd.Block.TxCount = uint32(len(bd.Txs))
		if err := st.WriteBlocks(context.Background(), chains.Bitcoin, "regtest", []store.BlockData{bd}, store.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
		prev = bd.Block.Hash
	}
	if err := st.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	return st, ids
}

// BenchmarkTx reads transactions by txid at random from a store of
// 100,000, as the tracer does hop by hop.
func BenchmarkTx(b *testing.B) {
	st, ids := readBenchStore(b)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 4))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Tx(ctx, chains.Bitcoin, ids[r.IntN(len(ids))]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLookupOutputs resolves 1,000 random outpoints at once, as the
// indexer does for the inputs its output cache misses.
func BenchmarkLookupOutputs(b *testing.B) {
	st, ids := readBenchStore(b)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(5, 6))
	ops := make([]chains.Outpoint, 1000)
	b.ReportAllocs()
	for b.Loop() {
		for i := range ops {
			ops[i] = chains.Outpoint{Hash: ids[r.IntN(len(ids))], Index: uint32(r.IntN(3))}
		}
		outs, err := st.LookupOutputs(ctx, chains.Bitcoin, ops)
		if err != nil || outs[0] == nil {
			b.Fatal(outs[0], err)
		}
	}
}
