package cluster

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"slices"
	"strings"
	"unsafe"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/internal/atomicfile"
	"github.com/fundtrace/fundtrace/internal/hugepage"
)

// A run's state as one file: every address's hash and id (the address
// index) and every id's cluster, written at the end of each run beside
// the store's tables. An incremental run reads it sequentially (tens of
// megabytes for millions of addresses) instead of reading the stored
// assignments one table entry at a time and looking up in the store each
// address the new blocks name, which cost most of an incremental run.
// The file is a cache: the run's record names it (ClusterMeta.Snapshot:
// its length and checksum), and a file that is missing, damaged or of
// another run is ignored, and the run reads the store as before.
//
// Layout (little-endian): stateMagic; seed, entries (uint64 each); the
// entries, sorted by hash (hash uint64, id uint32); each id's cluster
// (uint32, entries of them: ids are 0..entries-1); CRC-32C of all before.

const stateMagic = "fundtrace-cluster-state/1\n"

// StateStore is a stream store that keeps a run's state file beside its
// tables.
type StateStore interface {
	IndexedStore
	// ClusterStatePath is where chain c's state file goes.
	ClusterStatePath(c chains.Chain) string
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// writeState writes the state of r's run (its index, with the addresses
// the run gave ids to, and every id's cluster) and returns the name its
// record keeps. ok is false when the state cannot be written whole: an
// incremental run that read the store instead of a state file has no
// hashes of the old addresses, and a new address whose hash is an old
// one's cannot be told apart.
func (r *streamRun) writeState(path string, clusterOf func(uint32) uint32) (name string, ok bool, err error) {
	x := r.idx
	if len(x.ent) < int(r.n) {
		return "", false, nil
	}
	extras := make([]hashID, 0, len(x.extra))
	for a, id := range x.extra {
		extras = append(extras, hashID{h: x.hash(a), id: uint64(id)})
	}
	slices.SortFunc(extras, func(a, b hashID) int { return cmp.Compare(a.h, b.h) })
	total := uint64(len(x.ent) + len(extras))
	if total != uint64(x.next) {
		return "", false, nil
	}
	var crc uint32
	var size int64
	collide := errors.New("collision")
	err = atomicfile.Write(path, 0o644, func(w io.Writer) error {
		cw := &crcWriter{w: w}
		bw := bufio.NewWriterSize(cw, 1<<20)
		var b [12]byte
		bw.WriteString(stateMagic)
		binary.LittleEndian.PutUint64(b[:8], x.seed)
		bw.Write(b[:8])
		binary.LittleEndian.PutUint64(b[:8], total)
		bw.Write(b[:8])
		// Records go out a chunk at a time, encoded in place (a call
		// per record, appending, took 0.3 s of a 2.7 s incremental run
		// at 8.3 M addresses).
		chunk := make([]byte, 1<<20)
		n := 0 // bytes of chunk filled
		flush := func() {
			bw.Write(chunk[:n])
			n = 0
		}
		// The index's entries and the new addresses', merged by hash.
		i, j := 0, 0
		for i < len(x.ent) || j < len(extras) {
			if n > len(chunk)-12 {
				flush()
			}
			var e hashID
			switch {
			case j == len(extras) || (i < len(x.ent) && x.ent[i].h < extras[j].h):
				e = x.ent[i]
				i++
			case i == len(x.ent) || extras[j].h < x.ent[i].h:
				e = extras[j]
				j++
			default:
				return collide
			}
			binary.LittleEndian.PutUint64(chunk[n:], e.h)
			binary.LittleEndian.PutUint32(chunk[n+8:], uint32(e.id))
			n += 12
		}
		for id := range uint32(total) {
			if n > len(chunk)-4 {
				flush()
			}
			binary.LittleEndian.PutUint32(chunk[n:], clusterOf(id))
			n += 4
		}
		flush()
		if err := bw.Flush(); err != nil {
			return err
		}
		crc, size = cw.crc, cw.n
		binary.LittleEndian.PutUint32(b[:4], crc)
		_, err := w.Write(b[:4])
		return err
	})
	if errors.Is(err, collide) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("cluster: write the state file %s: %w", path, err)
	}
	return stateName(size+4, crc), true, nil
}

func stateName(size int64, crc uint32) string { return fmt.Sprintf("%d-%08x", size, crc) }

type crcWriter struct {
	w   io.Writer
	crc uint32
	n   int64
}

func (c *crcWriter) Write(p []byte) (int, error) {
	c.crc = crc32.Update(c.crc, castagnoli, p)
	c.n += int64(len(p))
	return c.w.Write(p)
}

// readState reads the state file the run's record names: the address
// index (sealed) and each id's cluster. ok is false when the file is
// missing, damaged, or not the one named (the caller reads the store).
func readState(path, name string, want int64) (x *addrIndex, clusters []uint32, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !strings.HasPrefix(name, fmt.Sprintf("%d-", fi.Size())) {
		return nil, nil, false // not the file the record names: not read
	}
	cr := &crcReader{r: bufio.NewReaderSize(f, 1<<20)}
	var b [16]byte
	magic := make([]byte, len(stateMagic))
	if _, err := io.ReadFull(cr, magic); err != nil || string(magic) != stateMagic {
		return nil, nil, false
	}
	if _, err := io.ReadFull(cr, b[:16]); err != nil {
		return nil, nil, false
	}
	seed, n := binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:16])
	if int64(n) != want || int64(len(stateMagic))+16+int64(n)*16+4 != fi.Size() {
		return nil, nil, false
	}
	x = newAddrIndex(seed)
	x.ent = hugepage.Make[hashID](int(n), int(n))
	// Chunks larger than the reader's buffer are read into straight
	// from the file, not copied out of the buffer.
	buf := make([]byte, 4<<20)
	// read fills the records of size bytes each, a chunk at a time,
	// handing each chunk whole to recs (a call per record took 80 ms of
	// a 0.9 s incremental run at 2.9 M addresses).
	read := func(count int, size int, recs func(i int, b []byte)) bool {
		per := len(buf) / size
		for i := 0; i < count; i += per {
			k := min(per, count-i)
			b := buf[:k*size]
			if _, err := io.ReadFull(cr, b); err != nil {
				return false
			}
			recs(i, b)
		}
		return true
	}
	ok = read(int(n), 12, func(i int, b []byte) {
		ent := x.ent[i : i+len(b)/12]
		for j := range ent {
			r := b[j*12 : j*12+12]
			ent[j] = hashID{h: binary.LittleEndian.Uint64(r), id: uint64(binary.LittleEndian.Uint32(r[8:]))}
		}
	})
	if !ok {
		return nil, nil, false
	}
	clusters = hugepage.Make[uint32](int(n), int(n))
	if littleEndian && n > 0 {
		// The file's clusters are the array's bytes on this machine:
		// read straight into it, no copy and no decoding (0.27 s of a
		// 2.5 s incremental run at 8.3 M addresses).
		if _, err := io.ReadFull(cr, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(clusters))), 4*int(n))); err != nil {
			return nil, nil, false
		}
	} else if !read(int(n), 4, func(i int, b []byte) {
		cl := clusters[i : i+len(b)/4]
		for j := range cl {
			cl[j] = binary.LittleEndian.Uint32(b[j*4:])
		}
	}) {
		return nil, nil, false
	}
	crc := cr.crc
	if _, err := io.ReadFull(cr.r, b[:4]); err != nil || binary.LittleEndian.Uint32(b[:4]) != crc || stateName(fi.Size(), crc) != name {
		return nil, nil, false
	}
	if !x.seal() {
		return nil, nil, false
	}
	x.next = uint32(n)
	return x, clusters, true
}

// littleEndian is whether this machine stores a uint32 as the state
// file does.
var littleEndian = binary.NativeEndian.Uint32([]byte{1, 0, 0, 0}) == 1

type crcReader struct {
	r   *bufio.Reader
	crc uint32
}

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.crc = crc32.Update(c.crc, castagnoli, p[:n])
	return n, err
}
