//go:build !cgo

package pebblemem

// cgoAlloc: without cgo, Pebble's manual allocator makes Go slices
// (pebble/internal/manual, manual_nocgo.go).
const cgoAlloc = false
