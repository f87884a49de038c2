//go:build cgo && linux

package pebblemem

/*
#include <malloc.h>

// limitArenas keeps glibc's malloc to two arenas. By default it makes
// up to eight per core, a new one whenever a thread meets contention,
// and each holds on to the memory freed in it; Pebble allocates and
// frees its cache blocks and memtables on many threads. Other C
// libraries have no M_ARENA_MAX and are left as they are.
static void limitArenas(void) {
#ifdef M_ARENA_MAX
	mallopt(M_ARENA_MAX, 2);
#endif
}
*/
import "C"

import "os"

// The arenas are limited before Pebble allocates. At 10.56 M
// transactions the embedded store's index peaked at 1.63 GB with its Go
// heap's limit lowered by the store's C allocations, at 1.47 GB with
// MALLOC_ARENA_MAX=2 as well and at 1.57 GB with this call instead (one
// run each). MALLOC_ARENA_MAX in the environment, read by glibc at the
// process's start, comes first.
func init() {
	if os.Getenv("MALLOC_ARENA_MAX") == "" {
		C.limitArenas()
	}
}
