package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// randAddrs returns n random 20-byte pay-to-witness-key-hash addresses.
func randAddrs(r *rand.Rand, n int) []chains.Address {
	as := make([]chains.Address, n)
	for i := range as {
		b := make([]byte, 20)
		fill(r, b)
		as[i] = chains.MakeAddress(chains.KindWitnessV0KH, b)
	}
	return as
}

// writeFlushed writes one block per group of addresses, each paying them
// all, and flushes the store after each, so that every block's history
// entries end in table files of their own (and compactions merge them
// as they would in a long index run).
func writeFlushed(tb testing.TB, st *Store, groups [][]chains.Address) {
	tb.Helper()
	var prev chains.Hash
	m, err := st.Meta(context.Background(), chains.Bitcoin)
	if err != nil {
		tb.Fatal(err)
	}
	h := m.TipHeight + 1
	if h > 0 {
		prev = m.TipHash
	}
	for _, as := range groups {
		b := block(h, prev, coinbasePaying(h, as...))
		if err := st.WriteBlocks(context.Background(), chains.Bitcoin, "regtest", []store.BlockData{b}, store.WriteOptions{}); err != nil {
			tb.Fatal(err)
		}
		if err := st.Flush(context.Background()); err != nil {
			tb.Fatal(err)
		}
		prev = b.Block.Hash
		h++
	}
}

// BenchmarkFirstSeen is the check of whether an address has been paid
// before, on a store that holds 200,000 addresses in flushed and
// compacted tables, for 20,000 addresses of a new batch that the store
// has not seen (new) or has (seen; the in-memory set of known addresses
// emptied, as after a restart or once it has rotated them out).
func BenchmarkFirstSeen(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 5))
	st, err := Open(filepath.Join(b.TempDir(), "s"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var groups [][]chains.Address
	for range 40 {
		groups = append(groups, randAddrs(r, 5000))
	}
	writeFlushed(b, st, groups)
	prefixes := func(as []chains.Address) [][]byte {
		var ks [][]byte
		for _, a := range as {
			ks = append(ks, addrPrefix(nil, chains.Bitcoin, a))
		}
		slices.SortFunc(ks, bytes.Compare)
		return ks
	}
	var seen []chains.Address
	for _, g := range groups {
		seen = append(seen, g[:500]...)
	}
	lo := keyPrefix(nil, tAddr, chains.Bitcoin)
	for _, c := range []struct {
		name string
		keys [][]byte
	}{{"new", prefixes(randAddrs(r, 20000))}, {"seen", prefixes(seen)}} {
		name, keys := c.name, c.keys
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				st.known = newKnownSet(1 << 20)
				var m store.Meta
				b.StartTimer()
				f, err := st.newSeenCheck(context.Background(), lo, &m, nil)
				if err != nil {
					b.Fatal(err)
				}
				for _, k := range keys {
					f.check(k, len(lo)+1) // the address starts after its length byte
				}
				if err := f.close(); err != nil {
					b.Fatal(err)
				}
				if want := int64(len(keys)); name == "new" && m.Addresses != want || name == "seen" && m.Addresses != 0 {
					b.Fatalf("%d new addresses, want %d", m.Addresses, want)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(keys)), "ns/address")
		})
	}
}

// TestFirstSeenFromTables: addresses paid again after their first
// entries went to table files, in a store opened again (so that nothing
// is known in memory), are not counted again and keep their first-seen
// heights: counted by each write, and counted by the scan at the run's
// end (SettleCounts) once the writes have left the count to it, also
// after blocks were rolled back while it was pending.
func TestFirstSeenFromTables(t *testing.T) {
	for _, mode := range []struct {
		name    string
		perScan int
	}{{"every write", -1}, {"run's end", 0}} {
		t.Run(mode.name, func(t *testing.T) {
			ctx := context.Background()
			r := rand.New(rand.NewPCG(8, 8))
			path := filepath.Join(t.TempDir(), "s")
			st := openWith(t, path, Options{ProbesPerScan: mode.perScan})
			var groups [][]chains.Address
			for range 6 {
				groups = append(groups, randAddrs(r, 300))
			}
			writeFlushed(t, st, groups) // heights 0..5
			st.Close()
			st = openWith(t, path, Options{ProbesPerScan: mode.perScan})
			var again []chains.Address
			for i, g := range groups {
				again = append(again, g[i*10:i*10+20]...)
			}
			fresh := randAddrs(r, 50)
			writeFlushed(t, st, [][]chains.Address{append(again, fresh...)}) // height 6
			// Height 7 pays fresh ones again and addresses of its own, which
			// the rollback below takes away again.
			later := randAddrs(r, 40)
			writeFlushed(t, st, [][]chains.Address{append(later, fresh[:5]...)})
			m, err := st.Meta(ctx, chains.Bitcoin)
			if err != nil {
				t.Fatal(err)
			}
			// Block 1's lookups of 300 addresses already cost more than a
			// scan of the 600 entries then stored: the count is left.
			if m.AddressesPending != (mode.perScan == 0) {
				t.Fatalf("count pending %v", m.AddressesPending)
			}
			settle := func(want int64) {
				t.Helper()
				if err := st.SettleCounts(ctx, chains.Bitcoin); err != nil {
					t.Fatal(err)
				}
				m, err := st.Meta(ctx, chains.Bitcoin)
				if err != nil {
					t.Fatal(err)
				}
				if m.Addresses != want || m.AddressesPending {
					t.Errorf("%d addresses counted (pending %v), want %d", m.Addresses, m.AddressesPending, want)
				}
			}
			settle(int64(6*300 + len(fresh) + len(later)))
			// Pending again, or not, for the rollback.
			writeFlushed(t, st, [][]chains.Address{randAddrs(r, 10)}) // height 8
			if err := st.Rollback(ctx, chains.Bitcoin, 6); err != nil {
				t.Fatal(err)
			}
			settle(int64(6*300 + len(fresh)))
			for i, g := range groups {
				if h, err := st.FirstSeen(ctx, chains.Bitcoin, g[i*10]); err != nil || h != int64(i) {
					t.Errorf("group %d first seen at %d (%v), want %d", i, h, err, i)
				}
			}
			if h, err := st.FirstSeen(ctx, chains.Bitcoin, fresh[0]); err != nil || h != 6 {
				t.Errorf("new address first seen at %d (%v), want 6", h, err)
			}
		})
	}
}

// TestKnownSet: the set of known addresses, against a model of its two
// generations (Go maps), with a limit small enough that generations turn
// over many times, and keys crowded into few slots so that probes run
// long and wrap around the table's end. It fails if a generation is not
// emptied when it becomes the current one, or if a probe stops early.
func TestKnownSet(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	const limit = 3000
	k := newKnownSet(limit)
	cur, old := map[knownKey]bool{}, map[knownKey]bool{}
	key := func() knownKey {
		// Low bits from a narrow range crowd the keys into a few slots
		// near the end of the table (of any size up to 4096 slots), whose
		// probes wrap.
		return knownKey{uint64(r.IntN(8000))<<20 | uint64(4081+r.IntN(30)), uint64(r.IntN(3))}
	}
	model := func(x knownKey) {
		if len(cur) >= limit {
			old, cur = cur, map[knownKey]bool{}
		}
		cur[x] = true
	}
	for i := range 200000 {
		x := key()
		switch r.IntN(3) {
		case 0:
			model(x)
			k.add(x)
		case 1:
			keys := []knownKey{x, key(), key()}
			for _, x := range keys {
				model(x)
			}
			k.addAll(keys)
		default:
			if got, want := k.hasKey(x), cur[x] || old[x]; got != want {
				t.Fatalf("op %d: has %v = %v, want %v", i, x, got, want)
			}
		}
	}
	if k.cur.n != len(cur) || k.old.n != len(old) {
		t.Fatalf("generations hold %d and %d keys, want %d and %d", k.cur.n, k.old.n, len(cur), len(old))
	}
	a := chains.MakeAddress(chains.AddrKind(1), []byte("twenty-byte-address!"))
	k.add(k.key(a))
	if !k.has(a) {
		t.Fatal("an address added is not known")
	}
	k.clear()
	if k.has(a) {
		t.Fatal("an address forgotten is still known")
	}
	k.add(knownKey{})
	if k.hasKey(knownKey{}) || k.cur.n != 0 {
		t.Fatal("the zero key, which marks empty slots, was filed")
	}
}

// TestCountInParts: counting the history in ranges between address
// prefixes, on goroutines of their own, gives the one pass's count, an
// address paid at several heights counted once, for a tip below the
// chain's too; an address whose entries the bounds split would be
// counted twice.
func TestCountInParts(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(9, 9))
	st := newTestStore(t)
	var groups [][]chains.Address
	for i := range 5 {
		g := randAddrs(r, 200)
		if i > 0 {
			g = append(g, groups[i-1][:60]...) // paid again a block later
		}
		groups = append(groups, g)
	}
	writeFlushed(t, st, groups) // heights 0..4
	lo := keyPrefix(nil, tAddr, chains.Bitcoin)
	var prefixes [][]byte // each address's key prefix, in key order
	if err := st.eachFirstPaid(ctx, chains.Bitcoin, func(a []byte, _ store.FirstPaid) error {
		prefixes = append(prefixes, append(append(slices.Clone(lo), byte(len(a))), a...))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(prefixes) != 1000 {
		t.Fatalf("%d addresses in the history, want the 1000 paid", len(prefixes))
	}
	bounds := [][]byte{lo}
	for i := 7; i < len(prefixes); i += 97 {
		bounds = append(bounds, prefixes[i])
	}
	bounds = append(bounds, prefixEnd(lo))
	for _, c := range []struct {
		tip  int64
		want int64
	}{{4, 1000}, {2, 600}, {0, 200}} {
		n, err := st.countFirstPaid(ctx, lo, bounds, c.tip)
		if err != nil || n != c.want {
			t.Errorf("tip %d: counted %d (%v) in %d parts, want %d", c.tip, n, err, len(bounds)-1, c.want)
		}
	}
	// A bound inside the entries of an address paid at heights 0 and 1:
	// its key at height 1.
	again := make(map[string]bool)
	for _, a := range groups[0][:60] {
		again[string(a)] = true
	}
	var split []byte
	for _, p := range prefixes {
		if again[string(p[len(lo)+1:])] {
			split = binary.BigEndian.AppendUint64(slices.Clone(p), 1)
			break
		}
	}
	if n, err := st.countFirstPaid(ctx, lo, [][]byte{lo, split, prefixEnd(lo)}, 4); err != nil || n != 1001 {
		t.Errorf("a bound inside an address's entries: counted %d (%v), want 1001 (the check above is blind otherwise)", n, err)
	}
}

// TestAddressBounds: the history is split by its tables' first keys,
// cut back to their addresses' prefixes, into ranges of about equal
// size; tables of other key tables are left out, and a table starting
// inside the address the bound before starts makes no empty range.
func TestAddressBounds(t *testing.T) {
	lo := keyPrefix(nil, tAddr, chains.Bitcoin)
	entry := func(addr byte, height uint64) []byte {
		k := append(slices.Clone(lo), 3, 'x', 'y', addr)
		k = binary.BigEndian.AppendUint64(k, height)
		return append(k, 0, 0, 0, 1, 0, 0, 0, 2)
	}
	table := func(k []byte, size uint64) pebble.SSTableInfo {
		return pebble.SSTableInfo{TableInfo: pebble.TableInfo{Size: size, Smallest: pebble.InternalKey{UserKey: k}}}
	}
	tables := []pebble.SSTableInfo{
		table(blockKey(nil, chains.Bitcoin, 0), 1000), // table b: not the history
		table(entry(1, 0), 10),
		table(entry(2, 5), 10),
		table(entry(2, 9), 10), // the same address as the table before
		table(entry(3, 0), 10),
		table(entry(4, 0), 10),
		table(entry(5, 0), 10),
		table(entry(6, 0), 10),
		table(entry(7, 0), 10),
		table(txPtrKey(nil, chains.Bitcoin, chains.Hash{}), 1000),
	}
	// 70 bytes of history in four parts: a bound at the first table
	// after each 17 bytes (70 × i / 4): ranges of 10, 30, 20 and 20.
	got := addressBounds(lo, tables, 4)
	want := [][]byte{lo, entry(2, 0)[:len(lo)+4], entry(4, 0)[:len(lo)+4], entry(6, 0)[:len(lo)+4], prefixEnd(lo)}
	if !slices.EqualFunc(got, want, bytes.Equal) {
		t.Fatalf("bounds %x, want %x", got, want)
	}
	if got := addressBounds(lo, nil, 4); len(got) != 2 {
		t.Fatalf("bounds of an empty table %x, want lo and its end", got)
	}
	// In eight parts every table but the first starts one; the third's
	// is the second's address again.
	got = addressBounds(lo, tables, 8)
	want = [][]byte{lo}
	for _, a := range []byte{2, 3, 4, 5, 6, 7} {
		want = append(want, entry(a, 0)[:len(lo)+4])
	}
	if want = append(want, prefixEnd(lo)); !slices.EqualFunc(got, want, bytes.Equal) {
		t.Fatalf("bounds %x, want %x", got, want)
	}
}
