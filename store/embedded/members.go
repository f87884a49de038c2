package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

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
// deletes its entry under the old cluster, which it finds through the
// old assignment (table I, or q's value for the deposit heuristic): the
// incremental path of a stream run knows the index alone. Stores whose
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

// moveMember is a stream run's rewrite of index i's assignment to
// cluster, in an incremental run: it deletes the entry under the old
// cluster (table I) and returns the address it held, which the run does
// not know.
func (w *clusterWriter) moveMember(i, cluster uint32) (chains.Address, error) {
	var old uint32
	err := w.s.get(clusterByIndexKey(nil, w.c, i), func(v []byte) error {
		d := newDecoder(v)
		old = uint32(d.Uvarint())
		return d.End()
	})
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	k := clusterMemberKey(nil, w.c, old, i)
	var a chains.Address
	if err := w.s.get(k, func(v []byte) error { a = chains.Address(bytes.Clone(v)); return nil }); err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	if old != cluster {
		if err := w.b.Delete(k, nil); err != nil {
			return "", err
		}
	}
	return a, nil
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
