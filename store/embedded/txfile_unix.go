//go:build unix

package embedded

import (
	"sync"
	"sync/atomic"
	"syscall"
)

// mapping maps a transaction file into memory for reading, so that a
// record is read without a system call: the tracer reads transactions
// one by one, and with a read through the file a trace over a small
// simulated chain took a fifth to a third more time than with the
// records in Pebble's block cache (BenchmarkTrace, scale 5).
//
// A mapping is made larger than the file, doubling as the file grows,
// and is never unmapped while the store is open: a reader that loaded
// one may still be using it. The file never shrinks while the store is
// open (a rollback only moves the committed end back), so a read inside
// the committed end is always inside the file; touching a mapped page
// past the file's end would fault.
type mapping struct {
	mu  sync.Mutex
	cur atomic.Pointer[[]byte]
	all [][]byte
}

// minMapping is the smallest mapping: address space, not memory. Tests
// make it small, to map again and again.
var minMapping = 64 << 20

// bytesAt returns the n bytes at off, in place, or read into buf where
// the file cannot be mapped that far.
func (tf *txFile) bytesAt(off uint64, n uint32, buf []byte) ([]byte, error) {
	end := off + uint64(n)
	m := tf.cur.Load()
	if m == nil || uint64(len(*m)) < end {
		var err error
		if m, err = tf.mapAtLeast(end); err != nil {
			return tf.readAt(off, n, buf)
		}
	}
	return (*m)[off:end:end], nil
}

func (tf *txFile) mapAtLeast(size uint64) (*[]byte, error) {
	tf.mu.Lock()
	defer tf.mu.Unlock()
	m := tf.cur.Load()
	if m != nil && uint64(len(*m)) >= size {
		return m, nil
	}
	l := uint64(minMapping)
	if m != nil {
		l = 2 * uint64(len(*m))
	}
	for l < size {
		l *= 2
	}
	b, err := syscall.Mmap(int(tf.f.Fd()), 0, int(l), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	// The older mappings stay (a reader may hold one) but give up their
	// pages: the file's pages are the system's file cache, shared by
	// every mapping, but each mapping that touched a page counts it in
	// the process's resident memory again. Without this the index of a
	// 10.6 M-transaction chain peaked at 9.0 GB resident, 5.9 GB of it
	// file pages for a 3.4 GB file; with it, 5.6 GB (2.6 GB file). A page
	// touched again through an old mapping is mapped in again from the
	// cache: no copy, no read from disk while it is cached.
	for _, old := range tf.all {
		if err := syscall.Madvise(old, syscall.MADV_DONTNEED); err != nil {
			syscall.Munmap(b)
			return nil, err
		}
	}
	tf.all = append(tf.all, b)
	tf.cur.Store(&b)
	return &b, nil
}

func (tf *txFile) unmap() error {
	tf.mu.Lock()
	defer tf.mu.Unlock()
	var first error
	for _, b := range tf.all {
		if err := syscall.Munmap(b); err != nil && first == nil {
			first = err
		}
	}
	tf.all = nil
	tf.cur.Store(nil)
	return first
}
