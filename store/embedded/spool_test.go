package embedded

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// TestSpoolIngest: entries set in no order, some keys several times,
// spilled to many runs that are merged in tiers along the way, come out as the
// store's keys under each table prefix — the last value set of each key
// (as a batch keeps it), every older key under those prefixes gone, and
// the keys under other prefixes untouched. The expected keys are kept
// in a map as they are set.
func TestSpoolIngest(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	prefixes := [][]byte{{'x', 1}, {'x', 2}, {'y', 1}}
	// Keys already there: under two of the prefixes, to be replaced,
	// and under one the spool never writes, to be kept.
	b := st.db.NewBatch()
	for _, p := range append(prefixes[:2:2], []byte{'x', 3}) {
		for i := range 50 {
			b.Set(append(slices.Clone(p), fmt.Sprintf("old%03d", i)...), []byte("old"), nil)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := range 50 {
		want[fmt.Sprintf("x\x03old%03d", i)] = "old"
	}
	sp := newSpool(st, "test")
	sp.limit, sp.maxRuns = 4<<10, 3
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20_000 {
		p := prefixes[r.IntN(len(prefixes))]
		k := append(slices.Clone(p), fmt.Sprintf("k%05d", r.IntN(6000))...)
		v := fmt.Sprintf("v%d", i)
		if err := sp.set(k, []byte(v)); err != nil {
			t.Fatal(err)
		}
		want[string(k)] = v
	}
	if sp.n < 10 || slices.Max(sp.tier) < 2 {
		t.Fatalf("%d run files made, tiers %v: the test means many, merged twice over", sp.n, sp.tier)
	}
	if err := sp.ingestTables(ctx, 2); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	it, err := st.db.NewIter(&pebble.IterOptions{LowerBound: []byte{'x'}, UpperBound: []byte{'z'}})
	if err != nil {
		t.Fatal(err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		got[string(it.Key())] = string(it.Value())
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("%d keys, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%q = %q, want %q", k, got[k], v)
			break
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%q left", k)
			break
		}
	}
	left, _ := filepath.Glob(filepath.Join(st.path, ingestDir, "*"))
	if len(left) > 0 {
		t.Errorf("files left: %v", left)
	}
	// The run files are checked entry by entry: a cut one is an error
	// that names it, and the table is left as it was, not replaced by a
	// short one.
	count := func() (n int) {
		it, _ := st.db.NewIter(&pebble.IterOptions{LowerBound: []byte("x\x01"), UpperBound: []byte("x\x02")})
		for ok := it.First(); ok; ok = it.Next() {
			n++
		}
		it.Close()
		return n
	}
	before := count()
	sp = newSpool(st, "cut")
	sp.limit = 1 << 10
	for i := range 200 {
		sp.set(fmt.Appendf(nil, "x\x01k%04d", 199-i), bytes.Repeat([]byte{'v'}, 20))
	}
	if len(sp.runs) == 0 {
		t.Fatal("no run spilled")
	}
	cut := sp.runs[0]
	fi, _ := os.Stat(cut)
	os.Truncate(cut, fi.Size()-3)
	if err := sp.ingestTables(ctx, 2); err == nil || !bytes.Contains([]byte(err.Error()), []byte(filepath.Base(cut))) {
		t.Errorf("cut run: %v", err)
	}
	if n := count(); n != before || n == 0 {
		t.Errorf("after a failed ingest the table holds %d keys, before %d", n, before)
	}
}
