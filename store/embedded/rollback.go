package embedded

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/internal/txcodec"
	"github.com/fundtrace/fundtrace/store"
)

// Rollback removes every block above height to, as after a chain
// reorganisation, in one atomic batch: the blocks, their transactions,
// the spends they made and the payments they received (an address first
// paid in them is then gone from the count, unless the count is left to
// the index run's end), and it moves the tip and the counters back. The
// store then holds exactly what an index that stopped at height to
// would hold.
func (s *Store) Rollback(ctx context.Context, c chains.Chain, to int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// The blocks' spends and payments are deleted from tables s and a:
	// what is staged goes in first, every chain's, since the reads below
	// (FirstSeen) would otherwise wait for the lock held here to merge.
	if err := s.mergeAllStagedLocked(ctx); err != nil {
		return err
	}
	m, err := s.metaLocked(c)
	if err != nil {
		return err
	}
	if to >= m.TipHeight {
		return nil
	}
	if to < -1 {
		to = -1
	}
	b := s.db.NewBatch()
	defer b.Close()
	var removed []chains.Address
	txEnd := int64(math.MaxInt64) // where the first removed record in the transaction file starts
	del := func(k []byte) error { return b.Delete(k, nil) }
	for h := m.TipHeight; h > to; h-- {
		blk, txids, err := s.BlockByHeight(ctx, c, h) // reads take no lock
		if err != nil {
			return fmt.Errorf("roll back block %d: %w", h, err)
		}
		if c.IsAccount() {
			rm, err := s.rollbackAccountBlock(ctx, del, c, &m, h, txids)
			if err != nil {
				return err
			}
			removed = append(removed, rm...)
			txids = nil
		}
		for _, id := range txids {
			rec, key, off, err := s.txRecord(c, id)
			var tx *chains.Tx
			if err == nil {
				tx, err = txcodec.DecodeTx(c, id, rec)
			}
			if err != nil {
				return fmt.Errorf("roll back block %d: tx %s: %w", h, id, err)
			}
			if tx.Height != h {
				// A later duplicate txid (BIP30) overwrote this record; the
				// later one's block is being rolled back first.
				continue
			}
			if err := del(key); err != nil {
				return err
			}
			if off >= 0 {
				txEnd = min(txEnd, off)
			}
			m.Txs--
			for _, in := range tx.Inputs {
				if in.Coinbase {
					continue
				}
				if err := del(outpointKey(nil, tSpender, c, in.Prev)); err != nil {
					return err
				}
				m.Inputs--
			}
			for _, o := range tx.Outputs {
				m.Outputs--
				for _, a := range o.Addresses {
					if err := del(addrKey(nil, c, a, h, tx.Position, o.Index)); err != nil {
						return err
					}
					if m.AddressesPending {
						continue // the run's end counts them all (SettleCounts)
					}
					first, err := s.FirstSeen(ctx, c, a)
					if err != nil && !errors.Is(err, store.ErrNotFound) {
						return err
					}
					if err == nil && first == h {
						removed = append(removed, a) // its history is gone with the block
					}
				}
			}
		}
		if err := del(blockKey(nil, c, h)); err != nil {
			return err
		}
		if err := del(layoutKey(nil, c, h)); err != nil {
			return err
		}
		if err := del(blockHashKey(nil, c, blk.Hash)); err != nil {
			return err
		}
		m.Blocks--
		m.TipHeight, m.TipHash = h-1, blk.PrevHash
	}
	// An address first seen in a removed block may appear twice in it.
	seen := map[chains.Address]bool{}
	for _, a := range removed {
		if !seen[a] {
			seen[a] = true
			m.Addresses--
		}
	}
	if err := s.setMeta(b, m); err != nil {
		return err
	}
	var tf *txFile
	if txEnd != math.MaxInt64 {
		if tf, err = s.txFileOf(c); err != nil {
			return err
		}
		if err := setTxEnd(b, c, txEnd); err != nil {
			return err
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("commit rollback to %d: %w", to, err)
	}
	if tf != nil {
		// The removed records are past the committed end now: the next
		// write overwrites them, and opening the store for writing cuts
		// off what is left. The file is not cut here, under readers that
		// may be reading the mapped records (see mapping).
		tf.end.Store(txEnd)
	}
	s.known.clear()
	s.meta[c] = m
	return nil
}
