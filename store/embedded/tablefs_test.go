package embedded

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestTableFSWrites: a table file written through tableFS in pieces of
// every size, small ones gathered and large ones passed through, reads
// back byte for byte, and is whole whenever it is synced, stat'ed or
// read, not only once closed; other files are not buffered.
func TestTableFSWrites(t *testing.T) {
	mem := vfs.NewMem()
	fs := tableFS{mem}
	f, err := fs.Create("000001.sst", vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.(*bufferedFile); !ok {
		t.Fatalf("a table file is a %T, not buffered", f)
	}
	r := rand.New(rand.NewPCG(4, 4))
	var want []byte
	size := func() int64 {
		t.Helper()
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	for i := range 300 {
		n := r.IntN(5000)
		if i%50 == 0 {
			n = tableWriteBuf + r.IntN(1000) // past the buffer: written through
		}
		p := make([]byte, n)
		fill(r, p)
		// Kept before the write: in a race build (Pebble's invariants)
		// the memory file system overwrites what it was handed once it
		// has copied it, to catch a caller that reuses it too soon.
		want = append(want, p...)
		if _, err := f.Write(p); err != nil {
			t.Fatal(err)
		}
		switch i % 97 {
		case 13:
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
		case 29:
			if _, err := f.SyncTo(int64(len(want))); err != nil {
				t.Fatal(err)
			}
		case 41:
			got := make([]byte, 100)
			if _, err := f.ReadAt(got, int64(len(want)-100)); err != nil || !bytes.Equal(got, want[len(want)-100:]) {
				t.Fatalf("write %d: ReadAt of the last 100 bytes: %v", i, err)
			}
		}
		if i%97 == 13 || i%97 == 29 || i%97 == 71 {
			if got := size(); got != int64(len(want)) {
				t.Fatalf("write %d: stat says %d bytes, %d written", i, got, len(want))
			}
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	rf, err := mem.Open("000001.sst")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rf)
	rf.Close()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes (%v), wrote %d, equal %v", len(got), err, len(want), bytes.Equal(got, want))
	}
	// The write-ahead log is written as Pebble writes it.
	w, err := fs.Create("000002.log", vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := w.(*bufferedFile); ok {
		t.Fatal("the log is buffered")
	}
	w.Close()
}
