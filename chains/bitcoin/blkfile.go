package bitcoin

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/btcsuite/btcd/wire"
)

// Limits on a blk-file record. A record is 4 bytes of network magic, a
// 4-byte little-endian length, then that many bytes of block.
const (
	frameSize = 8
	// headerSize is a block header's serialized size.
	headerSize = 80
	// minBlockSize is a header, a one-byte tx count and the smallest
	// possible transaction (10 bytes of version, counts and locktime):
	// anything shorter is not a block.
	minBlockSize = headerSize + 1 + 10
	// maxBlockSize is Bitcoin Core's MAX_BLOCK_SERIALIZED_SIZE; a record
	// declaring more is corrupt, and bounding it stops a bad length from
	// making us allocate gigabytes.
	maxBlockSize = wire.MaxBlockPayload
	// xorKeySize is the length of Core 28+'s blocks/xor.dat obfuscation key.
	xorKeySize = 8
)

// ErrBadRecord is wrapped by every error about malformed blk-file content.
var ErrBadRecord = errors.New("bad block-file record")

// RecordError reports malformed content at a position in a block file:
// what users need to find it with a hex editor or to tell Core to reindex.
type RecordError struct {
	File   string
	Offset int64
	Msg    string
	// tail marks a record cut short by the end of the file, as when
	// Core is still writing it.
	tail bool
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("%s: offset %d: %s", e.File, e.Offset, e.Msg)
}

// Unwrap makes errors.Is(err, ErrBadRecord) true.
func (e *RecordError) Unwrap() error { return ErrBadRecord }

// record is one block's place in a block file.
type record struct {
	file   int   // index into Dir.Files
	offset int64 // offset of the block bytes (after the frame)
	size   uint32
	header wire.BlockHeader
}

// blkFile reads a block file, undoing xor.dat obfuscation: with key K,
// the byte at file position p is stored XORed with K[p mod 8].
type blkFile struct {
	path string
	f    io.ReaderAt
	c    io.Closer
	size int64
	key  [xorKeySize]byte
	xor  bool
}

func openBlkFile(path string, key [xorKeySize]byte) (*blkFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	b := newBlkReader(path, f, st.Size(), key)
	b.c = f
	return b, nil
}

// newBlkReader reads a block file's content from r (tests and fuzzers
// pass memory); path only names it in errors.
func newBlkReader(path string, r io.ReaderAt, size int64, key [xorKeySize]byte) *blkFile {
	return &blkFile{path: path, f: r, size: size, key: key, xor: key != [xorKeySize]byte{}}
}

func (b *blkFile) Close() error {
	if b.c == nil {
		return nil
	}
	return b.c.Close()
}

// readAt fills p from offset off, de-obfuscated.
func (b *blkFile) readAt(p []byte, off int64) error {
	if err := b.readRawAt(p, off); err != nil {
		return err
	}
	b.unxor(p, off)
	return nil
}

func (b *blkFile) unxor(p []byte, off int64) {
	if b.xor {
		for i := range p {
			p[i] ^= b.key[(off+int64(i))%xorKeySize]
		}
	}
}

// readRawAt fills p from offset off as stored on disk.
func (b *blkFile) readRawAt(p []byte, off int64) error {
	if _, err := b.f.ReadAt(p, off); err != nil {
		if errors.Is(err, io.EOF) {
			return &RecordError{File: b.path, Offset: off, Msg: "unexpected end of file"}
		}
		return fmt.Errorf("read %s at %d: %w", b.path, off, err)
	}
	return nil
}

// scan lists the records of the file. Bitcoin Core preallocates block
// files in 16 MiB steps and fills the unused tail with zeros, so a zero
// frame where a magic is due ends the file if only zeros follow; anything
// else that is not a well-formed record is an error naming the offset.
// magic is the network the records must carry (0: take the first one's).
func (b *blkFile) scan(fileIndex int, magic *wire.BitcoinNet, out []record) ([]record, error) {
	var buf [frameSize + headerSize]byte
	off := int64(0)
	for off < b.size {
		if b.size-off < frameSize {
			if zero, err := b.zeroFrom(off); err != nil || zero {
				return out, err
			}
			return out, &RecordError{File: b.path, Offset: off, Msg: fmt.Sprintf("truncated record frame: %d bytes left", b.size-off), tail: true}
		}
		if err := b.readRawAt(buf[:frameSize], off); err != nil {
			return out, err
		}
		rawZero := binary.LittleEndian.Uint32(buf[:4]) == 0
		b.unxor(buf[:frameSize], off)
		m := wire.BitcoinNet(binary.LittleEndian.Uint32(buf[:4]))
		if m == 0 || rawZero {
			zero, err := b.zeroFrom(off)
			if err != nil {
				return out, err
			}
			if !zero {
				return out, &RecordError{File: b.path, Offset: off, Msg: "data after zero padding (expected only zeros to the end of the file)"}
			}
			return out, nil
		}
		if NetworkByMagic(m) == nil {
			msg := fmt.Sprintf("no network magic (found %x): garbage between records or a wrong xor key", buf[:4])
			if *magic != 0 {
				if next := b.findMagic(off+1, *magic); next >= 0 {
					msg += fmt.Sprintf("; the next record starts at offset %d", next)
				}
			}
			return out, &RecordError{File: b.path, Offset: off, Msg: msg}
		}
		if *magic == 0 {
			*magic = m
		} else if m != *magic {
			return out, &RecordError{File: b.path, Offset: off, Msg: fmt.Sprintf("magic of %s, but earlier records are %s", NetworkByMagic(m).Name, NetworkByMagic(*magic).Name)}
		}
		size := binary.LittleEndian.Uint32(buf[4:8])
		if size < minBlockSize || size > maxBlockSize {
			return out, &RecordError{File: b.path, Offset: off, Msg: fmt.Sprintf("record declares %d bytes, not a plausible block size (%d..%d)", size, minBlockSize, maxBlockSize)}
		}
		if left := b.size - off - frameSize; int64(size) > left {
			return out, &RecordError{File: b.path, Offset: off, Msg: fmt.Sprintf("truncated record: declares %d bytes, %d present", size, left), tail: true}
		}
		if err := b.readAt(buf[frameSize:], off+frameSize); err != nil {
			return out, err
		}
		r := record{file: fileIndex, offset: off + frameSize, size: size}
		if err := r.header.Deserialize(bytesReader(buf[frameSize:])); err != nil {
			return out, &RecordError{File: b.path, Offset: off, Msg: "block header: " + err.Error()}
		}
		out = append(out, r)
		off += frameSize + int64(size)
	}
	return out, nil
}

// zeroFrom reports whether every byte from off to the end of the file is
// padding: zero as stored (Core preallocates with the file system's
// zeros, which are not obfuscated) or zero once de-obfuscated.
func (b *blkFile) zeroFrom(off int64) (bool, error) {
	buf := make([]byte, 64<<10)
	rawZero, plainZero := true, true
	for off < b.size && (rawZero || plainZero) {
		n := int64(len(buf))
		if b.size-off < n {
			n = b.size - off
		}
		if err := b.readRawAt(buf[:n], off); err != nil {
			return false, err
		}
		for i, c := range buf[:n] {
			if c != 0 {
				rawZero = false
			}
			if b.xor && c != b.key[(off+int64(i))%xorKeySize] || !b.xor && c != 0 {
				plainZero = false
			}
		}
		off += n
	}
	return rawZero || plainZero, nil
}

// findMagic returns the offset of the next occurrence of magic at or
// after off within 1 MiB, or -1: a hint for the user where good data
// resumes after garbage.
func (b *blkFile) findMagic(off int64, magic wire.BitcoinNet) int64 {
	n := min(b.size-off, 1<<20)
	if n < 4 {
		return -1
	}
	buf := make([]byte, n)
	if err := b.readAt(buf, off); err != nil {
		return -1
	}
	var want [4]byte
	binary.LittleEndian.PutUint32(want[:], uint32(magic))
	if i := bytes.Index(buf, want[:]); i >= 0 {
		return off + int64(i)
	}
	return -1
}
