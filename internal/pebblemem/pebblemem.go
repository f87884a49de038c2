// Package pebblemem says how much memory fundtrace's Pebble databases
// (the embedded store, the indexer's table of unspent outputs) hold
// outside the Go heap, so that a command's memory limit can leave room
// for it.
//
// Pebble allocates its block cache and its memtables itself: with C's
// malloc in a binary built with cgo, as ordinary Go allocations in one
// built without. The Go runtime's soft memory limit
// (runtime/debug.SetMemoryLimit) sees only the second kind; a limit set
// without counting the first let the embedded store's index reach 1.97
// GB at 10.56 M transactions for a limit of 1.34 GB (the C allocations
// fill up as the chain grows: 1.34 GB at 1 M), where the same build
// without cgo peaked at 1.40 GB.
package pebblemem

// Outside is the most memory a Pebble database with a block cache of
// cacheBytes and at most memTables memtables of memTableBytes each holds
// outside the Go heap: all of it in a cgo build, none otherwise.
func Outside(cacheBytes, memTableBytes int64, memTables int) int64 {
	if !cgoAlloc {
		return 0
	}
	return cacheBytes + memTableBytes*int64(memTables)
}
