package heuristics

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
)

func addr(b byte) chains.Address {
	return chains.MakeAddress(chains.KindWitnessV0KH, []byte{b, 1, 2, 3})
}

func out(i int, v int64, a chains.Address, t chains.ScriptType) chains.Output {
	return chains.Output{Index: uint32(i), Value: v, Type: t, Addresses: []chains.Address{a}}
}

func in(v int64, a chains.Address, t chains.ScriptType) chains.Input {
	return chains.Input{Prevout: chains.Output{Value: v, Type: t, Addresses: []chains.Address{a}}}
}

// wabisabi is a round of 12 inputs paying 30 outputs in standard
// denominations, 16 of them of one value (more than the inputs), and a
// few values once.
func wabisabi() *chains.Tx {
	tx := &chains.Tx{}
	for i := range 12 {
		tx.Inputs = append(tx.Inputs, in(int64(1_000_000+i*77_777), addr(byte(i)), chains.ScriptWitnessV0KH))
	}
	var vals []int64
	for range 16 {
		vals = append(vals, 200_000)
	}
	for range 8 {
		vals = append(vals, 50_000)
	}
	vals = append(vals, 100_000, 131_072, 262_144, 5_000, 10_000, 20_000)
	for i, v := range vals {
		tx.Outputs = append(tx.Outputs, out(i, v, addr(byte(100+i)), chains.ScriptWitnessV0KH))
	}
	return tx
}

// tx0 is a Whirlpool Tx0 of five inputs of one wallet: four equal premix
// outputs, the coordinator's fee, change, and the OP_RETURN Whirlpool
// writes.
func tx0() *chains.Tx {
	tx := &chains.Tx{}
	for i := range 5 {
		tx.Inputs = append(tx.Inputs, in(1_000_000, addr(byte(i)), chains.ScriptWitnessV0KH))
	}
	for i := range 4 {
		tx.Outputs = append(tx.Outputs, out(i, 1_001_200, addr(byte(100+i)), chains.ScriptWitnessV0KH))
	}
	tx.Outputs = append(tx.Outputs, out(4, 50_000, addr(200), chains.ScriptWitnessV0KH), out(5, 900_000, addr(201), chains.ScriptWitnessV0KH),
		chains.Output{Index: 6, Type: chains.ScriptNullData})
	return tx
}

func TestUnionFind(t *testing.T) {
	var u UnionFind
	for range 6 {
		u.Add()
	}
	if !u.Union(0, 1) || !u.Union(2, 3) || !u.Union(1, 3) || u.Union(0, 2) {
		t.Fatal("union results")
	}
	if u.Find(0) != u.Find(3) || u.Find(4) == u.Find(0) || u.Size(2) != 4 || u.Size(5) != 1 {
		t.Fatal("sets")
	}
}

// TestIsCoinJoin on hand-built transactions of each pattern, and on
// ordinary ones that share some of their features.
func TestIsCoinJoin(t *testing.T) {
	wk := chains.ScriptWitnessV0KH
	equal := func(nin, nequal int, extra ...int64) *chains.Tx {
		tx := &chains.Tx{}
		for i := range nin {
			tx.Inputs = append(tx.Inputs, in(2_000_000, addr(byte(i)), wk))
		}
		for i := range nequal {
			tx.Outputs = append(tx.Outputs, out(i, 1_000_000, addr(byte(100+i)), wk))
		}
		for i, v := range extra {
			tx.Outputs = append(tx.Outputs, out(nequal+i, v, addr(byte(200+i)), wk))
		}
		return tx
	}
	for _, c := range []struct {
		name string
		tx   *chains.Tx
		want bool
	}{
		{"whirlpool 5 in, 5 equal out", equal(5, 5), true},
		{"wasabi 20 in, 20 equal out and change", equal(20, 20, 123_456, 234_567, 345_678), true},
		{"joinmarket 2 in, 2 equal and 2 change", equal(2, 2, 555_555, 666_666), true},
		{"payment with change", equal(1, 1, 345_678), false},
		{"batch withdrawal, one input", equal(1, 0, 1, 2, 3, 4, 5, 6, 7, 8), false},
		{"tx0: three equal premix outputs from one input", equal(1, 3, 50_000, 700_000), false},
		{"two equal outputs among many: a batch", equal(2, 2, 1, 2, 3, 4), false},
		{"joinmarket 5 in, 4 equal and 4 change", equal(5, 4, 11_111, 22_222, 33_333, 44_444), true},
		{"batch payout: 12 inputs, one amount paid 4 times among 30", equal(12, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26), false},
		{"wabisabi: 12 inputs, denominations repeating beyond the inputs", wabisabi(), true},
		{"tx0 with an OP_RETURN: 5 inputs, 4 equal premix outputs", tx0(), false},
	} {
		if got := IsCoinJoin(c.tx); got != c.want {
			t.Errorf("%s: IsCoinJoin = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestTx0LinksInputsOnly: a Tx0's inputs are one wallet's (multi-input
// links them), but none of the change heuristics reads its outputs: the
// smallest, the coordinator's fee, is not change.
func TestTx0LinksInputsOnly(t *testing.T) {
	tx := tx0()
	if !IsTx0(tx) || IsCoinJoin(tx) {
		t.Fatal("a Tx0 not recognised, or taken for a CoinJoin")
	}
	h := &Bitcoin{Enabled: map[string]bool{MultiInput: true, ChangeOptimal: true, ChangeFresh: true, ChangeScript: true}, Seen: func(chains.Address, int64) bool { return false }}
	links := h.Links(tx)
	if len(links) != 4 {
		t.Fatalf("%d links, want the 4 of multi-input", len(links))
	}
	for _, l := range links {
		if l.Heuristic != MultiInput {
			t.Fatalf("link %+v", l)
		}
	}
}

// TestChangeHeuristics: each links the input owner with the one output it
// picks, and nothing when more than one output qualifies.
func TestChangeHeuristics(t *testing.T) {
	wk, pkh := chains.ScriptWitnessV0KH, chains.ScriptPubKeyHash
	payer, payee, change := addr(1), addr(2), addr(3)
	seen := map[chains.Address]bool{payee: true}
	h := func(names ...string) *Bitcoin {
		on := map[string]bool{}
		for _, n := range names {
			on[n] = true
		}
		return &Bitcoin{Enabled: on, Seen: func(a chains.Address, _ int64) bool { return seen[a] }}
	}
	tx := &chains.Tx{Hash: chains.Hash{9}, Inputs: []chains.Input{in(3_000_000, payer, wk), in(1_500_000, addr(4), wk)},
		Outputs: []chains.Output{out(0, 2_000_000, payee, pkh), out(1, 2_487_654, change, wk)}}
	links := func(b *Bitcoin) map[string]chains.Address {
		m := map[string]chains.Address{}
		for _, l := range b.Links(tx) {
			if l.Heuristic != MultiInput {
				if l.A != payer {
					t.Fatalf("%s links from %x, not the first input's address", l.Heuristic, []byte(l.A))
				}
				m[l.Heuristic] = l.B
			}
		}
		return m
	}
	got := links(h(MultiInput, ChangeFresh, ChangeScript, ChangeRound, ChangeOptimal))
	for _, name := range []string{ChangeFresh, ChangeScript, ChangeRound} {
		if got[name] != change {
			t.Errorf("%s did not pick the change output: %v", name, got)
		}
	}
	// Optimal change: the change (2,487,654) is not smaller than the
	// smallest input (1,500,000), so the heuristic stays silent.
	if _, ok := got[ChangeOptimal]; ok {
		t.Errorf("change-optimal linked although no output is smaller than every input")
	}
	var mi int
	for _, l := range h(MultiInput).Links(tx) {
		if l.Heuristic == MultiInput && l.A == payer && l.B == addr(4) && l.Tx == tx.Hash {
			mi++
		}
	}
	if mi != 1 {
		t.Fatal("multi-input did not link the two inputs")
	}
	// Both outputs fresh: change-fresh cannot tell.
	delete(seen, payee)
	if _, ok := links(h(ChangeFresh))[ChangeFresh]; ok {
		t.Error("change-fresh linked with two fresh outputs")
	}
}

// TestFromRoots: sets rebuilt from each id's root are the sets the
// roots say, with their sizes, and go on merging; a root that is not its
// own, or out of range, is refused.
func TestFromRoots(t *testing.T) {
	u, ok := FromRoots([]uint32{0, 0, 2, 0, 2, 5})
	if !ok {
		t.Fatal("refused valid roots")
	}
	for i, want := range []uint32{0, 0, 2, 0, 2, 5} {
		if u.Find(uint32(i)) != want {
			t.Errorf("id %d: root %d, want %d", i, u.Find(uint32(i)), want)
		}
	}
	if u.Size(1) != 3 || u.Size(4) != 2 || u.Size(5) != 1 {
		t.Errorf("sizes %d %d %d", u.Size(1), u.Size(4), u.Size(5))
	}
	if !u.Union(4, 5) || u.Size(5) != 3 || u.Find(5) != u.Find(2) {
		t.Error("the rebuilt sets do not merge")
	}
	for _, bad := range [][]uint32{{1, 0}, {0, 3}} {
		if _, ok := FromRoots(bad); ok {
			t.Errorf("accepted %v", bad)
		}
	}
}

// TestLabel: each set is labelled with its smallest id, whatever the
// order of the unions, and its size handed out once, in label order.
func TestLabel(t *testing.T) {
	u := NewUnionFind(7)
	u.Union(6, 3)
	u.Union(3, 1)
	u.Union(5, 4)
	var got []string
	err := u.Label(func(label, size uint32) error {
		got = append(got, fmt.Sprint(label, ":", size))
		return nil
	})
	if err != nil || strings.Join(got, " ") != "0:1 1:3 2:1 4:2" {
		t.Fatalf("labels %v %v", got, err)
	}
	for id, want := range []uint32{0, 1, 2, 1, 4, 4, 1} {
		if l := u.LabelOf(uint32(id)); l != want {
			t.Errorf("id %d: label %d, want %d", id, l, want)
		}
	}
}

// TestLabelRandom: on random unions (deep trees included: chains joined
// smallest first), every id's label is its set's smallest member, each
// set's size is handed out once with its label, and afterwards Find
// answers the label too: Label rewrites the parents as it goes, and a
// set met through a root it has not relabelled yet must still give its
// label.
func TestLabelRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		n := 1 + rng.IntN(3000)
		u := NewUnionFind(n)
		set := make([]int, n) // a naive labelling: each id's set number
		for i := range set {
			set[i] = i
		}
		join := func(a, b int) {
			u.Union(uint32(a), uint32(b))
			from, to := set[b], set[a]
			for i := range set {
				if set[i] == from {
					set[i] = to
				}
			}
		}
		for range rng.IntN(2 * n) {
			if round%2 == 0 {
				join(rng.IntN(n), rng.IntN(n))
			} else if a := rng.IntN(n); a+1 < n {
				join(a+1, a) // chains, the later ids at the root
			}
		}
		least, size := map[int]uint32{}, map[int]uint32{}
		for i := n - 1; i >= 0; i-- {
			least[set[i]] = uint32(i)
			size[set[i]]++
		}
		var last int64 = -1
		seen := 0
		err := u.Label(func(label, sz uint32) error {
			if int64(label) <= last {
				t.Fatalf("round %d: label %d after %d", round, label, last)
			}
			last = int64(label)
			if least[set[label]] != label || size[set[label]] != sz {
				t.Fatalf("round %d: label %d size %d, want the set's least %d and size %d", round, label, sz, least[set[label]], size[set[label]])
			}
			seen++
			return nil
		})
		if err != nil || seen != len(least) {
			t.Fatalf("round %d: %d labels of %d sets, %v", round, seen, len(least), err)
		}
		for i := range n {
			want := least[set[i]]
			if l := u.LabelOf(uint32(i)); l != want {
				t.Fatalf("round %d: id %d: label %d, want %d", round, i, l, want)
			}
			if f := u.Find(uint32(i)); f != want {
				t.Fatalf("round %d: id %d: Find %d, want the label %d", round, i, f, want)
			}
		}
	}
}
