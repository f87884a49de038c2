package sim

import (
	"hash/maphash"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestAddressBookCollision: two addresses whose hashes collide (forced
// here, about one chance in 10^5 in a chain of fifty million) each keep
// their own truth and script.
func TestAddressBookCollision(t *testing.T) {
	mk := func() *sim {
		return &sim{r: rand.New(rand.NewPCG(1, 2)), w: &BTCWorld{Addresses: newAddressBook()}, deposit: map[string]bool{}}
	}
	// A twin simulation, drawing the same numbers, tells the second
	// address's text before it is made.
	twin := mk()
	twin.newAddress(7, p2pkh, "receive", -1)
	a2text := twin.newAddress(9, p2tr, "deposit", 3)
	s := mk()
	b := s.w.Addresses
	a1 := s.newAddress(7, p2pkh, "receive", -1)
	b.ids[maphash.String(b.seed, a2text)] = b.ids[maphash.String(b.seed, a1)]
	a2 := s.newAddress(9, p2tr, "deposit", 3)
	if a2 != a2text {
		t.Fatalf("made %s, probed %s", a2, a2text)
	}
	if len(b.dup) != 1 {
		t.Fatalf("dup holds %d addresses, want 1", len(b.dup))
	}
	for _, c := range []struct {
		a                string
		owner, account   int
		role             string
		scriptLen, first int
	}{{a1, 7, -1, "receive", 25, 0x76}, {a2, 9, 3, "deposit", 34, 0x51}} {
		info, ok := b.Info(c.a)
		if !ok || info.Owner != c.owner || info.Account != c.account || info.Role != c.role || info.Address != c.a {
			t.Errorf("%s: %+v %v", c.a, info, ok)
		}
		if sc := b.script(c.a); len(sc) != c.scriptLen || int(sc[0]) != c.first {
			t.Errorf("%s: script %x", c.a, sc)
		}
	}
	var got []string
	for info := range b.sorted() {
		got = append(got, info.Address)
	}
	want := []string{a1, a2}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("sorted %v, want %v", got, want)
	}
	if _, ok := b.Info("bcrt1qnotanaddress"); ok {
		t.Error("an address never made is in the book")
	}
}
