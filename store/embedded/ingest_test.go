package embedded

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// TestIngestMatchesBatch: the same writes, committed as batches into one
// store, ingested as table files into another, and taking either path in
// turn in a third (so that ingested tables land over keys still in the
// memtable), leave the stores equal key for key and their transaction
// files equal byte for byte, before and after reopening. Among the
// writes are a txid written twice (BIP30), whose later copy must stand
// on both paths, and an output paying one address twice, whose two
// equal history keys a table, unlike a batch, cannot hold twice.
func TestIngestMatchesBatch(t *testing.T) {
	ctx := context.Background()
	blocks := busyBlocks(rand.New(rand.NewPCG(5, 5)), 9, 40, func(h int64, txs []chains.Tx, made []store.BlockData) {
		if h == 4 {
			txs[3].Hash = made[1].Txs[2].Hash
			a := chains.MakeAddress(chains.AddrKind(1), []byte("paid-twice-in-one-out"))
			txs[5].Outputs[0].Addresses = []chains.Address{a, a}
		}
	})
	for i := range blocks {
		blocks[i].Block.Size = 300 * uint32(len(blocks[i].Txs)) // ingestion is chosen by the blocks' size
	}
	dir := t.TempDir()
	open := func(name string, ingestBytes int) *Store {
		st, err := Open(filepath.Join(dir, name), Options{IngestBytes: ingestBytes})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	committed, ingested, mixed := open("batch", -1), open("ingest", 1), open("mixed", -1)
	writes := [][2]int{{0, 1}, {1, 5}, {5, 7}, {7, 9}}
	for i, w := range writes {
		mixed.ingestBytes = []int{-1, 1}[i%2]
		for _, st := range []*Store{committed, ingested, mixed} {
			if err := st.WriteBlocks(ctx, chains.Bitcoin, "regtest", blocks[w[0]:w[1]], store.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if committed.ingests != 0 || ingested.ingests != len(writes) || mixed.ingests != len(writes)/2 {
		t.Fatalf("writes ingested: %d, %d and %d; want 0, %d and %d", committed.ingests, ingested.ingests, mixed.ingests, len(writes), len(writes)/2)
	}
	compare := func() {
		t.Helper()
		want, wantFile := dumpOf(t, committed), txFileBytes(t, committed)
		for _, st := range []*Store{ingested, mixed} {
			sameStores(t, dumpOf(t, st), want)
			if got := txFileBytes(t, st); string(got) != string(wantFile) {
				t.Fatalf("%s: transaction file of %d bytes differs from the committed store's %d", st.Path(), len(got), len(wantFile))
			}
		}
	}
	compare()
	tx, err := ingested.Tx(ctx, chains.Bitcoin, blocks[1].Txs[2].Hash)
	if err != nil || tx.Height != 4 || tx.Position != 3 {
		t.Fatalf("duplicate txid reads as %d:%d, %v; want the copy at 4:3", tx.Height, tx.Position, err)
	}
	for _, st := range []*Store{committed, ingested, mixed} {
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	committed, ingested, mixed = open("batch", -1), open("ingest", 1), open("mixed", 1)
	compare()
	if _, err := os.Stat(filepath.Join(ingested.Path(), ingestDir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ingest folder left after reopening: %v", err)
	}
}

// TestBlockRecordsIngestedAtBottom: a write's block records (tables b
// and d, keyed by height) are ingested as tables of their own into the
// bottom level, even where a table there straddles their key range,
// while its history and spender entries, among keys already stored,
// land in level 0 (one sublevel of tables there, too few for Pebble to
// start a compaction, so the levels seen are those the ingestion chose).
func TestBlockRecordsIngestedAtBottom(t *testing.T) {
	ctx := context.Background()
	blocks := busyBlocks(rand.New(rand.NewPCG(8, 8)), 6, 40, nil)
	for i := range blocks {
		blocks[i].Block.Size = 300 * uint32(len(blocks[i].Txs))
	}
	st := newTestStore(t)
	// One bottom-level table for the whole store, from a batch's
	// memtable: its bounds straddle where the next write's block
	// records go.
	st.ingestBytes = -1
	mustWrite(t, st, blocks[:3]...)
	if err := st.db.Compact(ctx, []byte{0}, []byte{0xff}, false); err != nil {
		t.Fatal(err)
	}
	st.ingestBytes = 1
	mustWrite(t, st, blocks[3:]...)
	levels, err := st.db.SSTables()
	if err != nil {
		t.Fatal(err)
	}
	at := map[byte][]int{} // key table → levels of the tables holding its keys
	for level, tables := range levels {
		for _, tb := range tables {
			lo, hi := tb.Smallest.UserKey[0], tb.Largest.UserKey[0]
			for _, k := range []byte{tBlock, tLayout, tAddr, tSpender} {
				if lo <= k && k <= hi {
					at[k] = append(at[k], level)
				}
			}
		}
	}
	for _, k := range []byte{tBlock, tLayout} {
		if len(at[k]) == 0 || slices.ContainsFunc(at[k], func(l int) bool { return l != numLevels-1 }) {
			t.Errorf("table %c: held by tables at levels %v, want only the bottom one (%d)", k, at[k], numLevels-1)
		}
	}
	for _, k := range []byte{tAddr, tSpender} {
		if !slices.Contains(at[k], 0) {
			t.Errorf("table %c: held by tables at levels %v, want the new write's in level 0", k, at[k])
		}
	}
	// The store reads as one that took every write as a batch.
	want := newTestStore(t)
	want.ingestBytes = -1
	mustWrite(t, want, blocks...)
	sameStores(t, dumpOf(t, st), dumpOf(t, want))
}

// TestIngestLeftoversRemoved: table files that a crash left in the
// ingest folder, one whole but not yet ingested and one half written,
// are removed when the store is next opened for writing, and nothing of
// them is read; the blocks the whole one held are then written as usual.
func TestIngestLeftoversRemoved(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s")
	st := openAt(t, path)
	st.ingestBytes = 1
	r := rand.New(rand.NewPCG(6, 6))
	blocks := chainOf(r, 0, chains.Hash{}, 4)
	for i := range blocks {
		blocks[i].Block.Size = 1000
	}
	mustWrite(t, st, blocks[:2]...)
	before := dumpOf(t, st)
	// The next write's table, as a crash right before its ingestion
	// leaves it, and a table cut short.
	st.mu.Lock()
	tf, err := st.txFileOf(chains.Bitcoin)
	var paths []string
	if err == nil {
		m, _ := st.metaLocked(chains.Bitcoin)
		paths, err = st.writeTables(func(out batchOut) error {
			_, _, err := st.writeUTXO(ctx, st.bufs, chains.Bitcoin, &m, blocks[2:], 2000, tf.end.Load(), out)
			return err
		}, nil)
	}
	st.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	half := filepath.Join(path, ingestDir, "half.sst")
	if err := os.WriteFile(half, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st = openAt(t, path)
	st.ingestBytes = 1
	for _, p := range append(paths, half) {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("leftover %s still there after open: %v", p, err)
		}
	}
	sameStores(t, dumpOf(t, st), before)
	mustWrite(t, st, blocks[2:]...)
	if st.ingested != len(paths) {
		t.Fatalf("%d tables ingested after the reopen, want the %d written before it", st.ingested, len(paths))
	}
	want := newTestStore(t)
	want.ingestBytes = -1
	mustWrite(t, want, blocks...)
	sameStores(t, dumpOf(t, st), dumpOf(t, want))
}
