package embedded

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/cockroachdb/pebble/v2"
)

// A full clustering run writes every key of its tables anew (an
// address's index and cluster, the cluster's members, the links): about
// five keys an address, in the order the run finds them, which for all
// but one table is no key order. Through batches, each key was copied
// into the write-ahead log and the memtable, flushed, and rewritten by
// the compactions that sorted it among the keys of the run before,
// which the run's range deletion had only marked dead: on a chain of
// 2.1 M addresses the compactions alone took 11 of a run's 25 s of
// processor time. A spool sorts the keys itself, in runs of spoolBytes
// spilled to files and merged at the end, writes each table as one table
// file, and ingests it in place of the table's old keys (an excise: the
// old tables are cut out of the store's files, not read), so the store
// writes each key once and compacts nothing.

// spoolBytes is how many bytes of entries a spool sorts in memory before
// it spills them to a run file. Larger runs cost resident memory out of
// proportion (the entries' index and the sort's scratch beside them: 16
// MiB took the run's peak from 225 to 310 MB on the 300:45 chain) and
// saved no time.
const spoolBytes = 4 << 20

// maxRuns is how many run files of one tier a spool keeps before it
// merges them into one of the next tier: the merge reads them all at
// once, a buffer each (256 buffers of runBuf: 16 MiB). The final merge
// reads what is left of every tier, under 256 files each. At 64, a full
// clustering run of the 1.03 M-transaction chain (about 130 runs) merged
// its first 64 and then its next 64 runs into runs of the next tier
// before the final merge, so that nearly every entry was written three
// times (its run, the merged run, its table); at 256 none is merged
// before the final merge, and the run wrote 648 MB instead of 916 MB.
// A mainnet's clusters (some 300 GB of entries, 70,000 runs) merge each
// entry two or three times before its table either way.
const maxRuns = 256

// runBuf is the buffer of each run file read or written.
const runBuf = 64 << 10

// spool sorts entries of any number of tables, keeping of equal keys the
// last set, as a batch does.
type spool struct {
	s    *Store
	name string // the run files' name
	kv   kvBuf
	runs []string
	tier []int // each run's: how many merges made it
	n    int   // run files made
	// limit and maxRuns are spoolBytes and maxRuns but in tests.
	limit, maxRuns int
}

func newSpool(s *Store, name string) *spool {
	return &spool{s: s, name: name, limit: spoolBytes, maxRuns: maxRuns}
}

func (p *spool) set(k, v []byte) error {
	p.kv.set(k, v)
	if len(p.kv.buf) < p.limit {
		return nil
	}
	return p.spill()
}

// spill writes the entries held, sorted, to a new run file.
func (p *spool) spill() error {
	path, err := p.newRun()
	if err != nil {
		return err
	}
	err = writeRun(path, p.eachHeld)
	p.kv.reset()
	if err != nil {
		return err
	}
	p.runs, p.tier = append(p.runs, path), append(p.tier, 0)
	// While the newest maxRuns runs are of one tier, merge them into
	// one of the next.
	for n := len(p.runs); n >= p.maxRuns && p.tier[n-p.maxRuns] == p.tier[n-1]; n = len(p.runs) {
		from := n - p.maxRuns
		path, err := p.newRun()
		if err != nil {
			return err
		}
		err = writeRun(path, func(put func([]byte) error) error { return mergeRuns(p.runs[from:], put) })
		if err != nil {
			return err
		}
		if err := removeFiles(p.runs[from:]); err != nil {
			return err
		}
		p.runs, p.tier = append(p.runs[:from], path), append(p.tier[:from], p.tier[from]+1)
	}
	return nil
}

func (p *spool) newRun() (string, error) {
	dir := filepath.Join(p.s.path, ingestDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	p.n++
	return filepath.Join(dir, p.name+"-"+strconv.Itoa(p.n)+".run"), nil
}

// each calls fn with every entry, in key order (of equal keys, in the
// order set), as the bytes after a batch entry's kind: the key and value,
// each length-prefixed.
func (p *spool) each(fn func(ent []byte) error) error {
	if len(p.runs) == 0 {
		return p.eachHeld(fn)
	}
	if len(p.kv.ents) > 0 {
		if err := p.spill(); err != nil {
			return err
		}
	}
	return mergeRuns(p.runs, fn)
}

// eachHeld sorts the entries held in memory and calls fn with each, as
// each does.
func (p *spool) eachHeld(fn func(ent []byte) error) error {
	p.kv.sort()
	for _, e := range p.kv.ents {
		if err := fn(p.kv.buf[e.off+1 : e.end]); err != nil {
			return err
		}
	}
	return nil
}

// removeRuns removes the run files.
func (p *spool) removeRuns() error {
	err := removeFiles(p.runs)
	p.runs, p.tier = nil, nil
	return err
}

func removeFiles(paths []string) error {
	var errs []error
	for _, path := range paths {
		errs = append(errs, removeIfThere(path))
	}
	return errors.Join(errs...)
}

// ingestTables writes the spool's entries as one table file for each key
// prefix of prefixLen bytes and ingests each in place of every key the
// store holds under its prefix. Prefixes with no entry are left as they
// are.
func (p *spool) ingestTables(ctx context.Context, prefixLen int) error {
	defer p.removeRuns()
	var (
		prefix []byte
		out    *tableOut
		done   func(ingest bool) error
	)
	// finish ingests the table begun, or after an error only removes it.
	finish := func(ingest bool) error {
		if out == nil {
			return nil
		}
		var err error
		if ingest {
			err = out.endTable()
		}
		err = errors.Join(err, done(ingest && err == nil))
		out = nil
		return err
	}
	err := p.each(func(ent []byte) error {
		k, v := splitEntry(ent)
		if len(k) < prefixLen {
			return fmt.Errorf("spool %s: key %x shorter than its table's prefix", p.name, k)
		}
		if out == nil || !bytes.Equal(k[:prefixLen], prefix) {
			if err := finish(true); err != nil {
				return err
			}
			prefix = append(prefix[:0], k[:prefixLen]...)
			var err error
			if out, done, err = p.s.startExcise(ctx, append([]byte(nil), prefix...)); err != nil {
				return err
			}
		}
		return out.addCopy(k, v)
	})
	return errors.Join(err, finish(err == nil))
}

// startExcise starts a table file at the bottom level's options (it will
// overlap nothing once the keys under prefix are cut out); done finishes
// it and, if ingest, ingests it in their place; either way the file is
// gone after.
func (s *Store) startExcise(ctx context.Context, prefix []byte) (out *tableOut, done func(ingest bool) error, err error) {
	w, path, err := s.newTableWriter(s.opts.MakeWriterOptions(numLevels-1, s.db.TableFormat()))
	if err != nil {
		return nil, nil, err
	}
	out = &tableOut{w: w}
	done = func(ingest bool) error {
		if !ingest {
			w.Close() // an error already reported: the file goes
			return removeIfThere(path)
		}
		err := w.Close()
		if err == nil {
			_, err = s.db.IngestAndExcise(ctx, []string{path}, nil, nil, pebble.KeyRange{Start: prefix, End: prefixEnd(prefix)})
		}
		if err != nil {
			return errors.Join(fmt.Errorf("ingest %s: %w", path, err), removeIfThere(path))
		}
		return nil
	}
	return out, done, nil
}

// numLevels is Pebble's count of levels: ingested tables that overlap
// nothing go to the last.
const numLevels = 7

// writeRun writes a run file of the entries fill hands to put.
func writeRun(path string, fill func(put func([]byte) error) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, runBuf)
	var l [binary.MaxVarintLen64]byte
	err = fill(func(ent []byte) error {
		if _, err := bw.Write(l[:binary.PutUvarint(l[:], uint64(len(ent)))]); err != nil {
			return err
		}
		_, err := bw.Write(ent)
		return err
	})
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errors.Join(fmt.Errorf("write %s: %w", path, err), removeIfThere(path))
	}
	return nil
}

// runReader reads a run file's entries in order. An entry that fits the
// reader's buffer is handed out where it lies in the buffer, not copied:
// it stays valid until the next call of next.
type runReader struct {
	r    *bufio.Reader
	f    *os.File
	path string
	ent  []byte
	key  []byte
	// pre is the key's first 8 bytes as a big-endian integer (zeros past
	// a shorter key's end): most comparisons of two runs' keys end there.
	pre  uint64
	seq  int  // the run's place: of equal keys, the earlier run's first
	held int  // bytes of the buffer the current entry holds, discarded by next
	done bool // no entry left
	buf  []byte
	// check, for a staged run, counts its entries and checks them and
	// the file against the run's record at its end.
	check *runCheck
}

func (r *runReader) next() (bool, error) {
	if r.held > 0 {
		r.r.Discard(r.held) // cannot fail: the bytes are buffered
		r.held = 0
	}
	b, err := r.r.Peek(binary.MaxVarintLen64)
	if len(b) == 0 && err == io.EOF {
		r.done = true
		if r.check != nil {
			return false, r.check.done(r.path)
		}
		return false, nil
	}
	if err != nil && err != io.EOF {
		return false, fmt.Errorf("read %s: %w", r.path, err)
	}
	n, w := binary.Uvarint(b)
	if w <= 0 {
		if w == 0 {
			return false, fmt.Errorf("read %s: %w", r.path, io.ErrUnexpectedEOF)
		}
		return false, fmt.Errorf("read %s: entry length overflows", r.path)
	}
	if n > 1<<30 {
		return false, fmt.Errorf("read %s: entry of %d bytes", r.path, n)
	}
	if total := w + int(n); total <= r.r.Size() {
		if b, err = r.r.Peek(total); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return false, fmt.Errorf("read %s: %w", r.path, err)
		}
		r.ent, r.held = b[w:], total
	} else {
		r.r.Discard(w)
		if uint64(cap(r.buf)) < n {
			r.buf = make([]byte, n)
		}
		r.ent = r.buf[:n]
		if _, err := io.ReadFull(r.r, r.ent); err != nil {
			return false, fmt.Errorf("read %s: %w", r.path, err)
		}
	}
	r.key, _ = lenPrefixed(r.ent)
	r.pre = prefixOf(r.key)
	if r.check != nil {
		r.check.n++
	}
	return true, nil
}

// runMerge merges open runs by their current entry's key, then by their
// place. It is a tree of losers (Knuth, TAOCP 5.4.1): the winner's
// successor plays only the matches on its way to the root, one
// comparison a level, where a binary heap's sift makes two; and a
// comparison is mostly one of integers (runReader.pre). The merges of
// the 10.56 M-transaction chain's index, 90 runs a table, spent 5.0 s
// of processor time sifting a binary heap, 4.2 s of it comparing bytes;
// through this tree, 3.9 s.
type runMerge struct {
	runs []*runReader
	// tree[0] is the current winner; tree[1:] hold, per match, the
	// loser. Run i plays from leaf len(runs)+i.
	tree []int
	// heads holds each run's pre and whether it is done, side by side,
	// so that most matches read no run.
	heads []runHead
}

type runHead struct {
	pre  uint64
	done bool
}

// less reports whether run i's entry goes before run j's; a run that is
// done goes after every other.
func (h *runMerge) less(i, j int) bool {
	a, b := &h.heads[i], &h.heads[j]
	if a.done || b.done {
		return !a.done
	}
	if a.pre != b.pre {
		return a.pre < b.pre
	}
	ra, rb := h.runs[i], h.runs[j]
	if c := bytes.Compare(ra.key, rb.key); c != 0 {
		return c < 0
	}
	return ra.seq < rb.seq
}

// head notes run i's current entry.
func (h *runMerge) head(i int) {
	r := h.runs[i]
	h.heads[i] = runHead{pre: r.pre, done: r.done}
}

// build plays every match once.
func (h *runMerge) build() {
	k := len(h.runs)
	h.tree = make([]int, max(k, 1))
	h.heads = make([]runHead, k)
	for i := range k {
		h.head(i)
	}
	win := make([]int, 2*k)
	for i := range k {
		win[k+i] = i
	}
	for n := k - 1; n >= 1; n-- {
		a, b := win[2*n], win[2*n+1]
		if h.less(b, a) {
			a, b = b, a
		}
		win[n], h.tree[n] = a, b
	}
	if k > 1 {
		h.tree[0] = win[1]
	}
}

// replay plays the matches from run i's leaf to the root, after its
// entry changed.
func (h *runMerge) replay(i int) {
	for n := (len(h.runs) + i) / 2; n >= 1; n /= 2 {
		if h.less(h.tree[n], i) {
			h.tree[n], i = i, h.tree[n]
		}
	}
	h.tree[0] = i
}

// drain calls fn with the entries of the runs in key order (of equal
// keys, the earlier run's first) and closes them; ctx, if not nil, is
// checked every 65,536 entries.
func (h *runMerge) drain(ctx context.Context, fn func(ent []byte) error) error {
	defer h.close()
	if len(h.runs) == 0 {
		return nil
	}
	h.build()
	for k := 0; ; k++ {
		if ctx != nil && k&0xffff == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		i := h.tree[0]
		r := h.runs[i]
		if r.done {
			return nil
		}
		if err := fn(r.ent); err != nil {
			return err
		}
		if _, err := r.next(); err != nil {
			return err
		}
		h.head(i)
		h.replay(i)
	}
}

// mergeRuns calls fn with the entries of the run files in key order; of
// equal keys, those of earlier runs first. The slice fn gets is valid
// until it returns.
func mergeRuns(paths []string, fn func(ent []byte) error) error {
	h := &runMerge{runs: make([]*runReader, 0, len(paths))}
	for i, path := range paths {
		if err := h.open(path, i, nil); err != nil {
			h.close()
			return err
		}
	}
	return h.drain(nil, fn)
}

// open adds the run file at path to h as its seq-th run, its first entry
// read; an empty run is closed instead. want, for a staged run, is its
// record, which the run is checked against at its end.
func (h *runMerge) open(path string, seq int, want *stagedRun) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	var src io.Reader = f
	r := &runReader{f: f, path: path, seq: seq}
	if want != nil {
		cr := &crcReader{r: f}
		src, r.check = cr, &runCheck{want: *want, crc: cr}
	}
	r.r = bufio.NewReaderSize(src, runBuf)
	ok, err := r.next()
	if err != nil || !ok {
		f.Close()
		return err
	}
	h.runs = append(h.runs, r)
	return nil
}

// close closes the runs.
func (h *runMerge) close() {
	for _, r := range h.runs {
		r.f.Close()
	}
	h.runs = nil
}
