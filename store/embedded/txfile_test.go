package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// chainOf returns n blocks from height from on, after prev, of a few
// random transactions each.
func chainOf(r *rand.Rand, from int64, prev chains.Hash, n int) []store.BlockData {
	var bs []store.BlockData
	for h := from; h < from+int64(n); h++ {
		txs := []chains.Tx{coinbasePaying(h, chains.MakeAddress(chains.KindPubKeyHash, make([]byte, 20)))}
		for range 1 + r.IntN(6) {
			txs = append(txs, randTx(r, h))
		}
		b := block(h, prev, txs...)
		bs, prev = append(bs, b), b.Block.Hash
	}
	return bs
}

func dumpOf(t *testing.T, st *Store) map[string]string {
	t.Helper()
	// Counted, as at the end of an index run: whether a write left the
	// address count to the run's end depends on how the blocks were
	// split into writes (countLater), which stores compared may differ in.
	if err := st.SettleCounts(context.Background(), chains.Bitcoin); err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	if err := st.Dump(context.Background(), func(k, v []byte) error { m[string(k)] = string(v); return nil }); err != nil {
		t.Fatal(err)
	}
	return m
}

func sameStores(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("store holds %d keys, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("stores differ at key %x", k)
		}
	}
}

func txFileBytes(t *testing.T, st *Store) []byte {
	t.Helper()
	b, err := os.ReadFile(txFilePath(st.Path(), chains.Bitcoin))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTxFileUncommittedTail: bytes past the committed end of the
// transaction file (a write killed before its batch committed) are cut
// off when the store is opened, and the store then ends as one that was
// never interrupted, file included.
func TestTxFileUncommittedTail(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	blocks := chainOf(r, 0, chains.Hash{}, 6)
	path := filepath.Join(t.TempDir(), "s")
	st := openAt(t, path)
	mustWrite(t, st, blocks[:3]...)
	st.Close()
	f, err := os.OpenFile(txFilePath(path, chains.Bitcoin), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(bytes.Repeat([]byte{0xee}, 1<<16)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	st = openAt(t, path)
	mustWrite(t, st, blocks[3:]...)
	whole := newTestStore(t)
	mustWrite(t, whole, blocks...)
	sameStores(t, dumpOf(t, st), dumpOf(t, whole))
	if a, b := txFileBytes(t, st), txFileBytes(t, whole); !bytes.Equal(a, b) {
		t.Fatalf("transaction file of %d bytes, want the %d of an uninterrupted write", len(a), len(b))
	}
}

// TestTxFileDamage: a transaction file shorter than the store committed,
// or a record whose bytes changed, is an error naming the file, never a
// transaction made of other bytes.
func TestTxFileDamage(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(5, 5))
	blocks := chainOf(r, 0, chains.Hash{}, 3)
	last := blocks[2].Txs[len(blocks[2].Txs)-1].Hash
	first := blocks[0].Txs[1].Hash
	for _, c := range []struct {
		name   string
		damage func(b []byte) []byte
		want   string
	}{
		{"short", func(b []byte) []byte { return b[:len(b)-5] }, "records were lost"},
		{"flipped", func(b []byte) []byte { b[len(b)-3] ^= 1; return b }, "fails its checksum"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s")
			st := openAt(t, path)
			mustWrite(t, st, blocks...)
			st.Close()
			fp := txFilePath(path, chains.Bitcoin)
			b, err := os.ReadFile(fp)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(fp, c.damage(b), 0o644); err != nil {
				t.Fatal(err)
			}
			st = openAt(t, path)
			if c.name == "short" {
				next := chainOf(r, 3, blocks[2].Block.Hash, 1)
				err := st.WriteBlocks(ctx, chains.Bitcoin, "regtest", next, store.WriteOptions{})
				if !strings.Contains(fmt.Sprint(err), c.want) {
					t.Fatalf("write onto a short file: %v, want an error saying %s", err, c.want)
				}
			}
			_, err = st.Tx(ctx, chains.Bitcoin, last)
			var ce *store.CorruptError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), fp) {
				t.Fatalf("got %v, want a CorruptError naming %s: %s", err, fp, c.want)
			}
			if c.name == "flipped" {
				if _, err := st.Tx(ctx, chains.Bitcoin, first); err != nil {
					t.Fatalf("an undamaged record: %v", err)
				}
			}
		})
	}
}

// TestUpgradeFrom3: a schema 3 store kept a UTXO chain's transactions in
// table t. Opened by schema 4 it keeps them there and reads them as
// before; new blocks' go to the transaction file; a rollback into the
// old blocks removes their records from t; and the store then ends as a
// schema 4 index of the same blocks, each transaction's record in one
// place or the other.
func TestUpgradeFrom3(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(6, 6))
	blocks := chainOf(r, 0, chains.Hash{}, 8)
	path := filepath.Join(t.TempDir(), "s")
	st := openAt(t, path)
	mustWrite(t, st, blocks[:5]...)
	want := map[chains.Hash]*chains.Tx{}
	for _, b := range blocks[:5] {
		for _, tx := range b.Txs {
			got, err := st.Tx(ctx, chains.Bitcoin, tx.Hash)
			if err != nil {
				t.Fatal(err)
			}
			want[tx.Hash] = got
		}
	}
	// What schema 3 wrote instead: each record in table t, no pointers,
	// no layouts, no file end, no file.
	legacy := map[string][]byte{}
	lo := keyPrefix(nil, tTxPtr, chains.Bitcoin)
	it, err := st.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		t.Fatal(err)
	}
	var ptrs [][]byte
	for it.First(); it.Valid(); it.Next() {
		h := chains.Hash(it.Key()[2:])
		rec, _, _, err := st.txRecord(chains.Bitcoin, h)
		if err != nil {
			t.Fatal(err)
		}
		legacy[string(txKey(nil, chains.Bitcoin, h))] = bytes.Clone(rec) // rec is in the file's mapping, gone at Close
		ptrs = append(ptrs, bytes.Clone(it.Key()))
	}
	it.Close()
	for h := range int64(5) {
		ptrs = append(ptrs, layoutKey(nil, chains.Bitcoin, h))
	}
	for _, k := range append(ptrs, txEndKey(chains.Bitcoin)) {
		if err := st.db.Delete(k, pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	if err := os.Remove(txFilePath(path, chains.Bitcoin)); err != nil {
		t.Fatal(err)
	}
	st = openAt(t, path)
	st = reopenAs(t, st, path, 3, legacy)

	for h, tx := range want {
		got, err := st.Tx(ctx, chains.Bitcoin, h)
		if err != nil || !reflect.DeepEqual(got, tx) {
			t.Fatalf("tx %s after the upgrade: %v, %v; want %v", h, got, err, tx)
		}
	}
	spent := blocks[4].Txs[1]
	outs, err := st.LookupOutputs(ctx, chains.Bitcoin, []chains.Outpoint{{Hash: spent.Hash, Index: 0}, {Hash: blocks[4].Txs[0].Hash}, {Hash: chains.Hash{9}}})
	if err != nil || outs[0] == nil || outs[0].Value != spent.Outputs[0].Value || outs[1] == nil || outs[2] != nil {
		t.Fatalf("outputs of old transactions: %v, %v", outs, err)
	}

	mustWrite(t, st, blocks[5:7]...)
	if err := st.Rollback(ctx, chains.Bitcoin, 3); err != nil {
		t.Fatal(err)
	}
	for _, tx := range blocks[4].Txs {
		if _, err := st.Tx(ctx, chains.Bitcoin, tx.Hash); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("tx %s of a rolled-back old block: %v, want ErrNotFound", tx.Hash, err)
		}
	}
	if end, err := st.committedEnd(chains.Bitcoin); err != nil || end != 0 {
		t.Fatalf("transaction file ends at %d (%v) after the rollback of every block written to it", end, err)
	}
	mustWrite(t, st, blocks[4:]...)

	fresh := newTestStore(t)
	mustWrite(t, fresh, blocks...)
	st.Close()
	st = openAt(t, path) // which cuts off what the rollback left past the end
	got := dumpOf(t, st)
	for k, v := range got {
		if k[0] == tTx { // an old block's record, where a fresh index points at it
			delete(got, k)
			got[string(txPtrKey(nil, chains.Bitcoin, chains.Hash([]byte(k[2:]))))] = v
		}
	}
	// Blocks 0..3 stay in table t, so the file holds blocks 4..7 only,
	// and its end is all that differs.
	end := string(txEndKey(chains.Bitcoin))
	n, all := len(txFileBytes(t, st)), len(txFileBytes(t, fresh))
	if n == 0 || n >= all || got[end] != string(binary.AppendUvarint(nil, uint64(n))) {
		t.Fatalf("transaction file of %d bytes (end recorded %x), a fresh index's %d", n, got[end], all)
	}
	delete(got, end)
	wantDump := dumpOf(t, fresh)
	delete(wantDump, end)
	for h := range int64(4) { // in table t, read through their txids
		delete(wantDump, string(layoutKey(nil, chains.Bitcoin, h)))
	}
	sameStores(t, got, wantDump)
}

// TestTxFileReadsDuringWrites reads committed transactions from several
// goroutines while blocks are written one by one, with mappings of the
// transaction file small enough (where files are mapped) that the file
// outgrows them again and again: every read returns the transaction
// written.
func TestTxFileReadsDuringWrites(t *testing.T) {
	defer func(n int) { minMapping = n }(minMapping)
	minMapping = 4096
	ctx := context.Background()
	st := newTestStore(t)
	blocks := chainOf(rand.New(rand.NewPCG(8, 8)), 0, chains.Hash{}, 60)
	var committed atomic.Int64 // blocks written
	done := make(chan struct{})
	errs := make(chan error, 4)
	for g := range 4 {
		go func() {
			r := rand.New(rand.NewPCG(uint64(g), 9))
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				n := committed.Load()
				if n == 0 {
					continue
				}
				b := blocks[r.Int64N(n)]
				w := b.Txs[r.IntN(len(b.Txs))]
				got, err := st.Tx(ctx, chains.Bitcoin, w.Hash)
				if err == nil && (got.Height != w.Height || got.Position != w.Position || len(got.Outputs) != len(w.Outputs) || len(got.Inputs) != len(w.Inputs)) {
					err = fmt.Errorf("tx %s read as %d:%d", w.Hash, got.Height, got.Position)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range blocks {
		mustWrite(t, st, blocks[i])
		committed.Store(int64(i + 1))
	}
	close(done)
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if len(txFileBytes(t, st)) < 4*minMapping {
		t.Fatalf("the file (%d bytes) never outgrew a mapping of %d", len(txFileBytes(t, st)), minMapping)
	}
}

// TestTxFileReadOnly: a store opened read-only reads its transactions
// and leaves the file as it is, bytes past the committed end included;
// opened for writing, it cuts them off.
func TestTxFileReadOnly(t *testing.T) {
	ctx := context.Background()
	blocks := chainOf(rand.New(rand.NewPCG(10, 10)), 0, chains.Hash{}, 3)
	path := filepath.Join(t.TempDir(), "s")
	st := openAt(t, path)
	mustWrite(t, st, blocks...)
	committed := len(txFileBytes(t, st))
	st.Close()
	fp := txFilePath(path, chains.Bitcoin)
	f, err := os.OpenFile(fp, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(make([]byte, 100))
	f.Close()
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	w := blocks[2].Txs[1]
	tx, err := ro.Tx(ctx, chains.Bitcoin, w.Hash)
	if err != nil || tx.Height != 2 || tx.Position != 1 {
		t.Fatalf("read-only: %v, %v", tx, err)
	}
	// A write is refused, ingested or not, and leaves no file behind.
	ro.ingestBytes = 1
	more := chainOf(rand.New(rand.NewPCG(11, 11)), 3, blocks[2].Block.Hash, 1)
	more[0].Block.Size = 1000
	if err := ro.WriteBlocks(ctx, chains.Bitcoin, "regtest", more, store.WriteOptions{}); !errors.Is(err, pebble.ErrReadOnly) {
		t.Fatalf("read-only store took a write: %v", err)
	}
	if _, err := os.Stat(filepath.Join(path, ingestDir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused write left the ingest folder: %v", err)
	}
	ro.Close()
	if fi, err := os.Stat(fp); err != nil || fi.Size() != int64(committed+100) {
		t.Fatalf("read-only open changed the file: %v, %v", fi.Size(), err)
	}
	st = openAt(t, path)
	if n := len(txFileBytes(t, st)); n != committed {
		t.Fatalf("opened for writing, the file keeps %d bytes, want the %d committed", n, committed)
	}
}

// eachTxOf returns what EachTx hands out for blocks from..to.
func eachTxOf(t *testing.T, st *Store, from, to int64) ([]chains.Tx, error) {
	t.Helper()
	var got []chains.Tx
	err := st.EachTx(context.Background(), chains.Bitcoin, from, to, func(tx *chains.Tx) error {
		got = append(got, *tx)
		return nil
	})
	return got, err
}

// sameTxs fails unless got is, in order, every transaction of the blocks
// from..to among blocks (which start at height 0), field for field.
func sameTxs(t *testing.T, what string, got []chains.Tx, blocks []store.BlockData, from, to int64) {
	t.Helper()
	var want []chains.Tx
	for _, b := range blocks[from : to+1] {
		want = append(want, b.Txs...)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d transactions, want %d", what, len(got), len(want))
	}
	for i := range want {
		want[i].Chain = chains.Bitcoin // the test's blocks leave it out
		// Printed, a nil list of addresses is an empty one.
		if fmt.Sprintf("%+v", got[i]) != fmt.Sprintf("%+v", want[i]) {
			t.Fatalf("%s: transaction %d is %s at %d:%d, want %s at %d:%d (or its fields differ)", what, i, got[i].Hash, got[i].Height, got[i].Position, want[i].Hash, want[i].Height, want[i].Position)
		}
	}
}

// TestEachTxLayouts: EachTx reads a block's transactions by its layout
// record where it has one and through their pointers where it has none
// (a block written by schema 5), the same transactions in chain order
// either way and across the boundary; a rollback removes the layouts of
// the blocks it removes, and the blocks written in their place are read
// by theirs; a damaged file, or a layout that does not match its block,
// is an error naming what is damaged, never other transactions.
func TestEachTxLayouts(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 7))
	blocks := chainOf(r, 0, chains.Hash{}, 12)
	path := filepath.Join(t.TempDir(), "s")
	st := openAt(t, path)
	mustWrite(t, st, blocks[:4]...)
	mustWrite(t, st, blocks[4:8]...)
	got, err := eachTxOf(t, st, 0, 7)
	if err != nil {
		t.Fatal(err)
	}
	sameTxs(t, "by layouts", got, blocks, 0, 7)

	// Schema 5 wrote no layouts: blocks 0..5 lose theirs, and the store
	// is opened as a schema 5 one, which the upgrade only marks.
	for h := range int64(6) {
		if err := st.db.Delete(layoutKey(nil, chains.Bitcoin, h), pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	st = reopenAs(t, st, path, 5, nil)
	mustWrite(t, st, blocks[8:10]...)
	for _, rg := range [][2]int64{{0, 9}, {3, 8}, {6, 9}, {0, 2}} {
		got, err := eachTxOf(t, st, rg[0], rg[1])
		if err != nil {
			t.Fatal(err)
		}
		sameTxs(t, fmt.Sprintf("blocks %d..%d, 0..5 without layouts", rg[0], rg[1]), got, blocks, rg[0], rg[1])
	}

	// A reorganisation: blocks 7..9 go, others take their place.
	if err := st.Rollback(ctx, chains.Bitcoin, 6); err != nil {
		t.Fatal(err)
	}
	for h := int64(7); h <= 9; h++ {
		if _, closer, err := st.db.Get(layoutKey(nil, chains.Bitcoin, h)); err == nil {
			closer.Close()
			t.Fatalf("block %d's layout outlived its rollback", h)
		}
	}
	fork := append(slices.Clone(blocks[:7]), chainOf(r, 7, blocks[6].Block.Hash, 5)...)
	mustWrite(t, st, fork[7:]...)
	got, err = eachTxOf(t, st, 0, 11)
	if err != nil {
		t.Fatal(err)
	}
	sameTxs(t, "after a reorganisation", got, fork, 0, 11)
	st.Close()

	damaged := func(t *testing.T, want string, damage func(st *Store)) {
		t.Helper()
		c := filepath.Join(t.TempDir(), "copy")
		copyStore(t, path, c)
		st := openAt(t, c)
		damage(st)
		var n int
		err := st.EachTx(ctx, chains.Bitcoin, 0, 11, func(tx *chains.Tx) error {
			n++
			return nil
		})
		var ce *store.CorruptError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), want) {
			t.Fatalf("EachTx of a damaged store: %v after %d transactions, want a CorruptError saying %q", err, n, want)
		}
	}
	// Block 10's records: by layout.
	lay := func(st *Store, h int64) blockLayout {
		v, closer, err := st.db.Get(layoutKey(nil, chains.Bitcoin, h))
		if err != nil {
			t.Fatal(err)
		}
		defer closer.Close()
		l, err := decodeLayout(v, nil)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	t.Run("flipped", func(t *testing.T) {
		damaged(t, "fail their checksum", func(st *Store) {
			l := lay(st, 10)
			f, err := os.OpenFile(txFilePath(st.Path(), chains.Bitcoin), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			b := []byte{0}
			f.ReadAt(b, int64(l.off+l.size()/2))
			b[0] ^= 0x10
			if _, err := f.WriteAt(b, int64(l.off+l.size()/2)); err != nil {
				t.Fatal(err)
			}
		})
	})
	t.Run("count", func(t *testing.T) {
		damaged(t, "records for the block's", func(st *Store) {
			l := lay(st, 10)
			v := appendLayout(nil, l.off, l.crc, l.lens[1:])
			st.db.Set(layoutKey(nil, chains.Bitcoin, 10), v, pebble.Sync)
		})
	})
	t.Run("past the end", func(t *testing.T) {
		damaged(t, "past the end committed", func(st *Store) {
			l := lay(st, 11)
			v := appendLayout(nil, l.off+1<<20, l.crc, l.lens)
			st.db.Set(layoutKey(nil, chains.Bitcoin, 11), v, pebble.Sync)
		})
	})
}

func copyStore(t *testing.T, from, to string) {
	t.Helper()
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(to, "LOCK"))
}
