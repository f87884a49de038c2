package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/internal/txcodec"
	"github.com/fundtrace/fundtrace/store"
)

// The reads and the writer clustering at chain scale uses: each pass is
// one sequential read of one table or of the transaction file, and a
// run's links and assignments go to the store as they are made, so that
// clustering holds only its arrays of address ids (see package cluster).
//
// Links a run writes are kept by address index, in table E, from both
// ends:
//
//	E c index(4) other(4) heur(1) height(8) position(4) → (empty)
//
// 21 bytes of key, where a link by addresses and txid (table e, which
// runs before these wrote and which is still read) took about a hundred.

func clusterLinkIndexKey(dst []byte, c chains.Chain, a, b uint32, code byte, height int64, pos uint32) []byte {
	dst = keyPrefix(dst, tClusterLinkByIndex, c)
	dst = binary.BigEndian.AppendUint32(dst, a)
	dst = binary.BigEndian.AppendUint32(dst, b)
	dst = append(dst, code)
	dst = binary.BigEndian.AppendUint64(dst, uint64(height))
	return binary.BigEndian.AppendUint32(dst, pos)
}

// EachAddress calls fn for every address chain c paid, once, in key
// order, with where it was first paid: one pass over the history table,
// whose first entry for an address is its first payment.
func (s *Store) EachAddress(ctx context.Context, c chains.Chain, fn func(a chains.Address, first store.FirstPaid) error) error {
	if err := s.settleStaged(ctx); err != nil {
		return err
	}
	return s.eachFirstPaid(ctx, c, func(a []byte, first store.FirstPaid) error {
		return fn(chains.Address(a), first)
	})
}

// eachFirstPaid is EachAddress with the address's bytes, valid only
// during the call: a count (SettleCounts) needs no string of each.
func (s *Store) eachFirstPaid(ctx context.Context, c chains.Chain, fn func(a []byte, first store.FirstPaid) error) error {
	lo := keyPrefix(nil, tAddr, c)
	return s.eachFirstPaidIn(ctx, lo, lo, prefixEnd(lo), fn)
}

// eachFirstPaidIn is eachFirstPaid over the keys from lower up to upper
// of the history table whose prefix is lo; the bounds must fall between
// two addresses' entries (addressBounds).
func (s *Store) eachFirstPaidIn(ctx context.Context, lo, lower, upper []byte, fn func(a []byte, first store.FirstPaid) error) error {
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	defer it.Close()
	var prev []byte
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()[len(lo):]
		if len(k) < 1 || len(k) != 1+int(k[0])+16 {
			return &store.CorruptError{Key: fmt.Sprintf("%x", it.Key()), Err: errShort}
		}
		a := k[1 : 1+int(k[0])]
		if prev != nil && bytes.Equal(a, prev) {
			continue
		}
		prev = append(prev[:0], a...)
		rest := k[1+int(k[0]):]
		first := store.FirstPaid{Height: int64(binary.BigEndian.Uint64(rest)), Position: binary.BigEndian.Uint32(rest[8:]), Vout: binary.BigEndian.Uint32(rest[12:])}
		if err := fn(a, first); err != nil {
			return err
		}
		if n++; n%65536 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	return it.Error()
}

// EachAssignment calls fn for every stored assignment of chain c's
// addresses to clusters, in address order: the index the address has
// and its cluster's id.
func (s *Store) EachAssignment(ctx context.Context, c chains.Chain, fn func(a chains.Address, index, cluster uint32) error) error {
	ids := clusterIDs{s: s, c: c}
	if err := ids.readAll(ctx); err != nil {
		return err
	}
	lo := keyPrefix(nil, tClusterOf, c)
	return s.scan(ctx, lo, func(k, v []byte) error {
		i, id, err := ids.of(v)
		if err != nil {
			return &store.CorruptError{Key: fmt.Sprintf("%x", k), Err: err}
		}
		return fn(chains.Address(k[len(lo):]), i, id)
	})
}

// txWindow is how much of the transaction file EachTx reads at a time.
// The file is read, not mapped: a mapping's pages would count as the
// process's resident memory, and a pass over a chain's file would leave
// all of it there.
const txWindow = 8 << 20

// EachTx calls fn for every transaction of UTXO chain c in blocks
// from..to, in chain order. The records are read from the transaction
// file front to back in large windows, not one read per record. A block
// written by schema 6 has a layout record (table d, read alongside the
// block records): where its records start, their lengths, and one
// checksum over them all. An older block's records are found through
// their pointers (table p, by txid), looked up a group of blocks at a
// time in key order through one iterator, each checked against its
// pointer's checksum. Either way a damaged file yields an error naming
// it, never another transaction's fields. Each tx is fn's to keep.
func (s *Store) EachTx(ctx context.Context, c chains.Chain, from, to int64, fn func(tx *chains.Tx) error) error {
	if c.IsAccount() {
		return fmt.Errorf("%s has no UTXO transactions", c)
	}
	if s.hasLegacyTxs(c) {
		return s.eachTxByLookup(ctx, c, from, to, fn)
	}
	tf, err := s.txFileOf(c)
	if err != nil {
		return err
	}
	lo, hi := blockKey(nil, c, max(from, 0)), blockKey(nil, c, to+1)
	blocks, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer blocks.Close()
	layouts, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: layoutKey(nil, c, max(from, 0)), UpperBound: layoutKey(nil, c, to+1)})
	if err != nil {
		return err
	}
	defer layouts.Close()
	plo := keyPrefix(nil, tTxPtr, c)
	ptrs, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: plo, UpperBound: prefixEnd(plo)})
	if err != nil {
		return err
	}
	defer ptrs.Close()
	r := txReader{tf: tf, ptrs: ptrs, c: c}
	lok := layouts.First()
	for ok := blocks.First(); ok; ok = blocks.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if len(blocks.Key()) != len(lo) {
			return &store.CorruptError{Key: fmt.Sprintf("%x", blocks.Key()), Err: errShort}
		}
		height := int64(binary.BigEndian.Uint64(blocks.Key()[2:]))
		_, txids, err := decodeBlock(c, height, blocks.Value())
		if err != nil {
			return &store.CorruptError{Key: fmt.Sprintf("%x", blocks.Key()), Err: err}
		}
		for lok && layoutHeight(layouts.Key()) < height {
			lok = layouts.Next()
		}
		if lok && layoutHeight(layouts.Key()) == height {
			// What the group holds comes before this block.
			if err := r.flush(fn); err != nil {
				return err
			}
			if err := r.block(height, txids, layouts.Key(), layouts.Value(), fn); err != nil {
				return err
			}
			continue
		}
		r.ids = append(r.ids, txids...)
		if len(r.ids) >= txGroup {
			if err := r.flush(fn); err != nil {
				return err
			}
		}
	}
	if err := blocks.Error(); err != nil {
		return err
	}
	if err := layouts.Error(); err != nil {
		return err
	}
	return r.flush(fn)
}

// layoutHeight is the height a layout key names (a short key, which no
// write makes, sorts as height 0 and fails to decode as a record).
func layoutHeight(k []byte) int64 {
	if len(k) < 10 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(k[2:]))
}

// txGroup is how many transactions EachTx looks the pointers of up at
// once.
const txGroup = 1 << 16

// txReader reads groups of transactions for EachTx.
type txReader struct {
	tf       *txFile
	ptrs     *pebble.Iterator
	c        chains.Chain
	ids      []chains.Hash // the group, in chain order
	p        []txPtr
	order    []uint64
	lens     []uint32
	buf      []byte
	winStart uint64 // file offset of buf[0]
	key      []byte
}

// window returns the n bytes of the file at off, which the caller has
// checked end inside the committed end: from the window read last if
// they are in it, else from a new window read from off on.
func (r *txReader) window(off, n, end uint64) ([]byte, error) {
	if off < r.winStart || off+n > r.winStart+uint64(len(r.buf)) {
		size := min(max(uint64(txWindow), n), end-off)
		var err error
		if r.buf, err = r.tf.readAt(off, uint32(size), r.buf); err != nil {
			r.buf, r.winStart = r.buf[:0], 0
			return nil, fmt.Errorf("read %s at %d: %w", r.tf.path, off, err)
		}
		r.winStart = off
	}
	return r.buf[off-r.winStart : off-r.winStart+n], nil
}

// block reads and hands out the transactions of the block at height,
// whose txids are txids, by its layout record v (key k).
func (r *txReader) block(height int64, txids []chains.Hash, k, v []byte, fn func(tx *chains.Tx) error) error {
	corrupt := func(err error) error {
		return &store.CorruptError{Key: fmt.Sprintf("%x", k), Err: fmt.Errorf("block %d: %w", height, err)}
	}
	l, err := decodeLayout(v, r.lens)
	r.lens = l.lens
	if err == nil && len(l.lens) != len(txids) {
		err = fmt.Errorf("%d records for the block's %d transactions", len(l.lens), len(txids))
	}
	if err != nil {
		return corrupt(err)
	}
	n, err := r.tf.within(&l)
	if err != nil {
		return corrupt(err)
	}
	recs, err := r.window(l.off, n, uint64(r.tf.end.Load()))
	if err != nil {
		return err
	}
	if err := r.tf.verify(&l, recs); err != nil {
		return corrupt(err)
	}
	for i, id := range txids {
		rec := recs[:l.lens[i]]
		recs = recs[l.lens[i]:]
		tx, err := txcodec.DecodeTx(r.c, id, rec)
		if err != nil {
			return fmt.Errorf("%s tx %s: %w", r.c, id, corrupt(err))
		}
		if err := fn(tx); err != nil {
			return err
		}
	}
	return nil
}

// flush looks up the pointers of the group's transactions in key order,
// then reads and hands out the transactions in chain order.
func (r *txReader) flush(fn func(tx *chains.Tx) error) error {
	if len(r.ids) == 0 {
		return nil
	}
	// Sort by the first bytes of the txid (the key's order), radix on
	// the top three bytes as seekOrder does; equal prefixes in any order.
	ops := make([]chains.Outpoint, len(r.ids))
	for i := range r.ids {
		ops[i].Hash = r.ids[i]
	}
	r.order = seekOrder(ops)
	r.p = slices.Grow(r.p[:0], len(r.ids))[:len(r.ids)]
	for _, e := range r.order {
		i := uint32(e)
		r.key = txPtrKey(r.key[:0], r.c, r.ids[i])
		if !r.ptrs.SeekPrefixGE(r.key) || !bytes.Equal(r.ptrs.Key(), r.key) { // its own prefix: the filters apply (lookupOutputs)
			if err := r.ptrs.Error(); err != nil {
				return err
			}
			return fmt.Errorf("%s tx %s: %w", r.c, r.ids[i], store.ErrNotFound)
		}
		p, err := decodeTxPtr(r.ptrs.Value())
		if err != nil {
			return &store.CorruptError{Key: fmt.Sprintf("%x", r.key), Err: err}
		}
		r.p[i] = p
	}
	end := uint64(r.tf.end.Load())
	for i, id := range r.ids {
		p := r.p[i]
		if p.off+uint64(p.n) > end {
			return &store.CorruptError{Key: fmt.Sprintf("%x", txPtrKey(nil, r.c, id)), Err: fmt.Errorf("record at %d (%d bytes) is past the end committed to %s", p.off, p.n, r.tf.path)}
		}
		rec, err := r.window(p.off, uint64(p.n), end)
		if err != nil {
			return err
		}
		if crc32.Checksum(rec, crcTable) != p.crc {
			return &store.CorruptError{Key: fmt.Sprintf("%x", txPtrKey(nil, r.c, id)), Err: fmt.Errorf("record at %d of %s fails its checksum", p.off, r.tf.path)}
		}
		tx, err := txcodec.DecodeTx(r.c, id, rec)
		if err != nil {
			return fmt.Errorf("%s tx %s: %w", r.c, id, &store.CorruptError{Key: fmt.Sprintf("%x", txPtrKey(nil, r.c, id)), Err: err})
		}
		if err := fn(tx); err != nil {
			return err
		}
	}
	r.ids = r.ids[:0]
	return nil
}

// eachTxByLookup is EachTx for a store whose transactions are in table
// t (schema 3 and below): a lookup per transaction.
func (s *Store) eachTxByLookup(ctx context.Context, c chains.Chain, from, to int64, fn func(tx *chains.Tx) error) error {
	for h := max(from, 0); h <= to; h++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		_, txids, err := s.BlockByHeight(ctx, c, h)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		for _, id := range txids {
			tx, err := s.Tx(ctx, c, id)
			if err != nil {
				return err
			}
			if err := fn(tx); err != nil {
				return err
			}
		}
	}
	return nil
}

// NewClusterWriter starts a clustering run of chain c. It removes the
// chain's cluster metadata first, and with reset every cluster record,
// in one synced batch: from then until Commit the chain has no clusters,
// so a run that stops half way leaves none that look whole (the next run
// recomputes).
func (s *Store) NewClusterWriter(ctx context.Context, c chains.Chain, reset bool) (store.ClusterWriter, error) {
	if s.opts.ReadOnly {
		return nil, fmt.Errorf("write %s clusters to %s: %w", c, s.path, pebble.ErrReadOnly)
	}
	members, err := s.keepsMembers(ctx, c, reset) // before the record goes
	if err != nil {
		return nil, err
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.Delete(clusterMetaKey(c), nil); err != nil {
		return nil, err
	}
	// The run's state replaces the last run's (an incremental run has
	// read it by now).
	if lo := keyPrefix(nil, tClusterState, c); !reset {
		if err := b.DeleteRange(lo, prefixEnd(lo), nil); err != nil {
			return nil, err
		}
	}
	if reset {
		for _, t := range clusterTables {
			lo := keyPrefix(nil, t, c)
			if err := b.DeleteRange(lo, prefixEnd(lo), nil); err != nil {
				return nil, err
			}
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return nil, fmt.Errorf("start clustering %s: %w", c, err)
	}
	w := &clusterWriter{s: s, c: c, b: s.db.NewBatch(), reset: reset, members: members}
	if reset {
		w.sp = newSpool(s, "cluster-"+string(c))
	}
	return w, nil
}

// clusterWriter writes a run: an incremental one in batches of about
// clusterBatchBytes, a full one through a spool.
type clusterWriter struct {
	s   *Store
	c   chains.Chain
	b   *pebble.Batch
	key []byte
	val []byte
	// reset: the run starts from nothing, so no assignment it writes
	// replaces one; members: the run leaves every cluster's members
	// (members.go).
	reset, members bool
	// sp, in a run that starts from nothing, takes every key instead of
	// the batch; Commit ingests its tables (spool.go).
	sp *spool
	// parts counts the parts of state written.
	parts uint32
	// moves: members an incremental run moves, not yet applied
	// (members.go).
	moves []move
}

// set writes a key of the run.
func (w *clusterWriter) set(k, v []byte) error {
	if w.sp != nil {
		return w.sp.set(k, v)
	}
	if err := w.b.Set(k, v, nil); err != nil {
		return err
	}
	return w.flush(false)
}

const clusterBatchBytes = 4 << 20

func (w *clusterWriter) flush(force bool) error {
	if w.b.Len() < clusterBatchBytes && !force {
		return nil
	}
	if err := w.b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("write %s clusters: %w", w.c, err)
	}
	w.b.Reset()
	return nil
}

func (w *clusterWriter) Link(l store.ClusterLink) error {
	code, err := heuristicCode(l.Heuristic)
	if err != nil {
		return err
	}
	for _, e := range [][2]uint32{{l.IA, l.IB}, {l.IB, l.IA}} {
		w.key = clusterLinkIndexKey(w.key[:0], w.c, e[0], e[1], code, l.Height, l.Position)
		if err := w.set(w.key, nil); err != nil {
			return err
		}
	}
	return nil
}

// Row writes an assignment: the address's index (table q) when the
// address is given, and the cluster under the index (table I), which an
// incremental run rewrites with the index alone.
func (w *clusterWriter) Row(r store.ClusterRow) error {
	if r.Address != "" {
		w.val = binary.AppendUvarint(w.val[:0], uint64(r.Index))
		if err := w.set(clusterOfKey(w.c, r.Address), w.val); err != nil {
			return err
		}
	}
	if !w.reset && r.Moved {
		if err := w.moveMember(r.Index, r.Was, r.Cluster, r.Address); err != nil {
			return fmt.Errorf("write %s clusters: %w", w.c, err)
		}
	}
	w.key = clusterByIndexKey(w.key[:0], w.c, r.Index)
	w.val = binary.AppendUvarint(w.val[:0], uint64(r.Cluster))
	if err := w.set(w.key, w.val); err != nil {
		return err
	}
	if r.Address != "" {
		w.key = clusterMemberKey(w.key[:0], w.c, r.Cluster, r.Index)
		if err := w.set(w.key, []byte(r.Address)); err != nil {
			return err
		}
	}
	return nil
}

func (w *clusterWriter) Size(cluster, size uint32) error {
	w.val = binary.AppendUvarint(w.val[:0], uint64(size))
	return w.set(clusterSizeKey(w.c, cluster), w.val)
}

// State writes the next part of the run's state (table J).
func (w *clusterWriter) State(part []byte) error {
	w.key = binary.BigEndian.AppendUint32(keyPrefix(w.key[:0], tClusterState, w.c), w.parts)
	w.parts++
	return w.set(w.key, part)
}

// ClusterState calls fn with each part of the state of chain c's last
// committed run, in order.
func (s *Store) ClusterState(ctx context.Context, c chains.Chain, fn func(part []byte) error) error {
	if _, ok, err := s.ClusterMeta(ctx, c); err != nil || !ok {
		return err // an uncommitted run's parts are not its state
	}
	lo := keyPrefix(nil, tClusterState, c)
	next := uint32(0)
	return s.scan(ctx, lo, func(k, v []byte) error {
		if len(k) != len(lo)+4 || binary.BigEndian.Uint32(k[len(lo):]) != next {
			return &store.CorruptError{Key: fmt.Sprintf("%x", k), Err: fmt.Errorf("cluster state part %d missing", next)}
		}
		next++
		return fn(v)
	})
}

// EachCluster calls fn for every address index of chain c with its
// cluster, in index order (table I): what an incremental run loads,
// without an address.
func (s *Store) EachCluster(ctx context.Context, c chains.Chain, fn func(index, cluster uint32) error) error {
	lo := keyPrefix(nil, tClusterByIndex, c)
	return s.scan(ctx, lo, func(k, v []byte) error {
		if len(k) != len(lo)+4 {
			return &store.CorruptError{Key: fmt.Sprintf("%x", k), Err: errShort}
		}
		d := newDecoder(v)
		id := uint32(d.Uvarint())
		if err := d.End(); err != nil {
			return &store.CorruptError{Key: fmt.Sprintf("%x", k), Err: err}
		}
		return fn(binary.BigEndian.Uint32(k[len(lo):]), id)
	})
}

// ClusterStatePath is where a clustering run of chain c keeps its state
// file (package cluster), beside the store's tables.
func (s *Store) ClusterStatePath(c chains.Chain) string {
	return filepath.Join(s.path, "cluster-state-"+string(c))
}

// AddressIndexes looks up the indexes clustering runs gave addresses
// as, in key order through one iterator (a lookup each, in the order
// the chain names them, cost more than the rest of an incremental run):
// found[i] says whether as[i] has one.
func (s *Store) AddressIndexes(ctx context.Context, c chains.Chain, as []chains.Address) (index []uint32, found []bool, err error) {
	index, found = make([]uint32, len(as)), make([]bool, len(as))
	order := make([]int, len(as))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int { return strings.Compare(string(as[i]), string(as[j])) })
	lo := keyPrefix(nil, tClusterOf, c)
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return nil, nil, err
	}
	defer it.Close()
	k := lo
	for _, i := range order {
		k = append(k[:len(lo)], as[i]...)
		// A prefix seek of the whole key consults the tables' bloom
		// filters: most addresses an incremental run looks up are new,
		// and absent from every table.
		if !it.SeekPrefixGE(k) || !bytes.Equal(it.Key(), k) {
			continue
		}
		x, _, _, err := clusterOfValue(it.Value())
		if err != nil {
			return nil, nil, &store.CorruptError{Key: fmt.Sprintf("%x", k), Err: err}
		}
		index[i], found[i] = x, true
	}
	return index, found, it.Error()
}

// AddressIndex returns the index a clustering run gave address a; ok
// is false when it has none.
func (s *Store) AddressIndex(ctx context.Context, c chains.Chain, a chains.Address) (index uint32, ok bool, err error) {
	err = s.get(clusterOfKey(c, a), func(v []byte) (err error) {
		index, _, _, err = clusterOfValue(v)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return 0, false, nil
	}
	return index, err == nil, err
}

// Commit writes the metadata with the last records and syncs them: the
// run counts from here.
func (w *clusterWriter) Commit(m store.ClusterMeta) error {
	if err := w.Flush(); err != nil {
		return err
	}
	m.Members = w.members
	m.HashHex = m.Hash.String()
	js, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := w.b.Set(clusterMetaKey(w.c), js, nil); err != nil {
		return err
	}
	if err := w.b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("save %s clusters: %w", w.c, err)
	}
	return nil
}

// Flush does what Commit does before it writes the run's record: it
// applies the moves the writer holds and ingests the spooled tables
// (still unseen: the chain has no cluster record until Commit). An
// incremental run calls it while it writes its state file, on another
// core.
func (w *clusterWriter) Flush() error {
	if err := w.applyMoves(); err != nil {
		return err
	}
	if w.sp != nil {
		// Each table's keys are under its table byte and the chain's tag.
		if err := w.sp.ingestTables(context.Background(), len(keyPrefix(nil, 0, w.c))); err != nil {
			return fmt.Errorf("write %s clusters: %w", w.c, err)
		}
		w.sp = nil
	}
	return nil
}

func (w *clusterWriter) Close() error {
	var err error
	if w.sp != nil {
		err = w.sp.removeRuns()
	}
	return errors.Join(err, w.b.Close())
}

// linksByIndex returns the links table E holds from address a (of index
// i), with the other addresses and the txids looked up.
func (s *Store) linksByIndex(ctx context.Context, c chains.Chain, a chains.Address, i uint32) ([]store.ClusterLink, error) {
	lo := binary.BigEndian.AppendUint32(keyPrefix(nil, tClusterLinkByIndex, c), i)
	var out []store.ClusterLink
	err := s.scan(ctx, lo, func(k, _ []byte) error {
		k = k[len(lo):]
		if len(k) != 4+1+8+4 {
			return &store.CorruptError{Key: fmt.Sprintf("cluster link %x", k), Err: errShort}
		}
		l := store.ClusterLink{A: a, IA: i, IB: binary.BigEndian.Uint32(k), Height: int64(binary.BigEndian.Uint64(k[5:])), Position: binary.BigEndian.Uint32(k[13:])}
		if int(k[4]) < len(heuristicCodes) {
			l.Heuristic = heuristicCodes[k[4]]
		}
		out = append(out, l)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The other address is one of the transaction's: the one whose
	// assignment has its index. (Runs write no index → address table:
	// it would double what they write, for explanations alone.)
	for j := range out {
		l := &out[j]
		err := s.get(blockKey(nil, c, l.Height), func(v []byte) (err error) {
			_, l.Tx, err = blockTxid(v, l.Position)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("transaction of a cluster link (block %d, tx %d): %w", l.Height, l.Position, err)
		}
		var cands []chains.Address
		if c.IsAccount() {
			// A deposit link: the other end is a transfer's.
			_, ts, err := s.AccountTx(ctx, c, l.Tx)
			if err != nil {
				return nil, fmt.Errorf("transaction of a cluster link: %w", err)
			}
			for _, t := range ts {
				cands = append(cands, t.From, t.To)
			}
		} else {
			tx, err := s.Tx(ctx, c, l.Tx)
			if err != nil {
				return nil, fmt.Errorf("transaction of a cluster link: %w", err)
			}
			for _, in := range tx.Inputs {
				cands = append(cands, in.Prevout.Addresses...)
			}
			for _, o := range tx.Outputs {
				cands = append(cands, o.Addresses...)
			}
		}
		for _, x := range cands {
			if x == "" || x == a {
				continue
			}
			i, ok, err := s.AddressIndex(ctx, c, x)
			if err != nil {
				return nil, err
			}
			if ok && i == l.IB {
				l.B = x
				break
			}
		}
		if l.B == "" {
			return nil, &store.CorruptError{Key: fmt.Sprintf("cluster link %d-%d", l.IA, l.IB), Err: fmt.Errorf("no address of transaction %s has index %d", l.Tx, l.IB)}
		}
	}
	return out, nil
}
