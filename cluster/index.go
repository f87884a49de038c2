package cluster

import (
	"math"
	"math/bits"
	"unsafe"

	"github.com/cespare/xxhash/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/internal/prefetch"
)

// addrIndex maps a chain's addresses to their dense ids without holding
// a single address: an array of (64-bit hash, id) sorted by hash, and a
// directory of where each range of hashes starts, so that a lookup reads
// a cache line or two. 16 bytes per address, where a Go map of address
// strings took ten times that.
//
// Two addresses of one hash would be one id. The index is built from
// every address at once, so such a pair shows up as two equal hashes
// side by side (seal), and the builder starts again with another seed;
// the chance of a pair is about n²/2⁶⁵ (one in 37 at a billion
// addresses), and of a pair under two seeds its square.
//
// An address that is not in the index (a store that begins after the
// chain's genesis spends outputs it never saw paid) is found in extra,
// an exact map, with an id past the others'. Such an address whose hash
// happens to be an indexed address's would be taken for that one: about
// n/2⁶⁴ per lookup, one in 18 billion at a billion addresses.
type addrIndex struct {
	seed    uint64
	ent     []hashID // sorted by hash
	dir     []uint32 // dir[k]: the first entry whose hash's top bits are ≥ k
	shift   uint
	extra   map[chains.Address]uint32
	extraAt map[chains.Address]int64 // the height each extra address was given its id
	next    uint32                   // the next id to give
	digest  *xxhash.Digest
}

// hashID is an entry of the index: an address's hash and its id. While
// an index is built, id holds other things first (a first-payment key).
type hashID struct {
	h  uint64
	id uint64
}

func newAddrIndex(seed uint64) *addrIndex {
	return &addrIndex{seed: seed, extra: map[chains.Address]uint32{}, extraAt: map[chains.Address]int64{}, digest: xxhash.NewWithSeed(seed)}
}

func (x *addrIndex) hash(a chains.Address) uint64 {
	if weakHash != nil {
		if h, ok := weakHash(x.seed, a); ok {
			return h
		}
	}
	if x.seed == 0 {
		return xxhash.Sum64String(string(a))
	}
	x.digest.ResetWithSeed(x.seed)
	x.digest.WriteString(string(a))
	return x.digest.Sum64()
}

// weakHash, set by tests, replaces the hash under the seeds it answers
// for: collisions on demand.
var weakHash func(seed uint64, a chains.Address) (uint64, bool)

// seal sorts the entries by hash and builds the directory; it reports
// false when two entries share a hash (build again with another seed).
func (x *addrIndex) seal() bool {
	sortHashIDs(x.ent, false)
	for i := 1; i < len(x.ent); i++ {
		if x.ent[i].h == x.ent[i-1].h {
			return false
		}
	}
	// Four to eight entries per directory slot: under a byte of
	// directory per address, and a lookup's binary search is over a
	// cache line or two.
	k := max(bits.Len(uint(len(x.ent)/8)), 1)
	x.shift = 64 - uint(k)
	x.dir = make([]uint32, 1<<k+1)
	j := 0
	for slot := range 1 << k {
		for j < len(x.ent) && x.ent[j].h>>x.shift < uint64(slot) {
			j++
		}
		x.dir[slot] = uint32(j)
	}
	x.dir[1<<k] = uint32(len(x.ent))
	return true
}

// lookup returns a's id; ok is false when a is not indexed.
func (x *addrIndex) lookup(a chains.Address) (uint32, bool) {
	if id, ok := x.find(x.hash(a)); ok {
		return id, true
	}
	if id, ok := x.extra[a]; ok {
		return id, true
	}
	return 0, false
}

// find returns the id of the entry of hash h, if there is one.
func (x *addrIndex) find(h uint64) (uint32, bool) {
	slot := h >> x.shift
	lo, hi := int(x.dir[slot]), int(x.dir[slot+1])
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if x.ent[m].h < h {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(x.ent) && x.ent[lo].h == h {
		return uint32(x.ent[lo].id), true
	}
	return 0, false
}

// idBatch looks up the ids of many indexed addresses at once, and asks
// for what each lookup and the caller's next read will wait on before
// reading any of it: in passes of prefetches (internal/prefetch), each
// address's directory slot, then its entries, then its id's entry in
// the caller's array. Looked up one by one, each address waited in turn
// on three reads at random places of arrays far larger than the
// processor's caches: a full clustering run's pass of assignments, over
// 2.9 M addresses, spent 2.2 s of its 4.7 s there (the label, one of the
// three, in the union-find's parents).
type idBatch struct {
	addrs []chains.Address
	hs    []uint64
	ids   []uint32 // noID: not indexed
	lines []uintptr
}

// noID marks an address the index does not hold.
const noID = math.MaxUint32

// idBatchSize is how many addresses an idBatch gathers: enough that its
// prefetches overlap one another's waits, few enough that the lines they
// ask for are still cached when read.
const idBatchSize = 256

// resolve fills b.ids for b.addrs from x's entries (not from extra),
// and asks for each id's entry of then, which the caller reads next.
func (b *idBatch) resolve(x *addrIndex, then []uint32) {
	b.warm(x)
	b.ids, b.lines = b.ids[:0], b.lines[:0]
	for _, h := range b.hs {
		id, ok := x.find(h)
		if !ok {
			b.ids = append(b.ids, noID)
			continue
		}
		b.ids = append(b.ids, id)
		if int(id) < len(then) {
			b.lines = append(b.lines, uintptr(unsafe.Pointer(&then[id])))
		}
	}
	prefetch.Lines(b.lines)
}

// warm hashes b.addrs into b.hs and asks for the lines of x that their
// lookups read: the directory's slots, then the entries they point at.
func (b *idBatch) warm(x *addrIndex) {
	b.hs, b.lines = b.hs[:0], b.lines[:0]
	for _, a := range b.addrs {
		h := x.hash(a)
		b.hs = append(b.hs, h)
		b.lines = append(b.lines, uintptr(unsafe.Pointer(&x.dir[h>>x.shift])))
	}
	prefetch.Lines(b.lines)
	b.lines = b.lines[:0]
	for _, h := range b.hs {
		slot := h >> x.shift
		if lo, hi := x.dir[slot], x.dir[slot+1]; lo < hi {
			b.lines = append(b.lines, uintptr(unsafe.Pointer(&x.ent[lo])), uintptr(unsafe.Pointer(&x.ent[hi-1])))
		}
	}
	prefetch.Lines(b.lines)
}

// add gives a, not indexed, the next id, at height h.
func (x *addrIndex) add(a chains.Address, h int64) uint32 {
	id := x.next
	x.next++
	x.extra[a] = id
	x.extraAt[a] = h
	return id
}
