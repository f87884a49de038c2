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
