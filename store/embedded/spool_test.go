package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// TestMergeRuns: runs of random sizes (some empty), keys of 0 to 20
// bytes that often share their first 8 (the merge's integer prefix) or
// all their bytes, within a run and across runs, and one entry longer
// than a run's read buffer, come out of mergeRuns as a stable sort of
// all the runs' entries, in run order, would put them; a run cut short
// is an error naming its file.
func TestMergeRuns(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	entry := func(k, v []byte) []byte {
		e := binary.AppendUvarint(nil, uint64(len(k)))
		e = append(e, k...)
		e = binary.AppendUvarint(e, uint64(len(v)))
		return append(e, v...)
	}
	key := func() []byte {
		k := make([]byte, r.IntN(21))
		for i := range k {
			// Few distinct bytes, so that prefixes and keys repeat.
			k[i] = byte(r.IntN(3))
		}
		return k
	}
	keyOf := func(e []byte) []byte { k, _ := lenPrefixed(e); return k }
	dir := t.TempDir()
	for _, runs := range []int{1, 2, 3, 7, 64, 129} {
		var all [][]byte
		paths := make([]string, runs)
		for i := range runs {
			var ents [][]byte
			for range r.IntN(300) {
				ents = append(ents, entry(key(), fmt.Appendf(nil, "run %d entry %d", i, len(ents))))
			}
			if i == runs/2 && len(ents) > 0 {
				ents[0] = entry(key(), bytes.Repeat([]byte{'v'}, runBuf+100))
			}
			slices.SortStableFunc(ents, func(a, b []byte) int { return bytes.Compare(keyOf(a), keyOf(b)) })
			all = append(all, ents...)
			paths[i] = filepath.Join(dir, fmt.Sprintf("%d-%d.run", runs, i))
			err := writeRun(paths[i], func(put func([]byte) error) error {
				for _, e := range ents {
					if err := put(e); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		slices.SortStableFunc(all, func(a, b []byte) int { return bytes.Compare(keyOf(a), keyOf(b)) })
		var got [][]byte
		if err := mergeRuns(paths, func(e []byte) error { got = append(got, slices.Clone(e)); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(all) {
			t.Fatalf("%d runs: %d entries merged, %d written", runs, len(got), len(all))
		}
		for i := range all {
			if !bytes.Equal(got[i], all[i]) {
				t.Fatalf("%d runs: entry %d is %q, want %q", runs, i, got[i], all[i])
			}
		}
		// The last run, cut short by a byte.
		last := paths[runs-1]
		fi, err := os.Stat(last)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() == 0 {
			continue
		}
		if err := os.Truncate(last, fi.Size()-1); err != nil {
			t.Fatal(err)
		}
		err = mergeRuns(paths, func([]byte) error { return nil })
		if err == nil || !strings.Contains(err.Error(), last) {
			t.Fatalf("%d runs, the last cut short: merge says %v, want an error naming %s", runs, err, last)
		}
	}
}
