package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// Clusters, per chain:
//
//	m c "clusters"                          → ClusterMeta (JSON)
//	q c addr                                → index[, cluster id]: the cluster is here in runs
//	                                          of older versions, and in table I in runs now,
//	                                          which rewrite it without the address
//	I c index(4)                            → cluster id
//	Q c index(4)                            → addr: written by older versions, read by none,
//	                                          emptied with the rest
//	S c cluster(4)                          → cluster size
//	e c len(1) addr len(1) other heur(1) tx → (empty): a link, stored from both ends
//	                                          (runs now write table E: clusterstream.go)
//	J c part(4)                             → the last run's state, in parts (ClusterState)

func clusterMetaKey(c chains.Chain) []byte { return append(keyPrefix(nil, tMeta, c), "clusters"...) }

func clusterOfKey(c chains.Chain, a chains.Address) []byte {
	return append(keyPrefix(nil, tClusterOf, c), a...)
}

// clusterTables are the tables of a chain's clusters (beside its
// record), which a recomputation empties.
var clusterTables = []byte{tClusterOf, tClusterIndex, tClusterSize, tClusterLink, tClusterLinkByIndex, tClusterByIndex, tClusterMember, tClusterState}

func clusterSizeKey(c chains.Chain, id uint32) []byte {
	return binary.BigEndian.AppendUint32(keyPrefix(nil, tClusterSize, c), id)
}

func clusterLinkPrefix(c chains.Chain, a chains.Address) []byte {
	k := append(keyPrefix(nil, tClusterLink, c), byte(len(a)))
	return append(k, a...)
}

// heuristic names are stored as one byte.
var heuristicCodes = []string{"", "multi-input", "change-fresh", "change-script", "change-round", "deposit", "change-optimal"}

func heuristicCode(name string) (byte, error) {
	for i, n := range heuristicCodes {
		if n == name && i > 0 {
			return byte(i), nil
		}
	}
	return 0, fmt.Errorf("no code for heuristic %q", name)
}

// ClusterMeta returns the chain's cluster metadata; ok is false when no
// clusters were computed.
func (s *Store) ClusterMeta(ctx context.Context, c chains.Chain) (m store.ClusterMeta, ok bool, err error) {
	err = s.get(clusterMetaKey(c), func(v []byte) error { return json.Unmarshal(v, &m) })
	if errors.Is(err, store.ErrNotFound) {
		return m, false, nil
	}
	if err != nil {
		return m, false, err
	}
	h, err := hex.DecodeString(m.HashHex)
	if err == nil && len(h) == 32 {
		copy(m.Hash[:], h)
	}
	return m, true, nil
}

// LoadClusters calls fn for every address with a cluster, in the order
// the addresses were seen. It reads the assignments (table C, by
// address, each with its index) and the sizes (table S) sequentially,
// and hands them out in index order: a lookup of each address's cluster
// and size, as ClusterOf makes, took nine tenths of an incremental run.
func (s *Store) LoadClusters(ctx context.Context, c chains.Chain, fn func(r store.ClusterRow) error) error {
	sizes := map[uint32]uint32{}
	lo := keyPrefix(nil, tClusterSize, c)
	err := s.scan(ctx, lo, func(k, v []byte) error {
		if len(k) != len(lo)+4 {
			return &store.CorruptError{Key: fmt.Sprintf("%x", k), Err: errShort}
		}
		d := newDecoder(v)
		n := uint32(d.Uvarint())
		sizes[binary.BigEndian.Uint32(k[len(lo):])] = n
		return d.Err
	})
	if err != nil {
		return err
	}
	var rows []store.ClusterRow
	err = s.EachAssignment(ctx, c, func(a chains.Address, i, id uint32) error {
		for int(i) >= len(rows) {
			rows = append(rows, store.ClusterRow{})
		}
		rows[i] = store.ClusterRow{Index: i, Address: a, Cluster: id, Size: sizes[id]}
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range rows {
		if r.Address == "" {
			continue
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// EachClusterRow calls fn for every address with a cluster, in address
// order, as a stream: what cluster export writes, in memory bounded by a
// cache of cluster sizes (each size is read once while it is cached).
func (s *Store) EachClusterRow(ctx context.Context, c chains.Chain, fn func(r store.ClusterRow) error) error {
	const maxCached = 1 << 20
	sizes := map[uint32]uint32{}
	return s.EachAssignment(ctx, c, func(a chains.Address, i, id uint32) error {
		size, ok := sizes[id]
		if !ok {
			err := s.get(clusterSizeKey(c, id), func(v []byte) error {
				d := newDecoder(v)
				size = uint32(d.Uvarint())
				return d.Err
			})
			if err != nil {
				return fmt.Errorf("size of cluster %d: %w", id, err)
			}
			if len(sizes) == maxCached {
				clear(sizes)
			}
			sizes[id] = size
		}
		return fn(store.ClusterRow{Index: i, Address: a, Cluster: id, Size: size})
	})
}

// clusterOfValue reads an assignment (table q): the address's index,
// and its cluster's id where the value holds it (inline; runs before
// the stream clustering wrote both there). Otherwise the cluster is in
// table I under the index, which a run rewrites without knowing the
// address.
func clusterOfValue(v []byte) (index, id uint32, inline bool, err error) {
	d := newDecoder(v)
	index = uint32(d.Uvarint())
	if d.Err == nil && len(d.B) > 0 {
		id, inline = uint32(d.Uvarint()), true
	}
	return index, id, inline, d.End()
}

func clusterByIndexKey(dst []byte, c chains.Chain, i uint32) []byte {
	return binary.BigEndian.AppendUint32(keyPrefix(dst, tClusterByIndex, c), i)
}

// clusterIDs gives the cluster of an assignment: from its value, from
// an array of table I read whole (for scans), or by a lookup.
type clusterIDs struct {
	s   *Store
	c   chains.Chain
	arr []uint32 // table I by index, when read whole; absent entries MaxUint32
}

// readAll reads table I into arr: four bytes an address, where a scan of
// the assignments in address order would otherwise look up each one.
func (r *clusterIDs) readAll(ctx context.Context) error {
	return r.s.EachCluster(ctx, r.c, func(i, id uint32) error {
		for int(i) >= len(r.arr) {
			r.arr = append(r.arr, math.MaxUint32)
		}
		r.arr[i] = id
		return nil
	})
}

func (r *clusterIDs) of(v []byte) (index, id uint32, err error) {
	index, id, inline, err := clusterOfValue(v)
	if err != nil || inline {
		return index, id, err
	}
	if r.arr != nil {
		if int(index) < len(r.arr) && r.arr[index] != math.MaxUint32 {
			return index, r.arr[index], nil
		}
		return index, 0, fmt.Errorf("address %d has no cluster in table I", index)
	}
	err = r.s.get(clusterByIndexKey(nil, r.c, index), func(v []byte) error {
		d := newDecoder(v)
		id = uint32(d.Uvarint())
		return d.End()
	})
	if err != nil {
		return index, 0, fmt.Errorf("cluster of address %d: %w", index, err)
	}
	return index, id, nil
}

// scan calls fn for every entry whose key starts with lo, in key order.
func (s *Store) scan(ctx context.Context, lo []byte, fn func(k, v []byte) error) error {
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			return err
		}
	}
	return it.Error()
}

// ClusterOf returns a's cluster id and the cluster's size, or
// store.ErrNotFound when a has none.
func (s *Store) ClusterOf(ctx context.Context, c chains.Chain, a chains.Address) (id, size uint32, err error) {
	var v []byte
	err = s.get(clusterOfKey(c, a), func(b []byte) error {
		v = bytes.Clone(b)
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	if _, id, err = (&clusterIDs{s: s, c: c}).of(v); err != nil {
		return 0, 0, &store.CorruptError{Key: fmt.Sprintf("%x", clusterOfKey(c, a)), Err: err}
	}
	err = s.get(clusterSizeKey(c, id), func(v []byte) error {
		d := newDecoder(v)
		size = uint32(d.Uvarint())
		return d.Err
	})
	return id, size, err
}

// ClusterLinks returns the links recorded from a.
func (s *Store) ClusterLinks(ctx context.Context, c chains.Chain, a chains.Address) ([]store.ClusterLink, error) {
	lo := clusterLinkPrefix(c, a)
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []store.ClusterLink
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()[len(lo):]
		if len(k) < 1 || len(k) < 1+int(k[0])+1+32 {
			return nil, &store.CorruptError{Key: fmt.Sprintf("cluster link %x", it.Key()), Err: errShort}
		}
		n := int(k[0])
		other := chains.Address(bytes.Clone(k[1 : 1+n]))
		code := k[1+n]
		var tx chains.Hash
		copy(tx[:], k[2+n:])
		name := ""
		if int(code) < len(heuristicCodes) {
			name = heuristicCodes[code]
		}
		out = append(out, store.ClusterLink{A: a, B: other, Heuristic: name, Tx: tx})
	}
	if err := it.Error(); err != nil {
		return nil, err
	}
	i, ok, err := s.AddressIndex(ctx, c, a)
	if err != nil || !ok {
		return out, err
	}
	more, err := s.linksByIndex(ctx, c, a, i)
	return append(out, more...), err
}
