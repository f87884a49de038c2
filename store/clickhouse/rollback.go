package clickhouse

import (
	"context"
	"fmt"

	"github.com/fundtrace/fundtrace/store"

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
	var txs, ins, outs, newAddrs int64
	if c.IsAccount() {
		if txs, err = count(fmt.Sprintf("SELECT count() FROM %s WHERE chain = ? AND height > ?", s.table("eth_txs")), chain, to); err != nil {
			return fmt.Errorf("roll back: %w", err)
		}
		if outs, err = count(fmt.Sprintf("SELECT count() FROM %s WHERE chain = ? AND height > ?", s.table("transfers")), chain, to); err != nil {
			return fmt.Errorf("roll back: %w", err)
		}
		ah := s.table("transfer_history")
		// Addresses first paid above the new tip: paid there, and not at or below it.
		newAddrs, err = count(fmt.Sprintf(`SELECT uniqExact(address) FROM %[1]s WHERE chain = ? AND height > ? AND address NOT IN
			(SELECT address FROM %[1]s WHERE chain = ? AND height <= ? AND address IN (SELECT address FROM %[1]s WHERE chain = ? AND height > ?))`, ah),
			chain, to, chain, to, chain, to)
		if err != nil {
			return fmt.Errorf("roll back: %w", err)
		}
	} else {
		// The counts come from the blocks removed, read by height; the
		// addresses they pay are then looked up in the history by address.
		var t, i, o uint64
		q := fmt.Sprintf(`SELECT count(), sum(if(coinbase = 1, 0, length(in_value))), sum(length(out_value))
			FROM %s WHERE chain = ? AND height > ?`, s.table("block_txs"))
		if err := s.conn.QueryRow(ctx, q, chain, to).Scan(&t, &i, &o); err != nil {
			return fmt.Errorf("roll back: %w", err)
		}
		txs, ins, outs = int64(t), int64(i), int64(o)
		if newAddrs, err = s.newAddressesAbove(ctx, c, to); err != nil {
			return fmt.Errorf("roll back: %w", err)
		}
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

// newAddressesAbove counts the addresses first paid above height to:
// those the blocks above pay (read by height) that the history has no
// payment of at or below it (looked up by address).
func (s *Store) newAddressesAbove(ctx context.Context, c chains.Chain, to int64) (int64, error) {
	q := fmt.Sprintf("SELECT txid, out_addresses FROM %s WHERE chain = ? AND height > ?", s.table("block_txs"))
	rows, err := s.conn.Query(ctx, q, string(c), to)
	if err != nil {
		return 0, err
	}
	paid := map[chains.Address]bool{}
	for rows.Next() {
		var txid string
		var packed []string
		if err := rows.Scan(&txid, &packed); err != nil {
			rows.Close()
			return 0, err
		}
		for i, p := range packed {
			as, err := unpackAddrs(p)
			if err != nil {
				rows.Close()
				return 0, &store.CorruptError{Key: fmt.Sprintf("tx %s output %d", toHash(txid), i), Err: err}
			}
			for _, a := range as {
				paid[a] = true
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if len(paid) == 0 {
		return 0, nil
	}
	as := make([]chains.Address, 0, len(paid))
	for a := range paid {
		as = append(as, a)
	}
	known, err := s.knownAddresses(ctx, c, "address_history", as, to)
	if err != nil {
		return 0, err
	}
	return int64(len(paid)) - known, nil
}
