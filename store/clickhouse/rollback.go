package clickhouse

import (
	"context"
	"fmt"

	"github.com/fundtrace/fundtrace/chains"
)

// Rollback removes every block above height to, as after a chain
// reorganisation: the rows are deleted (and the deletion waited for),
// then a meta row commits the lower tip and the counters without them.
func (s *Store) Rollback(ctx context.Context, c chains.Chain, to int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.metaLocked(ctx, c)
	if err != nil {
		return err
	}
	if to >= m.TipHeight {
		return nil
	}
	if to < -1 {
		to = -1
	}
	count := func(q string, args ...any) (int64, error) {
		var n uint64
		err := s.conn.QueryRow(ctx, q, args...).Scan(&n)
		return int64(n), err
	}
	chain := string(c)
	txTable, inTable, outTable, history := "txs", "spenders", "outputs", "address_history"
	if c.IsAccount() {
		txTable, inTable, outTable, history = "eth_txs", "", "transfers", "transfer_history"
	}
	txs, err := count(fmt.Sprintf("SELECT count() FROM %s WHERE chain = ? AND height > ?", s.table(txTable)), chain, to)
	if err != nil {
		return fmt.Errorf("roll back: %w", err)
	}
	var ins int64
	if inTable != "" {
		if ins, err = count(fmt.Sprintf("SELECT count() FROM %s WHERE chain = ? AND height > ?", s.table(inTable)), chain, to); err != nil {
			return fmt.Errorf("roll back: %w", err)
		}
	}
	outs, err := count(fmt.Sprintf("SELECT count() FROM %s WHERE chain = ? AND height > ?", s.table(outTable)), chain, to)
	if err != nil {
		return fmt.Errorf("roll back: %w", err)
	}
	ah := s.table(history)
	// Addresses first paid above the new tip: paid there, and not at or below it.
	newAddrs, err := count(fmt.Sprintf(`SELECT uniqExact(address) FROM %[1]s WHERE chain = ? AND height > ? AND address NOT IN
		(SELECT address FROM %[1]s WHERE chain = ? AND height <= ? AND address IN (SELECT address FROM %[1]s WHERE chain = ? AND height > ?))`, ah),
		chain, to, chain, to, chain, to)
	if err != nil {
		return fmt.Errorf("roll back: %w", err)
	}
	// The new tip's hash is the parent of the lowest block removed (which
	// works also when that block is the first the store holds).
	var parent chains.Hash
	if to >= 0 {
		var hash string
		if err := s.conn.QueryRow(ctx, fmt.Sprintf("SELECT prev_hash FROM %s WHERE chain = ? AND height = ? LIMIT 1 BY height", s.table("blocks")), chain, uint64(to+1)).Scan(&hash); err != nil {
			return fmt.Errorf("roll back: read block %d: %w", to+1, err)
		}
		parent = toHash(hash)
	}
	s.dirty[c] = true
	if err := s.rollback(ctx, c, to); err != nil {
		return err
	}
	m.Blocks -= m.TipHeight - to
	m.Txs -= txs
	if c.IsAccount() {
		m.Transfers -= outs
	} else {
		m.Inputs -= ins
		m.Outputs -= outs
	}
	m.Addresses -= newAddrs
	m.TipHeight = to
	m.TipHash = parent
	if err := s.writeMeta(ctx, m); err != nil {
		return err
	}
	s.meta[c] = m
	return nil
}
