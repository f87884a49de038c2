// Package embedded is fundtrace's zero-setup store: everything in one
// folder on local disk, in a Pebble key-value database (the LSM engine
// go-ethereum also uses). It needs no server and suits a laptop case file
// up to a full Bitcoin index on one machine; store/clickhouse is for more.
//
// # Durability
//
// Each WriteBlocks call is one atomic Pebble write that also moves the
// chain's tip and counters, so the store always holds a whole number of
// blocks and its metadata says exactly which: a batch committed through
// the write-ahead log, or, for many blocks of a UTXO chain, a table file
// ingested in one edit of Pebble's manifest (ingest.go). A process
// killed at any moment loses at most the writes not yet in the log or
// the manifest and resumes from the tip it finds: no gaps, no
// duplicates.
package embedded

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/internal/pebblelog"
	"github.com/fundtrace/fundtrace/internal/pebblemem"
	"github.com/fundtrace/fundtrace/store"
)

// Options configures Open. The zero value is usable.
type Options struct {
	// Logger receives Pebble's own messages at debug level. Nil discards them.
	Logger *slog.Logger
	// CacheBytes is the block cache size. Default 256 MiB.
	CacheBytes int64
	// MemTableBytes is the size of a memtable. Default 64 MiB. Pebble
	// may hold a few at once (one filling, others being flushed), which
	// a command that writes in a stream and must stay small (cluster)
	// keeps down.
	MemTableBytes int64
	// ReadOnly opens without taking the write lock's exclusivity; writes fail.
	ReadOnly bool
	// IngestBytes is the size of write (its entries' bytes, estimated
	// from the blocks' size) from which a UTXO chain's blocks are built
	// as a table file and ingested rather than committed through the
	// write-ahead log and the memtable (see ingest.go). Default 4 MiB,
	// about 9 MB of mainnet blocks (their entries take 0.44 bytes per
	// byte of block): the indexer's batches (64 MiB of blocks) are
	// ingested, while a block or two at the tip goes through the log,
	// whose memtable gathers many such writes into one table (a table
	// ingested for each would leave compactions many small tables to
	// merge). Negative: never.
	IngestBytes int
	// ProbesPerScan says how many history entries (table a) a scan
	// reads in the time a write looks up one address it pays (a probe
	// through every level's filters), which decides when a UTXO chain's
	// writes stop counting their new addresses and leave the count to
	// the end of the index run (SettleCounts, Meta.AddressesPending).
	// Default 4 (measured: see probeCost); negative: every write
	// counts its own.
	ProbesPerScan int
}

// Store implements the whole store contract: a method missing or
// spelled differently fails the build, not a command.
var _ store.Store = (*Store)(nil)

// Store is an open embedded store. It is safe for concurrent use; writes
// are serialised.
type Store struct {
	db   *pebble.DB
	opts *pebble.Options
	path string

	mu     sync.Mutex // serialises writes and guards meta
	meta   map[chains.Chain]store.Meta
	known  knownSet   // addresses known to have a first-seen record
	bufs   *writeBufs // from the first write on
	cand   *kvBuf     // during a write: first-seen records of addresses not known to have one
	fk     []byte
	closed bool

	lock *storeLock // fundtrace.lock, held until Close

	ingestBytes int // see Options.IngestBytes
	ingested    int // table files written for ingestion, for their names
	ingests     int // writes ingested

	probesPerScan int                    // see Options.ProbesPerScan
	probed        map[chains.Chain]int64 // addresses looked up by this process's writes

	filesMu sync.Mutex
	files   map[chains.Chain]*txFile // UTXO chains' transaction files, once opened

	schema uint64                // the schema version the store is at, once checked
	legacy map[chains.Chain]bool // whether table t holds a UTXO chain's transactions

	// staged holds each chain's staged runs of history and spender
	// entries (stage.go), guarded by mu; stagedRuns counts them, read
	// without the lock by the reads that must merge them first.
	staged     map[chains.Chain]*stageList
	stagedRuns atomic.Int64
	stageNow   *stageWrite // during a write that stages
	// stageMax is maxStagedRuns and mergedMax mergedTableBytes but in
	// tests; keepStaged (tests) makes Close leave the runs staged, as a
	// crash would.
	stageMax, mergedMax int
	keepStaged          bool
}

// Open opens (creating if needed, unless ReadOnly) the store in folder
// path. A folder that holds other files than a store's is refused, never
// made a store (see checkFolder); another process holding the store is
// named in an ErrInUse error.
func Open(path string, o Options) (*Store, error) {
	exists, err := checkFolder(path, o.ReadOnly)
	if err != nil {
		return nil, err
	}
	lk, err := lock(path, o.ReadOnly)
	if err != nil {
		return nil, err
	}
	s, err := open(path, o, exists)
	if err != nil {
		lk.release()
		return nil, err
	}
	s.lock = lk
	return s, nil
}

func open(path string, o Options, exists bool) (*Store, error) {
	if o.CacheBytes == 0 {
		o.CacheBytes = 256 << 20
	}
	if o.MemTableBytes == 0 {
		o.MemTableBytes = 64 << 20
	}
	cache := pebble.NewCache(o.CacheBytes)
	defer cache.Unref()
	opts := &pebble.Options{
		Cache:         cache,
		MemTableSize:  uint64(o.MemTableBytes),
		Logger:        pebblelog.Logger{L: o.Logger, What: "the store"},
		EventListener: &pebble.EventListener{DataCorruption: corruptionSeen(o.Logger)},
		ReadOnly:      o.ReadOnly,
		// An existing store is opened, never replaced by a new one.
		ErrorIfNotExists: exists || o.ReadOnly,
	}
	if o.ReadOnly {
		opts.FS = sharedFS{vfs.Default}
	} else {
		opts.FS = tableFS{vfs.Default} // table files written through a buffer (tablefs.go)
		// A full clustering run ingests its tables in place of the
		// old ones (an excise, spool.go), which needs virtual tables.
		// Opening a store made before moves it to this format, once;
		// the Pebble this version builds with reads both.
		opts.FormatMajorVersion = pebble.FormatVirtualSSTables
	}
	opts.Comparer = comparer
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = tableFilter
	}
	opts.Filters = map[string]pebble.FilterPolicy{oldBloom{}.Name(): oldBloom{}}
	// Pebble runs one compaction at a time unless told it may run more,
	// which it then does only while level 0 or the compaction debt is
	// high, as under an index's ingested tables: with one, the index of
	// a 10.56 M-transaction chain waited 53 s at its end (Settle) for
	// the compactions it left, on one of two cores; with up to one a
	// core, 9 s, and the whole run took 202 s against 227.
	opts.CompactionConcurrencyRange = func() (int, int) { return 1, runtime.GOMAXPROCS(0) }
	// An ingested table of block records (ingest.go) goes to the bottom
	// level even where a table there straddles its key range: Pebble
	// splits that table in two virtual ones instead of leaving the new
	// one a level up, to be compacted down.
	opts.Experimental.IngestSplit = func() bool { return true }
	// Level 0 is compacted into the first level below it (the base
	// level) once it holds four sublevels of tables: an index run's
	// ingested writes, 50 to 90 MB each, or 64 MB memtables. Pebble's
	// default of 64 MB for the base level is less than one such
	// compaction brings, and puts one level more between level 0 and
	// the bottom than a base level the size of what it receives
	// (RocksDB's advice) would: every entry is then rewritten once more
	// on its way down. With 256 MB the index of a 1.03 M-transaction
	// chain took 9.8-10.4 s against 12.4-13.1 s, and of a 10.56 M one
	// 145.5 s against 163.7 s (whole processes, 2 cores).
	opts.LBaseMaxBytes = 256 << 20
	// Since a bulk index stages its history and spender entries
	// (stage.go), what reaches level 0 with random keys is mostly the
	// transaction pointers (table p), 50 bytes a transaction, and each
	// compaction into the base level rewrote all of it: at 10.56 M
	// transactions 4.8 GB written into a base level of 253 MB. Waiting
	// for 16 sublevels instead of Pebble's 4 brings four times as much
	// to each such rewrite: the compactions wrote 2.0 GB instead of 6.1,
	// and the index took 92.3 s instead of 101.5-102.9 (1.03 M: 5.37-5.72
	// s against 5.36-5.83). The cost is up to 15 tables of level 0 whose
	// filters a lookup by txid consults (32: 94.7 s, no better). Writes
	// stall at 64 sublevels (Pebble's default, 12, is below 16).
	opts.L0CompactionThreshold = 16
	opts.L0StopWritesThreshold = 64
	opts.EnsureDefaults()
	// Every level's tables carry a filter, level 0's too (filter.go):
	// the indexer's large writes are ingested there as tables, and
	// every address a write pays is looked for in each of them until a
	// compaction merges them down; without a filter each look read a
	// data block of each (3.1 M transactions indexed in 60.9 s without,
	// 57.1 s with). A table built for ingestion (a UTXO chain's large
	// write, splitOut) is written without compression, though, unless
	// it holds block records: its keys fall among those stored, so a
	// compaction always rewrites it, compressed, into a lower level.
	// Writing the five largest
	// mainnet blocks' table took 22 ms of processor time with
	// compression and filter, Snappy 9 ms of it and the filter 2.
	// A flushed memtable's tables are compressed: Pebble splits
	// a flush by key range, and a table of keys written in chain order
	// (an account chain's transaction records, table y; the blocks) has
	// nothing below it to merge with, so it is moved down the levels as
	// it is and would stay uncompressed: 32 % more bytes on disk for a
	// simulated Ethereum chain.
	db, err := pebble.Open(path, opts)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Store{db: db, opts: opts, path: path, meta: map[chains.Chain]store.Meta{}, known: newKnownSet(1 << 20), files: map[chains.Chain]*txFile{}, legacy: map[chains.Chain]bool{}, ingestBytes: o.IngestBytes}
	if s.ingestBytes == 0 {
		s.ingestBytes = 4 << 20
	}
	s.probesPerScan, s.probed = o.ProbesPerScan, map[chains.Chain]int64{}
	if s.probesPerScan == 0 {
		s.probesPerScan = probeCost
	}
	if err := s.checkSchema(); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	if !o.ReadOnly {
		if err := removeIngestLeftovers(path); err != nil {
			return nil, errors.Join(err, s.Close())
		}
		if err := s.openTxFiles(); err != nil {
			return nil, errors.Join(err, s.Close())
		}
	}
	if err := s.loadStaged(context.Background()); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

// Path returns the folder the store lives in.
func (s *Store) Path() string { return s.path }

// Flush writes what the store holds only in memory (and in its
// write-ahead log) to table files, and waits for it. Writes are durable
// without it; it is there to measure the work a write leaves for later
// (BenchmarkIndex's flush-ms).
func (s *Store) Flush(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.db.Flush(); err != nil {
		return fmt.Errorf("flush store %s: %w", s.path, err)
	}
	return nil
}

// Close flushes and closes the store. Closing twice is harmless. No read
// may run during or after Close, as with Pebble itself: a transaction
// read from a mapped file would then touch unmapped memory.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if !s.opts.ReadOnly && s.stagedRuns.Load() > 0 && !s.keepStaged {
		// A run's staged entries are merged before the store is left;
		// if this fails they stay staged, for the next open to merge.
		errs = append(errs, s.mergeAllStagedLocked(context.Background()))
	}
	if s.bufs != nil {
		s.bufs.release()
		s.bufs = nil
	}
	s.filesMu.Lock()
	for _, tf := range s.files {
		errs = append(errs, tf.close())
	}
	s.files = nil
	s.filesMu.Unlock()
	if !s.opts.ReadOnly {
		// What the memtables hold goes to a table now: otherwise every
		// later open, read-only ones too, replays the write-ahead log
		// into memory (14 MB of a clustering run's 45 MB live heap after
		// an index of 11 M Ethereum transactions).
		if err := s.db.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("flush: %w", err))
		}
	}
	errs = append(errs, s.db.Close(), s.lock.release())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close store %s: %w", s.path, err)
	}
	return nil
}

func (s *Store) checkSchema() error {
	v, closer, err := s.db.Get(schemaKey)
	if errors.Is(err, pebble.ErrNotFound) {
		if err := s.db.Set(schemaKey, binary.AppendUvarint(nil, schemaVersion), pebble.Sync); err != nil {
			return fmt.Errorf("write schema version: %w", err)
		}
		s.schema = schemaVersion
		return nil
	}
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	defer closer.Close()
	got, n := binary.Uvarint(v)
	if n <= 0 {
		return &store.CorruptError{Key: string(schemaKey), Err: errShort}
	}
	if got > schemaVersion {
		return fmt.Errorf("%w: store %s has schema %d, this fundtrace knows %d; upgrade fundtrace", store.ErrSchemaTooNew, s.path, got, schemaVersion)
	}
	s.schema = got
	if got < schemaVersion && !s.opts.ReadOnly {
		if err := s.upgrade(got); err != nil {
			return err
		}
		s.schema = schemaVersion
	}
	return nil
}

// upgrade brings a store of schema from up to schemaVersion. From
// version 1 it removes the first-seen records of UTXO chains, which
// version 2 reads from the address history instead; from versions 2 and
// 3 nothing needs rewriting (versions 3 and 4 read the older records as
// they are); below version 5 the account chains' transaction records
// move into chain order; from version 5 nothing needs rewriting (the
// blocks written before have no layout record and are read through
// their transactions' pointers). Then the version is raised. Read-only, an older
// store reads the same, but cannot stream an account chain's transfers
// in chain order (EachTransfer says so).
func (s *Store) upgrade(from uint64) error {
	if from < 5 {
		for _, c := range []chains.Chain{chains.Ethereum, chains.Tron} {
			if err := s.upgradeAccountTxs(c); err != nil {
				return fmt.Errorf("upgrade store %s to schema %d: %w", s.path, schemaVersion, err)
			}
		}
	}
	b := s.db.NewBatch()
	defer b.Close()
	if from < 2 {
		for _, c := range []chains.Chain{chains.Bitcoin} {
			lo := keyPrefix(nil, tFirstSeen, c)
			if err := b.DeleteRange(lo, prefixEnd(lo), nil); err != nil {
				return err
			}
		}
	}
	if err := b.Set(schemaKey, binary.AppendUvarint(nil, schemaVersion), nil); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("upgrade store %s to schema %d: %w", s.path, schemaVersion, err)
	}
	return nil
}

// upgradeAccountTxs moves chain c's transaction records from table t,
// keyed by txid, to table y, in chain order, leaving in t a pointer to
// each. It commits every 32 MiB of records, and a record already moved
// (a pointer) is passed over, so an upgrade cut short resumes; the
// schema version is raised only after every chain is done.
func (s *Store) upgradeAccountTxs(c chains.Chain) error {
	lo := keyPrefix(nil, tTx, c)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return err
	}
	defer it.Close()
	b := s.db.NewBatch()
	defer func() { b.Close() }()
	moved := 0
	for ok := it.First(); ok; ok = it.Next() {
		k, v := it.Key(), it.Value()
		if len(v) == txPointerLen {
			continue
		}
		if len(k) != len(lo)+32 {
			return &store.CorruptError{Key: fmt.Sprintf("%x", k), Err: errors.New("not a transaction's key")}
		}
		h := chains.Hash(k[len(lo):])
		tx, _, err := decodeAccountTx(c, h, v)
		if err != nil {
			return &store.CorruptError{Key: fmt.Sprintf("%s tx %s", c, h), Err: err}
		}
		if err := b.Set(accountTxKey(nil, c, tx.Height, tx.Position), v, nil); err != nil {
			return err
		}
		if err := b.Set(k, appendTxPointer(nil, tx.Height, tx.Position), nil); err != nil {
			return err
		}
		moved++
		if b.Len() >= 32<<20 {
			if err := b.Commit(pebble.Sync); err != nil {
				return err
			}
			b.Close()
			b = s.db.NewBatch()
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return err
	}
	if moved > 0 {
		slog.Info("Upgraded the store: transactions moved into chain order", "store", s.path, "chain", c, "transactions", moved)
	}
	return nil
}

// SchemaVersion returns the store's schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	v, closer, err := s.db.Get(schemaKey)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	defer closer.Close()
	n, _ := binary.Uvarint(v)
	return int(n), nil
}

// Meta returns what the store knows of chain c; an empty chain has
// TipHeight -1.
func (s *Store) Meta(ctx context.Context, c chains.Chain) (store.Meta, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.metaLocked(c)
}

func (s *Store) metaLocked(c chains.Chain) (store.Meta, error) {
	if m, ok := s.meta[c]; ok {
		return m, nil
	}
	m := store.EmptyMeta(c)
	v, closer, err := s.db.Get(metaKey(c))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		return m, fmt.Errorf("read %s meta: %w", c, err)
	default:
		err := json.Unmarshal(v, &m)
		closer.Close()
		if err != nil {
			return m, &store.CorruptError{Key: string(metaKey(c)), Err: err}
		}
		if m.TipHash, err = chains.ParseHash(m.TipHex); m.TipHeight >= 0 && err != nil {
			return m, &store.CorruptError{Key: string(metaKey(c)), Err: err}
		}
	}
	s.meta[c] = m
	return m, nil
}

// setter is a pebble batch or a kvBuf.
type setter interface {
	Set(k, v []byte, o *pebble.WriteOptions) error
}

func (s *Store) setMeta(b setter, m store.Meta) error {
	if m.TipHeight >= 0 {
		m.TipHex = m.TipHash.String()
	} else {
		m.TipHex = ""
	}
	v, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s meta: %w", m.Chain, err)
	}
	return b.Set(metaKey(m.Chain), v, nil)
}

// SetSourceStats records how many blocks of the last index run's source
// were stale or unconnected, and the network, without touching content.
func (s *Store) SetSourceStats(ctx context.Context, c chains.Chain, network string, stale, unconnected int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.metaLocked(c)
	if err != nil {
		return err
	}
	if m.Network != "" && m.Network != network {
		return fmt.Errorf("store %s holds %s %s, not %s", s.path, c, m.Network, network)
	}
	m.Network, m.StaleSkipped, m.Unconnected = network, stale, unconnected
	b := s.db.NewBatch()
	defer b.Close()
	if err := s.setMeta(b, m); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("write %s meta: %w", c, err)
	}
	s.meta[c] = m
	return nil
}

// sharedFS is the file system of a read-only store. Pebble takes its
// directory lock exclusively even to read, creating the LOCK file: that
// fails on read-only media and keeps a second reader out. Readers share
// fundtrace.lock instead (lock), which still keeps writers away.
type sharedFS struct{ vfs.FS }

func (sharedFS) Lock(string) (io.Closer, error) { return io.NopCloser(nil), nil }

// corruptionSeen is Pebble's DataCorruption listener: the damaged file
// is named in the error the read returns (see Damaged), so it is only
// logged here, where Pebble's default would end the process.
func corruptionSeen(l *slog.Logger) func(pebble.DataCorruptionInfo) {
	return func(info pebble.DataCorruptionInfo) {
		if l != nil {
			l.Debug("Store file damaged", "file", info.Path, "err", info.Details.Error())
		}
	}
}

// Damaged says which store file an error found damaged, and how: a
// Pebble table whose checksum fails, or a transaction record (CorruptError).
func Damaged(err error) (file string, ok bool) {
	if info := pebble.ExtractDataCorruptionInfo(err); info != nil {
		return info.Path, true
	}
	return "", false
}

// OutsideHeap is the most memory the store's database holds outside
// the Go heap (pebblemem.Outside): its block cache and its memtables in
// a binary built with cgo, nothing in one built without. The index
// commands leave it out of the Go runtime's memory limit.
func (s *Store) OutsideHeap() int64 {
	return pebblemem.Outside(s.opts.Cache.MaxSize(), int64(s.opts.MemTableSize), s.opts.MemTableStopWritesThreshold)
}

// Settle waits until the store's background compactions have finished
// and none is being started: the tables an indexing run wrote are then
// merged into their levels, so that the commands that read next (a
// cluster run after indexing new blocks, a trace) find them laid out
// and do not pay for the writes of the run before them. Pebble would
// otherwise go on compacting in whichever process opens the store next.
// What the memtables hold is flushed first, so that its table is
// compacted here too (Close would flush it, leaving the compaction to
// the next process). An interrupted wait (ctx done) is no error.
func (s *Store) Settle(ctx context.Context) error {
	if err := s.db.Flush(); err != nil {
		return fmt.Errorf("settle %s: %w", s.path, err)
	}
	// The store is settled once no compaction runs and Pebble's picker
	// finds none to start (GetWaitingCompaction picks from the current
	// layout). Should a compaction it finds not start, 50 ms of looks
	// with none running settle it too; three looks 50 ms apart alone did
	// before, and a run that had left nothing to compact waited 150 ms.
	quiet := 0
	for quiet < 5 {
		if s.db.Metrics().Compact.NumInProgress > 0 {
			quiet = 0
		} else if waiting, _ := s.db.GetWaitingCompaction(); !waiting {
			return nil
		} else {
			quiet++
		}
		select {
		case <-ctx.Done():
			// Interrupted: what was written is committed; the
			// compacting goes on in the next process that opens it.
			return nil
		case <-time.After(settlePoll):
		}
	}
	return nil
}

// settlePoll is how often Settle looks at the compactions.
const settlePoll = 10 * time.Millisecond
