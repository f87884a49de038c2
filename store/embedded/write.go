package embedded

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

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
	b := s.db.NewBatch()
	defer b.Close()
	var added []chains.Address
	for i := range blocks {
		bd := &blocks[i]
		if err := s.writeBlock(b, c, &m, bd, &added); err != nil {
			s.known.forget(added)
			return err
		}
	}
	if err := s.setMeta(b, m); err != nil {
		s.known.forget(added)
		return err
	}
	opt := pebble.NoSync
	if o.Sync {
		opt = pebble.Sync
	}
	if err := b.Commit(opt); err != nil {
		s.known.forget(added)
		return fmt.Errorf("commit blocks %d..%d: %w", blocks[0].Block.Height, m.TipHeight, err)
	}
	s.meta[c] = m
	return nil
}

func (s *Store) writeBlock(b *pebble.Batch, c chains.Chain, m *store.Meta, bd *store.BlockData, added *[]chains.Address) error {
	blk := &bd.Block
	if blk.Height != m.TipHeight+1 {
		return fmt.Errorf("write %s block %d: store tip is %d, blocks must follow it without gaps", c, blk.Height, m.TipHeight)
	}
	if m.TipHeight >= 0 && blk.PrevHash != m.TipHash {
		return fmt.Errorf("write %s block %d %s: its parent %s is not the store's tip %s", c, blk.Height, blk.Hash, blk.PrevHash, m.TipHash)
	}
	txids := make([]chains.Hash, len(bd.Txs))
	for i := range bd.Txs {
		txids[i] = bd.Txs[i].Hash
	}
	k := s.buf[:0]
	v := make([]byte, 0, 256)
	k = blockKey(k, c, blk.Height)
	if err := b.Set(k, appendBlock(v[:0], blk, txids), nil); err != nil {
		return err
	}
	k = blockHashKey(k[:0], c, blk.Hash)
	if err := b.Set(k, binary.AppendUvarint(v[:0], uint64(blk.Height)), nil); err != nil {
		return err
	}
	for i := range bd.Txs {
		tx := &bd.Txs[i]
		k = txKey(k[:0], c, tx.Hash)
		v = appendTx(v[:0], tx)
		if err := b.Set(k, v, nil); err != nil {
			return err
		}
		for j := range tx.Inputs {
			in := &tx.Inputs[j]
			if in.Coinbase {
				continue
			}
			k = outpointKey(k[:0], tSpender, c, in.Prev)
			if err := b.Set(k, appendSpend(v[:0], tx.Hash, in.Index, blk.Height), nil); err != nil {
				return err
			}
			m.Inputs++
		}
		for j := range tx.Outputs {
			out := &tx.Outputs[j]
			k = outpointKey(k[:0], tOutput, c, chains.Outpoint{Hash: tx.Hash, Index: out.Index})
			if err := b.Set(k, appendOutput(v[:0], out), nil); err != nil {
				return err
			}
			for _, a := range out.Addresses {
				k = addrKey(k[:0], c, a, blk.Height, tx.Position, out.Index)
				if err := b.Set(k, appendReceived(v[:0], tx.Hash, out), nil); err != nil {
					return err
				}
				isNew, err := s.markSeen(b, c, a, blk.Height, added)
				if err != nil {
					return err
				}
				if isNew {
					m.Addresses++
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

// markSeen records a's first-seen height if a is new, and reports whether
// it was. The first-seen record both counts distinct addresses and serves
// the "fresh address" change heuristic.
func (s *Store) markSeen(b *pebble.Batch, c chains.Chain, a chains.Address, height int64, added *[]chains.Address) (bool, error) {
	if s.known.has(a) {
		return false, nil
	}
	k := firstSeenKey(nil, c, a)
	_, closer, err := s.db.Get(k)
	switch {
	case err == nil:
		closer.Close()
		s.known.add(a)
		return false, nil
	case !errors.Is(err, pebble.ErrNotFound):
		return false, fmt.Errorf("read first-seen of address: %w", err)
	}
	if err := b.Set(k, binary.AppendUvarint(nil, uint64(height)), nil); err != nil {
		return false, err
	}
	s.known.add(a)
	*added = append(*added, a)
	return true, nil
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
