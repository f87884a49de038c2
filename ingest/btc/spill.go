package btc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/internal/pebblelog"
	"github.com/fundtrace/fundtrace/internal/pebblemem"
	"github.com/fundtrace/fundtrace/internal/txcodec"
)

// spill is a table on local disk of the unspent outputs the cache
// dropped, for a store whose own lookups are slow: ClickHouse finds a
// batch's few hundred thousand spent outputs by txid, and as the chain
// grows such a lookup reads a growing share of its outputs table (at
// 10.56 M simulated transactions, 70 lookups each read 11.7 M rows, 191 s
// of the 549 s index). Here each one is a seek in a sorted table that
// holds only outputs not yet spent, as Bitcoin Core keeps its chainstate.
//
// The spill lasts one run, in a temporary folder removed at its end,
// and is a cache, never the record: an outpoint names its output
// forever (a txid is the hash of the outputs), so what the spill holds
// is right whatever happened to the store, and what it misses (an
// earlier run's outputs, after a crash) the store still gives.
type spill struct {
	db  *pebble.DB
	dir string
	log *slog.Logger
	// Outputs put and taken, and the most held at once; the most disk
	// used, as read after each write.
	put, taken, peak int64
	peakBytes        uint64
	ents             []spilled // write's, kept for the next
}

// spilled is an output on its way into the spill: its key, and its
// bytes in the cache's generation.
type spilled struct {
	k   spillKey
	val []byte
}

// openSpill makes the spill in a new folder under parent, first
// removing those that runs killed before their end left there.
func openSpill(parent string, log *slog.Logger) (*spill, error) {
	removeDeadSpills(parent, log)
	dir, err := os.MkdirTemp(parent, fmt.Sprintf("%s%d-", spillPrefix, os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("make the table of unspent outputs: %w", err)
	}
	cache := pebble.NewCache(spillCacheBytes)
	defer cache.Unref()
	opts := &pebble.Options{
		Cache:                       cache,
		MemTableSize:                spillMemTableBytes,
		MemTableStopWritesThreshold: spillMemTables,
		// Nothing here must survive a crash: the next run starts a new
		// spill, so no write-ahead log.
		DisableWAL: true,
		Logger:     pebblelog.Logger{L: log, What: "the table of unspent outputs"},
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open the table of unspent outputs in %s: %w", dir, err), os.RemoveAll(dir))
	}
	return &spill{db: db, dir: dir, log: log}, nil
}

// The spill's block cache and memtables: small, as its reads are sorted
// and its writes a generation of the cache at a time.
const (
	spillCacheBytes    = 32 << 20
	spillMemTableBytes = 32 << 20
	spillMemTables     = 2
)

// SpillOutsideHeap is the most memory a run's spill (IndexConfig.SpillDir)
// holds outside the Go heap (pebblemem.Outside).
func SpillOutsideHeap() int64 {
	return pebblemem.Outside(spillCacheBytes, spillMemTableBytes, spillMemTables)
}

// spillPrefix starts a spill folder's name, followed by the process id
// of the run that made it.
const spillPrefix = "fundtrace-outputs-"

// removeDeadSpills removes the spill folders in parent whose runs are no
// longer running: a run killed (or a machine stopped) before its end
// leaves its folder, up to the size of the unspent outputs. A folder of a
// live process, or of one this cannot tell, is left alone.
func removeDeadSpills(parent string, log *slog.Logger) {
	ents, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), spillPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		dir := filepath.Join(parent, e.Name())
		if err := os.RemoveAll(dir); err != nil {
			log.Warn("Could not remove a table of unspent outputs an earlier run left", "dir", dir, "err", err)
			continue
		}
		log.Info("Removed a table of unspent outputs an earlier run left", "dir", dir)
	}
}

// processAlive reports whether process pid may be running: only a
// process known to have ended is not.
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return !errors.Is(err, os.ErrProcessDone) && !errors.Is(err, syscall.ESRCH)
}

// close closes and removes the spill.
func (s *spill) close() error {
	if s == nil {
		return nil
	}
	s.log.Info("Table of unspent outputs removed", "spilled", s.put, "taken", s.taken, "most_held", s.peak, "most_bytes", s.peakBytes)
	err := s.db.Close()
	return errors.Join(err, os.RemoveAll(s.dir))
}

// spillKey is an outpoint as the spill sorts it.
type spillKey [36]byte

func keyOf(op chains.Outpoint) (k spillKey) {
	copy(k[:32], op.Hash[:])
	binary.BigEndian.PutUint32(k[32:], op.Index)
	return k
}

// write writes the outputs of g that were not taken: the generation the
// cache is dropping. A nil spill writes nothing.
func (s *spill) write(g *cacheGen) error {
	if s == nil {
		return nil
	}
	ents := s.ents[:0]
	for i := range g.at.slots {
		sl := &g.at.slots[i]
		if sl.at == 0 {
			continue
		}
		e := &g.ents[sl.at-1]
		ents = append(ents, spilled{keyOf(e.op), g.text[e.off : e.off+e.size]})
	}
	if len(ents) == 0 {
		return nil
	}
	// In key order a batch goes into the memtable's skiplist with each
	// insert beside the last.
	slices.SortFunc(ents, func(a, b spilled) int { return bytes.Compare(a.k[:], b.k[:]) })
	b := s.db.NewBatch()
	defer b.Close()
	for i := range ents {
		if err := b.Set(ents[i].k[:], ents[i].val, nil); err != nil {
			return fmt.Errorf("write unspent outputs to %s (--spill-dir): %w", s.dir, err)
		}
	}
	// The batch has its copy; the generation's bytes are the cache's again.
	clear(ents)
	s.ents = ents[:0]
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("write unspent outputs to %s (--spill-dir): %w", s.dir, err)
	}
	s.put += int64(len(ents))
	s.peak = max(s.peak, s.put-s.taken)
	s.peakBytes = max(s.peakBytes, s.db.Metrics().DiskSpaceUsage())
	return nil
}

// take fills in the spent output of each of ins the spill holds, marks
// it in the answer, and forgets it (an output is spent once).
// Addresses go to arena, which the caller fills.
func (s *spill) take(ins []*chains.Input, arena *txcodec.AddrArena) (found []bool, err error) {
	found = make([]bool, len(ins))
	order := make([]int32, len(ins))
	keys := make([]spillKey, len(ins))
	for i, in := range ins {
		order[i] = int32(i)
		keys[i] = keyOf(in.Prev)
	}
	slices.SortFunc(order, func(a, b int32) int { return bytes.Compare(keys[a][:], keys[b][:]) })
	it, err := s.db.NewIter(nil)
	if err != nil {
		return nil, fmt.Errorf("read the table of unspent outputs in %s: %w", s.dir, err)
	}
	del := s.db.NewBatch()
	defer del.Close()
	for _, i := range order {
		k, in := keys[i][:], ins[i]
		if !it.SeekGE(k) || !bytes.Equal(it.Key(), k) {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, errors.Join(fmt.Errorf("read the table of unspent outputs in %s: %w", s.dir, err), it.Close())
		}
		d := txcodec.Decoder{B: v}
		d.OutputInto(in.Prev.Index, &in.Prevout, arena)
		if err := d.End(); err != nil {
			return nil, errors.Join(fmt.Errorf("the table of unspent outputs' copy of %s:%d: %w", in.Prev.Hash, in.Prev.Index, err), it.Close())
		}
		found[i] = true
		if err := del.Delete(k, nil); err != nil {
			return nil, errors.Join(err, it.Close())
		}
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("read the table of unspent outputs in %s: %w", s.dir, err)
	}
	if del.Empty() {
		return found, nil
	}
	s.taken += int64(del.Count())
	if err := del.Commit(pebble.NoSync); err != nil {
		return nil, fmt.Errorf("forget spent outputs in %s: %w", s.dir, err)
	}
	return found, nil
}
