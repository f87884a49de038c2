package cluster

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/heuristics"
	"github.com/fundtrace/fundtrace/ingest/btc"
	"github.com/fundtrace/fundtrace/sim"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/store/embedded"
)

// TestAddrIndex: every address indexed is found with its id, an address
// not indexed is not, and two addresses of one hash are reported.
func TestAddrIndex(t *testing.T) {
	x := testIndex(t, 5000)
	for i := range 5000 {
		if id, ok := x.lookup(chains.Address(fmt.Sprint("a", i))); !ok || id != uint32(i) {
			t.Fatalf("a%d: %d %v", i, id, ok)
		}
	}
	for i := range 5000 {
		if _, ok := x.lookup(chains.Address(fmt.Sprint("b", i))); ok {
			t.Fatalf("b%d found", i)
		}
	}
	x.next = 5000
	if id := x.add("b1", 7); id != 5000 {
		t.Fatalf("extra address: id %d", id)
	}
	if id, ok := x.lookup("b1"); !ok || id != 5000 || x.extraAt["b1"] != 7 {
		t.Fatalf("extra address: %d %v", id, ok)
	}
	x.ent = append(x.ent, hashID{h: x.ent[10].h, id: 5001})
	if x.seal() {
		t.Fatal("a repeated hash is not reported")
	}
}

// testIndex seals an index of addresses a0..a(n-1), address ai of id i.
func testIndex(t *testing.T, n int) *addrIndex {
	t.Helper()
	x := newAddrIndex(0)
	for i := range n {
		x.ent = append(x.ent, hashID{h: x.hash(chains.Address(fmt.Sprint("a", i))), id: uint64(i)})
	}
	if !x.seal() {
		t.Fatalf("%d distinct addresses collide", n)
	}
	return x
}

// TestIDBatch: a batch gives every indexed address its id, as lookup
// does, and noID to one the index does not hold, an extra address's
// included (the assignments pass, the batch's user, meets none); the
// array whose lines it asks for may be shorter than the ids.
func TestIDBatch(t *testing.T) {
	x := testIndex(t, 3000)
	x.next = 3000
	x.add("extra", 1)
	then := make([]uint32, 1000)
	var b idBatch
	for start := 0; start < 4000; start += idBatchSize {
		b.addrs = b.addrs[:0]
		var want []uint32
		for i := start; i < min(start+idBatchSize, 4000); i++ {
			if i%7 == 3 {
				b.addrs = append(b.addrs, chains.Address(fmt.Sprint("b", i)))
				want = append(want, noID)
				continue
			}
			if i == 1234 {
				b.addrs = append(b.addrs, "extra")
				want = append(want, noID)
				continue
			}
			a := chains.Address(fmt.Sprint("a", i%3000))
			b.addrs = append(b.addrs, a)
			id, ok := x.lookup(a)
			if !ok {
				t.Fatalf("%s not indexed", a)
			}
			want = append(want, id)
		}
		b.resolve(x, then)
		if fmt.Sprint(b.ids) != fmt.Sprint(want) {
			t.Fatalf("addresses %d on: ids %v, want %v", start, b.ids, want)
		}
	}
}

// TestCollisionsRetry: when two addresses share a hash under the first
// seed, the run indexes again under another and its clusters are those
// of a run without the collision, ids and all.
func TestCollisionsRetry(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := sim.WriteBTC(sim.GenerateBTC(sim.BTCConfig{Seed: 5, Days: 3}), dir, sim.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	set := []string{heuristics.MultiInput, heuristics.ChangeFresh}
	dumps := map[bool]string{}
	for _, collide := range []bool{false, true} {
		st := tempStore(t)
		if _, err := btc.Index(ctx, st, btc.IndexConfig{Dir: filepath.Join(dir, sim.BlocksDir)}); err != nil {
			t.Fatal(err)
		}
		seeds := map[uint64]bool{}
		weakHash = func(seed uint64, a chains.Address) (uint64, bool) {
			seeds[seed] = true
			if collide && seed == 0 {
				return uint64(len(a)), true // every address of one length collides
			}
			return 0, false
		}
		_, err := Run(ctx, st, chains.Bitcoin, set)
		weakHash = nil
		if err != nil {
			t.Fatal(err)
		}
		if collide && !seeds[1] {
			t.Fatal("the run did not index again under another seed")
		}
		dumps[collide] = clusterDump(t, st)
	}
	if dumps[false] != dumps[true] || strings.Count(dumps[false], "\n") < 100 {
		t.Fatal("clusters after a collision differ from clusters without one")
	}
}

// TestInterruptedRun: a run that stops before it commits leaves the
// chain without clusters (never half-written ones), and the next run
// recomputes them whole.
func TestInterruptedRun(t *testing.T) {
	ctx := context.Background()
	st := tempStore(t)
	if _, err := btc.Index(ctx, st, btc.IndexConfig{Dir: "../testdata/sim/btc/blocks"}); err != nil {
		t.Fatal(err)
	}
	set := []string{heuristics.MultiInput, heuristics.ChangeFresh}
	if _, err := Run(ctx, st, chains.Bitcoin, set); err != nil {
		t.Fatal(err)
	}
	want := clusterDump(t, st)
	// A run stopped half way: some rows and links written, no commit.
	w, err := st.NewClusterWriter(ctx, chains.Bitcoin, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Row(clusterRowFor(t, st)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if _, ok, err := st.ClusterMeta(ctx, chains.Bitcoin); ok || err != nil {
		t.Fatalf("clusters of an interrupted run are visible (%v)", err)
	}
	sum, err := Run(ctx, st, chains.Bitcoin, set)
	if err != nil || sum.Incremental {
		t.Fatalf("after an interrupted run: %+v %v", sum, err)
	}
	if got := clusterDump(t, st); got != want {
		t.Fatal("clusters recomputed after an interrupted run differ")
	}
}

// clusterRowFor is a wrong assignment of a stored address.
func clusterRowFor(t *testing.T, st *embedded.Store) (r store.ClusterRow) {
	t.Helper()
	err := st.EachAssignment(context.Background(), chains.Bitcoin, func(a chains.Address, index, cluster uint32) error {
		if r.Address == "" {
			r.Index, r.Address, r.Cluster = index, a, index+1
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSortHashIDs: the radix sort orders as the comparison sorts it
// replaced, by hash, and by key then hash, on random keys, on keys that
// share their high bytes (heights), and on runs of equal keys.
func TestSortHashIDs(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 40 {
		n := rng.IntN(5000)
		e := make([]hashID, n)
		for i := range e {
			e[i].h = rng.Uint64()
			switch round % 4 {
			case 0:
				e[i].id = rng.Uint64()
			case 1:
				e[i].id = uint64(rng.IntN(3000))<<36 | uint64(rng.IntN(50))<<16 | uint64(rng.IntN(4))
			case 2:
				e[i].id = uint64(rng.IntN(3)) // long runs of one key
				e[i].h = uint64(rng.IntN(1000)) << 50
			default:
				e[i].id = 7
			}
		}
		for _, byKey := range []bool{false, true} {
			got, want := slices.Clone(e), slices.Clone(e)
			sortHashIDs(got, byKey)
			slices.SortFunc(want, func(a, b hashID) int {
				if byKey {
					if c := cmp.Compare(a.id, b.id); c != 0 {
						return c
					}
				}
				return cmp.Compare(a.h, b.h)
			})
			for i := range got {
				// Entries equal in what is compared may lie in either order.
				if got[i].h != want[i].h || byKey && got[i].id != want[i].id {
					t.Fatalf("round %d, by key %v, n %d: entry %d is %v, want %v", round, byKey, n, i, got[i], want[i])
				}
			}
			if !slices.EqualFunc(sortedSet(got), sortedSet(e), func(a, b hashID) bool { return a == b }) {
				t.Fatalf("round %d: the sort lost or made entries", round)
			}
		}
	}
}

func sortedSet(e []hashID) []hashID {
	s := slices.Clone(e)
	slices.SortFunc(s, func(a, b hashID) int {
		if c := cmp.Compare(a.h, b.h); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	return s
}
