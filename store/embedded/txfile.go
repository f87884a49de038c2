package embedded

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// A UTXO chain's transaction records live in a file of their own beside
// Pebble's, appended in height order, and Pebble holds only where each
// one is (table p). The records are the largest table by far (half the
// bytes a block leaves in the store) and they are written once, in the
// order the chain gives them, and never changed but by a rollback, which
// removes the newest. Through Pebble they were sorted, put in the
// memtable, written to the write-ahead log, flushed and compacted again
// and again as the store grew; appended to a file they are written once.
//
// The file is never ahead of the store where it matters: a write appends
// its records after the committed end (txEndKey), syncs them when the write
// is synced (always, when it is ingested: an ingested table is durable),
// and only then commits the batch or ingests the table that records the
// new end and points at the records. A write that fails or a process killed
// between the two leaves bytes past the committed end, which the next
// write overwrites and opening the store for writing cuts off. A rollback
// moves the committed end back to where the first removed record starts.
type txFile struct {
	f    *os.File
	path string
	end  atomic.Int64 // the committed end; reads take no lock
	mapping
}

// crcTable is Castagnoli's polynomial, which processors compute in
// hardware.
var crcTable = crc32.MakeTable(crc32.Castagnoli)

func txFilePath(dir string, c chains.Chain) string {
	return filepath.Join(dir, "txs-"+string(c)+".dat")
}

// txFileOf returns chain c's transaction file, opening it on first use.
// Reads take no store lock, so the files have a lock of their own.
func (s *Store) txFileOf(c chains.Chain) (*txFile, error) {
	s.filesMu.Lock()
	defer s.filesMu.Unlock()
	if tf := s.files[c]; tf != nil {
		return tf, nil
	}
	if s.files == nil {
		return nil, errors.New("store is closed")
	}
	end, err := s.committedEnd(c)
	if err != nil {
		return nil, err
	}
	path := txFilePath(s.path, c)
	flag := os.O_RDWR | os.O_CREATE
	if s.opts.ReadOnly {
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if errors.Is(err, os.ErrNotExist) && s.opts.ReadOnly && end == 0 {
		return &txFile{path: path}, nil // a read-only store without records of c
	}
	if err != nil {
		return nil, fmt.Errorf("open %s transactions: %w", c, err)
	}
	tf := &txFile{f: f, path: path}
	tf.end.Store(end)
	fi, err := f.Stat()
	if err == nil {
		switch size := fi.Size(); {
		case size < end:
			err = &store.CorruptError{Key: path, Err: fmt.Errorf("the file holds %d bytes, the store has committed %d: records were lost (a write that was not synced, then a crash of the machine?); index into a new store", size, end)}
		case size > end && !s.opts.ReadOnly:
			// The bytes of a write that was not committed.
			err = f.Truncate(end)
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s transactions: %w", c, err)
	}
	s.files[c] = tf
	return tf, nil
}

// openTxFiles opens the transaction file of each chain that has one,
// which cuts off what a write or a rollback left past its committed end.
func (s *Store) openTxFiles() error {
	entries, err := os.ReadDir(s.path)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name, ok := strings.CutPrefix(e.Name(), "txs-")
		name, ok2 := strings.CutSuffix(name, ".dat")
		c := chains.Chain(name)
		if !ok || !ok2 || c.Tag() == '?' || c.IsAccount() {
			continue // not a transaction file of this store's
		}
		// A file shorter than committed is reported by every read and
		// write that needs it, not here: the store's other records are
		// still whole.
		if _, err := s.txFileOf(c); err != nil && !errors.As(err, new(*store.CorruptError)) {
			return err
		}
	}
	return nil
}

// committedEnd reads how many bytes of chain c's transaction file the
// store has committed.
func (s *Store) committedEnd(c chains.Chain) (int64, error) {
	var end int64
	err := s.get(txEndKey(c), func(v []byte) error {
		x, n := binary.Uvarint(v)
		if n <= 0 || n != len(v) {
			return errShort
		}
		end = int64(x)
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read %s transactions' end: %w", c, err)
	}
	return end, nil
}

// append writes records after the committed end, synced if sync; the
// end moves when the batch that points at them has committed.
func (tf *txFile) append(records []byte, sync bool) error {
	if _, err := tf.f.WriteAt(records, tf.end.Load()); err != nil {
		return fmt.Errorf("write %s: %w", tf.path, err)
	}
	if sync {
		return tf.sync()
	}
	return nil
}

func (tf *txFile) sync() error {
	if err := tf.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tf.path, err)
	}
	return nil
}

// txPtr says where a transaction's record is: its offset and length in
// the file, and its CRC-32C, which reads check, so that a damaged file
// yields an error rather than another transaction's fields.
type txPtr struct {
	off uint64
	n   uint32
	crc uint32
}

func appendTxPtr(dst []byte, p txPtr) []byte {
	dst = binary.AppendUvarint(dst, p.off)
	dst = binary.AppendUvarint(dst, uint64(p.n))
	return binary.LittleEndian.AppendUint32(dst, p.crc)
}

func decodeTxPtr(v []byte) (txPtr, error) {
	d := newDecoder(v)
	p := txPtr{off: d.Uvarint(), n: uint32(d.Uvarint())}
	crc := d.Bytes(4)
	if err := d.End(); err != nil {
		return p, err
	}
	p.crc = binary.LittleEndian.Uint32(crc)
	return p, nil
}

// blockLayout says where a block's transactions' records lie in the
// file: one after another from off, each of its length, in the block's
// order, their bytes together of CRC-32C crc. A pass over the chain reads
// them in order with it, where through the pointers it would look up each
// transaction's in table p, a random read (2.4 s of an 18 s clustering
// run at a million transactions); one checksum a block, not one a record,
// keeps the record 4 bytes and a length's varint a transaction.
type blockLayout struct {
	off  uint64
	crc  uint32
	lens []uint32
}

// maxBlockRecords bounds the bytes of one block's records: a layout
// that says more is damaged (a mainnet block's are under 4 MB), and one
// read holds them.
const maxBlockRecords = 1 << 30

// size is the bytes of the block's records together.
func (l *blockLayout) size() uint64 {
	var n uint64
	for _, x := range l.lens {
		n += uint64(x)
	}
	return n
}

func appendLayout(dst []byte, off uint64, crc uint32, lens []uint32) []byte {
	dst = binary.AppendUvarint(dst, off)
	dst = binary.LittleEndian.AppendUint32(dst, crc)
	dst = binary.AppendUvarint(dst, uint64(len(lens)))
	for _, n := range lens {
		dst = binary.AppendUvarint(dst, uint64(n))
	}
	return dst
}

// decodeLayout decodes a layout record, its lengths into lens[:0].
func decodeLayout(v []byte, lens []uint32) (blockLayout, error) {
	d := newDecoder(v)
	l := blockLayout{off: d.Uvarint()}
	crc := d.Bytes(4)
	n := d.Uvarint()
	if d.Err == nil && n > uint64(len(d.B)) {
		return l, errShort // each length takes a byte at least
	}
	l.lens = lens[:0]
	for range n {
		l.lens = append(l.lens, uint32(d.Uvarint()))
	}
	if err := d.End(); err != nil {
		return l, err
	}
	l.crc = binary.LittleEndian.Uint32(crc)
	return l, nil
}

// within returns the bytes of l's records together, or an error if
// they are not all in the committed file.
func (tf *txFile) within(l *blockLayout) (uint64, error) {
	n := l.size()
	if n > maxBlockRecords {
		return 0, fmt.Errorf("a layout of %d bytes of records", n)
	}
	if end := uint64(tf.end.Load()); l.off > end || n > end-l.off || tf.f == nil {
		return 0, fmt.Errorf("records at %d (%d bytes) are past the end committed to %s (%d bytes)", l.off, n, tf.path, end)
	}
	return n, nil
}

// verify checks recs, l's records read from the file, against l's
// checksum.
func (tf *txFile) verify(l *blockLayout, recs []byte) error {
	if crc32.Checksum(recs, crcTable) != l.crc {
		return fmt.Errorf("records at %d (%d bytes) of %s fail their checksum", l.off, len(recs), tf.path)
	}
	return nil
}

// layoutRecords reads into buf the records that v, a layout record,
// says where they are, and checks them against its checksum.
func (tf *txFile) layoutRecords(v, buf []byte) ([]byte, error) {
	l, err := decodeLayout(v, nil)
	if err != nil {
		return nil, err
	}
	n, err := tf.within(&l)
	if err != nil {
		return nil, err
	}
	if buf, err = tf.readAt(l.off, uint32(n), buf); err != nil {
		return nil, fmt.Errorf("read %s at %d: %w", tf.path, l.off, err)
	}
	return buf, tf.verify(&l, buf)
}

// read returns the record p points at: in place in the file's mapping
// where there is one (valid until the store is closed, and to be copied
// from, not kept: a rollback lets later writes overwrite it), or read
// into buf (grown if needed).
func (tf *txFile) read(p txPtr, buf []byte) ([]byte, error) {
	return tf.readWith(tf.bytesAt, p, buf)
}

func (tf *txFile) readWith(at func(off uint64, n uint32, buf []byte) ([]byte, error), p txPtr, buf []byte) ([]byte, error) {
	if end := tf.end.Load(); p.off+uint64(p.n) > uint64(end) || tf.f == nil {
		return nil, fmt.Errorf("record at %d (%d bytes) is past the %d bytes committed to %s", p.off, p.n, end, tf.path)
	}
	rec, err := at(p.off, p.n, buf)
	if err != nil {
		return nil, fmt.Errorf("read %s at %d: %w", tf.path, p.off, err)
	}
	if crc32.Checksum(rec, crcTable) != p.crc {
		return nil, fmt.Errorf("record at %d of %s fails its checksum", p.off, tf.path)
	}
	return rec, nil
}

// readAt reads n bytes at off into buf (grown if needed): the way to read
// where the file is not mapped.
func (tf *txFile) readAt(off uint64, n uint32, buf []byte) ([]byte, error) {
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	_, err := tf.f.ReadAt(buf, int64(off))
	return buf, err
}

// close unmaps and closes the file.
func (tf *txFile) close() error {
	if tf.f == nil {
		return nil
	}
	return errors.Join(tf.unmap(), tf.f.Close())
}

// txRecord returns the record of transaction h of UTXO chain c, the key
// that led to it and the record's offset in the transaction file: from
// the file, or (offset -1) from table t in a store that schema 3 or
// below wrote. It returns store.ErrNotFound when there is none.
func (s *Store) txRecord(c chains.Chain, h chains.Hash) (rec, key []byte, off int64, err error) {
	key = txPtrKey(nil, c, h)
	var p txPtr
	err = s.get(key, func(v []byte) (err error) {
		p, err = decodeTxPtr(v)
		return err
	})
	if errors.Is(err, store.ErrNotFound) && s.hasLegacyTxs(c) {
		key = txKey(nil, c, h)
		err = s.get(key, func(v []byte) error {
			rec = slices.Clone(v)
			return nil
		})
		return rec, key, -1, err
	}
	if err != nil {
		return nil, key, 0, err
	}
	tf, err := s.txFileOf(c)
	if err != nil {
		return nil, key, 0, err
	}
	if rec, err = tf.read(p, nil); err != nil {
		return nil, key, 0, &store.CorruptError{Key: fmt.Sprintf("%x", key), Err: err}
	}
	return rec, key, int64(p.off), nil
}

// recordOf returns the record that v, an entry of table p, points at,
// read into buf where the file is not mapped.
func (tf *txFile) recordOf(v, buf []byte) ([]byte, error) {
	return tf.recordWith(tf.bytesAt, v, buf)
}

// copyOf is recordOf read into buf, never through the mapping: for the
// index, whose lookups of spent outputs touch pages all over the file.
// Through the mapping each page touched counted in the process's
// resident memory until the store closed (400 MB of a 3.1 M-transaction
// chain's 1 GB file half way through its index, however often the
// mapping gave its pages up); read, they are the system's file cache
// alone.
func (tf *txFile) copyOf(v, buf []byte) ([]byte, error) {
	return tf.recordWith(tf.readAt, v, buf)
}

func (tf *txFile) recordWith(at func(off uint64, n uint32, buf []byte) ([]byte, error), v, buf []byte) ([]byte, error) {
	p, err := decodeTxPtr(v)
	if err != nil {
		return nil, err
	}
	return tf.readWith(at, p, buf)
}

// hasLegacyTxs reports whether table t holds transactions of UTXO chain
// c, as in a store that schema 3 or below wrote. Schema 4 never adds
// any, so the answer is looked up once.
func (s *Store) hasLegacyTxs(c chains.Chain) bool {
	s.filesMu.Lock()
	defer s.filesMu.Unlock()
	if has, ok := s.legacy[c]; ok {
		return has
	}
	lo := keyPrefix(nil, tTx, c)
	has := true // when in doubt, look
	if it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)}); err == nil {
		has = it.First()
		if it.Close() == nil && s.legacy != nil {
			s.legacy[c] = has
		}
	}
	return has
}

// setTxEnd records in b that chain c's transaction file ends at end.
func setTxEnd(b setter, c chains.Chain, end int64) error {
	return b.Set(txEndKey(c), binary.AppendUvarint(nil, uint64(end)), nil)
}
