package embedded

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// A cluster's members, for a cluster page (the workbench's
// /v1/{chain}/clusters/{id}): the other tables find an address's
// cluster, but a cluster's addresses only by a scan of every assignment.
//
//	M c cluster(4) index(4) → address
//
// A run writes one entry per assignment it writes. A later run that
// moves an address to another cluster (an incremental run merging two)
// deletes its entry under the old cluster, which the run names
// (ClusterRow.Was); the incremental path of a stream run knows the
// index alone, and the address is read from that entry. Stores whose
// clusters were computed before this table existed have none, and say so
// (ClusterMeta.Members false: the next run recomputes).

func clusterMemberKey(dst []byte, c chains.Chain, cluster, index uint32) []byte {
	dst = binary.BigEndian.AppendUint32(keyPrefix(dst, tClusterMember, c), cluster)
	return binary.BigEndian.AppendUint32(dst, index)
}

// keepsMembers says whether a run that starts now leaves every cluster's
// members in table M: a run from nothing does, a run extending stored
// clusters only when they have them.
func (s *Store) keepsMembers(ctx context.Context, c chains.Chain, reset bool) (bool, error) {
	if reset {
		return true, nil
	}
	prev, ok, err := s.ClusterMeta(ctx, c)
	return ok && prev.Members, err
}

// move is a member an incremental run moves without naming its
// address: from cluster was to cluster to.
type move struct{ was, index, to uint32 }

// maxMoves bounds the moves a writer holds before it applies them.
var maxMoves = 1 << 20 // a variable for the tests

// moveMember is an incremental run's rewrite of index i's assignment
// from cluster was to cluster to: the entry under was goes, one under
// to takes its address. Without the address (the stream run knows only
// the index) the move waits, with others, to be applied in key order.
func (w *clusterWriter) moveMember(i, was, to uint32, a chains.Address) error {
	if was == to {
		return nil
	}
	if a == "" {
		w.moves = append(w.moves, move{was: was, index: i, to: to})
		if len(w.moves) >= maxMoves {
			return w.applyMoves()
		}
		return nil
	}
	w.key = clusterMemberKey(w.key[:0], w.c, was, i)
	return w.b.Delete(w.key, nil)
}

// applyMoves moves the members held back, reading their addresses in
// key order through one iterator: a cluster merged into another moves
// whole, its entries one range. A lookup per member (one read of the
// old assignment, one of the entry) took a third of an incremental run.
func (w *clusterWriter) applyMoves() error {
	if len(w.moves) == 0 {
		return nil
	}
	slices.SortFunc(w.moves, func(a, b move) int {
		return cmp.Or(cmp.Compare(a.was, b.was), cmp.Compare(a.index, b.index))
	})
	lo := keyPrefix(nil, tClusterMember, w.c)
	it, err := w.s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return err
	}
	defer it.Close()
	var k []byte
	for _, m := range w.moves {
		k = clusterMemberKey(k[:0], w.c, m.was, m.index)
		if !it.SeekGE(k) || !bytes.Equal(it.Key(), k) {
			if err := it.Error(); err != nil {
				return fmt.Errorf("write %s clusters: %w", w.c, err)
			}
			continue // a store whose clusters predate table M
		}
		if err := w.b.Delete(k, nil); err != nil {
			return err
		}
		w.key = clusterMemberKey(w.key[:0], w.c, m.to, m.index)
		if err := w.b.Set(w.key, it.Value(), nil); err != nil {
			return err
		}
		if err := w.flush(false); err != nil {
			return err
		}
	}
	w.moves = w.moves[:0]
	return it.Error()
}

// ClusterMembers returns up to limit addresses of cluster id in the order
// they were first paid (their indexes), after the cursor after (the hex
// of the last page's last index), and the next page's cursor.
func (s *Store) ClusterMembers(ctx context.Context, c chains.Chain, id uint32, after string, limit int) ([]chains.Address, string, error) {
	m, ok, err := s.ClusterMeta(ctx, c)
	if err != nil {
		return nil, "", err
	}
	if !ok {
		return nil, "", store.ErrNotFound
	}
	if !m.Members {
		return nil, "", store.ErrNoMembers
	}
	prefix := clusterMemberKey(nil, c, id, 0)[:len(keyPrefix(nil, tClusterMember, c))+4]
	lo := prefix
	if after != "" {
		b, err := hex.DecodeString(after)
		if err != nil || len(b) != 4 {
			return nil, "", fmt.Errorf("%w: cursor %q is not one of this store's", store.ErrBadCursor, after)
		}
		lo = append(append(bytes.Clone(prefix), b...), 0) // the key after it
	}
	if limit <= 0 {
		limit = 100
	}
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, "", err
	}
	defer it.Close()
	var out []chains.Address
	last := ""
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != len(prefix)+4 {
			return nil, "", &store.CorruptError{Key: fmt.Sprintf("%x", k), Err: errShort}
		}
		if len(out) == limit {
			return out, last, it.Error()
		}
		out = append(out, chains.Address(bytes.Clone(it.Value())))
		last = hex.EncodeToString(k[len(prefix):])
	}
	if err := it.Error(); err != nil {
		return nil, "", err
	}
	if len(out) == 0 && after == "" {
		return nil, "", store.ErrNotFound // no such cluster
	}
	return out, "", nil
}
