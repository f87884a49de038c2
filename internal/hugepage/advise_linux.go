package hugepage

import (
	"syscall"
	"unsafe"
)

// advise asks for huge pages over the whole 4 KiB pages of the n bytes
// at p: only their huge-page-aligned stretches can have them. It is
// advice; an error (a kernel without transparent huge pages) changes
// nothing.
func advise(p unsafe.Pointer, n uintptr) {
	if n < minBytes {
		return
	}
	const page = 4096
	b := unsafe.Slice((*byte)(p), n)
	lo := (page - uintptr(p)%page) % page
	hi := (uintptr(p)+n)&^(page-1) - uintptr(p)
	if hi <= lo {
		return
	}
	syscall.Madvise(b[lo:hi], syscall.MADV_HUGEPAGE)
}
