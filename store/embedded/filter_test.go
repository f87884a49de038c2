package embedded

import (
	"bytes"
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"

	"github.com/fundtrace/fundtrace/chains"
)

// TestSplitKeyRules checks Pebble's rules for a comparer's Split on
// history keys, other tables' keys and malformed keys: a prefix alone
// sorts before the keys it starts; keys order as their prefixes do, and
// keys of one prefix as their suffixes do.
func TestSplitKeyRules(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	var keys [][]byte
	for range 2000 {
		var k []byte
		switch r.IntN(4) {
		case 0, 1: // a history key, its address of one of a few lengths and bytes
			a := make([]byte, []int{20, 21, 32}[r.IntN(3)])
			for i := range a {
				a[i] = byte(r.IntN(3))
			}
			k = addrKey(nil, chains.Bitcoin, chains.Address(a), r.Int64N(3), uint32(r.IntN(3)), uint32(r.IntN(2)))
		case 2: // cut short, or naming more bytes than it has
			k = addrKey(nil, chains.Bitcoin, chains.Address(bytes.Repeat([]byte{1}, 20)), 1, 2, 3)
			k = k[:r.IntN(len(k)+1)]
		default: // another table's
			k = make([]byte, 1+r.IntN(12))
			for i := range k {
				k[i] = byte(r.IntN(256))
			}
		}
		keys = append(keys, k)
	}
	a := chains.Address(bytes.Repeat([]byte{7}, 21))
	if k, p := addrKey(nil, chains.Tron, a, 5, 6, 7), addrPrefix(nil, chains.Tron, a); splitKey(k) != len(p) || splitKey(p) != len(p) {
		t.Fatalf("a history key splits at %d, its address's prefix at %d, want both at %d", splitKey(k), splitKey(p), len(p))
	}
	for _, a := range keys {
		n := splitKey(a)
		if n < 0 || n > len(a) {
			t.Fatalf("split %d of a %d-byte key", n, len(a))
		}
		if n < len(a) && bytes.Compare(a[:n], a) >= 0 {
			t.Fatalf("prefix %x does not sort before its key %x", a[:n], a)
		}
		if splitKey(a[:n]) != n {
			t.Fatalf("prefix %x of %x is not its own prefix", a[:n], a)
		}
	}
	for range 200_000 {
		a, b := keys[r.IntN(len(keys))], keys[r.IntN(len(keys))]
		pa, pb := a[:splitKey(a)], b[:splitKey(b)]
		c, cp := bytes.Compare(a, b), bytes.Compare(pa, pb)
		if c <= 0 && cp > 0 || cp < 0 && c >= 0 {
			t.Fatalf("keys %x and %x order %d, their prefixes %d", a, b, c, cp)
		}
		if cp == 0 && c != bytes.Compare(a[len(pa):], b[len(pb):]) {
			t.Fatalf("keys %x and %x of one prefix do not order as their suffixes", a, b)
		}
	}
}

// TestOldFilters: a store whose tables were written with filters of
// whole keys (the versions before the address prefix) still finds the
// addresses they hold: an address paid again after the upgrade is not
// counted as new, and one never paid is.
func TestOldFilters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s")
	r := rand.New(rand.NewPCG(9, 9))
	var old []chains.Address
	for range 50 {
		b := make([]byte, 20)
		fill(r, b)
		old = append(old, chains.MakeAddress(chains.KindPubKeyHash, b))
	}
	func() {
		defer func(f pebble.FilterPolicy, c *pebble.Comparer) { tableFilter, comparer = f, c }(tableFilter, comparer)
		tableFilter, comparer = bloom.FilterPolicy(10), pebble.DefaultComparer
		st := openWith(t, path, Options{ProbesPerScan: -1})
		var prev chains.Hash
		for h, a := range old {
			b := block(int64(h), prev, coinbasePaying(int64(h), a))
			mustWrite(t, st, b)
			prev = b.Block.Hash
		}
		if err := st.db.Compact(ctx, []byte{0}, []byte{0xff}, false); err != nil {
			t.Fatal(err)
		}
		st.Close()
	}()
	st := openWith(t, path, Options{ProbesPerScan: -1}) // each write counts, through the filters
	m, _ := st.Meta(ctx, chains.Bitcoin)
	if m.Addresses != int64(len(old)) {
		t.Fatalf("%d addresses before the upgrade, want %d", m.Addresses, len(old))
	}
	fresh := make([]byte, 20)
	fill(r, fresh)
	h := int64(len(old))
	mustWrite(t, st, block(h, m.TipHash, coinbasePaying(h, old[7], old[31], chains.MakeAddress(chains.KindPubKeyHash, fresh), old[0])))
	m, _ = st.Meta(ctx, chains.Bitcoin)
	if m.Addresses != int64(len(old))+1 {
		t.Fatalf("%d addresses after paying three old ones and a new one, want %d", m.Addresses, len(old)+1)
	}
}
