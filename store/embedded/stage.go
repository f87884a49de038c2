package embedded

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"

	"github.com/cockroachdb/pebble/v2"
	"golang.org/x/sync/errgroup"

	"github.com/fundtrace/fundtrace/chains"
)

// A bulk index of a UTXO chain writes, with every batch, history
// entries (table a) and spender entries (s) whose keys are addresses and
// txids: random, so that each batch's table file overlaps everything
// stored before it. Ingested into level 0, each was merged by Pebble's
// compactions into the bottom level, rewriting the bottom level's
// tables it overlapped, which is all of them: at 10.56 M transactions the
// compactions wrote 14 GB for 2.8 GB of tables (Pebble's metrics), and
// took most of the index's processor time. Nothing reads those two
// tables while a bulk index runs (it reads outputs through table p and
// the transaction file, and leaves the count of addresses to its end),
// so they are staged instead: each batch's sorted entries of a and of s
// go to a run file of their own in the folder stage, listed in the
// chain's staged record (m c "staged") in the same atomic ingest as the
// rest of the batch, and are merged once, at the end of the run, into
// table files ingested together. Into a store that holds no history yet
// those land in the bottom level directly: each entry is written twice
// (its run, its table) instead of being compacted down and rewritten
// with every batch after it. When a table's newest maxStagedRuns runs
// are of one tier, they are merged into one run of the next
// (compactStagedLocked), so that a merge reads a bounded number of files
// at once whatever the chain's length. At 1.03 M transactions an index
// of the simulated chain took 5.2-5.6 s instead of 6.7-6.8, at 10.56 M
// 105 s instead of 116-131 (whole processes; scale.md).
//
// The run is durable before the ingest that lists it; the listing and
// the batch's other tables are one atomic edit. A run file the list
// does not name (a crash between the two) is removed when the store is
// next opened for writing, and the runs it names are then merged. Until
// they are, the store's histories and spenders are incomplete, so a
// read-only open of a store with staged runs is refused, and in the
// writing process every read of tables a and s merges them first
// (settleStaged).

// stageDir is the store's subfolder of staged run files.
const stageDir = "stage"

// maxStagedRuns is how many runs of one tier and table are merged into
// one: a merge reads that many files at once, a buffer of runBuf each.
// At 64, the 10.56 M chain's 90 batches merged their first 64 runs of
// each table once before the end, in the writer's path: 93.1 s, against
// 83.6 s at 128, which no chain below about 12 M transactions reaches. A
// mainnet index (some 11,000 batches of 64 MiB of blocks) merges each
// entry once before the end at 128, twice at 64.
const maxStagedRuns = 128

// stagedTables are the key tables a bulk index stages.
var stagedTables = [...]byte{tAddr, tSpender}

// stagedTable reports whether a bulk index stages the entries of table t.
func stagedTable(t byte) bool { return t == tAddr || t == tSpender }

// runName is the file name of chain c's n-th staged run, of table t.
func runName(c chains.Chain, n int64, t byte) string {
	return fmt.Sprintf("%s-%d-%c.run", string(c), n, t)
}

// stagedKey holds chain c's list of staged runs (stageList, JSON).
func stagedKey(c chains.Chain) []byte {
	return append(keyPrefix(nil, tMeta, c), "staged"...)
}

// stageList is a chain's staged runs, in the order written.
type stageList struct {
	Next int64       `json:"next"` // the next run's number
	Runs []stagedRun `json:"runs"`
}

// stagedRun is one run file: the entries of one key table, sorted, each
// key once, with their count, the file's size and its CRC-32C, checked
// when it is merged.
type stagedRun struct {
	Name    string `json:"name"`
	Table   string `json:"table"`
	Entries int64  `json:"entries"`
	Bytes   int64  `json:"bytes"`
	CRC     uint32 `json:"crc"`
	Tier    int    `json:"tier,omitempty"` // how many merges made it
}

func (l *stageList) clone() *stageList {
	if l == nil {
		return &stageList{}
	}
	return &stageList{Next: l.Next, Runs: slices.Clone(l.Runs)}
}

// stageWrite is what one batch stages: a run per staged table. The
// chain's list names them with their sizes and CRCs, and goes into the
// batch's meta table once they are written.
type stageWrite struct {
	dir  string
	list *stageList       // the chain's list once the batch is in
	runs map[byte]*runOut // the batch's runs, once their files are created
}

// planStage names the runs of a batch of chain c staging its history and
// spender entries.
func (s *Store) planStage(c chains.Chain) *stageWrite {
	w := &stageWrite{dir: filepath.Join(s.path, stageDir), list: s.staged[c].clone(), runs: map[byte]*runOut{}}
	for _, t := range stagedTables {
		w.list.Runs = append(w.list.Runs, stagedRun{Name: runName(c, w.list.Next, t), Table: string(t)})
		w.list.Next++
	}
	return w
}

// run returns the batch's run of table t, creating its file.
func (w *stageWrite) run(t byte) (*runOut, error) {
	if r := w.runs[t]; r != nil {
		return r, nil
	}
	// The planned runs are the list's last two.
	i := len(w.list.Runs) - 2
	for w.list.Runs[i].Table != string(t) {
		i++
	}
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return nil, err
	}
	r, err := createRun(filepath.Join(w.dir, w.list.Runs[i].Name))
	if err != nil {
		return nil, err
	}
	r.slot = &w.list.Runs[i]
	w.runs[t] = r
	return r, nil
}

// finish writes out every planned run, creating empty ones for tables
// the batch had no entry of, and records their sizes and CRCs in the
// list, whose encoding is written after (setList). The runs are made
// durable by sync, before the batch is ingested.
func (w *stageWrite) finish() error {
	var errs []error
	for _, t := range stagedTables {
		r, err := w.run(t)
		if err == nil {
			err = r.flush()
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// sync makes the runs durable, their folder's entries too, and closes
// them. It runs while the batch's table files are finished.
func (w *stageWrite) sync() error {
	var errs []error
	for _, r := range w.runs {
		errs = append(errs, r.finish())
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return syncDir(w.dir)
}

// remove removes the batch's run files, after a failed batch.
func (w *stageWrite) remove() error {
	var errs []error
	for _, r := range w.runs {
		r.abort()
		errs = append(errs, removeIfThere(r.path))
	}
	return errors.Join(errs...)
}

// setList writes the chain's list of staged runs into b (a non-empty
// one: an empty list is deleted, so that a store whose runs were all
// merged holds what one that never staged does).
func setList(b setter, c chains.Chain, l *stageList) error {
	v, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("encode %s's staged runs: %w", c, err)
	}
	return b.Set(stagedKey(c), v, nil)
}

// runOut writes one staged run: the entries of a key table in key order,
// each key once (of equal keys the last, as tableOut keeps), in the
// format of writeRun. Its size, entry count and CRC go into its slot in
// the list when it is flushed.
type runOut struct {
	path    string
	f       *os.File
	bw      *bufio.Writer
	crc     uint32
	n       int64
	size    int64
	k, e    []byte // the entry held back (in its kvBuf, or in buf)
	buf     []byte // put's copy
	held    bool
	slot    *stagedRun
	flushed bool // written out, slot filled in
	done    bool // closed
}

func createRun(path string) (*runOut, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &runOut{path: path, f: f, bw: bufio.NewWriterSize(f, 1<<20)}, nil
}

func (o *runOut) add(kv *kvBuf, e kvEnt) error {
	return o.hold(kv.buf[e.off+1:e.end], false)
}

func (o *runOut) endTable() error {
	if !o.held {
		return nil
	}
	o.held = false
	return o.write(o.e)
}

// put is add for an entry whose bytes are reused after it returns. For
// merges.
func (o *runOut) put(ent []byte) error { return o.hold(ent, true) }

// hold writes the entry held back if ent's key is another, then holds
// ent back (a copy of it, if copied), until the next shows whether it
// is the last of its key.
func (o *runOut) hold(ent []byte, copied bool) error {
	k, _ := lenPrefixed(ent)
	if o.held && !bytes.Equal(k, o.k) {
		if err := o.write(o.e); err != nil {
			return err
		}
	}
	if copied {
		ent = append(o.buf[:0], ent...)
		o.buf = ent
		k, _ = lenPrefixed(ent)
	}
	o.k, o.e, o.held = k, ent, true
	return nil
}

func (o *runOut) write(ent []byte) error {
	var l [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(l[:], uint64(len(ent)))
	o.crc = crc32.Update(crc32.Update(o.crc, crcTable, l[:n]), crcTable, ent)
	o.n++
	o.size += int64(n + len(ent))
	if _, err := o.bw.Write(l[:n]); err != nil {
		return fmt.Errorf("write %s: %w", o.path, err)
	}
	if _, err := o.bw.Write(ent); err != nil {
		return fmt.Errorf("write %s: %w", o.path, err)
	}
	return nil
}

// flush writes what is held and buffered, and records the run in its
// slot.
func (o *runOut) flush() error {
	if o.flushed {
		return nil
	}
	err := o.endTable()
	if err == nil {
		err = o.bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", o.path, err)
	}
	o.flushed = true
	if o.slot != nil {
		o.slot.Entries, o.slot.Bytes, o.slot.CRC = o.n, o.size, o.crc
	}
	return nil
}

// finish flushes the run, syncs and closes its file.
func (o *runOut) finish() error {
	if o.done {
		return nil
	}
	o.done = true
	if err := o.flush(); err != nil {
		o.f.Close()
		return err
	}
	err := o.f.Sync()
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", o.path, err)
	}
	return nil
}

func (o *runOut) abort() {
	if !o.done {
		o.done = true
		o.f.Close()
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// loadStaged reads every chain's list of staged runs. A read-only store
// with staged runs is refused; a writable one removes the run files no
// list names and merges the runs listed (an index run was interrupted).
func (s *Store) loadStaged(ctx context.Context) error {
	s.staged = map[chains.Chain]*stageList{}
	lo := []byte{tMeta}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return err
	}
	var pending int
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) != 2+len("staged") || string(k[2:]) != "staged" {
			continue
		}
		c, ok := chains.ChainByTag(k[1])
		if !ok {
			continue
		}
		l := &stageList{}
		if err := json.Unmarshal(it.Value(), l); err != nil {
			it.Close()
			return fmt.Errorf("read %s's staged runs (key %q): %w", c, k, err)
		}
		s.staged[c] = l
		pending += len(l.Runs)
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return fmt.Errorf("read staged runs: %w", err)
	}
	s.stagedRuns.Store(int64(pending))
	if s.opts.ReadOnly {
		if pending > 0 {
			return fmt.Errorf("store %s: an index run stopped before merging %d staged runs of address histories and spenders into the store; open it for writing (run fundtrace index again) to merge them", s.path, pending)
		}
		return nil
	}
	named := map[string]bool{}
	for _, l := range s.staged {
		for _, r := range l.Runs {
			named[r.Name] = true
		}
	}
	dir := filepath.Join(s.path, stageDir)
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, e := range ents {
		if !named[e.Name()] {
			if err := removeIfThere(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("remove unlisted staged run: %w", err)
			}
		}
	}
	if pending > 0 {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.mergeAllStagedLocked(ctx)
	}
	return nil
}

// settleStaged merges what is staged, if anything: the reads of tables a
// and s call it first.
func (s *Store) settleStaged(ctx context.Context) error {
	if s.stagedRuns.Load() == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mergeAllStagedLocked(ctx)
}

func (s *Store) mergeAllStagedLocked(ctx context.Context) error {
	for c, l := range s.staged {
		if len(l.Runs) > 0 {
			if _, _, err := s.mergeStagedLocked(ctx, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// mergeStagedLocked merges chain c's staged runs into the store: each
// table's runs into table files (in parallel, a table each), ingested
// with the deletion of the list in one atomic edit; then the run files
// are removed. When the store held no history of c before, the merge
// of table a sees every address of the chain once, in order, and counts
// them: counted is then true and addresses the count (SettleCounts need
// not scan the table again).
func (s *Store) mergeStagedLocked(ctx context.Context, c chains.Chain) (addresses int64, counted bool, err error) {
	l := s.staged[c]
	if l == nil || len(l.Runs) == 0 {
		return 0, false, nil
	}
	alo := keyPrefix(nil, tAddr, c)
	if counted, err = s.noKeys(ctx, alo, prefixEnd(alo)); err != nil {
		return 0, false, err
	}
	dir := filepath.Join(s.path, stageDir)
	files := make([][]string, len(stagedTables))
	g, gctx := errgroup.WithContext(ctx)
	for i, t := range stagedTables {
		runs := l.ofTable(t)
		if len(runs) == 0 {
			counted = counted && t != tAddr
			continue
		}
		var count *int64
		if t == tAddr && counted {
			count = &addresses
		}
		g.Go(func() error {
			var err error
			files[i], err = s.mergeToTables(gctx, dir, runs, fmt.Sprintf("stage-%s-%c", string(c), t), count)
			return err
		})
	}
	err = g.Wait()
	var paths []string
	for _, f := range files {
		paths = append(paths, f...)
	}
	if err == nil {
		var path string
		path, err = s.writeListDeletion(c)
		if path != "" {
			paths = append(paths, path)
		}
	}
	if err == nil {
		if err = s.db.Ingest(ctx, paths); err == nil {
			var errs []error
			for _, r := range l.Runs {
				errs = append(errs, removeIfThere(filepath.Join(dir, r.Name)))
			}
			s.stagedRuns.Add(-int64(len(l.Runs)))
			s.staged[c] = &stageList{}
			return addresses, counted, errors.Join(errs...)
		}
	}
	for _, p := range paths {
		err = errors.Join(err, removeIfThere(p))
	}
	return 0, false, fmt.Errorf("merge %s's staged runs in %s: %w", c, s.path, err)
}

// noKeys reports whether the store holds no key from lo up to hi.
func (s *Store) noKeys(ctx context.Context, lo, hi []byte) (bool, error) {
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return false, err
	}
	none := !it.First()
	return none, errors.Join(it.Error(), it.Close())
}

// writeListDeletion writes a table file deleting chain c's staged
// record, to be ingested with the merged runs.
func (s *Store) writeListDeletion(c chains.Chain) (string, error) {
	w, path, err := s.newTableWriterBuf(s.opts.MakeWriterOptions(0, s.db.TableFormat()), "stage-list", nil)
	if err != nil {
		return path, err
	}
	return path, errors.Join(w.Delete(stagedKey(c)), w.Close())
}

// mergedTableBytes is how many bytes of entries a merged table file
// holds before the next is begun: small enough that the 1.03 M chain's
// tables (180 and 130 MB of entries) are written as several files at
// once (mergeToTables), about the size of the bottom level's files
// Pebble's compactions write. With 256 MB, one file a table, the final
// merge of that chain took 1.12-1.24 s (eight runs); with 64 MB,
// 1.07-1.17 s, and 48 MB 1.04-1.16 s.
const mergedTableBytes = 64 << 20

// mergeToTables merges runs (oldest first) into bottom-level table files
// named name-N in the ingest folder and returns their paths. count, if
// not nil, receives the number of distinct addresses (the runs being
// table a's).
//
// The runs are merged on the calling goroutine, and the table files
// written on others, up to one a processor at once: the files hold disjoint key
// ranges, so each is written alone. The writing (Pebble's table writer,
// compression, filters) is most of a merge's processor time (16 of 24 s
// merging the 10.56 M-transaction chain's runs), and one writer a table
// kept the merge to two goroutines' worth of processors, and the
// larger table's writer went on alone after the other's had finished.
// On this project's 2-core machine the 10.56 M chain's merge took as
// long either way (22.3 and 22.1 s: both cores were busy), the 1.03 M
// chain's a tenth of a second less (see mergedTableBytes); on a machine
// with more cores a mainnet's merge (some 340 GB of runs) can use them
// all. That is not measured here.
func (s *Store) mergeToTables(ctx context.Context, dir string, runs []stagedRun, name string, count *int64) ([]string, error) {
	var (
		paths []string
		prev  []byte // the last address counted: its key's prefix
		n     int64
		files int
		cur   *tableFeed
	)
	most := mergedTableBytes
	if s.mergedMax > 0 {
		most = s.mergedMax
	}
	g, gctx := errgroup.WithContext(ctx)
	writers := make(chan struct{}, runtime.GOMAXPROCS(0))
	free := make(chan []byte, 2*cap(writers)+2)
	// send hands the current file its block of entries.
	send := func() error {
		select {
		case cur.blocks <- cur.buf:
			cur.buf = nil
			return nil
		case <-gctx.Done():
			return gctx.Err()
		}
	}
	// end sends the current file its last entries and ends it.
	end := func() error {
		if cur == nil {
			return nil
		}
		var err error
		if len(cur.buf) > 0 {
			err = send()
		}
		close(cur.blocks)
		cur = nil
		return err
	}
	// start begins the next file, once fewer files than writers are
	// being written.
	start := func() error {
		select {
		case writers <- struct{}{}:
		case <-gctx.Done():
			return gctx.Err()
		}
		w, path, err := s.newTableWriterBuf(s.opts.MakeWriterOptions(numLevels-1, s.db.TableFormat()), name+"-"+strconv.Itoa(files), nil)
		if path != "" {
			paths = append(paths, path)
		}
		if err != nil {
			<-writers
			return err
		}
		files++
		cur = &tableFeed{blocks: make(chan []byte, 2)}
		feed := cur
		g.Go(func() error {
			defer func() { <-writers }()
			return feed.write(&tableOut{w: w}, free)
		})
		return nil
	}
	// The merge hands each entry to the file being filled, a block at a
	// time; the files' writers do the rest on goroutines of their own.
	err := mergeStagedRuns(gctx, dir, runs, func(ent []byte) error {
		k, _ := splitEntry(ent)
		// A file ends between two different keys only: of equal keys,
		// the table writer keeps the last.
		if cur != nil && cur.size >= most && !bytes.Equal(k, cur.last) {
			if err := end(); err != nil {
				return err
			}
		}
		if cur == nil {
			if err := start(); err != nil {
				return err
			}
		}
		if cur.buf == nil {
			select {
			case cur.buf = <-free:
			default:
				cur.buf = make([]byte, 0, feedBlockBytes+4<<10)
			}
		}
		cur.buf = binary.AppendUvarint(cur.buf, uint64(len(ent)))
		cur.buf = append(cur.buf, ent...)
		cur.size += len(ent)
		if cur.size >= most {
			// The file ends at the next entry of another key.
			cur.last = append(cur.last[:0], k...)
		}
		if count != nil && len(k) > 2 {
			// A history key is its table, chain, the address's
			// length and the address, then where it was paid.
			if p := k[:min(len(k), 3+int(k[2]))]; !bytes.Equal(p, prev) {
				prev = append(prev[:0], p...)
				n++
			}
		}
		if len(cur.buf) >= feedBlockBytes {
			return send()
		}
		return nil
	})
	eerr := end()
	// A writer's error is the cause when there is one: the merge then
	// stopped for the context it cancelled.
	switch werr := g.Wait(); {
	case werr != nil:
		err = werr
	case err == nil:
		err = eerr
	}
	if count != nil {
		*count = n
	}
	return paths, err
}

// tableFeed is a merged table file being written on a goroutine of its
// own, which blocks hands entries, each length-prefixed.
type tableFeed struct {
	blocks chan []byte
	buf    []byte // the block being filled
	size   int    // bytes of entries handed over
	last   []byte // the last entry's key, once size reaches the file's most
}

// write writes the entries of f's blocks through out and finishes the
// file, returning each block to free once written.
func (f *tableFeed) write(out *tableOut, free chan<- []byte) error {
	var err error
	for blk := range f.blocks {
		for b := blk; len(b) > 0 && err == nil; {
			l, w := binary.Uvarint(b)
			ent := b[w : w+int(l)]
			b = b[w+int(l):]
			k, v := splitEntry(ent)
			err = out.addIn(k, v)
		}
		if err != nil {
			break // the merge stops as the group's context is cancelled
		}
		out.keep() // the block goes back to be filled again
		select {
		case free <- blk[:0]:
		default:
		}
	}
	if err == nil {
		err = out.endTable()
	}
	return errors.Join(err, out.w.Close())
}

// feedBlockBytes is the size of the blocks of entries a merged table
// file's writer is handed.
const feedBlockBytes = 1 << 20

// mergeStagedRuns calls fn with the entries of runs (oldest first) in key
// order, of equal keys the older runs' first, checking each run's
// entries, size and CRC against its record: a run damaged on disk is an
// error naming its file, not a wrong merge.
func mergeStagedRuns(ctx context.Context, dir string, runs []stagedRun, fn func(ent []byte) error) error {
	h := &runMerge{runs: make([]*runReader, 0, len(runs))}
	for i := range runs {
		if err := h.open(filepath.Join(dir, runs[i].Name), i, &runs[i]); err != nil {
			h.close()
			return err
		}
	}
	return h.drain(ctx, fn)
}

// crcReader computes the CRC-32C and count of the bytes read through it.
type crcReader struct {
	r   io.Reader
	crc uint32
	n   int64
}

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.crc = crc32.Update(c.crc, crcTable, p[:n])
	c.n += int64(n)
	return n, err
}

// runCheck is what a staged run's reader checks at its end.
type runCheck struct {
	want stagedRun
	crc  *crcReader
	n    int64
}

func (c *runCheck) done(path string) error {
	if c.n != c.want.Entries || c.crc.n != c.want.Bytes || c.crc.crc != c.want.CRC {
		return fmt.Errorf("staged run %s is damaged: %d entries, %d bytes, CRC %08x; its record says %d, %d, %08x", path, c.n, c.crc.n, c.crc.crc, c.want.Entries, c.want.Bytes, c.want.CRC)
	}
	return nil
}

// ofTable lists the staged runs of table t, oldest first.
func (l *stageList) ofTable(t byte) []stagedRun {
	var out []stagedRun
	for _, r := range l.Runs {
		if r.Table[0] == t {
			out = append(out, r)
		}
	}
	return out
}

// compactStagedLocked merges, for each staged table of chain c, its
// newest runs into one while the newest maxStagedRuns of them are of one
// tier (made by as many merges), as the clustering spool does: the
// merged run is of the next tier, recorded in their place. Each entry is
// then merged about log128(runs) times before the final merge, and that
// merge reads at most maxStagedRuns files a tier.
func (s *Store) compactStagedLocked(ctx context.Context, c chains.Chain) error {
	most := maxStagedRuns
	if s.stageMax > 0 {
		most = s.stageMax
	}
	for _, t := range stagedTables {
		for {
			l := s.staged[c]
			if l == nil {
				return nil
			}
			runs := l.ofTable(t)
			n := len(runs)
			if n < most || runs[n-most].Tier != runs[n-1].Tier {
				break
			}
			if err := s.mergeRunsLocked(ctx, c, t, runs[n-most:]); err != nil {
				return err
			}
		}
	}
	return nil
}

// mergeRunsLocked merges group, runs of chain c's table t listed one
// after another, into one run of the next tier, listed in their place.
func (s *Store) mergeRunsLocked(ctx context.Context, c chains.Chain, t byte, group []stagedRun) error {
	dir := filepath.Join(s.path, stageDir)
	next := s.staged[c].clone()
	name := runName(c, next.Next, t)
	next.Next++
	out, err := createRun(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	merged := stagedRun{Name: name, Table: string(t), Tier: group[0].Tier + 1}
	out.slot = &merged
	err = mergeStagedRuns(ctx, dir, group, out.put)
	if err == nil {
		err = out.finish()
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		out.abort()
		return errors.Join(fmt.Errorf("merge %s's staged runs of table %c: %w", c, t, err), removeIfThere(out.path))
	}
	gone := map[string]bool{}
	for _, r := range group {
		gone[r.Name] = true
	}
	var kept []stagedRun
	for _, r := range next.Runs {
		switch {
		case r.Name == group[0].Name:
			kept = append(kept, merged)
		case !gone[r.Name]:
			kept = append(kept, r)
		}
	}
	next.Runs = kept
	b := s.db.NewBatch()
	err = setList(b, c, next)
	if err == nil {
		err = b.Commit(pebble.Sync)
	}
	b.Close()
	if err != nil {
		return errors.Join(fmt.Errorf("record %s's merged staged runs: %w", c, err), removeIfThere(out.path))
	}
	s.staged[c] = next
	s.stagedRuns.Add(int64(1 - len(group)))
	var errs []error
	for _, r := range group {
		errs = append(errs, removeIfThere(filepath.Join(dir, r.Name)))
	}
	return errors.Join(errs...)
}
