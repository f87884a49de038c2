package embedded

import (
	"bytes"
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

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
