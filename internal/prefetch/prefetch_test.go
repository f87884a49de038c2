package prefetch

import (
	"bytes"
	"math"
	"testing"
	"unsafe"
)

// TestLinesChangesNothing: asking for lines, of memory in use, of no
// memory (nil, the top of the address space) and of nothing at all,
// changes no byte and does not fault.
func TestLinesChangesNothing(t *testing.T) {
	buf := make([]byte, 1<<16)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	want := bytes.Clone(buf)
	var addrs []uintptr
	for i := 0; i < len(buf); i += 61 {
		addrs = append(addrs, uintptr(unsafe.Pointer(&buf[i])))
	}
	addrs = append(addrs, 0, 1, math.MaxUint64&^63, math.MaxUint64)
	Lines(addrs)
	Lines(nil)
	Lines(addrs[:1])
	if !bytes.Equal(buf, want) {
		t.Fatal("Lines changed memory")
	}
}
