package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// CheckMembers checks that a cluster's members read by cluster
// (ClusterMembers, page by page) are the addresses whose own assignment
// (LoadClusters) is to it: for every cluster of two or more addresses
// and the first singletons, at most most clusters (0: all). Pages of
// two exercise the cursors. A cluster id no cluster has is not found; a
// cursor the store did not give is refused.
func CheckMembers(t testing.TB, st store.ClusterStore, c chains.Chain, most int) {
	t.Helper()
	ctx := context.Background()
	want := map[uint32][]chains.Address{}
	var ids, indexes []uint32
	err := st.LoadClusters(ctx, c, func(r store.ClusterRow) error {
		indexes = append(indexes, r.Index)
		if want[r.Cluster] == nil {
			ids = append(ids, r.Cluster)
		}
		want[r.Cluster] = append(want[r.Cluster], r.Address)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) == 0 {
		t.Fatalf("%s: no clusters to check", c)
	}
	slices.Sort(ids)
	singles, checked, multi := 0, 0, 0
	for _, id := range ids {
		if most > 0 && checked >= most {
			break
		}
		if len(want[id]) == 1 {
			if singles++; singles > 20 {
				continue
			}
		} else {
			multi++
		}
		checked++
		var got []chains.Address
		after := ""
		for pages := 0; ; pages++ {
			page, next, err := st.ClusterMembers(ctx, c, id, after, 2)
			if err != nil {
				t.Fatalf("%s cluster %d, page %d: %v", c, id, pages, err)
			}
			if len(page) > 2 || next != "" && len(page) != 2 || pages > len(want[id]) {
				t.Fatalf("%s cluster %d: a page of %d addresses with next %q after %d pages", c, id, len(page), next, pages)
			}
			got = append(got, page...)
			if next == "" {
				break
			}
			after = next
		}
		w := slices.Clone(want[id])
		slices.Sort(w)
		slices.Sort(got)
		if !slices.Equal(got, w) {
			t.Fatalf("%s cluster %d: members %d read by cluster, %d by address (%x… vs %x…)", c, id, len(got), len(w), got, w)
		}
	}
	if multi == 0 {
		t.Fatalf("%s: no cluster of two or more addresses among those checked", c)
	}
	// Ids that are no cluster's: the indexes of addresses inside larger
	// clusters (a cluster's id is its smallest index), among them the
	// ids of clusters a later run merged into others.
	none := 0
	for _, i := range indexes {
		if want[i] != nil {
			continue
		}
		if none++; most > 0 && none > most {
			break
		}
		if got, _, err := st.ClusterMembers(ctx, c, i, "", 10); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: members of %d, which is no cluster: %x, %v; want not found", c, i, got, err)
		}
	}
	if none == 0 {
		t.Fatalf("%s: every address is alone in its cluster", c)
	}
	if _, _, err := st.ClusterMembers(ctx, c, ids[0], "zz", 10); !errors.Is(err, store.ErrBadCursor) {
		t.Fatalf("%s: a cursor the store did not give: %v, want refused", c, err)
	}
}
