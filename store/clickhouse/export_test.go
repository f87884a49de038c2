package clickhouse

import (
	"context"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// InsertRowsUncommitted inserts the blocks' data rows without the meta
// row that commits them: what a write interrupted between the two leaves.
func (s *Store) InsertRowsUncommitted(ctx context.Context, c chains.Chain, blocks []store.BlockData) error {
	return s.insertRows(ctx, c, blocks)
}

// InsertBare inserts the blocks' rows table by table with nothing of the
// writer around it: no meta row, no rollback check, no address count, no
// parallelism. The benchmark's baseline.
func (s *Store) InsertBare(ctx context.Context, c chains.Chain, blocks []store.BlockData) (rows int, err error) {
	for _, tr := range rowsOf(c, blocks) {
		count := tr.fill
		tr.fill = func(add func(v ...any) error) error {
			return count(func(v ...any) error { rows++; return add(v...) })
		}
		if err := s.insertBatch(ctx, tr); err != nil {
			return rows, err
		}
	}
	return rows, nil
}

// Exec runs a statement on the store's connection.
func (s *Store) Exec(ctx context.Context, stmt string) error { return s.conn.Exec(ctx, stmt) }

// SetTip commits a bare meta row saying the chain's tip is h.
func (s *Store) SetTip(ctx context.Context, c chains.Chain, h int64) error {
	m := store.EmptyMeta(c)
	m.TipHeight = h
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.meta, c)
	return s.writeMeta(ctx, m)
}

// CountSpendsNaive runs the spender lookup's query on spends_naive, the
// same rows in a table with ClickHouse's default granularity.
func (s *Store) CountSpendsNaive(ctx context.Context, ops []chains.Outpoint) error {
	hs := make([]chains.Hash, len(ops))
	for i, op := range ops {
		hs[i] = op.Hash
	}
	rows, err := s.conn.Query(ctx, "SELECT prev_txid, prev_vout, txid, vin, height FROM "+s.table("spends_naive")+
		" WHERE chain = 'btc' AND prev_txid IN ("+inHashes(hs)+")")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
	}
	return rows.Err()
}
