package embedded

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/maphash"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/batchrepr"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/internal/txcodec"
	"github.com/fundtrace/fundtrace/store"
	"golang.org/x/sync/errgroup"
)

// WriteBlocks appends blocks, which must continue the chain's tip in
// height order, and moves the tip, all in one atomic batch. network names
// the chain's network; a store holding another network refuses.
func (s *Store) WriteBlocks(ctx context.Context, c chains.Chain, network string, blocks []store.BlockData, o store.WriteOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.opts.ReadOnly {
		// Refused before anything is written: an ingested write's table
		// file would be written before Pebble refused it.
		return fmt.Errorf("write %s blocks to %s: %w", c, s.path, pebble.ErrReadOnly)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.metaLocked(c)
	if err != nil {
		return err
	}
	if m.Network != "" && m.Network != network {
		return fmt.Errorf("store %s holds %s %s, not %s", s.path, c, m.Network, network)
	}
	m.Network = network
	tip := m
	var size int
	for i := range blocks {
		blk := &blocks[i].Block
		if err := checkLink(c, &tip, blk); err != nil {
			return err
		}
		extendTip(&tip, blk)
		size += int(blk.Size)
	}
	if s.bufs == nil {
		s.bufs = writePool.Get().(*writeBufs)
	}
	bufs := s.bufs
	var added []knownKey
	var tf *txFile
	switch est := int(float64(size) * bufs.reprPerByte); {
	case c.IsAccount():
		var r []byte
		var n int // entries in the batch
		if r, n, added, err = s.writeAccount(ctx, bufs, c, &m, blocks, size); err == nil {
			err = s.commit(bufs, r, n, o.Sync)
		}
	default:
		if tf, err = s.txFileOf(c); err != nil {
			break
		}
		end := tf.end.Load()
		ingest := s.ingestBytes > 0 && est >= s.ingestBytes
		// A large write of a bulk index (one that leaves the count of
		// addresses to the run's end, or the first into an empty
		// store) stages its history and spender entries (stage.go).
		// Any other write first merges what is staged: its entries
		// must land after them.
		stage := ingest && (m.AddressesPending || m.Blocks == 0)
		if !stage {
			_, _, err = s.mergeStagedLocked(ctx, c)
		} else {
			err = s.compactStagedLocked(ctx, c)
		}
		if err != nil {
			break
		}
		if ingest {
			var st *stageWrite
			if stage {
				st = s.planStage(c)
				m.AddressesPending = true // nothing staged can be looked up
				s.stageNow = st
			}
			err = s.ingest(ctx, func(out batchOut) (err error) {
				if _, added, err = s.writeUTXO(ctx, bufs, c, &m, blocks, size, end, out); err == nil {
					err = tf.append(bufs.txs, false)
				}
				return err
			}, tf.sync) // an ingested table is durable: so must be the records it points at
			s.stageNow = nil
			if st != nil {
				if err != nil {
					err = errors.Join(err, st.remove())
				} else {
					s.staged[c] = st.list
					s.stagedRuns.Add(2)
				}
			}
			break
		}
		out := &reprOut{r: bufs.startRepr(est + est/20 + 4096)}
		var n int
		if n, added, err = s.writeUTXO(ctx, bufs, c, &m, blocks, size, end, out); err == nil {
			if err = tf.append(bufs.txs, o.Sync); err == nil {
				err = s.commit(bufs, out.r, n, o.Sync)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("write %s blocks %d..%d: %w", c, blocks[0].Block.Height, m.TipHeight, err)
	}
	if tf != nil {
		tf.end.Add(int64(len(bufs.txs)))
	}
	s.known.addAll(added)
	bufs.added = added
	s.meta[c] = m
	return nil
}

// checkLink refuses a block that does not continue the stored chain: the
// next height, with the tip as parent. An empty chain starts anywhere (an
// account chain's index may begin at a recent block).
func checkLink(c chains.Chain, m *store.Meta, blk *chains.Block) error {
	if m.Blocks == 0 && m.TipHeight < 0 {
		return nil
	}
	if blk.Height != m.TipHeight+1 {
		return fmt.Errorf("write %s block %d: store tip is %d, blocks must follow it without gaps", c, blk.Height, m.TipHeight)
	}
	if blk.PrevHash != m.TipHash {
		return fmt.Errorf("write %s block %d %s: its parent %s is not the store's tip %s", c, blk.Height, blk.Hash, blk.PrevHash, m.TipHash)
	}
	return nil
}

// maxWrite bounds the bytes of one write: a batch and the buffers it is
// built in use 32-bit offsets.
const maxWrite = math.MaxUint32 - 1<<20

var errTooLarge = errors.New("more bytes than one write can hold; write fewer blocks at a time")

// writeUTXO builds the batch of a UTXO chain's blocks into out, table by
// table, in key order: the history (a), the block records (b, h) and
// where each block's transactions' records are (d), the
// meta record and the end of the transaction file (m), the pointers to
// the transactions' records (p), then the spenders (s); it returns the
// number of entries. The transactions' records go to bufs.txs, to be
// appended to the transaction file, whose committed end is end. Each
// table's entries are encoded, sorted and copied out before the next
// table's are encoded, so that the entries being sorted and copied in
// key order stay in the processor's cache: a table of a few full blocks
// is a megabyte or three, where a whole batch of them is twice that
// (measured on five mainnet blocks: 2 ms of a 30 ms write). The
// indexer's 64 MiB batches fit neither way.
//
// An address is new when the store has no history entry for it yet,
// checked as the batch's own history entries are copied out; the meta
// record, with the count of new addresses, comes after them. Once this
// process's writes have looked up more addresses than a scan of the
// history would cost, they check no more and leave the count to the
// index run's end (countLater, SettleCounts).
func (s *Store) writeUTXO(ctx context.Context, bufs *writeBufs, c chains.Chain, m *store.Meta, blocks []store.BlockData, size int, end int64, out batchOut) (n int, added []knownKey, err error) {
	fresh := m.Blocks == 0 // nothing to look an address up in
	for i := range blocks {
		countBlock(m, &blocks[i])
	}
	bufs.txs = slices.Grow(bufs.txs[:0], size/2)
	kv := &bufs.kv
	// Measured on mainnet blocks: the transactions' records take about
	// 0.45 bytes per byte of block, the largest table of the batch (s)
	// 0.18, and s has an entry per 240 bytes.
	kv.grow(size/4, size/192)
	var written int // bytes of entries
	// count adds a table's entries to the write's.
	count := func(kv *kvBuf) error {
		if len(kv.buf) > maxWrite-written {
			return errTooLarge
		}
		written += len(kv.buf)
		out.reserve(len(kv.buf))
		n += len(kv.ents)
		return nil
	}
	// table encodes one table's entries, sorts them and counts them.
	table := func(encode func(*kvBuf) error) error {
		kv.reset()
		if err := encode(kv); err != nil {
			return err
		}
		kv.sort()
		return count(kv)
	}
	// copyOut copies a sorted table's entries out.
	copyOut := func(kv *kvBuf) error {
		for i, e := range kv.ents {
			kv.touchAhead(i)
			if err := out.add(kv, e); err != nil {
				return err
			}
		}
		return out.endTable()
	}
	perBlock := func(encode func(*kvBuf, chains.Chain, *store.BlockData)) func(*kvBuf) error {
		return func(kv *kvBuf) error {
			for i := range blocks {
				encode(kv, c, &blocks[i])
			}
			return nil
		}
	}
	if err := table(perBlock(historyEntries)); err != nil {
		return 0, nil, err
	}
	if m.AddressesPending {
		// The run's end counts every address (SettleCounts).
		if err := copyOut(kv); err != nil {
			return 0, nil, err
		}
	} else {
		var probes int64
		if added, probes, err = s.appendHistory(ctx, out, kv, c, m, bufs.added[:0]); err != nil {
			return 0, nil, err
		}
		if !fresh { // lookups in an empty store cost nothing
			s.probed[c] += probes
		}
		m.AddressesPending = s.countLater(c, m)
	}
	// The transactions' records and their pointers come before the meta
	// table, which records where the records end; the pointers (in a
	// buffer of their own, an account chain's) are copied out after it.
	ptrs := &bufs.cand
	ptrs.reset()
	ptrs.grow(size/64, size/512)
	bufs.lens = bufs.lens[:0]
	for i := range blocks {
		bufs.txs, bufs.lens = txEntries(ptrs, bufs.txs, bufs.lens, end, c, &blocks[i])
	}
	ptrs.sort()
	// The block records, each with its layout (its records are the next
	// ones in bufs.txs, the next lengths in bufs.lens).
	blockTable := func(kv *kvBuf) error {
		var off uint64 // where the block's records start in bufs.txs
		lens := bufs.lens
		for i := range blocks {
			bd := &blocks[i]
			blockEntries(kv, c, bd)
			l := blockLayout{off: uint64(end) + off, lens: lens[:len(bd.Txs)]}
			n := l.size()
			kv.begin()
			kv.buf = layoutKey(kv.buf, c, bd.Block.Height)
			kv.startValue()
			kv.buf = appendLayout(kv.buf, l.off, crc32.Checksum(bufs.txs[off:off+n], crcTable), l.lens)
			kv.end()
			off, lens = off+n, lens[len(bd.Txs):]
		}
		return nil
	}
	st := s.stageNow
	meta := func(kv *kvBuf) error {
		if err := setTxEnd(kv, c, end+int64(len(bufs.txs))); err != nil {
			return err
		}
		if st != nil {
			if err := setList(kv, c, st.list); err != nil {
				return err
			}
		}
		return s.setMeta(kv, *m) // now that m counts the new addresses
	}
	tables := []func(*kvBuf) error{blockTable, meta}
	if st != nil {
		// The list of staged runs records their sizes and CRCs, known
		// once they are written: the meta table comes last.
		tables = tables[:1]
	}
	for _, encode := range tables {
		if err := table(encode); err != nil {
			return 0, nil, err
		}
		if err := copyOut(kv); err != nil {
			return 0, nil, err
		}
	}
	if err := count(ptrs); err != nil {
		return 0, nil, err
	}
	if err := copyOut(ptrs); err != nil {
		return 0, nil, err
	}
	if err := table(perBlock(spenderEntries)); err != nil {
		return 0, nil, err
	}
	if err := copyOut(kv); err != nil {
		return 0, nil, err
	}
	if st != nil {
		if err := st.finish(); err != nil {
			return 0, nil, err
		}
		if err := table(meta); err != nil {
			return 0, nil, err
		}
		if err := copyOut(kv); err != nil {
			return 0, nil, err
		}
	}
	if size > 0 {
		// The next write's buffer is sized by this one's bytes per byte
		// of block: 0.83 on recent mainnet blocks, 1.4 on the generated
		// test chains.
		bufs.reprPerByte = float64(written) / float64(size)
	}
	return n, added, nil
}

// writeAccount builds the batch of an account chain's blocks. Its
// first-seen records are looked up once all blocks are encoded, and join
// their entries.
//
// Blocks have been checked to continue the tip (checkLink).
func (s *Store) writeAccount(ctx context.Context, bufs *writeBufs, c chains.Chain, m *store.Meta, blocks []store.BlockData, size int) (r []byte, n int, added []knownKey, err error) {
	kv := &bufs.kv
	kv.reset()
	kv.grow(size+size/4, size/64)
	s.cand = &bufs.cand
	s.cand.reset()
	defer func() { s.cand = nil }()
	for i := range blocks {
		if err := s.writeAccountBlock(kv, c, m, &blocks[i]); err != nil {
			return nil, 0, nil, err
		}
	}
	if len(kv.buf)+len(s.cand.buf) > maxWrite {
		return nil, 0, nil, errTooLarge
	}
	if added, err = s.firstSeenAccount(ctx, kv, c, m, bufs.added[:0]); err != nil {
		return nil, 0, nil, err
	}
	if err := s.setMeta(kv, *m); err != nil {
		return nil, 0, nil, err
	}
	kv.sort()
	return kv.appendRepr(bufs.startRepr(len(kv.buf)+batchrepr.HeaderLen), kv.ents), len(kv.ents), added, nil
}

// countBlock counts bd into the meta record m and makes it the tip.
func countBlock(m *store.Meta, bd *store.BlockData) {
	for i := range bd.Txs {
		tx := &bd.Txs[i]
		// Only a coinbase transaction has a coinbase input: the others'
		// inputs are counted without reading them.
		if tx.Coinbase {
			for j := range tx.Inputs {
				if !tx.Inputs[j].Coinbase {
					m.Inputs++
				}
			}
		} else {
			m.Inputs += int64(len(tx.Inputs))
		}
		m.Outputs += int64(len(tx.Outputs))
		m.Txs++
	}
	extendTip(m, &bd.Block)
}

// extendTip makes blk, which continues it, the tip of the chain m counts.
func extendTip(m *store.Meta, blk *chains.Block) {
	m.Blocks++
	m.TipHeight, m.TipHash = blk.Height, blk.Hash
}

// historyEntries encodes bd's entries of table a: one per address paid.
func historyEntries(b *kvBuf, c chains.Chain, bd *store.BlockData) {
	for i := range bd.Txs {
		tx := &bd.Txs[i]
		for j := range tx.Outputs {
			out := &tx.Outputs[j]
			for _, a := range out.Addresses {
				b.begin()
				b.buf = addrKey(b.buf, c, a, bd.Block.Height, tx.Position, out.Index)
				b.startValue()
				b.buf = appendReceived(b.buf, out)
				b.end()
			}
		}
	}
}

// blockEntries encodes bd's entries of tables b and h: its header and
// txids, and its height by hash.
func blockEntries(b *kvBuf, c chains.Chain, bd *store.BlockData) {
	blk := &bd.Block
	b.begin()
	b.buf = blockKey(b.buf, c, blk.Height)
	b.startValue()
	b.buf = appendBlockHeader(b.buf, blk, len(bd.Txs))
	for i := range bd.Txs {
		b.buf = append(b.buf, bd.Txs[i].Hash[:]...)
	}
	b.end()
	b.begin()
	b.buf = blockHashKey(b.buf, c, blk.Hash)
	b.startValue()
	b.buf = binary.AppendUvarint(b.buf, uint64(blk.Height))
	b.end()
}

// spenderEntries encodes bd's entries of table s: one per input spending
// an output.
func spenderEntries(b *kvBuf, c chains.Chain, bd *store.BlockData) {
	for i := range bd.Txs {
		tx := &bd.Txs[i]
		for j := range tx.Inputs {
			in := &tx.Inputs[j]
			if in.Coinbase {
				continue
			}
			b.begin()
			b.buf = outpointKey(b.buf, tSpender, c, in.Prev)
			b.startValue()
			b.buf = appendSpend(b.buf, bd.Block.Height, tx.Position, in.Index)
			b.end()
		}
	}
}

// txEntries appends bd's transactions' records to txs, the bytes to be
// written to the transaction file from offset end on, and their lengths
// to lens, and encodes their entries of table p, which point at them.
func txEntries(b *kvBuf, txs []byte, lens []uint32, end int64, c chains.Chain, bd *store.BlockData) ([]byte, []uint32) {
	for i := range bd.Txs {
		tx := &bd.Txs[i]
		from := len(txs)
		txs = txcodec.AppendTx(txs, tx)
		rec := txs[from:]
		lens = append(lens, uint32(len(rec)))
		b.begin()
		b.buf = txPtrKey(b.buf, c, tx.Hash)
		b.startValue()
		b.buf = appendTxPtr(b.buf, txPtr{off: uint64(end) + uint64(from), n: uint32(len(rec)), crc: crc32.Checksum(rec, crcTable)})
		b.end()
	}
	return txs, lens
}

// candidate notes that a, paid at height h on an account chain, may be
// an address the store has not seen before.
func (s *Store) candidate(c chains.Chain, a chains.Address, h int64) {
	if s.known.has(a) {
		return
	}
	var v [binary.MaxVarintLen64]byte
	s.fk = firstSeenKey(s.fk[:0], c, a)
	s.cand.set(s.fk, binary.AppendUvarint(v[:0], uint64(h)))
}

// appendHistory copies a UTXO chain's sorted history entries out,
// counting in m the addresses that the store has not seen before; it
// returns those addresses, appended to added, and how many addresses it
// looked up in the store (countLater).
//
// An address has been seen when its history (table a) has an entry; its
// first entry is its first-seen height, which serves the "fresh address"
// change heuristic. The batch's own history entries, sorted, name its
// addresses in key order, and are checked as they are copied: their keys
// are read from memory once for both.
func (s *Store) appendHistory(ctx context.Context, out batchOut, kv *kvBuf, c chains.Chain, m *store.Meta, added []knownKey) ([]knownKey, int64, error) {
	lo := keyPrefix(nil, tAddr, c)
	f, err := s.newSeenCheck(ctx, lo, m, added)
	if err != nil {
		return nil, 0, err
	}
	for i, e := range kv.ents {
		kv.touchAhead(i)
		k := kv.key(e)
		if n := len(lo) + 1 + int(k[len(lo)]); n <= len(k) {
			f.check(k[:n], len(lo)+1)
		}
		if err = out.add(kv, e); err != nil {
			break
		}
	}
	if err == nil {
		err = out.endTable()
	}
	if err := errors.Join(err, f.close()); err != nil {
		return nil, 0, err
	}
	return f.added, f.probes, nil
}

// probeCost is the default of Options.ProbesPerScan. Measured by
// profiling the index of the 1.03 M-transaction simulated chain: its
// writes looked up about 2.9 M addresses in 6.0 s of processor time,
// about 2 µs each (through the filters of level 0's ingested tables and
// of each level below), and a scan of its 3.54 M history entries took
// 1.7 s, 0.47 µs each, most of it Pebble filling its block cache. The
// lookups cost more as the levels fill; the scan does not.
const probeCost = 4

// countLater says whether this process's writes of UTXO chain c, whose
// meta record after the write is m, should stop counting the addresses
// they pay for the first time and leave the count to the end of the
// index run. Each write looks up the addresses it pays that the known
// set does not hold, each lookup costing as much as probesPerScan
// entries of a scan; a scan of the history at the run's end counts them
// all at once. The writes go on looking up until what their lookups
// have cost equals that scan's cost, then stop, which costs at most
// twice the cheaper of the two whichever way the run goes on: a bulk
// index (every address new, millions a run) stops within its first
// writes, an index at the tip (a few blocks against a long history)
// never does.
func (s *Store) countLater(c chains.Chain, m *store.Meta) bool {
	return s.probesPerScan > 0 && s.probed[c] > 0 && s.probed[c]*int64(s.probesPerScan) > m.Outputs
}

// SettleCounts counts UTXO chain c's addresses when its writes left the
// count to the end of the index run (Meta.AddressesPending): the
// distinct addresses of its history at or below the tip, in one scan of
// table a in key order, each address's entries being together there,
// the first at its lowest height. It does nothing when no count is
// pending. The indexer calls it when a run ends.
func (s *Store) SettleCounts(ctx context.Context, c chains.Chain) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	addresses, counted, err := s.mergeStagedLocked(ctx, c)
	if err != nil {
		return err
	}
	m, err := s.metaLocked(c)
	if err != nil || !m.AddressesPending {
		return err
	}
	if counted {
		return s.setCount(c, m, addresses)
	}
	// The table is counted in parts, a core each: at mainnet's scale
	// (some 3.5 G entries, at 0.47 µs an entry) one pass would take
	// about half an hour.
	lo := keyPrefix(nil, tAddr, c)
	levels, err := s.db.SSTables()
	if err != nil {
		return fmt.Errorf("count %s addresses in %s: %w", c, s.path, err)
	}
	n, err := s.countFirstPaid(ctx, lo, addressBounds(lo, levels[len(levels)-1], 4*runtime.GOMAXPROCS(0)), m.TipHeight)
	if err != nil {
		return fmt.Errorf("count %s addresses in %s: %w", c, s.path, err)
	}
	return s.setCount(c, m, n)
}

// setCount records n as chain c's count of addresses, no longer pending.
func (s *Store) setCount(c chains.Chain, m store.Meta, n int64) error {
	m.Addresses, m.AddressesPending = n, false
	b := s.db.NewBatch()
	defer b.Close()
	if err := s.setMeta(b, m); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("write %s meta to %s: %w", c, s.path, err)
	}
	s.meta[c] = m
	s.probed[c] = 0
	return nil
}

// countFirstPaid counts the addresses of the history table whose keys
// start with lo that were first paid at or below tip, each range between
// two bounds on its own goroutine, as many at once as there are cores.
func (s *Store) countFirstPaid(ctx context.Context, lo []byte, bounds [][]byte, tip int64) (int64, error) {
	var n atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range len(bounds) - 1 {
		g.Go(func() error {
			var part int64
			err := s.eachFirstPaidIn(ctx, lo, bounds[i], bounds[i+1], func(_ []byte, f store.FirstPaid) error {
				if f.Height <= tip {
					part++
				}
				return nil
			})
			n.Add(part)
			return err
		})
	}
	err := g.Wait()
	return n.Load(), err
}

// addressBounds splits the table whose keys start with lo (the history,
// table a) into up to parts ranges of about equal size on disk, by the
// bounds of tables, the bottom level's, which hold most of it. Each
// bound is a table's first key cut back to its address's prefix, so
// that no address's entries fall in two ranges. The bounds run from lo
// to the first key after the table.
func addressBounds(lo []byte, tables []pebble.SSTableInfo, parts int) [][]byte {
	hi := prefixEnd(lo)
	var within []pebble.SSTableInfo
	var total uint64
	for _, t := range tables {
		if k := t.Smallest.UserKey; bytes.Compare(k, lo) > 0 && bytes.Compare(k, hi) < 0 {
			within = append(within, t)
			total += t.Size
		}
	}
	bounds := [][]byte{lo}
	var sum uint64
	for _, t := range within {
		if sum >= total*uint64(len(bounds))/uint64(parts) {
			k := t.Smallest.UserKey[len(lo):]
			if n := 1 + int(k[0]); n <= len(k) {
				b := t.Smallest.UserKey[:len(lo)+n]
				if bytes.Compare(b, bounds[len(bounds)-1]) > 0 {
					bounds = append(bounds, slices.Clone(b))
				}
			}
		}
		sum += t.Size
	}
	return append(bounds, hi)
}

// firstSeenAccount writes a first-seen record (table f) for each address
// of the batch that the store has not seen before, and returns them,
// appended to added. An account chain's history also lists sends, so the
// height an address was first paid is kept in a record of its own; its
// candidates were noted as the blocks were written.
func (s *Store) firstSeenAccount(ctx context.Context, kv *kvBuf, c chains.Chain, m *store.Meta, added []knownKey) ([]knownKey, error) {
	lo := keyPrefix(nil, tFirstSeen, c)
	f, err := s.newSeenCheck(ctx, lo, m, added)
	if err != nil {
		return nil, err
	}
	// Of an address's candidates the first, from the lowest height,
	// is the one kept: the sort is stable and blocks come in order.
	cand := s.cand
	cand.sort()
	for _, e := range cand.ents {
		if k := cand.key(e); f.check(k, 2) {
			kv.set(k, cand.value(e))
		}
	}
	return f.added, f.close()
}

// seenCheck tells, address by address in key order, whether the store
// has a record of an address in one table. The addresses are looked up
// through one iterator, which Pebble serves far faster than as many
// random point reads.
type seenCheck struct {
	s     *Store
	it    *pebble.Iterator
	m     *store.Meta
	prev  []byte
	added []knownKey
	// probes counts the addresses looked up in the store (not found in
	// the known set).
	probes int64
}

func (s *Store) newSeenCheck(ctx context.Context, lo []byte, m *store.Meta, added []knownKey) (*seenCheck, error) {
	// By prefix, through every level's filters (filter.go): most
	// addresses asked about are new, and a filter tells so without
	// reading the table.
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo), UseL6Filters: true})
	if err != nil {
		return nil, fmt.Errorf("read address records: %w", err)
	}
	return &seenCheck{s: s, it: it, m: m, added: added}, nil
}

// check reports whether the address whose keys start with prefix k (the
// address from byte skip on) is new, once per address: it is then
// counted in the meta record and added to the check's result.
func (f *seenCheck) check(k []byte, skip int) bool {
	if bytes.Equal(k, f.prev) {
		return false
	}
	f.prev = k
	key := f.s.known.keyBytes(k[skip:])
	if f.s.known.hasKey(key) {
		return false
	}
	f.probes++
	if f.it.SeekPrefixGE(k) {
		f.s.known.add(key)
		return false
	}
	f.added = append(f.added, key)
	f.m.Addresses++
	return true
}

func (f *seenCheck) close() error {
	if err := errors.Join(f.it.Error(), f.it.Close()); err != nil {
		return fmt.Errorf("read address records: %w", err)
	}
	return nil
}

// knownSet remembers addresses already recorded, in two generations so
// that it stays bounded without bookkeeping per entry: when the current
// generation fills, it becomes the old one and the older is dropped.
// Addresses are reused in bursts, so recent ones are the ones that hit.
//
// An address is filed under two 64-bit hashes with seeds random to the
// process rather than under its bytes: no string to allocate per address,
// and a cheaper key to hash and compare. Two addresses share a key with
// probability 2^-128, which no one can steer without the seeds.
//
// A generation is an open-addressing table of keys with linear probing
// (keySet), where a Go map spent more on hashing and probing its groups:
// filing the 20,000 new addresses of five mainnet blocks took about a
// millisecond with maps.
type knownSet struct {
	cur, old keySet
	seeds    [2]maphash.Seed
	limit    int
}

type knownKey [2]uint64

func newKnownSet(limit int) knownSet {
	return knownSet{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, limit: limit}
}

func (k *knownSet) key(a chains.Address) knownKey {
	return knownKey{maphash.String(k.seeds[0], string(a)), maphash.String(k.seeds[1], string(a))}
}

func (k *knownSet) keyBytes(a []byte) knownKey {
	return knownKey{maphash.Bytes(k.seeds[0], a), maphash.Bytes(k.seeds[1], a)}
}

func (k *knownSet) has(a chains.Address) bool { return k.hasKey(k.key(a)) }

func (k *knownSet) hasKey(key knownKey) bool { return k.cur.has(key) || k.old.has(key) }

func (k *knownSet) add(key knownKey) {
	if k.cur.n >= k.limit {
		k.old, k.cur = k.cur, k.old
		k.cur.reset()
	}
	k.cur.add(key)
}

// addAll adds keys. The first keys added to an empty generation size
// its table for them: a store's first write adds tens of thousands at
// once, which a table grown step by step would rehash again and again.
func (k *knownSet) addAll(keys []knownKey) {
	if k.cur.n == 0 {
		k.cur.reserve(min(len(keys), k.limit))
	}
	for _, key := range keys {
		k.add(key)
	}
}

// clear forgets every address: a rollback removed blocks that paid some
// first. The set is only a shortcut past the store's own records, and
// rollbacks are rare.
func (k *knownSet) clear() {
	k.cur.reset()
	k.old.reset()
}

// keySet is a set of knownKeys: an open-addressing table with linear
// probing. The keys are hashes, already uniform, so their low bits pick
// the slot; the zero key marks an empty slot, and is never filed (an
// address that hashes to it is looked up in the store every time).
type keySet struct {
	slots []knownKey // a power of two long, or empty
	n     int
}

// find returns the slot holding key, or the empty slot that ends its probe.
func (t *keySet) find(key knownKey) (int, bool) {
	mask := len(t.slots) - 1
	for p := int(key[0]) & mask; ; p = (p + 1) & mask {
		switch t.slots[p] {
		case key:
			return p, true
		case knownKey{}:
			return p, false
		}
	}
}

func (t *keySet) has(key knownKey) bool {
	if t.n == 0 || key == (knownKey{}) {
		return false
	}
	_, ok := t.find(key)
	return ok
}

func (t *keySet) add(key knownKey) {
	if key == (knownKey{}) {
		return
	}
	t.reserve(t.n + 1)
	if p, ok := t.find(key); !ok {
		t.slots[p] = key
		t.n++
	}
}

// reserve makes room for n keys at a load of at most three quarters.
func (t *keySet) reserve(n int) {
	if n*4 <= len(t.slots)*3 {
		return
	}
	size := max(1024, len(t.slots))
	for n*4 > size*3 {
		size *= 2
	}
	old := t.slots
	t.slots = make([]knownKey, size)
	for _, key := range old {
		if key != (knownKey{}) {
			p, _ := t.find(key)
			t.slots[p] = key
		}
	}
}

// reset empties the set, keeping its room.
func (t *keySet) reset() {
	clear(t.slots)
	t.n = 0
}

// kvBuf collects a write's keys and values in one arena so that they can
// be sorted before they enter the batch. Each entry is laid out as the
// batch holds it (batchrepr: a kind byte, then the length-prefixed key
// and value), so that moving it into the batch in key order is one copy.
type kvBuf struct {
	buf     []byte
	ents    []kvEnt
	tmp     []kvEnt
	count   []uint32 // msdSort's counters
	open    int      // the entry begun
	openK   int      // its key
	openV   int      // its value
	touched byte     // touchAhead's reads
}

// kvEnt locates one entry, buf[off:end]. pre holds the key's first eight
// bytes big-endian, so that most comparisons in the sort are one integer
// compare. Offsets are 32-bit to keep the entries that the sort moves
// small (16 bytes): a write is far below 4 GiB.
type kvEnt struct {
	pre      uint64
	off, end uint32
}

// writeBufs are the buffers of WriteBlocks: the entries to write and the
// addresses that may be new. A store holds its own from its first write
// to its close, so that a garbage collection between two batches cannot
// take them: a batch's buffers run to tens of megabytes, which are
// costly to allocate and clear. Closed stores hand theirs on through
// writePool.
type writeBufs struct {
	kv, cand    kvBuf
	repr        []byte     // the Pebble batch
	txs         []byte     // a UTXO chain's transactions' records, for its transaction file
	lens        []uint32   // the lengths of the records in txs
	table       []byte     // the buffer of a table file being written (ingest.go)
	added       []knownKey // the addresses new to the store
	reprPerByte float64    // the last batch's bytes per byte of block
}

// release returns the buffers to the pool unless they grew too large to
// be worth holding on to.
func (w *writeBufs) release() {
	if cap(w.kv.buf)+cap(w.cand.buf)+cap(w.repr)+cap(w.txs) <= 512<<20 {
		writePool.Put(w)
	}
}

var writePool = sync.Pool{New: func() any { return &writeBufs{reprPerByte: 0.9} }}

func (b *kvBuf) reset() { b.buf, b.ents = b.buf[:0], b.ents[:0] }

// grow makes room for about bytes of keys and values in n entries, so
// that a large write does not grow its buffers step by step.
func (b *kvBuf) grow(bytes, n int) {
	b.buf = slices.Grow(b.buf, bytes)
	b.ents = slices.Grow(b.ents, n)
}

// Set is set in the form of pebble.Batch.Set.
func (b *kvBuf) Set(k, v []byte, _ *pebble.WriteOptions) error {
	b.set(k, v)
	return nil
}

// begin starts an entry. The caller appends its key to b.buf, calls
// startValue, appends its value and calls end: keys and values are
// encoded in place, not copied. A length, unknown until its bytes are
// written, gets one byte, which holds the length of most keys and values;
// a longer one's bytes are moved up to make room.
func (b *kvBuf) begin() {
	b.open = len(b.buf)
	b.buf = append(b.buf, byte(pebble.InternalKeyKindSet), 0)
	b.openK = len(b.buf)
}

func (b *kvBuf) startValue() {
	b.openK = b.putLen(b.openK)
	b.buf = append(b.buf, 0)
	b.openV = len(b.buf)
}

func (b *kvBuf) end() {
	b.putLen(b.openV)
	b.ents = append(b.ents, kvEnt{prefixOf(b.buf[b.openK : b.openV-1]), uint32(b.open), uint32(len(b.buf))})
}

// prefixOf is k's first eight bytes big-endian, a short key's padded
// with zeros: a kvEnt's pre, a run reader's.
func prefixOf(k []byte) uint64 {
	var pre [8]byte
	copy(pre[:], k)
	return binary.BigEndian.Uint64(pre[:])
}

// putLen writes the length of b.buf[at:] as a uvarint ending at at,
// where one byte was left for it, and returns where those bytes now start.
func (b *kvBuf) putLen(at int) int {
	n := len(b.buf) - at
	if n < 0x80 {
		b.buf[at-1] = byte(n)
		return at
	}
	var l [binary.MaxVarintLen64]byte
	w := binary.PutUvarint(l[:], uint64(n))
	b.buf = append(b.buf, l[1:w]...)
	copy(b.buf[at+w-1:], b.buf[at:at+n])
	copy(b.buf[at-1:], l[:w])
	return at + w - 1
}

func (b *kvBuf) set(k, v []byte) {
	b.begin()
	b.buf = append(b.buf, k...)
	b.startValue()
	b.buf = append(b.buf, v...)
	b.end()
}

// sort orders the entries by key, stably, so that of two entries with the
// same key the later one written is the later one sorted. It is a
// most-significant-digit-first radix sort on the key's eight-byte prefix,
// with a digit as wide as the entries are many (up to 16 bits): the bits
// after a table's shared bytes are mostly hash bits, so one pass leaves
// buckets of an entry or two, which an insertion sort settles by the
// whole key. Bits every key of a bucket shares (table, chain, address
// length and kind) cost one counting pass and no move. Eight-bit digits
// took three passes over hash-led keys and a 256-bucket round per small
// bucket: a third more time on five mainnet blocks' tables
// (BenchmarkKVSort). More than 32 keys that share all eight bytes (the
// outputs of one transaction spent in one batch, in the spenders' table;
// one address's payments, in the histories) are sorted on by their next
// eight bytes, and so on (kvBuf.prefixAt), rather than by comparing
// whole keys: a comparison reads two keys at random places in the
// buffer, and the stable sort of such groups took 0.24-0.31 s of the
// 1.03 M chain's index (the spenders' table's entries and their sort,
// 0.62 s in all). Keys written twice or more keep their order.
func (b *kvBuf) sort() {
	b.tmp = slices.Grow(b.tmp[:0], len(b.ents))[:len(b.ents)]
	if b.count == nil {
		b.count = make([]uint32, 1<<maxDigit+1)
	}
	msdSort(b.ents, b.tmp, b.count, 0, 0, keyOrder{b.compare, b.prefixAt})
}

// prefixAt sets each entry's pre to its key's eight bytes from depth on
// (padded with zeros, as kvBuf.end pads a short key's), and reports
// whether any key is longer than depth.
func (b *kvBuf) prefixAt(ents []kvEnt, depth int) bool {
	longer := false
	for i := range ents {
		k := b.key(ents[i])
		longer = longer || len(k) > depth
		ents[i].pre = prefixOf(k[min(depth, len(k)):])
	}
	return longer
}

// keyOrder is how msdSort orders entries beyond their prefixes: compare
// orders two entries by key; prefixAt, if set, gives entries the
// prefixes of their keys from a depth on (kvBuf.prefixAt).
type keyOrder struct {
	compare  func(x, y kvEnt) int
	prefixAt func(ents []kvEnt, depth int) bool
}

// maxDigit is the widest digit msdSort takes, in bits: its counters, 256
// KiB, stay in the processor's second-level cache.
const maxDigit = 16

// msdSort sorts ents stably by pre from bit at on (counted from the top),
// then by o, with tmp (as long as ents) and count (1<<maxDigit+1
// counters) as scratch. pre holds the keys' bytes from depth on.
func msdSort(ents, tmp []kvEnt, count []uint32, at, depth int, o keyOrder) {
	for len(ents) > 32 && at < 64 {
		// A digit of bits.Len(n) bits (n to 2n buckets) leaves buckets
		// of an entry or so when the bits are random.
		w := min(max(bits.Len(uint(len(ents))), 8), maxDigit, 64-at)
		sh := uint(64 - w) // a digit is pre << at >> sh
		cnt := count[:1<<w+1]
		clear(cnt)
		for i := range ents {
			cnt[ents[i].pre<<at>>sh+1]++
		}
		if cnt[ents[0].pre<<at>>sh+1] == uint32(len(ents)) {
			at += w // every key has these bits
			continue
		}
		for i := 1; i < len(cnt); i++ {
			cnt[i] += cnt[i-1] // cnt[d] is now where digit d's bucket starts
		}
		for i := range ents {
			d := ents[i].pre << at >> sh
			tmp[cnt[d]] = ents[i]
			cnt[d]++
		}
		copy(ents, tmp[:len(ents)])
		// The buckets are found by their entries, not by their digits,
		// so that a wide digit's empty buckets cost nothing (and a
		// recursion may reuse count).
		for lo := 0; lo < len(ents); {
			d, hi := ents[lo].pre<<at>>sh, lo+1
			for hi < len(ents) && ents[hi].pre<<at>>sh == d {
				hi++
			}
			if hi-lo > 32 {
				msdSort(ents[lo:hi], tmp[lo:hi], count, at+w, depth, o)
			} else {
				insertionSort(ents[lo:hi], o.compare)
			}
			lo = hi
		}
		return
	}
	if len(ents) <= 32 {
		insertionSort(ents, o.compare)
		return
	}
	// More than 32 keys share all eight prefix bytes: sorted on by
	// their next eight, which then make way for these again.
	pre := ents[0].pre
	if o.prefixAt != nil && o.prefixAt(ents, depth+8) {
		msdSort(ents, tmp, count, 0, depth+8, o)
	} else if !slices.IsSortedFunc(ents, o.compare) {
		slices.SortStableFunc(ents, o.compare) // keys no longer than their prefixes
	}
	for i := range ents {
		ents[i].pre = pre
	}
}

// insertionSort sorts ents stably: it moves only strictly smaller
// entries. Prefixes are compared here, keys only when prefixes are equal.
func insertionSort(ents []kvEnt, compare func(x, y kvEnt) int) {
	for i := 1; i < len(ents); i++ {
		for j := i; j > 0; j-- {
			x, y := ents[j], ents[j-1]
			if x.pre > y.pre || x.pre == y.pre && compare(x, y) >= 0 {
				break
			}
			ents[j], ents[j-1] = y, x
		}
	}
}

// key returns e's key. It runs for every comparison the sort makes, so
// it reads only the key's length, not the value's.
func (b *kvBuf) key(e kvEnt) []byte {
	k, _ := lenPrefixed(b.buf[e.off+1 : e.end])
	return k
}

// touchAhead, every touchDistance entries, reads the first and last
// byte of each of the next touchDistance entries after those (an entry
// may straddle two cache lines). Sorted, the entries lie at random
// places in b.buf, and copying them out in order waited for memory at
// each one: the work between two entries is too long for the processor
// to reach the next entry's load on its own, and a single load ahead
// only moves the wait. Loads issued together, none depending on another,
// wait for memory once for all. In a profile of the index of the 1.03 M
// chain the entries' reads (lenPrefixed) fell from 1.19 s to 0.27 s, and
// touchAhead took 0.15-0.23 s. The bytes read are kept in b.touched so
// that the compiler keeps the loads.
func (b *kvBuf) touchAhead(i int) {
	if i%touchDistance != 0 {
		return
	}
	ahead := b.ents[min(i+touchDistance, len(b.ents)):min(i+2*touchDistance, len(b.ents))]
	var t byte
	for _, e := range ahead {
		t += b.buf[e.off] + b.buf[e.end-1]
	}
	b.touched += t
}

// touchDistance is how many entries touchAhead reads at once.
const touchDistance = 16

// value returns e's value.
func (b *kvBuf) value(e kvEnt) []byte {
	_, v := splitEntry(b.buf[e.off+1 : e.end])
	return v
}

// splitEntry splits an entry after its kind byte into key and value.
func splitEntry(p []byte) (k, v []byte) {
	k, p = lenPrefixed(p)
	v, _ = lenPrefixed(p)
	return k, v
}

// lenPrefixed splits the uvarint-length-prefixed bytes s off the front of p.
func lenPrefixed(p []byte) (s, rest []byte) {
	n, w := uint64(p[0]), 1
	if n >= 0x80 {
		n, w = binary.Uvarint(p)
	}
	return p[w : w+int(n)], p[w+int(n):]
}

// compare orders two entries by key; an insertion sort moving only
// strictly smaller entries keeps equal keys in the order written.
func (b *kvBuf) compare(x, y kvEnt) int {
	if x.pre != y.pre {
		return cmp.Compare(x.pre, y.pre)
	}
	return bytes.Compare(b.key(x), b.key(y))
}

// startRepr returns the buffer kept between writes, holding an empty
// batch's header. The batch is encoded by hand in Pebble's batch format
// (package batchrepr: a 12-byte header, then per entry a kind byte and
// the length-prefixed key and value) rather than through Batch.Set into a
// fresh buffer per write: a write is tens of megabytes, and the copy into
// cold memory was a tenth of indexing. Its room is made for about bytes:
// a large write's buffer goes to Pebble with the batch, and one grown
// step by step to tens of megabytes is copied over and over.
func (w *writeBufs) startRepr(bytes int) []byte {
	r := w.repr[:0]
	if cap(r) < bytes {
		r = make([]byte, 0, bytes)
	}
	return append(r, make([]byte, batchrepr.HeaderLen)...)
}

// appendRepr appends entries ents of b to the batch r.
func (b *kvBuf) appendRepr(r []byte, ents []kvEnt) []byte {
	for _, e := range ents {
		r = b.appendEnt(r, e)
	}
	return r
}

func (b *kvBuf) appendEnt(r []byte, e kvEnt) []byte {
	return append(r, b.buf[e.off:e.end]...)
}

// commit applies batch r of n entries, built from startRepr, atomically.
// Entries in r are in key order; a later entry with the same key as an
// earlier one replaces it (BIP30 duplicate txids, a key repeated in a
// multisig output): the sort is stable.
func (s *Store) commit(bufs *writeBufs, r []byte, n int, sync bool) error {
	batchrepr.SetCount(r, uint32(n))
	// Pebble keeps a batch's buffer after the commit only when the batch
	// is large enough to be flushed as a memtable of its own (half the
	// memtable size); keep ours for the next write only below that, and
	// never let Pebble's batch pool keep it.
	if uint64(len(r)+64*n) < s.opts.MemTableSize/4 {
		bufs.repr = r
	} else {
		bufs.repr = nil
	}
	b := s.db.NewBatch(pebble.WithMaxRetainedSizeBytes(1))
	defer b.Close()
	if err := b.SetRepr(r); err != nil {
		return err
	}
	opt := pebble.NoSync
	if sync {
		opt = pebble.Sync
	}
	return b.Commit(opt)
}
