package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/internal/txcodec"
	"github.com/fundtrace/fundtrace/store"
)

func fill(r *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(r.Uint32())
	}
}

func randTx(r *rand.Rand, height int64) chains.Tx {
	tx := chains.Tx{Chain: chains.Bitcoin, Height: height, Position: uint32(r.IntN(100)), Time: r.Int64N(2e9),
		Version: int32(r.IntN(3)), LockTime: r.Uint32(), Size: uint32(r.IntN(1e5)), VSize: uint32(r.IntN(1e5))}
	fill(r, tx.Hash[:])
	addr := func() chains.Address {
		b := make([]byte, 20+12*r.IntN(2))
		fill(r, b)
		return chains.MakeAddress(chains.AddrKind(1+r.IntN(7)), b)
	}
	for i := range 1 + r.IntN(4) {
		in := chains.Input{Index: uint32(i), Sequence: r.Uint32()}
		fill(r, in.Prev.Hash[:])
		in.Prev.Index = uint32(r.IntN(10))
		in.Prevout = chains.Output{Index: in.Prev.Index, Value: r.Int64N(21e14), Type: chains.ScriptType(r.IntN(10)), Addresses: []chains.Address{addr()}}
		tx.Inputs = append(tx.Inputs, in)
	}
	for i := range 1 + r.IntN(5) {
		o := chains.Output{Index: uint32(i), Value: r.Int64N(21e14), Type: chains.ScriptType(r.IntN(10))}
		for range r.IntN(4) {
			o.Addresses = append(o.Addresses, addr())
		}
		tx.Outputs = append(tx.Outputs, o)
	}
	return tx
}

// decodeTxOutput decodes output vout of a transaction value alone.
func decodeTxOutput(v []byte, vout uint32) (o chains.Output, ok bool, err error) {
	var a addrArena
	ok, err = txcodec.DecodeOutput(v, vout, &o, &a)
	a.Fill()
	return o, ok, err
}

// TestTxCodecRoundTrip: what is encoded decodes to the same transaction,
// and every output can be read alone.
func TestTxCodecRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for range 500 {
		tx := randTx(r, r.Int64N(1e6))
		v := txcodec.AppendTx(nil, &tx)
		got, err := txcodec.DecodeTx(chains.Bitcoin, tx.Hash, v)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*got, tx) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", *got, tx)
		}
		for i, o := range tx.Outputs {
			one, ok, err := decodeTxOutput(v, uint32(i))
			if err != nil || !ok || !reflect.DeepEqual(one, o) {
				t.Fatalf("output %d: %+v %v %v, want %+v", i, one, ok, err, o)
			}
		}
		if _, ok, _ := decodeTxOutput(v, uint32(len(tx.Outputs))); ok {
			t.Fatal("found an output past the last")
		}
		for cut := 0; cut < len(v); cut += 1 + len(v)/7 {
			if _, err := txcodec.DecodeTx(chains.Bitcoin, tx.Hash, v[:cut]); err == nil {
				t.Fatalf("decoded a record cut at %d of %d bytes", cut, len(v))
			}
		}
	}
}

func block(height int64, prev chains.Hash, txs ...chains.Tx) store.BlockData {
	b := store.BlockData{Block: chains.Block{Chain: chains.Bitcoin, Height: height, PrevHash: prev, Time: 1e9 + height}, Txs: txs}
	b.Block.Hash[0], b.Block.Hash[1] = byte(height), 0xbb
	b.Block.TxCount = uint32(len(txs))
	for i := range b.Txs {
		b.Txs[i].Height, b.Txs[i].Position = height, uint32(i)
	}
	return b
}

// newTestStore opens a new store in a temporary folder, closed at the
// end of the test.
func newTestStore(t *testing.T) *Store {
	return openAt(t, filepath.Join(t.TempDir(), "s"))
}

// openAt opens the store at path, closed at the end of the test (closing
// it sooner, to open it again, is harmless).
func openAt(t *testing.T, path string) *Store {
	t.Helper()
	return openWith(t, path, Options{})
}

// openWith is openAt with options.
func openWith(t *testing.T, path string, o Options) *Store {
	t.Helper()
	st, err := Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// mustWrite writes regtest blocks, failing the test if the store refuses.
func mustWrite(t *testing.T, st *Store, blocks ...store.BlockData) {
	t.Helper()
	if err := st.WriteBlocks(context.Background(), chains.Bitcoin, "regtest", blocks, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestWriteBlocksRules(t *testing.T) {
	ctx := context.Background()
	st := newTestStore(t)
	r := rand.New(rand.NewPCG(2, 2))
	b0 := block(0, chains.Hash{}, randTx(r, 0))
	mustWrite(t, st, b0)
	for name, blocks := range map[string][]store.BlockData{
		"gap":                  {block(2, b0.Block.Hash, randTx(r, 2))},
		"wrong parent":         {block(1, chains.Hash{9}, randTx(r, 1))},
		"repeat":               {b0},
		"second half is a gap": {block(1, b0.Block.Hash, randTx(r, 1)), block(3, chains.Hash{}, randTx(r, 3))},
	} {
		if err := st.WriteBlocks(ctx, chains.Bitcoin, "regtest", blocks, store.WriteOptions{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := st.WriteBlocks(ctx, chains.Bitcoin, "mainnet", []store.BlockData{block(1, b0.Block.Hash)}, store.WriteOptions{}); err == nil {
		t.Error("accepted another network")
	}
	m, _ := st.Meta(ctx, chains.Bitcoin)
	if m.TipHeight != 0 || m.Blocks != 1 || m.Txs != 1 {
		t.Errorf("a refused write changed the store: %+v", m)
	}
	if _, _, err := st.BlockByHeight(ctx, chains.Bitcoin, 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("block 1 after refused writes: %v", err)
	}
}

// coinbasePaying is a coinbase at height h paying 1 sat to each of as.
func coinbasePaying(h int64, as ...chains.Address) chains.Tx {
	t := chains.Tx{Coinbase: true, Inputs: []chains.Input{{Coinbase: true}}}
	t.Hash[0], t.Hash[1] = byte(h), byte(len(as))
	for i, x := range as {
		t.Outputs = append(t.Outputs, chains.Output{Index: uint32(i), Value: 1, Addresses: []chains.Address{x}})
	}
	return t
}

// TestAddressesCounted: distinct addresses are counted once, whether
// they repeat within a write, across writes or after reopening.
func TestAddressesCounted(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s")
	st := openAt(t, path)
	a := chains.MakeAddress(chains.KindPubKeyHash, make([]byte, 20))
	bAddr := chains.MakeAddress(chains.KindTaproot, make([]byte, 32))
	tx := coinbasePaying
	b0 := block(0, chains.Hash{}, tx(0, a, a))
	b1 := block(1, b0.Block.Hash, tx(1, a, bAddr))
	mustWrite(t, st, b0, b1)
	st.Close()
	st = openAt(t, path)
	b2 := block(2, b1.Block.Hash, tx(2, bAddr, a))
	mustWrite(t, st, b2)
	m, _ := st.Meta(ctx, chains.Bitcoin)
	if m.Addresses != 2 || m.Outputs != 6 {
		t.Errorf("addresses %d outputs %d, want 2 and 6", m.Addresses, m.Outputs)
	}
	if h, _ := st.FirstSeen(ctx, chains.Bitcoin, bAddr); h != 1 {
		t.Errorf("first seen %d, want 1", h)
	}
	hist, err := st.AddressHistory(ctx, chains.Bitcoin, a, 0)
	if err != nil || len(hist) != 4 {
		t.Errorf("history of a: %d entries, %v", len(hist), err)
	}
}

func TestSchemaTooNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	st := openAt(t, path)
	if err := st.db.Set(schemaKey, binary.AppendUvarint(nil, schemaVersion+1), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, err := Open(path, Options{}); !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("got %v, want ErrSchemaTooNew", err)
	}
}

func TestCorruptRecord(t *testing.T) {
	st := newTestStore(t)
	h := chains.Hash{1}
	if err := st.db.Set(txKey(nil, chains.Bitcoin, h), []byte{1, 2, 3}, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	_, err := st.Tx(context.Background(), chains.Bitcoin, h)
	var ce *store.CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a CorruptError", err)
	}
}

// reopenAs makes the store st at path look written by schema version:
// it sets records (what that version wrote differently) and the version,
// then opens the store again, which must upgrade it to schemaVersion.
func reopenAs(t *testing.T, st *Store, path string, version uint64, records map[string][]byte) *Store {
	t.Helper()
	for k, v := range records {
		if err := st.db.Set([]byte(k), v, pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.db.Set(schemaKey, binary.AppendUvarint(nil, version), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st = openAt(t, path)
	if v, err := st.SchemaVersion(context.Background()); err != nil || v != schemaVersion {
		t.Fatalf("schema %d, %v; want %d", v, err, schemaVersion)
	}
	return st
}

// TestUpgradeFrom1: a schema 1 store (first-seen records for Bitcoin
// addresses) opened for writing loses those records, reads first-seen
// heights from the history instead, and counts on as before.
func TestUpgradeFrom1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s")
	st := openAt(t, path)
	a := chains.MakeAddress(chains.KindPubKeyHash, make([]byte, 20))
	b := chains.MakeAddress(chains.KindTaproot, make([]byte, 32))
	cb := coinbasePaying
	b0 := block(0, chains.Hash{}, cb(0, a))
	b1 := block(1, b0.Block.Hash, cb(1, a, b))
	mustWrite(t, st, b0, b1)
	// What version 1 wrote besides: a first-seen record per address.
	st = reopenAs(t, st, path, 1, map[string][]byte{
		string(firstSeenKey(nil, chains.Bitcoin, a)): binary.AppendUvarint(nil, 0),
		string(firstSeenKey(nil, chains.Bitcoin, b)): binary.AppendUvarint(nil, 1),
	})
	lo := keyPrefix(nil, tFirstSeen, chains.Bitcoin)
	it, err := st.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		t.Fatal(err)
	}
	if it.First() {
		t.Errorf("first-seen record %x left after the upgrade", it.Key())
	}
	it.Close()
	for _, r := range []struct {
		a chains.Address
		h int64
	}{{a, 0}, {b, 1}} {
		if h, err := st.FirstSeen(ctx, chains.Bitcoin, r.a); err != nil || h != r.h {
			t.Errorf("first seen %d, %v; want %d", h, err, r.h)
		}
	}
	b2 := block(2, b1.Block.Hash, cb(2, b, a))
	mustWrite(t, st, b2)
	if m, _ := st.Meta(ctx, chains.Bitcoin); m.Addresses != 2 {
		t.Errorf("%d addresses, want 2", m.Addresses)
	}
}

// TestLookupOutputs asks for many outpoints at once, in random order:
// several of one transaction, transactions whose hashes share their first
// bytes (the seek order's key), unknown transactions and indexes past the
// last output. Each answer must be the output written, or nil.
func TestLookupOutputs(t *testing.T) {
	ctx := context.Background()
	st := newTestStore(t)
	r := rand.New(rand.NewPCG(7, 7))
	var txs []chains.Tx
	for i := range 300 {
		tx := randTx(r, 0)
		if i%3 == 1 {
			copy(tx.Hash[:3], txs[0].Hash[:3]) // shares the seek order's bytes with the first
		}
		if i%5 == 0 {
			tx.Hash[3] = 0 // and some share a fourth
		}
		txs = append(txs, tx)
	}
	mustWrite(t, st, block(0, chains.Hash{}, txs...))
	var ops []chains.Outpoint
	var want []*chains.Output
	for i := range txs {
		tx := &txs[i]
		for j := range len(tx.Outputs) + 1 { // one past the last
			op := chains.Outpoint{Hash: tx.Hash, Index: uint32(j)}
			var w *chains.Output
			if j < len(tx.Outputs) {
				w = &tx.Outputs[j]
			}
			ops, want = append(ops, op), append(want, w)
		}
		unknown := tx.Hash
		unknown[31] ^= 1
		ops, want = append(ops, chains.Outpoint{Hash: unknown}), append(want, nil)
	}
	perm := r.Perm(len(ops))
	shuffled, wantShuffled := make([]chains.Outpoint, len(ops)), make([]*chains.Output, len(ops))
	for i, p := range perm {
		shuffled[i], wantShuffled[i] = ops[p], want[p]
	}
	got, err := st.LookupOutputs(ctx, chains.Bitcoin, shuffled)
	if err != nil {
		t.Fatal(err)
	}
	for i := range shuffled {
		switch w, g := wantShuffled[i], got[i]; {
		case w == nil && g != nil:
			t.Errorf("%s: found %+v, want none", shuffled[i], *g)
		case w != nil && (g == nil || !reflect.DeepEqual(*g, *w)):
			t.Errorf("%s: got %v, want %+v", shuffled[i], g, *w)
		}
	}
}

// TestWriteRepeatedKey: a transaction hash that comes twice in one write
// (as the BIP30 coinbases did on mainnet) is stored as its later copy,
// whatever else the write holds.
func TestWriteRepeatedKey(t *testing.T) {
	ctx := context.Background()
	st := newTestStore(t)
	r := rand.New(rand.NewPCG(3, 3))
	first, second := randTx(r, 0), randTx(r, 1)
	second.Hash = first.Hash
	b0 := block(0, chains.Hash{}, randTx(r, 0), first, randTx(r, 0))
	b1 := block(1, b0.Block.Hash, randTx(r, 1), second)
	mustWrite(t, st, b0, b1)
	got, err := st.Tx(ctx, chains.Bitcoin, first.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if got.Height != 1 || got.Position != 1 || !reflect.DeepEqual(got.Outputs, b1.Txs[1].Outputs) {
		t.Fatalf("got the copy at %d:%d, want the later one at 1:1", got.Height, got.Position)
	}
}

// TestSchema2Records: spender and history records as schema 2 wrote them
// (led by the txid) read the same as those schema 3 writes (by height
// and position), side by side in one store, and opening a schema 2 store
// for writing raises its version without rewriting them.
func TestSchema2Records(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s")
	st := openAt(t, path)
	a := chains.MakeAddress(chains.KindPubKeyHash, make([]byte, 20))
	b := chains.MakeAddress(chains.KindWitnessV0KH, []byte("bbbbbbbbbbbbbbbbbbbb"))
	cb0 := coinbasePaying(0, a)
	b0 := block(0, chains.Hash{}, cb0)
	pay := chains.Tx{Hash: chains.Hash{0xaa, 1},
		Inputs:  []chains.Input{{Prev: chains.Outpoint{Hash: cb0.Hash}, Prevout: cb0.Outputs[0]}},
		Outputs: []chains.Output{{Index: 0, Value: 5, Type: chains.ScriptWitnessV0KH, Addresses: []chains.Address{b}}}}
	b1 := block(1, b0.Block.Hash, coinbasePaying(1), pay)
	mustWrite(t, st, b0, b1)

	// Replace the records of block 0's payment to a, of its spender and
	// of the payment to b with what schema 2 wrote: txid, value, type;
	// txid, vin, height.
	old := map[string][]byte{
		string(addrKey(nil, chains.Bitcoin, a, 0, 0, 0)):                                    append(cb0.Hash[:], 1, 0),
		string(addrKey(nil, chains.Bitcoin, b, 1, 1, 0)):                                    append(pay.Hash[:], 5, byte(chains.ScriptWitnessV0KH)),
		string(outpointKey(nil, tSpender, chains.Bitcoin, chains.Outpoint{Hash: cb0.Hash})): append(pay.Hash[:], 0, 1),
	}
	st = reopenAs(t, st, path, 2, old)
	for k, v := range old {
		got, closer, err := st.db.Get([]byte(k))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, v) {
			t.Errorf("record %x rewritten by the upgrade", k)
		}
		closer.Close()
	}
	// Block 2 (schema 3 records) pays a again and spends b's output.
	spendB := chains.Tx{Hash: chains.Hash{0xaa, 2},
		Inputs:  []chains.Input{{Prev: chains.Outpoint{Hash: pay.Hash}, Prevout: pay.Outputs[0]}},
		Outputs: []chains.Output{{Index: 0, Value: 4, Type: chains.ScriptPubKeyHash, Addresses: []chains.Address{a}}}}
	b2 := block(2, b1.Block.Hash, coinbasePaying(2), spendB)
	mustWrite(t, st, b2)

	type row struct {
		height      int64
		pos         uint32
		tx          chains.Hash
		value       int64
		spentBy     chains.Hash
		spentHeight int64
	}
	for _, c := range []struct {
		a    chains.Address
		want []row
	}{
		{a, []row{{0, 0, cb0.Hash, 1, pay.Hash, 1}, {2, 1, spendB.Hash, 4, chains.Hash{}, 0}}},
		{b, []row{{1, 1, pay.Hash, 5, spendB.Hash, 2}}},
	} {
		hist, err := st.AddressHistory(ctx, chains.Bitcoin, c.a, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []row
		for _, e := range hist {
			got = append(got, row{e.Height, e.TxPos, e.TxHash, e.Value, e.SpentBy.TxHash, e.SpentBy.Height})
			if e.Time != 1e9+e.Height || e.Spent && e.SpentBy.Time != 1e9+e.SpentBy.Height {
				t.Errorf("%s: times %d and %d of an entry at %d spent at %d", c.a, e.Time, e.SpentBy.Time, e.Height, e.SpentBy.Height)
			}
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("history of %s:\n got %+v\nwant %+v", c.a, got, c.want)
		}
	}
}

// TestSpenderOfMissingBlock: a spender record naming a block the store
// does not hold is reported as corrupt, never as an unspent output.
func TestSpenderOfMissingBlock(t *testing.T) {
	st := newTestStore(t)
	a := chains.MakeAddress(chains.KindPubKeyHash, make([]byte, 20))
	cb0 := coinbasePaying(0, a)
	mustWrite(t, st, block(0, chains.Hash{}, cb0))
	op := chains.Outpoint{Hash: cb0.Hash}
	if err := st.db.Set(outpointKey(nil, tSpender, chains.Bitcoin, op), appendSpend(nil, 7, 0, 0), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	_, _, err := st.Spenders(context.Background(), chains.Bitcoin, []chains.Outpoint{op})
	var ce *store.CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a CorruptError", err)
	}
}

// TestSettleWaitsForCompactions: after 24 overlapping tables in level 0
// (more than the 16 sublevels that start a compaction), Settle returns
// with level 0 compacted and no compaction running or to be started.
func TestSettleWaitsForCompactions(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	if err := st.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 24 {
		b := st.db.NewBatch()
		for k := range 200 {
			b.Set(fmt.Appendf(nil, "zz%05d", k*7+i), fmt.Appendf(nil, "%d", i), nil)
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			t.Fatal(err)
		}
		if err := st.db.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	m := st.db.Metrics()
	if n := m.Compact.NumInProgress; n != 0 {
		t.Fatalf("%d compactions running after Settle", n)
	}
	if m.Compact.Count == 0 {
		t.Fatal("no compaction ran: the test means level 0 to need one")
	}
	if sub := m.Levels[0].Sublevels; sub >= 16 {
		t.Fatalf("level 0 has %d sublevels after Settle", sub)
	}
	if waiting, _ := st.db.GetWaitingCompaction(); waiting {
		t.Fatal("a compaction is still to be started after Settle")
	}
}
