package sim

import (
	"math/bits"
	"sort"
)

// Taint is what a coin carries of each victim payment, under the two
// models the ground truth reports:
//
//   - haircut: every output of a transaction carries each victim's share
//     of the inputs in proportion to its value (fees take their share);
//   - FIFO: the inputs' satoshis, in input order, fill the outputs in
//     output order; the fee is the last satoshis of the last inputs.
//
// Haircut shares are kept in millisatoshis, each rounded down at every
// transaction, and a share under one satoshi is dropped: without that,
// taint would spread in ever smaller fractions to every coin a CoinJoin
// ever touched. Exposures report whole satoshis, rounded down.
type Taint struct {
	Haircut map[int]int64 // victim payment id → millisatoshis
	FIFO    []Segment     // the coin's satoshis in order: whose they are
}

// dustMsat is the smallest haircut share kept: one satoshi.
const dustMsat = 1000

// Segment is a run of a coin's satoshis that came from one victim
// payment (Victim >= 0) or from none (-1).
type Segment struct {
	Victim int
	Sats   int64
}

// clean is the taint of a coin with no victim money in it.
func clean(value int64) Taint {
	return Taint{FIFO: []Segment{{Victim: -1, Sats: value}}}
}

// tainted is the taint of a victim's payment itself.
func tainted(victim int, value int64) Taint {
	return Taint{Haircut: map[int]int64{victim: value * 1000}, FIFO: []Segment{{Victim: victim, Sats: value}}}
}

// Propagate computes the taint of a transaction's outputs from its
// inputs' values and taints.
func Propagate(inValues []int64, in []Taint, outValues []int64) []Taint {
	var total int64
	for _, v := range inValues {
		total += v
	}
	out := make([]Taint, len(outValues))
	// Haircut.
	sums := map[int]int64{}
	for _, t := range in {
		for v, amt := range t.Haircut {
			sums[v] += amt
		}
	}
	for i, ov := range outValues {
		if len(sums) == 0 || total == 0 {
			break
		}
		for v, sum := range sums {
			if share := mulDiv(sum, ov, total); share >= dustMsat {
				if out[i].Haircut == nil {
					out[i].Haircut = map[int]int64{}
				}
				out[i].Haircut[v] = share
			}
		}
	}
	// FIFO.
	var queue []Segment
	for _, t := range in {
		queue = append(queue, t.FIFO...)
	}
	for i, ov := range outValues {
		need := ov
		for need > 0 && len(queue) > 0 {
			take := min(need, queue[0].Sats)
			out[i].FIFO = appendSegment(out[i].FIFO, Segment{Victim: queue[0].Victim, Sats: take})
			queue[0].Sats -= take
			need -= take
			if queue[0].Sats == 0 {
				queue = queue[1:]
			}
		}
	}
	return out
}

func appendSegment(segs []Segment, s Segment) []Segment {
	if n := len(segs); n > 0 && segs[n-1].Victim == s.Victim {
		segs[n-1].Sats += s.Sats
		return segs
	}
	return append(segs, s)
}

// Victims lists the victim payments with any taint in t, in order.
func (t Taint) Victims() []int {
	seen := map[int]bool{}
	for v := range t.Haircut {
		seen[v] = true
	}
	for _, s := range t.FIFO {
		if s.Victim >= 0 {
			seen[s.Victim] = true
		}
	}
	out := make([]int, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	sort.Ints(out)
	return out
}

// HaircutSats is victim v's haircut share, rounded down to a satoshi.
func (t Taint) HaircutSats(v int) int64 { return t.Haircut[v] / 1000 }

// mulDiv is a×b/c rounded down, without overflow (a, b, c > 0; the
// result fits: b <= c).
func mulDiv(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, _ := bits.Div64(hi, lo, uint64(c))
	return int64(q)
}

// FIFOSats is how many of the coin's satoshis are victim v's under FIFO.
func (t Taint) FIFOSats(v int) int64 {
	var n int64
	for _, s := range t.FIFO {
		if s.Victim == v {
			n += s.Sats
		}
	}
	return n
}
