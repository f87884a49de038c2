package embedded

import (
	"encoding/binary"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// An address's history (table a) is one key per payment, the address
// first and the payment's height, position and output after it. The
// indexer asks, for every address a block pays that its cache of recent
// ones does not hold, whether the store has any history for it: most are
// new, and a seek into the history found that out by reading an index
// and a data block of each level, 37 % of the index's processor time at
// 5.45 M transactions and growing with the chain. So the store's
// comparer splits a history key after the address, its "prefix" in
// Pebble's terms: each table's bloom filter holds the addresses, not the
// whole keys, and a SeekPrefixGE by address (seenCheck) skips every table
// whose filter says the address is not there (3.1 M transactions indexed
// in 57 s instead of 72, 10.56 M in 263 s instead of 364–399). Keys of
// every other table are their own prefix, as before.
//
// The order of keys does not change (bytes, as before): the prefix ends
// after the address's length byte and bytes, so two different prefixes
// differ within both and order the keys as they do, and keys of one
// prefix order as their suffixes do (Pebble's rules for Split).
//
// The comparer keeps the default's name, which Pebble records in the
// store and checks at open, so that stores made before open. Their tables'
// filters were built from whole keys, under bloom's name; the new tables'
// are built under another name (prefixBloom), and the old ones are read
// through oldBloom, which answers "maybe" for an address's prefix (its
// filter holds no prefixes) and what the filter says for any other key.
var comparer = func() *pebble.Comparer {
	c := *pebble.DefaultComparer
	c.Split = splitKey
	return &c
}()

// tableFilter is every level's filter policy (a variable for the test
// that makes a store as the versions before wrote it).
var tableFilter pebble.FilterPolicy = prefixBloom{}

// splitKey returns the length of k's prefix: a history key's up to the
// end of its address, any other key's whole length.
func splitKey(k []byte) int {
	if len(k) >= 3 && k[0] == tAddr {
		if n := 3 + int(k[2]); n <= len(k) {
			return n
		}
	}
	return len(k)
}

// prefixBloom is a table's filter in two parts, one over the history's
// address prefixes and one over every other key (both Pebble's bloom
// filters, one cache line probed per look): 16 bits an address, where 10
// let 1 % of the looks for a new address through to a data block of
// each table, the addresses being most of the looks an index makes and
// each table of level 0 spanning them all; 10 bits a key for the rest,
// as before. The encoding: the address part's length (uvarint), the
// address part, the other part.
type prefixBloom struct{}

// The bits per key of each part.
const (
	addrFilterBits  = 16
	otherFilterBits = 10
)

func (prefixBloom) Name() string { return "fundtrace.prefix-bloom" }

func (prefixBloom) MayContain(ftype pebble.FilterType, f, key []byte) bool {
	n, k := binary.Uvarint(f)
	if k <= 0 || n > uint64(len(f)-k) {
		return true // not a filter this version wrote: the table is read
	}
	f = f[k:]
	if len(key) > 0 && key[0] == tAddr {
		return bloom.FilterPolicy(addrFilterBits).MayContain(ftype, f[:n], key)
	}
	return bloom.FilterPolicy(otherFilterBits).MayContain(ftype, f[n:], key)
}

func (prefixBloom) NewWriter(ftype pebble.FilterType) pebble.FilterWriter {
	return &prefixBloomWriter{
		addrs: bloom.FilterPolicy(addrFilterBits).NewWriter(ftype),
		other: bloom.FilterPolicy(otherFilterBits).NewWriter(ftype),
	}
}

type prefixBloomWriter struct {
	addrs, other pebble.FilterWriter
	buf          []byte
}

// AddKey adds a key's prefix (Pebble hands the filter prefixes).
func (w *prefixBloomWriter) AddKey(key []byte) {
	if len(key) > 0 && key[0] == tAddr {
		w.addrs.AddKey(key)
	} else {
		w.other.AddKey(key)
	}
}

func (w *prefixBloomWriter) Finish(dst []byte) []byte {
	w.buf = w.addrs.Finish(w.buf[:0])
	dst = binary.AppendUvarint(dst, uint64(len(w.buf)))
	dst = append(dst, w.buf...)
	return w.other.Finish(dst)
}

// oldBloom reads the filters of tables written before prefixBloom.
type oldBloom struct{}

func (oldBloom) Name() string { return bloom.FilterPolicy(10).Name() }

func (oldBloom) MayContain(ftype pebble.FilterType, f, key []byte) bool {
	if len(key) > 0 && key[0] == tAddr {
		return true
	}
	return bloom.FilterPolicy(10).MayContain(ftype, f, key)
}

// NewWriter is never called: no level writes filters under this name.
func (oldBloom) NewWriter(ftype pebble.FilterType) pebble.FilterWriter {
	return bloom.FilterPolicy(10).NewWriter(ftype)
}
