package embedded

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/cockroachdb/pebble/v2/sstable"
)

// A UTXO chain's write of many blocks is built as a table file and
// ingested instead of committed as a batch (Options.IngestBytes). A
// committed batch is copied into the write-ahead log and then either
// inserted key by key into the memtable's skiplist (a small batch) or
// sorted again (a batch of more than half the memtable, which Pebble
// keeps as a table of its own); either way it is written out once more
// as a table file by a flush. The write's entries are already sorted,
// so writing that table file directly skips the log, the insertion or
// second sort, and the flush's walk over them. On the five largest
// mainnet blocks (57,600 entries) the memtable path took 16 ms to commit
// and 25-30 ms of processor time to flush; writing the table takes about
// 10 ms and ingesting it 2 to 3 (CPU profiles).
//
// An ingested table lands in level 0 when it overlaps what the store
// holds, and compactions merge it down as they do a flushed memtable;
// into an empty store it goes straight to the bottom level. Over a
// generated chain of 1,000,000 transactions the store's processor time
// fell from 8.6 s (commits 3.7, flushes 2.7, compactions 2.3) to 7.6 s
// (writes 4.2, compactions 3.4): the compactions come sooner, one
// batch's table at a time.
//
// A write is one table file per key table (splitOut), not one for all:
// a file spanning every table overlaps what the store holds once it
// holds anything, so the block records (tables b and d, keyed by height
// and written in chain order: a tenth of the bytes) were compacted down
// every level with the history and spender entries, whose keys are
// random. In a file of their own they overlap nothing already stored
// and are ingested into the bottom level at once (Pebble splits, into
// two virtual tables, a bottom-level table whose bounds straddle them:
// IngestSplit in open).
//
// Ingestion is atomic and durable: Pebble links the synced table files
// into the store and records them in its manifest in one synced edit, so
// the write is whole or absent after a crash, as a batch is.

// ingestDir holds a table file while it is written; one left by a crash
// (its write was not applied) is removed when the store is next opened
// for writing.
const ingestDir = "ingest"

// batchOut receives a write's entries in key order, table by table: a
// Pebble batch (reprOut) or a table file to ingest (tableOut).
type batchOut interface {
	// reserve says that about n more bytes of entries follow.
	reserve(n int)
	add(kv *kvBuf, e kvEnt) error
	// endTable is called after each table's entries, before their
	// kvBuf is reused.
	endTable() error
}

// reprOut appends entries to a Pebble batch, built from startRepr. Of
// entries with equal keys the batch keeps the last.
type reprOut struct{ r []byte }

func (o *reprOut) reserve(n int)                { o.r = slices.Grow(o.r, n) }
func (o *reprOut) add(kv *kvBuf, e kvEnt) error { o.r = kv.appendEnt(o.r, e); return nil }
func (o *reprOut) endTable() error              { return nil }

// tableOut writes entries into a table file. A table holds each key
// once, so of entries with equal keys (a BIP30 duplicate txid, a key
// repeated in a multisig output) only the last is written, the one a
// batch would have let stand: each entry is held back until the next
// shows whether it is the last of its key.
type tableOut struct {
	w      *sstable.Writer
	k, v   []byte // the entry held back: in the caller's bytes, or kb and vb
	kb, vb []byte // keep's copies
	held   bool
}

func (o *tableOut) reserve(int) {}

func (o *tableOut) add(kv *kvBuf, e kvEnt) error {
	return o.addIn(splitEntry(kv.buf[e.off+1 : e.end]))
}

// addIn is add for an entry whose bytes stay put until keep is called.
func (o *tableOut) addIn(k, v []byte) error {
	if o.held && !bytes.Equal(k, o.k) {
		if err := o.w.Set(o.k, o.v); err != nil {
			return err
		}
	}
	o.k, o.v, o.held = k, v, true
	return nil
}

// keep copies the entry held back, before the bytes addIn was given are
// reused.
func (o *tableOut) keep() {
	if o.held {
		o.kb, o.vb = append(o.kb[:0], o.k...), append(o.vb[:0], o.v...)
		o.k, o.v = o.kb, o.vb
	}
}

// addCopy is add for an entry whose bytes are reused after it returns.
func (o *tableOut) addCopy(k, v []byte) error {
	if err := o.addIn(k, v); err != nil {
		return err
	}
	o.keep()
	return nil
}

func (o *tableOut) endTable() error {
	if !o.held {
		return nil
	}
	o.held = false
	return o.w.Set(o.k, o.v)
}

// splitOut writes a write's entries into a table file per key table
// (the first byte of a key), each a tableOut in turn.
type splitOut struct {
	s     *Store
	out   tableOut // the current file's; out.w is nil before the first
	table byte     // the current file's key table
	paths []string // the files, the current one last
	// stage, when the write stages (stage.go), takes the staged tables'
	// entries into its runs; run is the current table's, if staged.
	stage *stageWrite
	run   *runOut
}

func (o *splitOut) reserve(int) {}

func (o *splitOut) add(kv *kvBuf, e kvEnt) error {
	// A key's first byte, its table, is pre's first.
	if t := byte(e.pre >> 56); (o.out.w == nil && o.run == nil) || t != o.table {
		if err := o.next(t); err != nil {
			return err
		}
	}
	if o.run != nil {
		return o.run.add(kv, e)
	}
	return o.out.add(kv, e)
}

func (o *splitOut) endTable() error {
	if o.run != nil {
		return o.run.endTable()
	}
	return o.out.endTable()
}

// next finishes the current file and starts one for the key table t.
func (o *splitOut) next(t byte) error {
	if err := o.finish(); err != nil {
		return err
	}
	if o.stage != nil && stagedTable(t) {
		r, err := o.stage.run(t)
		o.run, o.table = r, t
		return err
	}
	// A table of keys written in chain order lands in the bottom level,
	// compressed as that level's tables are. Any other lands in level 0
	// once the store holds anything: it is written without compression
	// (see open), as a compaction rewrites it with its new level's.
	level := 0
	if appendOnly(t) {
		level = numLevels - 1
	}
	wo := o.s.opts.MakeWriterOptions(level, o.s.db.TableFormat())
	if level == 0 {
		wo.Compression = sstable.NoCompression
	}
	w, path, err := o.s.newTableWriter(wo)
	if path != "" {
		o.paths = append(o.paths, path)
	}
	if err != nil {
		return err
	}
	o.out, o.table = tableOut{w: w}, t
	return nil
}

// finish writes the entry the current file holds back, then finishes
// the file and syncs it (or gives up on it after an error; either way
// it closes it).
func (o *splitOut) finish() error {
	if o.run != nil {
		// The run's file is finished with the write's others
		// (stageWrite.finish).
		err := o.run.endTable()
		o.run = nil
		return err
	}
	if o.out.w == nil {
		return nil
	}
	err := o.out.endTable()
	if cerr := o.out.w.Close(); err == nil {
		err = cerr
	}
	o.out.w = nil
	return err
}

// appendOnly reports whether a UTXO chain's writes add keys of table t
// only above those already stored: its keys begin with the height.
func appendOnly(t byte) bool { return t == tBlock || t == tLayout }

// ingest writes table files through build and ingests them. sync, if
// not nil, makes durable what build wrote elsewhere (the transaction
// file): it returns before the tables are ingested.
func (s *Store) ingest(ctx context.Context, build func(batchOut) error, sync func() error) error {
	paths, err := s.writeTables(build, sync)
	if err == nil && len(paths) > 0 {
		// Pebble links the files into the store, then removes these paths.
		if err = s.db.Ingest(ctx, paths); err == nil {
			s.ingests++
		}
	}
	if err != nil {
		for _, p := range paths {
			err = errors.Join(err, removeIfThere(p))
		}
		return fmt.Errorf("ingest: %w", err)
	}
	return nil
}

// writeTables writes table files through build into the ingest folder,
// synced, and returns their paths, those it created if it fails. sync
// is as ingest's.
func (s *Store) writeTables(build func(batchOut) error, sync func() error) ([]string, error) {
	out := &splitOut{s: s, stage: s.stageNow}
	err := build(out)
	// The files the tables point into are synced while the last table
	// is finished and synced: two waits for the disk become one.
	var synced chan error
	if err == nil && sync != nil {
		synced = make(chan error, 1)
		go func() { synced <- sync() }()
	}
	var staged chan error // a staging write's runs, likewise
	if err == nil && out.stage != nil {
		staged = make(chan error, 1)
		go func() { staged <- out.stage.sync() }()
	}
	if ferr := out.finish(); err == nil {
		err = ferr
	}
	for _, c := range []chan error{synced, staged} {
		if c == nil {
			continue
		}
		if serr := <-c; err == nil {
			err = serr
		}
	}
	return out.paths, err
}

// newTableWriter creates a table file in the ingest folder; path is
// empty when no file was created.
func (s *Store) newTableWriter(o sstable.WriterOptions) (w *sstable.Writer, path string, err error) {
	if s.bufs == nil {
		s.bufs = writePool.Get().(*writeBufs)
	}
	if cap(s.bufs.table) < tableBuf {
		s.bufs.table = make([]byte, 0, tableBuf)
	}
	s.ingested++
	return s.newTableWriterBuf(o, strconv.Itoa(s.ingested), s.bufs.table[:0])
}

// newTableWriterBuf creates the table file name in the ingest folder,
// written through buf (a buffer of its own if nil); path is empty when
// no file was created. Writers working at once need buffers of their own.
func (s *Store) newTableWriterBuf(o sstable.WriterOptions, name string, buf []byte) (w *sstable.Writer, path string, err error) {
	dir := filepath.Join(s.path, ingestDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	path = filepath.Join(dir, name+".sst")
	f, err := os.Create(path)
	if err != nil {
		return nil, "", err
	}
	if buf == nil {
		buf = make([]byte, 0, tableBuf)
	}
	w = sstable.NewWriter(&tableFile{f: f, buf: buf[:0]}, o)
	return w, path, nil
}

// tableBuf is the size of a tableFile's buffer.
const tableBuf = 1 << 20

// tableFile is the file a table is written to, through a buffer large
// enough that a table of megabytes takes a few writes to the system
// rather than one per 4 KiB block.
type tableFile struct {
	f   *os.File
	buf []byte
}

func (t *tableFile) Write(p []byte) error {
	if len(t.buf)+len(p) > cap(t.buf) {
		if err := t.flush(); err != nil {
			return err
		}
		if len(p) >= cap(t.buf) {
			_, err := t.f.Write(p)
			return err
		}
	}
	t.buf = append(t.buf, p...)
	return nil
}

func (t *tableFile) flush() error {
	_, err := t.f.Write(t.buf)
	t.buf = t.buf[:0]
	return err
}

// Finish writes what is buffered and syncs the file: Pebble takes an
// ingested file as durable.
func (t *tableFile) Finish() error {
	err := t.flush()
	if err == nil {
		err = t.f.Sync()
	}
	return errors.Join(err, t.f.Close())
}

func (t *tableFile) Abort() { t.f.Close() }

func removeIfThere(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// removeIngestLeftovers removes the table files that a crash left half
// written or not yet ingested: the writes they held were not applied.
func removeIngestLeftovers(path string) error {
	if err := os.RemoveAll(filepath.Join(path, ingestDir)); err != nil {
		return fmt.Errorf("remove unfinished ingest files: %w", err)
	}
	return nil
}
