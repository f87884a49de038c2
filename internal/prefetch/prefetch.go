// Package prefetch asks the processor to bring memory into its caches
// ahead of use, without waiting for it.
//
// A loop that looks up keys in a table larger than the processor's
// caches waits on memory at each lookup, one at a time. The index's
// cache of young outputs (ingest/btc, outputCache.warm) read a block's
// slots and entries first, in passes of plain loads, so that some of
// those waits overlapped; the loads themselves then took a tenth of the
// index's processor time. With prefetches instead (which hold no place
// in the processor's window of loads waiting to retire) the index of the
// 1.03 M-transaction chain took 7.1 s of processor time against 7.6 s,
// 4.2 s against 4.4 s of wall time (means of six interleaved pairs), and
// resolving fell from 24 % of the profile to 21 %. It is not a general
// win: in a small loop of independent loads the processor overlaps them
// as well by itself. Go has no prefetch of its own outside the runtime,
// hence the few lines of assembly, on amd64 and arm64; elsewhere Lines
// does nothing, and lookups wait as they would have.
package prefetch

// Lines asks for the cache line of each address in addrs. An address
// need not be valid: a prefetch never faults. It changes no memory and
// returns without waiting for any line.
func Lines(addrs []uintptr) { lines(addrs) }
