package clickhouse

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestSortedChunks: rows come out in chunks of at most flushRows, in
// byte order of their strings, rows of equal strings in the order given;
// the strings share prefixes of eight bytes and more, and some are
// shorter than eight bytes or prefixes of others.
func TestSortedChunks(t *testing.T) {
	type row struct {
		s string
		i int
	}
	r := rand.New(rand.NewPCG(3, 3))
	alphabet := []string{"", "\x00", "a", "ab", "abcdefgh", "abcdefghi", "abcdefgh\x00", "abcdefgi", "b\xff", "\xff\xff\xff\xff\xff\xff\xff\xff\xff"}
	var rows []row
	for i := range 2*flushRows + 77 {
		s := alphabet[r.IntN(len(alphabet))]
		if r.IntN(3) == 0 {
			s += string(rune('a' + r.IntN(3)))
		}
		rows = append(rows, row{s, i})
	}
	var got []row
	chunks := 0
	err := sortedChunks(rows, func(r *row) uint64 { return prefixKey(r.s) }, func(a, b *row) int { return strings.Compare(a.s, b.s) }, func(c []row) error {
		if len(c) > flushRows || len(c) == 0 {
			t.Fatalf("chunk of %d rows", len(c))
		}
		chunks++
		got = append(got, c...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) || chunks != 3 {
		t.Fatalf("%d rows in %d chunks, want %d in 3", len(got), chunks, len(rows))
	}
	seen := make(map[int]bool)
	for k, g := range got {
		seen[g.i] = true
		if k == 0 {
			continue
		}
		p := got[k-1]
		if c := strings.Compare(p.s, g.s); c > 0 || c == 0 && p.i > g.i {
			t.Fatalf("row %d (%q, %d) after (%q, %d)", k, g.s, g.i, p.s, p.i)
		}
	}
	if len(seen) != len(rows) {
		t.Fatalf("%d distinct rows out of %d", len(seen), len(rows))
	}
}

// TestSortedChunksByKey: with no tie, rows come out by their integer
// key, rows of equal key in the order given; the keys differ in every
// 16-bit digit in turn, share some digits, and repeat.
func TestSortedChunksByKey(t *testing.T) {
	type row struct {
		k uint64
		i int
	}
	r := rand.New(rand.NewPCG(4, 4))
	var rows []row
	for i := range flushRows + 999 {
		k := uint64(r.IntN(5)) << (16 * uint(r.IntN(4)))
		if r.IntN(4) == 0 {
			k = r.Uint64()
		}
		rows = append(rows, row{k, i})
	}
	var got []row
	if err := sortedChunks(rows, func(r *row) uint64 { return r.k }, nil, func(c []row) error {
		got = append(got, c...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) {
		t.Fatalf("%d rows, want %d", len(got), len(rows))
	}
	seen := make(map[int]bool)
	for k, g := range got {
		seen[g.i] = true
		if k > 0 {
			if p := got[k-1]; p.k > g.k || p.k == g.k && p.i > g.i {
				t.Fatalf("row %d (%x, %d) after (%x, %d)", k, g.k, g.i, p.k, p.i)
			}
		}
	}
	if len(seen) != len(rows) {
		t.Fatalf("%d distinct rows out of %d", len(seen), len(rows))
	}
}
