package bitcoin

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	"github.com/btcsuite/btcd/wire"
)

// FileWriter writes blocks in Bitcoin Core's blocks-folder layout:
// blk00000.dat, blk00001.dat, ... of framed records, an xor.dat key when
// obfuscating, and optionally Core's zero-filled preallocated tails. The
// simulator and the tests use it to produce folders that Index reads
// exactly as it reads Core's own.
type FileWriter struct {
	// Dir is the folder to write into. Required.
	Dir string
	// Magic is the network's magic. Required.
	Magic wire.BitcoinNet
	// XORKey, when non-zero, obfuscates every file as Core 28+ does and is
	// written to xor.dat.
	XORKey [xorKeySize]byte
	// MaxFileSize starts a new file once a file would grow past it.
	// Default 128 MiB, Core's MAX_BLOCKFILE_SIZE.
	MaxFileSize int64
	// PadTo, when > 0, extends each file with zeros to a multiple of PadTo
	// bytes, as Core's preallocation (16 MiB chunks) leaves it.
	PadTo int64

	f    *os.File
	n    int
	size int64
}

// Write appends one block record.
func (w *FileWriter) Write(block []byte) error {
	if w.MaxFileSize <= 0 {
		w.MaxFileSize = 128 << 20
	}
	rec := int64(frameSize + len(block))
	if w.f != nil && w.size+rec > w.MaxFileSize {
		if err := w.closeFile(); err != nil {
			return err
		}
		w.n++
	}
	if w.f == nil {
		if err := w.open(); err != nil {
			return err
		}
	}
	buf := make([]byte, 0, rec)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(w.Magic))
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(block)))
	buf = append(buf, block...)
	w.obfuscate(buf, w.size)
	if _, err := w.f.WriteAt(buf, w.size); err != nil {
		return fmt.Errorf("write block file: %w", err)
	}
	w.size += rec
	return nil
}

// WriteRaw appends bytes verbatim (before obfuscation): tests use it to
// put garbage or a truncated record into a file.
func (w *FileWriter) WriteRaw(b []byte) error {
	if w.f == nil {
		if err := w.open(); err != nil {
			return err
		}
	}
	buf := append([]byte(nil), b...)
	w.obfuscate(buf, w.size)
	if _, err := w.f.WriteAt(buf, w.size); err != nil {
		return fmt.Errorf("write block file: %w", err)
	}
	w.size += int64(len(b))
	return nil
}

func (w *FileWriter) obfuscate(buf []byte, off int64) {
	if w.XORKey == [xorKeySize]byte{} {
		return
	}
	for i := range buf {
		buf[i] ^= w.XORKey[(off+int64(i))%xorKeySize]
	}
}

func (w *FileWriter) open() error {
	if err := os.MkdirAll(w.Dir, 0o755); err != nil {
		return fmt.Errorf("create blocks folder: %w", err)
	}
	if w.XORKey != [xorKeySize]byte{} && w.n == 0 {
		if err := os.WriteFile(filepath.Join(w.Dir, "xor.dat"), w.XORKey[:], 0o644); err != nil {
			return fmt.Errorf("write xor key: %w", err)
		}
	}
	f, err := os.Create(filepath.Join(w.Dir, fmt.Sprintf("blk%05d.dat", w.n)))
	if err != nil {
		return fmt.Errorf("create block file: %w", err)
	}
	w.f, w.size = f, 0
	return nil
}

func (w *FileWriter) closeFile() error {
	if w.PadTo > 0 && w.size%w.PadTo != 0 {
		// Core preallocates with the file system's zeros, which are not
		// obfuscated: so the padding is plain zeros on disk.
		if err := w.f.Truncate((w.size/w.PadTo + 1) * w.PadTo); err != nil {
			return fmt.Errorf("pad block file: %w", err)
		}
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// Close finishes the current file.
func (w *FileWriter) Close() error {
	if w.f == nil {
		return nil
	}
	return w.closeFile()
}
