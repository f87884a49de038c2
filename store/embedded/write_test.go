package embedded

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/batchrepr"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/internal/txcodec"
	"github.com/fundtrace/fundtrace/store"
)

type kvPair struct{ k, v []byte }

// readRepr decodes a batch with Pebble's own reader.
func readRepr(t *testing.T, r []byte) []kvPair {
	t.Helper()
	var got []kvPair
	rd := batchrepr.Read(r)
	for {
		kind, k, v, ok, err := rd.Next()
		if err != nil {
			t.Fatalf("batch entry %d: %v", len(got), err)
		}
		if !ok {
			return got
		}
		if kind != pebble.InternalKeyKindSet {
			t.Fatalf("batch entry %d: kind %v, want SET", len(got), kind)
		}
		got = append(got, kvPair{k, v})
	}
}

// TestKVBufEntries: entries laid out in batch format in place, with keys
// and values of every length class of the length prefix (one, two and
// three bytes), read back as written, sorted as a reference stable sort
// orders them, and copied into a batch that Pebble's own reader decodes.
func TestKVBufEntries(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	lengths := []int{0, 1, 7, 8, 9, 127, 128, 129, 300, 16383, 16384, 20000}
	var want []kvPair
	var kv kvBuf
	add := func(k, v []byte) {
		want = append(want, kvPair{k, v})
		kv.set(k, v)
	}
	for _, kl := range lengths {
		for _, vl := range lengths {
			k, v := make([]byte, kl), make([]byte, vl)
			fill(r, k)
			fill(r, v)
			add(k, v)
		}
	}
	// Thousands of short keys sharing prefixes, for the radix passes, and
	// keys written twice, whose later value must sort later.
	for i := range 5000 {
		k := []byte{'s', 1, byte(r.IntN(3)), byte(r.IntN(256)), byte(r.IntN(256)), 0, 0, 0, byte(r.IntN(4))}
		if i%7 == 0 {
			k = k[:2+r.IntN(7)]
		}
		add(k, []byte(fmt.Sprint(i)))
	}
	// Keys that differ only in the prefix's last byte, then after it,
	// so that the digits narrow at its end, and more than 32 keys with
	// one whole prefix, which only the keys' tails order.
	for i := range 3000 {
		k := []byte{'t', 1, 0, 0, 0, 0, 0, byte(r.IntN(256)), byte(r.IntN(256))}
		if i%50 == 0 {
			k[7] = 0xff
		}
		add(k, []byte(fmt.Sprint(i)))
	}
	// Spenders' keys: many outputs of a few transactions, in random
	// order, which only bytes past the first sixteen (or 24, or 32)
	// order; some written twice; and keys of one long shared stem that
	// end at every length around it, padded or not with zeros.
	txids := make([][32]byte, 4)
	for i := range txids {
		fill(r, txids[i][:])
		if i > 0 {
			copy(txids[i][:8*i], txids[0][:8*i]) // sharing 8, 16 and 24 bytes with the first
		}
	}
	for i := range 4000 {
		k := append([]byte{'s', 2}, txids[r.IntN(len(txids))][:]...)
		k = binary.BigEndian.AppendUint32(k, uint32(r.IntN(600)))
		add(k, []byte(fmt.Sprint(i)))
	}
	for i := range 300 { // one shared prefix, then random bytes
		k := make([]byte, 8+1+r.IntN(12))
		k[0], k[1] = 'v', 3
		fill(r, k[8:])
		add(k, []byte(fmt.Sprint(i)))
	}
	stem := bytes.Repeat([]byte{'u', 7, 0}, 8)
	for i := range 400 {
		k := slices.Clone(stem[:10+r.IntN(len(stem)-10)])
		for range r.IntN(3) {
			k = append(k, byte(r.IntN(2)))
		}
		add(k, []byte(fmt.Sprint(i)))
	}
	for i, e := range kv.ents {
		if !bytes.Equal(kv.key(e), want[i].k) || !bytes.Equal(kv.value(e), want[i].v) {
			t.Fatalf("entry %d reads back as key %d bytes, value %d bytes; written %d and %d", i, len(kv.key(e)), len(kv.value(e)), len(want[i].k), len(want[i].v))
		}
	}
	kv.sort()
	for i, e := range kv.ents { // the writers read the table from pre
		var pre [8]byte
		copy(pre[:], kv.key(e))
		if e.pre != binary.BigEndian.Uint64(pre[:]) {
			t.Fatalf("sorted entry %d has prefix %x, not its key's first bytes %x", i, e.pre, pre)
		}
	}
	slices.SortStableFunc(want, func(x, y kvPair) int { return bytes.Compare(x.k, y.k) })
	repr := kv.appendRepr(make([]byte, batchrepr.HeaderLen), kv.ents)
	got := readRepr(t, repr)
	if len(got) != len(want) {
		t.Fatalf("batch has %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i].k, want[i].k) || !bytes.Equal(got[i].v, want[i].v) {
			t.Fatalf("sorted entry %d: key %x value %q, want key %x value %q", i, got[i].k, trim(got[i].v), want[i].k, trim(want[i].v))
		}
	}
}

func trim(b []byte) []byte { return b[:min(len(b), 16)] }

// busyBlocks returns n blocks from height 0 on, each of a coinbase and
// txs random transactions. edit, if not nil, may change a block's
// transactions before the block is made of them; made holds the blocks
// before it.
func busyBlocks(r *rand.Rand, n, txs int, edit func(h int64, txs []chains.Tx, made []store.BlockData)) []store.BlockData {
	var blocks []store.BlockData
	var prev chains.Hash
	for h := range int64(n) {
		t := []chains.Tx{coinbasePaying(h, chains.MakeAddress(chains.AddrKind(1), []byte("twenty-byte-address!")))}
		for range txs {
			t = append(t, randTx(r, h))
		}
		if edit != nil {
			edit(h, t, blocks)
		}
		b := block(h, prev, t...)
		blocks, prev = append(blocks, b), b.Block.Hash
	}
	return blocks
}

// TestUTXOBatchInKeyOrder: the batch built table by table is in key
// order as a whole (the memtable takes a sorted batch far faster), holds
// every entry once with the meta record among them, and carries the
// count it claims.
func TestUTXOBatchInKeyOrder(t *testing.T) {
	st := newTestStore(t)
	blocks := busyBlocks(rand.New(rand.NewPCG(3, 3)), 4, 50, nil)
	m, err := st.metaLocked(chains.Bitcoin)
	if err != nil {
		t.Fatal(err)
	}
	bufs := new(writeBufs)
	const fileEnd = 1000 // the transaction file's committed end
	out := &reprOut{r: make([]byte, batchrepr.HeaderLen)}
	n, _, err := st.writeUTXO(context.Background(), bufs, chains.Bitcoin, &m, blocks, 1<<16, fileEnd, out)
	if err != nil {
		t.Fatal(err)
	}
	got := readRepr(t, out.r)
	if len(got) != n {
		t.Fatalf("batch holds %d entries, count says %d", len(got), n)
	}
	tables := map[byte]int{}
	for i, e := range got {
		tables[e.k[0]]++
		if i > 0 && bytes.Compare(got[i-1].k, e.k) > 0 {
			t.Fatalf("entry %d (%q…) sorts before entry %d (%q…)", i, e.k[:2], i-1, got[i-1].k[:2])
		}
	}
	var txs, ins, outAddrs int
	for _, b := range blocks {
		for _, tx := range b.Txs {
			txs++
			for _, in := range tx.Inputs {
				if !in.Coinbase {
					ins++
				}
			}
			for _, o := range tx.Outputs {
				outAddrs += len(o.Addresses)
			}
		}
	}
	want := map[byte]int{tAddr: outAddrs, tBlock: len(blocks), tLayout: len(blocks), tBlockHash: len(blocks), tMeta: 2, tTxPtr: txs, tSpender: ins}
	if fmt.Sprint(tables) != fmt.Sprint(want) {
		t.Fatalf("entries by table %v, want %v", tables, want)
	}
	// Each pointer names its transaction's record among those to be
	// appended after fileEnd, and the file's new end follows the last.
	byHash := map[chains.Hash]*chains.Tx{}
	for _, b := range blocks {
		for i := range b.Txs {
			byHash[b.Txs[i].Hash] = &b.Txs[i]
		}
	}
	covered, laid := 0, 0
	for _, e := range got {
		switch e.k[0] {
		case tLayout:
			// The block's records, in its order, one after another.
			h := int64(binary.BigEndian.Uint64(e.k[2:]))
			b := blocks[h-blocks[0].Block.Height]
			l, err := decodeLayout(e.v, nil)
			if err != nil {
				t.Fatal(err)
			}
			if l.off != fileEnd+uint64(laid) || len(l.lens) != len(b.Txs) || l.off-fileEnd+l.size() > uint64(len(bufs.txs)) {
				t.Fatalf("block %d: layout at %d, %d records, want %d at %d", h, l.off, len(l.lens), len(b.Txs), fileEnd+laid)
			}
			recs := bufs.txs[l.off-fileEnd:][:l.size()]
			if crc32.Checksum(recs, crcTable) != l.crc {
				t.Fatalf("block %d: checksum does not match its records", h)
			}
			for i, n := range l.lens {
				tx, err := txcodec.DecodeTx(chains.Bitcoin, b.Txs[i].Hash, recs[:n])
				if err != nil || tx.Height != h || tx.Position != uint32(i) || len(tx.Inputs) != len(b.Txs[i].Inputs) {
					t.Fatalf("block %d record %d: %+v, %v", h, i, tx, err)
				}
				recs = recs[n:]
			}
			laid += int(l.size())
		case tMeta:
			if !bytes.Equal(e.k, txEndKey(chains.Bitcoin)) {
				continue
			}
			if end, _ := binary.Uvarint(e.v); end != uint64(fileEnd+len(bufs.txs)) {
				t.Fatalf("file end recorded %d, want %d", end, fileEnd+len(bufs.txs))
			}
		case tTxPtr:
			h := chains.Hash(e.k[2:])
			p, err := decodeTxPtr(e.v)
			if err != nil {
				t.Fatal(err)
			}
			if p.off < fileEnd || p.off-fileEnd+uint64(p.n) > uint64(len(bufs.txs)) {
				t.Fatalf("tx %s: record at %d+%d is outside the %d bytes written after %d", h, p.off, p.n, len(bufs.txs), fileEnd)
			}
			rec := bufs.txs[p.off-fileEnd:][:p.n]
			if crc32.Checksum(rec, crcTable) != p.crc {
				t.Fatalf("tx %s: checksum does not match its record", h)
			}
			tx, err := txcodec.DecodeTx(chains.Bitcoin, h, rec)
			if err != nil {
				t.Fatalf("tx %s: %v", h, err)
			}
			if want := byHash[h]; want == nil || tx.Height != want.Height || tx.Position != want.Position || len(tx.Outputs) != len(want.Outputs) {
				t.Fatalf("tx %s: record holds %d:%d, want the block's", h, tx.Height, tx.Position)
			}
			covered += int(p.n)
		}
	}
	if laid != len(bufs.txs) {
		t.Fatalf("layouts cover %d of the %d bytes written", laid, len(bufs.txs))
	}
	if covered != len(bufs.txs) {
		t.Fatalf("pointers cover %d of the %d bytes written", covered, len(bufs.txs))
	}
	if m.Inputs != int64(ins) || m.Txs != int64(txs) || m.Blocks != int64(len(blocks)) {
		t.Fatalf("meta counts %d inputs, %d txs, %d blocks; want %d, %d, %d", m.Inputs, m.Txs, m.Blocks, ins, txs, len(blocks))
	}
}

// BenchmarkKVSort sorts one batch's tables as writeUTXO does, table by
// table, with the key shapes and counts of the five mainnet blocks that
// chains/bitcoin's BenchmarkIndex writes: history keys led by an
// address's length and kind, spender and transaction keys led by a
// txid.
func BenchmarkKVSort(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 5))
	var tables []kvBuf
	table := func(n int, key func([]byte) []byte) {
		var kv kvBuf
		var k []byte
		for range n {
			k = key(k[:0])
			kv.set(k, []byte("value of about twenty"))
		}
		tables = append(tables, kv)
	}
	table(21000, func(k []byte) []byte {
		kind, n := chains.AddrKind(1+r.IntN(3)), 20+12*r.IntN(2)
		a := make([]byte, n)
		fill(r, a)
		return addrKey(k, chains.Bitcoin, chains.MakeAddress(kind, a), 600000+r.Int64N(5), uint32(r.IntN(3000)), uint32(r.IntN(4)))
	})
	table(20000, func(k []byte) []byte {
		var op chains.Outpoint
		fill(r, op.Hash[:])
		op.Index = uint32(r.IntN(4))
		return outpointKey(k, tSpender, chains.Bitcoin, op)
	})
	table(8549, func(k []byte) []byte {
		var h chains.Hash
		fill(r, h[:])
		return txKey(k, chains.Bitcoin, h)
	})
	orig := make([][]kvEnt, len(tables))
	for i := range tables {
		orig[i] = slices.Clone(tables[i].ents)
	}
	for b.Loop() {
		for i := range tables {
			copy(tables[i].ents, orig[i])
			tables[i].sort()
		}
	}
}

// TestMSDSort: the radix sort against a reference sort, on prefixes
// whose varying bits sit in random runs among shared ones (so that
// digits of every width start and end at every bit), with many equal
// prefixes, which the comparison settles, whether the entries sharing
// a prefix come in order or not.
func TestMSDSort(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	count := make([]uint32, 1<<maxDigit+1)
	byOff := func(x, y kvEnt) int { return cmp.Compare(x.off, y.off) }
	for trial := range 400 {
		n := r.IntN(6000)
		if trial%4 == 0 {
			n = r.IntN(100)
		}
		base := r.Uint64()
		var vary uint64 // a few random runs of varying bits
		for range 1 + r.IntN(3) {
			lo, w := r.IntN(64), 1+r.IntN(20)
			vary |= (1<<min(w, 64-lo) - 1) << lo
		}
		ents := make([]kvEnt, n)
		for i := range ents {
			ents[i] = kvEnt{pre: base ^ r.Uint64()&vary, off: uint32(r.IntN(1 << 20))}
			if trial%5 == 1 {
				// Written in key order, as one address's history
				// entries are (equal offsets keep their order).
				ents[i].off = uint32(i / 3)
			}
			if r.IntN(8) == 0 && i > 0 {
				ents[i].pre = ents[r.IntN(i)].pre
			}
		}
		want := slices.Clone(ents)
		slices.SortStableFunc(want, func(x, y kvEnt) int {
			if c := cmp.Compare(x.pre, y.pre); c != 0 {
				return c
			}
			return byOff(x, y)
		})
		msdSort(ents, make([]kvEnt, n), count, 0, 0, keyOrder{compare: byOff})
		for i := range want {
			if ents[i].pre != want[i].pre || ents[i].off != want[i].off {
				t.Fatalf("trial %d (%d entries, varying bits %064b): entry %d is %x/%d, want %x/%d", trial, n, vary, i, ents[i].pre, ents[i].off, want[i].pre, want[i].off)
			}
		}
	}
}
