package clickhouse_test

import (
	"context"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/ingest/btc"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/store/clickhouse"
)

// TestWritesArriveSorted: every part an index writes reaches the server
// in its table's sorting-key order, so that the server writes it without
// sorting it (its counter MergeTreeDataWriterBlocksAlreadySorted against
// MergeTreeDataWriterBlocks): a generated Bitcoin chain, whose txids,
// spent outpoints and addresses come in no key order, and an account
// chain's transfers.
func TestWritesArriveSorted(t *testing.T) {
	ctx := context.Background()
	parts := func(st *clickhouse.Store) (all, sorted uint64) {
		t.Helper()
		var err error
		if all, err = st.Event(ctx, "MergeTreeDataWriterBlocks"); err == nil {
			sorted, err = st.Event(ctx, "MergeTreeDataWriterBlocksAlreadySorted")
		}
		if err != nil {
			t.Fatal(err)
		}
		return all, sorted
	}
	check := func(t *testing.T, st *clickhouse.Store, least uint64, write func()) {
		t.Helper()
		all0, sorted0 := parts(st)
		write()
		all, sorted := parts(st)
		if all-all0 < least || sorted-sorted0 != all-all0 {
			t.Errorf("%d parts written, %d of them arrived sorted; want all, and at least %d", all-all0, sorted-sorted0, least)
		}
	}
	t.Run("bitcoin", func(t *testing.T) {
		dir := synthChain(t, 40, 60)
		st := openTest(t)
		check(t, st, 3*6, func() { // three writes of six data tables at least
			if _, err := btc.Index(ctx, st, btc.IndexConfig{Dir: dir, BatchBlocks: 15}); err != nil {
				t.Fatal(err)
			}
		})
	})
	t.Run("ethereum", func(t *testing.T) {
		st := openTest(t)
		pays := [][]string{{"a", "b", "c", "d"}, {"e", "a", "f", "b"}, {"g", "c", "a"}}
		check(t, st, 4, func() { // blocks, block_hashes, transfers, transfer_history
			if err := st.WriteBlocks(ctx, chains.Ethereum, "mainnet", handBlocks(chains.Ethereum, pays), store.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
		})
	})
}
