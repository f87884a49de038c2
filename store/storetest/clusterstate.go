package storetest

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// RunClusterState checks that a clustering run's state (ClusterWriter's
// State parts) is read back whole and in order once the run commits,
// replaces the state of the run before, and that a run's parts are
// never read as the state before it commits.
func RunClusterState(t *testing.T, st store.ClusterStore) {
	ctx := context.Background()
	c := chains.Ethereum
	read := func() [][]byte {
		t.Helper()
		var parts [][]byte
		if err := st.ClusterState(ctx, c, func(p []byte) error {
			parts = append(parts, bytes.Clone(p))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return parts
	}
	same := func(a, b [][]byte) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if !bytes.Equal(a[i], b[i]) {
				return false
			}
		}
		return true
	}
	if p := read(); len(p) != 0 {
		t.Fatalf("no run yet, %d parts of state", len(p))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	// Parts of many sizes, some past 256 KiB, one of zero bytes.
	var first [][]byte
	for _, n := range []int{300 << 10, 1, 0, 70_000, 256 << 10} {
		first = append(first, random(n))
	}
	run := func(reset bool, parts [][]byte, commit bool, during func()) {
		t.Helper()
		w, err := st.NewClusterWriter(ctx, c, reset)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		buf := make([]byte, 0, 400<<10)
		for _, p := range parts {
			// The writer must copy: the caller reuses its buffer.
			buf = append(buf[:0], p...)
			if err := w.State(buf); err != nil {
				t.Fatal(err)
			}
			for i := range buf {
				buf[i] ^= 0xff
			}
		}
		if during != nil {
			during()
		}
		if commit {
			if err := w.Commit(store.ClusterMeta{Heuristics: []string{"deposit"}, Height: 1, Addresses: 0}); err != nil {
				t.Fatal(err)
			}
		}
	}
	run(true, first, true, func() {
		if p := read(); len(p) != 0 {
			t.Fatalf("a run's state read before it commits: %d parts", len(p))
		}
	})
	if p := read(); !same(p, first) {
		t.Fatalf("state read back: %d parts, want the %d written", len(p), len(first))
	}
	// An incremental run's state replaces the first's; before it commits
	// the store reads the first's or none, never the new one's.
	second := [][]byte{random(5), random(200_000)}
	run(false, second, true, func() {
		if p := read(); len(p) != 0 && !same(p, first) {
			t.Fatalf("while a run writes, the state read is neither the last run's nor none: %d parts", len(p))
		}
	})
	if p := read(); !same(p, second) {
		t.Fatalf("after a second run: %d parts, want its %d", len(p), len(second))
	}
	// A run that never commits leaves no state of its own.
	run(false, [][]byte{random(10)}, false, nil)
	if p := read(); len(p) != 0 && !same(p, second) {
		t.Fatalf("after an interrupted run: %d parts", len(p))
	}
	// A recomputation that keeps no state leaves none.
	run(true, nil, true, nil)
	if p := read(); len(p) != 0 {
		t.Fatalf("a run that kept no state: %d parts read", len(p))
	}
}
