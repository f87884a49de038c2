package btc

import (
	"math/rand/v2"
	"testing"
)

// TestKeyTable runs random sets, gets and deletes against a Go map. The
// keys share their low bits in small groups, so that probe runs are long,
// overlap, and wrap around the end of the table, which is where deletion
// by moving slots back can go wrong.
func TestKeyTable(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	var kt keyTable
	want := map[uint64]uint32{}
	key := func() uint64 {
		// 22 distinct low parts, six of them at the table's end, and
		// high parts that tell keys apart.
		low := uint64(r.IntN(64))
		if low < 48 {
			low = 1023 - low/8
		}
		return uint64(r.IntN(40))<<32 | low
	}
	for step := range 200_000 {
		k := key()
		switch r.IntN(3) {
		case 0:
			v := uint32(step)
			had, ok := kt.insert(k, v)
			if w, wok := want[k]; ok != wok || ok && had != w {
				t.Fatalf("step %d: key %x: insert found %d %v, want %d %v", step, k, had, ok, w, wok)
			}
			if !ok {
				want[k] = v
			}
		case 1:
			if slot, _, ok := kt.lookup(k); ok {
				kt.remove(slot)
			}
			delete(want, k)
		}
		_, got, ok := kt.lookup(k)
		w, wok := want[k]
		if ok != wok || ok && got != w {
			t.Fatalf("step %d: key %x: got %d %v, want %d %v", step, k, got, ok, w, wok)
		}
		if kt.len() != len(want) {
			t.Fatalf("step %d: %d keys, want %d", step, kt.len(), len(want))
		}
		if step%1000 == 0 {
			for k, w := range want {
				if _, got, ok := kt.lookup(k); !ok || got != w {
					t.Fatalf("step %d: key %x: got %d %v, want %d", step, k, got, ok, w)
				}
			}
		}
	}
	if len(kt.slots) != 1024 {
		t.Errorf("table grew to %d slots for at most %d keys", len(kt.slots), 40*22)
	}
	kt.renumber(func(p uint32) uint32 { return p + 1 })
	for k, w := range want {
		if _, got, _ := kt.lookup(k); got != w+1 {
			t.Fatalf("after renumbering: key %x: got %d, want %d", k, got, w+1)
		}
	}
	kt.reset()
	if _, _, ok := kt.lookup(key()); ok || kt.len() != 0 {
		t.Fatal("reset left keys")
	}
}
