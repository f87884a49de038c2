package embedded

import (
	"context"
	"fmt"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/store/storetest"
)

// TestMembersMoved: an incremental run that merges clusters moves their
// members with them, whether its rows name the addresses (the deposit
// heuristic's run) or only the indexes (a stream run, whose moves the
// writer applies later, here a few at a time), and adds new addresses
// without reading anything back.
func TestMembersMoved(t *testing.T) {
	defer func(n int) { maxMoves = n }(maxMoves)
	maxMoves = 3
	ctx := context.Background()
	c := chains.Bitcoin
	st := newTestStore(t)
	addr := func(i uint32) chains.Address { return chains.Address(fmt.Sprintf("addr%02d", i)) }
	run := func(reset bool, rows []store.ClusterRow, sizes map[uint32]uint32, n int64) {
		t.Helper()
		w, err := st.NewClusterWriter(ctx, c, reset)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		for _, r := range rows {
			if err := w.Row(r); err != nil {
				t.Fatal(err)
			}
		}
		for id, size := range sizes {
			if err := w.Size(id, size); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Commit(store.ClusterMeta{Heuristics: []string{"multi-input"}, Addresses: n}); err != nil {
			t.Fatal(err)
		}
	}
	// Twelve addresses in clusters of three: 0, 3, 6 and 9.
	var rows []store.ClusterRow
	for i := range uint32(12) {
		rows = append(rows, store.ClusterRow{Index: i, Address: addr(i), Cluster: i / 3 * 3})
	}
	run(true, rows, map[uint32]uint32{0: 3, 3: 3, 6: 3, 9: 3}, 12)
	storetest.CheckMembers(t, st, c, 0)

	// Clusters 3 and 9 join 0 by index alone (seven moves: three batches
	// of three and one left for Commit), 6 joins 0 with its addresses,
	// and two new addresses arrive, one in cluster 0 and one alone.
	rows = rows[:0]
	for _, i := range []uint32{3, 4, 5, 9, 10, 11} {
		rows = append(rows, store.ClusterRow{Index: i, Cluster: 0, Was: i / 3 * 3, Moved: true})
	}
	for _, i := range []uint32{6, 7, 8} {
		rows = append(rows, store.ClusterRow{Index: i, Address: addr(i), Cluster: 0, Was: 6, Moved: true})
	}
	rows = append(rows,
		store.ClusterRow{Index: 12, Address: addr(12), Cluster: 0},
		store.ClusterRow{Index: 13, Address: addr(13), Cluster: 13})
	run(false, rows, map[uint32]uint32{0: 13, 13: 1}, 14)
	storetest.CheckMembers(t, st, c, 0)
	got, _, err := st.ClusterMembers(ctx, c, 0, "", 100)
	if err != nil || len(got) != 13 {
		t.Fatalf("cluster 0: %q, %v; want 13 members", got, err)
	}
	for _, gone := range []uint32{3, 6, 9} {
		if got, _, err := st.ClusterMembers(ctx, c, gone, "", 100); err == nil {
			t.Fatalf("cluster %d, merged into 0, still lists %q", gone, got)
		}
	}
}
