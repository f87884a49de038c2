package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// WriteBlocks appends blocks, which must continue the chain's tip in
// height order, and moves the tip, all in one atomic batch. network names
// the chain's network; a store holding another network refuses.
func (s *Store) WriteBlocks(ctx context.Context, c chains.Chain, network string, blocks []store.BlockData, o store.WriteOptions) error {
	if err := ctx.Err(); err != nil {
		return err
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
	kv := &s.kv
	kv.reset()
	clear(s.cand)
	var size int
	for i := range blocks {
		size += int(blocks[i].Block.Size)
	}
	kv.grow(3*size, size/16)
	for i := range blocks {
		if err := checkLink(c, &m, &blocks[i].Block); err != nil {
			return err
		}
		write := s.writeBlock
		if c.IsAccount() {
			write = s.writeAccountBlock
		}
		if err := write(kv, c, &m, &blocks[i]); err != nil {
			return err
		}
	}
	added, err := s.firstSeen(ctx, kv, c, &m)
	if err != nil {
		return err
	}
	if err := s.setMeta(kv, m); err != nil {
		s.known.forget(added)
		return err
	}
	kv.sort()
	if err := s.commit(ctx, kv, o.Sync); err != nil {
		s.known.forget(added)
		return fmt.Errorf("commit blocks %d..%d: %w", blocks[0].Block.Height, m.TipHeight, err)
	}
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

func (s *Store) writeBlock(b *kvBuf, c chains.Chain, m *store.Meta, bd *store.BlockData) error {
	blk := &bd.Block
	txids := make([]chains.Hash, len(bd.Txs))
	for i := range bd.Txs {
		txids[i] = bd.Txs[i].Hash
	}
	k := s.buf[:0]
	v := make([]byte, 0, 256)
	k = blockKey(k, c, blk.Height)
	b.set(k, appendBlock(v[:0], blk, txids))
	k = blockHashKey(k[:0], c, blk.Hash)
	b.set(k, binary.AppendUvarint(v[:0], uint64(blk.Height)))
	for i := range bd.Txs {
		tx := &bd.Txs[i]
		k = txKey(k[:0], c, tx.Hash)
		v = appendTx(v[:0], tx)
		b.set(k, v)
		for j := range tx.Inputs {
			in := &tx.Inputs[j]
			if in.Coinbase {
				continue
			}
			k = outpointKey(k[:0], tSpender, c, in.Prev)
			b.set(k, appendSpend(v[:0], tx.Hash, in.Index, blk.Height))
			m.Inputs++
		}
		for j := range tx.Outputs {
			out := &tx.Outputs[j]
			for _, a := range out.Addresses {
				k = addrKey(k[:0], c, a, blk.Height, tx.Position, out.Index)
				b.set(k, appendReceived(v[:0], tx.Hash, out))
				if !s.known.has(a) {
					if _, ok := s.cand[a]; !ok {
						s.cand[a] = blk.Height
					}
				}
			}
			m.Outputs++
		}
		m.Txs++
	}
	s.buf = k
	m.Blocks++
	m.TipHeight, m.TipHash = blk.Height, blk.Hash
	return nil
}

// firstSeen writes a first-seen record for each address of the batch
// that has none yet, counts them, and returns them. The record both counts
// distinct addresses and serves the "fresh address" change heuristic.
// The candidates are looked up in key order through one iterator, which
// Pebble serves far faster than as many random point reads.
func (s *Store) firstSeen(ctx context.Context, b *kvBuf, c chains.Chain, m *store.Meta) ([]chains.Address, error) {
	if len(s.cand) == 0 {
		return nil, nil
	}
	keys := make([][]byte, 0, len(s.cand))
	for a := range s.cand {
		keys = append(keys, firstSeenKey(nil, c, a))
	}
	slices.SortFunc(keys, bytes.Compare)
	lo := keyPrefix(nil, tFirstSeen, c)
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return nil, err
	}
	var added []chains.Address
	for _, k := range keys {
		a := chains.Address(k[len(lo):])
		if it.SeekGE(k) && bytes.Equal(it.Key(), k) {
			s.known.add(a)
			continue
		}
		b.set(k, binary.AppendUvarint(nil, uint64(s.cand[a])))
		added = append(added, a)
		m.Addresses++
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, fmt.Errorf("read first-seen records: %w", err)
	}
	for _, a := range added {
		s.known.add(a)
	}
	return added, nil
}

// knownSet remembers addresses already recorded, in two generations so
// that it stays bounded without bookkeeping per entry: when the current
// generation fills, it becomes the old one and the older is dropped.
// Addresses are reused in bursts, so recent ones are the ones that hit.
type knownSet struct {
	cur, old map[chains.Address]struct{}
	limit    int
}

func newKnownSet(limit int) knownSet {
	return knownSet{cur: map[chains.Address]struct{}{}, old: map[chains.Address]struct{}{}, limit: limit}
}

func (k *knownSet) has(a chains.Address) bool {
	if _, ok := k.cur[a]; ok {
		return true
	}
	_, ok := k.old[a]
	return ok
}

func (k *knownSet) add(a chains.Address) {
	if len(k.cur) >= k.limit {
		k.old, k.cur = k.cur, make(map[chains.Address]struct{}, k.limit)
	}
	k.cur[a] = struct{}{}
}

// forget drops addresses whose first-seen record was not committed.
func (k *knownSet) forget(as []chains.Address) {
	for _, a := range as {
		delete(k.cur, a)
		delete(k.old, a)
	}
}

// kvBuf collects a write's keys and values in one arena so that they can
// be sorted before they enter the batch.
type kvBuf struct {
	buf       []byte
	ents, tmp []kvEnt
}

// kvEnt locates one entry: key buf[k:v], value buf[v:end]. pre holds the
// key's first eight bytes big-endian, so that most comparisons in the sort
// are one integer compare.
type kvEnt struct {
	pre       uint64
	k, v, end int
}

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

func (b *kvBuf) set(k, v []byte) {
	start := len(b.buf)
	b.buf = append(b.buf, k...)
	mid := len(b.buf)
	b.buf = append(b.buf, v...)
	var pre [8]byte
	copy(pre[:], k)
	b.ents = append(b.ents, kvEnt{binary.BigEndian.Uint64(pre[:]), start, mid, len(b.buf)})
}

// sort orders the entries by key, stably, so that of two entries with the
// same key the later one written is the later one sorted: a radix sort on the eight-byte prefix
// (keys are mostly hashes, so prefixes are nearly unique), then a
// comparison sort of each run of equal prefixes.
func (b *kvBuf) sort() {
	ents := b.ents
	tmp := slices.Grow(b.tmp[:0], len(ents))[:len(ents)]
	var count [256]int
	for shift := 0; shift < 64; shift += 8 {
		count = [256]int{}
		for i := range ents {
			count[byte(ents[i].pre>>shift)]++
		}
		if count[byte(ents[0].pre>>shift)] == len(ents) {
			continue // every key has this byte: the pass would not move anything
		}
		pos := 0
		for i := range count {
			count[i], pos = pos, pos+count[i]
		}
		for i := range ents {
			d := byte(ents[i].pre >> shift)
			tmp[count[d]] = ents[i]
			count[d]++
		}
		ents, tmp = tmp, ents
	}
	for i := 0; i < len(ents); {
		j := i + 1
		for j < len(ents) && ents[j].pre == ents[i].pre {
			j++
		}
		if j-i > 1 {
			slices.SortStableFunc(ents[i:j], func(x, y kvEnt) int {
				return bytes.Compare(b.buf[x.k:x.v], b.buf[y.k:y.v])
			})
		}
		i = j
	}
	b.ents, b.tmp = ents, tmp
}

// commit applies the sorted entries in one atomic batch. A later entry
// with the same key as an earlier one replaces it (BIP30 duplicate txids,
// a key repeated in a multisig output): the sort is stable.
func (s *Store) commit(ctx context.Context, kv *kvBuf, sync bool) error {
	b := s.db.NewBatchWithSize(len(kv.buf) + len(kv.ents)*16 + 64)
	defer b.Close()
	for _, e := range kv.ents {
		if err := b.Set(kv.buf[e.k:e.v], kv.buf[e.v:e.end], nil); err != nil {
			return err
		}
	}
	opt := pebble.NoSync
	if sync {
		opt = pebble.Sync
	}
	return b.Commit(opt)
}
