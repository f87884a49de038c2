package tracer

import (
	"math/big"
	"math/bits"
)

// SeedSet is a set of seeds (indices into a trace's seeds): which
// victims' money touched a coin, a transfer or a deposit under the poison
// model. Poison spreads to everything a hub pays, so on a real case most
// holdings carry the same few large sets: a SeedSet is a bitset (one bit a
// seed: 172 bytes for 1,373 victims, not a map entry each) that is never
// changed once made, so every holder of the same set shares one copy and
// a union that adds nothing returns an operand instead of a new set.
type SeedSet struct {
	w []uint64
	n int // members
}

// seedSetOf is the set {i}.
func seedSetOf(i int) *SeedSet {
	s := &SeedSet{w: make([]uint64, i/64+1), n: 1}
	s.w[i/64] = 1 << (i % 64)
	return s
}

// union is a ∪ b; nil is the empty set. When one contains the other the
// larger is returned, shared.
func union(a, b *SeedSet) *SeedSet {
	switch {
	case b == nil || a == b:
		return a
	case a == nil:
		return b
	}
	if a.n < b.n {
		a, b = b, a
	}
	if b.subsetOf(a) {
		return a
	}
	w := make([]uint64, max(len(a.w), len(b.w)))
	n := 0
	for i := range w {
		var x uint64
		if i < len(a.w) {
			x = a.w[i]
		}
		if i < len(b.w) {
			x |= b.w[i]
		}
		w[i] = x
		n += bits.OnesCount64(x)
	}
	return &SeedSet{w: w, n: n}
}

func (s *SeedSet) subsetOf(o *SeedSet) bool {
	for i, x := range s.w {
		var y uint64
		if i < len(o.w) {
			y = o.w[i]
		}
		if x&^y != 0 {
			return false
		}
	}
	return true
}

// Len is the number of seeds in the set.
func (s *SeedSet) Len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// Has says whether seed i is in the set.
func (s *SeedSet) Has(i int) bool {
	return s != nil && i >= 0 && i/64 < len(s.w) && s.w[i/64]&(1<<(i%64)) != 0
}

// Each calls f with each seed in the set, in ascending order.
func (s *SeedSet) Each(f func(seed int)) {
	if s == nil {
		return
	}
	for i, x := range s.w {
		for x != 0 {
			b := bits.TrailingZeros64(x)
			f(i*64 + b)
			x &^= 1 << b
		}
	}
}

// Other stands for the seeds whose haircut shares were merged into one
// remainder (see Config.MinAmount): in a
// deposit's or a result's seed field it is "other victims" together.
const Other = -2

// Remainder is what a trace merged into the Other remainder: per seed,
// the haircut share moved there (base units, exact), and how many shares
// were moved (see Config.MinAmount).
type Remainder struct {
	Merged       map[int]*big.Rat
	MergedShares int
}

// addShare puts seed s's haircut share x into shares, or, when it is
// under below (nil: never), into the Other remainder, recording the move
// in r.
func addShare(shares map[int]*big.Rat, s int, x, below *big.Rat, r *Remainder) {
	if below != nil && s != Other && x.Cmp(below) < 0 {
		if r.Merged[s] == nil {
			r.Merged[s] = new(big.Rat)
		}
		r.Merged[s].Add(r.Merged[s], x)
		r.MergedShares++
		s = Other
	}
	if o := shares[s]; s == Other && o != nil {
		o.Add(o, x) // the remainder already there and what this share adds
		return
	}
	shares[s] = x
}
