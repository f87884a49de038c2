package cluster

import (
	"cmp"
	"slices"
)

// sortHashIDs sorts e in place by hash (byKey false) or by the key its
// id field holds while the index is built, then hash (byKey true): an
// American flag sort (an MSD radix sort that moves entries within the
// array), a byte of the key at a time, each bucket then sorted on by
// the next byte; small buckets by insertion. It needs no room beside
// the array, which at a billion addresses is 16 GB. pdqsort's
// comparisons took 0.74 s of a full run's 11 s over 2.9 M addresses,
// the two sorts of pass 1, and grow as n log n.
//
// Entries already in order (an index read back from a run's state file)
// are left as they are after one pass that checks them: the radix sort
// would go over them a byte at a time regardless (0.5 s at 27 M
// addresses).
func sortHashIDs(e []hashID, byKey bool) {
	for i := 1; i < len(e); i++ {
		if hashIDLess(&e[i], &e[i-1], byKey) {
			flagSort(e, byKey, 56)
			return
		}
	}
}

// smallSort is the bucket size below which insertion sort takes over.
const smallSort = 32

func flagSort(e []hashID, byKey bool, shift int) {
	for len(e) > smallSort {
		if shift < 0 {
			// Every bit of the key is equal: by hash (the keys of
			// addresses paid by one output).
			if byKey {
				slices.SortFunc(e, func(a, b hashID) int { return cmp.Compare(a.h, b.h) })
			}
			return
		}
		var count [256]int
		for i := range e {
			count[digit(&e[i], byKey, shift)]++
		}
		if count[digit(&e[0], byKey, shift)] == len(e) {
			shift -= 8 // every key has this byte
			continue
		}
		var start, next [256]int
		for b, at := 0, 0; b < 256; b++ {
			start[b], next[b] = at, at
			at += count[b]
		}
		// Each bucket is filled in turn: an entry found in the wrong
		// one is swapped with the next place of its own, until the
		// place holds one of the bucket being filled.
		for b := range 256 {
			end := start[b] + count[b]
			for next[b] < end {
				d := digit(&e[next[b]], byKey, shift)
				if int(d) == b {
					next[b]++
					continue
				}
				e[next[b]], e[next[d]] = e[next[d]], e[next[b]]
				next[d]++
			}
		}
		for b := range 256 {
			if count[b] > 1 {
				flagSort(e[start[b]:start[b]+count[b]], byKey, shift-8)
			}
		}
		return
	}
	for i := 1; i < len(e); i++ {
		for j := i; j > 0 && hashIDLess(&e[j], &e[j-1], byKey); j-- {
			e[j], e[j-1] = e[j-1], e[j]
		}
	}
}

// digit is the byte of e's sort key at shift.
func digit(e *hashID, byKey bool, shift int) byte {
	if byKey {
		return byte(e.id >> uint(shift))
	}
	return byte(e.h >> uint(shift))
}

func hashIDLess(a, b *hashID, byKey bool) bool {
	if byKey && a.id != b.id {
		return a.id < b.id
	}
	return a.h < b.h
}
