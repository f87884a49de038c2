package pebblemem

import (
	"encoding/binary"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fundtrace/fundtrace/internal/pebblelog"
)

// heapBytes is the Go heap's live objects after a collection.
func heapBytes() int64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// TestOutsideMatchesPebble checks the package's one assumption against
// Pebble itself: a database's block cache, filled, is in the Go heap in
// a build without cgo and outside it in a build with cgo. A Pebble that
// changed its allocator would fail it in one build or the other.
func TestOutsideMatchesPebble(t *testing.T) {
	const (
		values = 12_000
		size   = 4096 // 49 MB of values, incompressible
	)
	cache := pebble.NewCache(96 << 20)
	defer cache.Unref()
	db, err := pebble.Open(t.TempDir(), &pebble.Options{Cache: cache, MemTableSize: 4 << 20, DisableWAL: true, Logger: pebblelog.Logger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	val := make([]byte, size)
	for i := range values {
		for j := 0; j < size; j += 8 {
			binary.LittleEndian.PutUint64(val[j:], rng.Uint64())
		}
		if err := db.Set(binary.BigEndian.AppendUint64(nil, uint64(i)), val, pebble.NoSync); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	before := heapBytes()
	// Reading every value brings every data block into the cache.
	it, err := db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for it.First(); it.Valid(); it.Next() {
		n += len(it.Value())
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	grown := heapBytes() - before
	cached := db.Metrics().BlockCache.Size
	t.Logf("cgo allocation %v: read %d MB; block cache %d MB; Go heap grew %d MB", cgoAlloc, n>>20, cached>>20, grown>>20)
	if cached < int64(n)*3/4 {
		t.Fatalf("the block cache holds %d bytes after reading %d: the test did not fill it", cached, n)
	}
	if cgoAlloc && grown > cached/4 {
		t.Errorf("built with cgo, the Go heap grew %d bytes as Pebble's cache took %d: Pebble allocates its cache in the Go heap, and Outside overstates", grown, cached)
	}
	if !cgoAlloc && grown < cached/2 {
		t.Errorf("built without cgo, the Go heap grew only %d bytes as Pebble's cache took %d: Pebble allocates outside the Go heap, and Outside's 0 understates", grown, cached)
	}
	if got, want := Outside(100, 10, 2), map[bool]int64{true: 120, false: 0}[cgoAlloc]; got != want {
		t.Errorf("Outside(100, 10, 2) = %d, want %d", got, want)
	}
}
