package btc

import "unsafe"

// keyTable maps the output cache's 64-bit keys to places in a
// generation's slice: an open-addressing table with linear probing, in
// one array of 16-byte slots. A put or take then costs one probe into
// that array, where a Go map spends more on hashing and probing its
// groups. Measured on the five real blocks of BenchmarkIndex, filing
// their outputs in the cache took 4 ms of a 55 ms index op with a map;
// this table took input resolution from 10.6 to 9.6 ms (medians of six
// processes each, interleaved).
//
// The keys are txid bytes mixed with the output index, already uniform,
// so their low bits pick the slot.
type keyTable struct {
	slots []keySlot // a power of two long, or empty
	n     int       // slots in use
}

type keySlot struct {
	key uint64
	at  uint32 // 1 + the place; 0 marks an empty slot
}

// find returns the slot holding k, or the empty slot that ends its probe.
func (t *keyTable) find(k uint64) (p int, ok bool) {
	mask := len(t.slots) - 1
	for p = int(k) & mask; ; p = (p + 1) & mask {
		s := &t.slots[p]
		if s.at == 0 {
			return p, false
		}
		if s.key == k {
			return p, true
		}
	}
}

// lookup returns the slot holding k and the place filed there.
func (t *keyTable) lookup(k uint64) (slot int, place uint32, ok bool) {
	if t.n == 0 {
		return 0, 0, false
	}
	slot, ok = t.find(k)
	return slot, t.slots[slot].at - 1, ok
}

// insert files place under k, unless k is filed already: then it returns
// the place k has, and leaves it.
func (t *keyTable) insert(k uint64, place uint32) (had uint32, ok bool) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	p, ok := t.find(k)
	if ok {
		return t.slots[p].at - 1, true
	}
	t.n++
	t.slots[p] = keySlot{k, place + 1}
	return 0, false
}

func (t *keyTable) grow() {
	old := t.slots
	t.slots = make([]keySlot, max(1024, 2*len(old)))
	for _, s := range old {
		if s.at != 0 {
			p, _ := t.find(s.key)
			t.slots[p] = s
		}
	}
}

// remove empties slot i, found by lookup. The slots after it in its
// probe run that could sit nearer their own first slot move back (Knuth's
// algorithm R), so that no probe ends early at the hole.
func (t *keyTable) remove(i int) {
	t.n--
	mask := len(t.slots) - 1
	for j := (i + 1) & mask; t.slots[j].at != 0; j = (j + 1) & mask {
		home := int(t.slots[j].key) & mask
		// The slot at j stays unless its home lies cyclically outside (i, j].
		if i <= j && (home <= i || home > j) || i > j && home <= i && home > j {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = keySlot{}
}

// slotAddr appends the address of the slot where k's probe starts, for
// outputCache.warm to prefetch; nothing while the table has no slots.
func (t *keyTable) slotAddr(addrs []uintptr, k uint64) []uintptr {
	if len(t.slots) == 0 {
		return addrs
	}
	return append(addrs, uintptr(unsafe.Pointer(&t.slots[int(k)&(len(t.slots)-1)])))
}

// len returns the number of keys filed.
func (t *keyTable) len() int { return t.n }

// reset empties the table, keeping its room.
func (t *keyTable) reset() {
	clear(t.slots)
	t.n = 0
}

// renumber calls fn for each key's place and files what it returns
// instead.
func (t *keyTable) renumber(fn func(place uint32) uint32) {
	for i := range t.slots {
		if s := &t.slots[i]; s.at != 0 {
			s.at = fn(s.at-1) + 1
		}
	}
}
