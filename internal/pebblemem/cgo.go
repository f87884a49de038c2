//go:build cgo

package pebblemem

// cgoAlloc: Pebble's manual allocator calls C's calloc in a cgo build
// (pebble/internal/manual, manual_cgo.go).
const cgoAlloc = true
