package investigate

import (
	"context"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/cluster"
	"github.com/fundtrace/fundtrace/labels"
	"github.com/fundtrace/fundtrace/store"
)

// Attribution answers, for addresses of one command, their labels and
// their cluster's. The cluster of every labeled address is looked up once
// per command, not once per address asked about.
type Attribution struct {
	st        Store
	lst       store.LabelStore // nil when the store keeps no labels
	cs        cluster.Store    // nil when it keeps no clusters
	batch     BatchStore
	byCluster map[clusterKey][]labels.Label
	metas     map[chains.Chain]*store.ClusterMeta
	// What prefetch read: an address's own labels and its cluster (a
	// zero size: none), by chain and address.
	own      map[addrKey][]labels.Label
	clusters map[addrKey][2]uint32
}

// BatchStore is what a store that answers many addresses in one
// query offers: ClickHouse, where a query per address costs a round trip
// (a trace labels every address it reaches).
type BatchStore interface {
	// ClustersOf returns the cluster id and size of each address that
	// has a cluster.
	ClustersOf(ctx context.Context, c chains.Chain, as []chains.Address) (map[chains.Address][2]uint32, error)
	// LabelsOf returns the labels of each address that has any.
	LabelsOf(ctx context.Context, c chains.Chain, as []chains.Address) (map[chains.Address][]labels.Label, error)
}

type addrKey struct {
	chain chains.Chain
	addr  chains.Address
}

// prefetchChunk is how many addresses one batch query names.
const prefetchChunk = 10_000

// prefetch reads the labels and clusters of addresses as with a store
// that answers many at once, so that labels and clusterOf answer them
// from memory; with another store it does nothing.
func (x *Attribution) prefetch(ctx context.Context, c chains.Chain, as []chains.Address) error {
	if x.batch == nil {
		return nil
	}
	if x.own == nil {
		x.own, x.clusters = map[addrKey][]labels.Label{}, map[addrKey][2]uint32{}
	}
	var todo []chains.Address
	asked := map[chains.Address]bool{}
	for _, a := range as {
		if _, ok := x.clusters[addrKey{c, a}]; !ok && !asked[a] && a != "" {
			asked[a] = true
			todo = append(todo, a)
		}
	}
	for i := 0; i < len(todo); i += prefetchChunk {
		part := todo[i:min(i+prefetchChunk, len(todo))]
		// An address is marked read (in clusters, a zero size when it
		// has none) only once its queries answered. The two are
		// independent and asked at once: each is a round trip (or, for
		// the clusters, two) that a trace pays at every hop.
		cl := map[chains.Address][2]uint32{}
		var ls map[chains.Address][]labels.Label
		g, gctx := errgroup.WithContext(ctx)
		if x.cs != nil {
			g.Go(func() (err error) {
				cl, err = x.batch.ClustersOf(gctx, c, part)
				return err
			})
		}
		if x.lst != nil {
			g.Go(func() (err error) {
				ls, err = x.batch.LabelsOf(gctx, c, part)
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		for _, a := range part {
			if x.lst != nil {
				x.own[addrKey{c, a}] = ls[a] // nil: none
			}
			x.clusters[addrKey{c, a}] = cl[a]
		}
	}
	return nil
}

// flagged reports whether cluster id of chain c was built through a
// multi-input merge of two large clusters (cluster suspects).
func (at *Attribution) flagged(ctx context.Context, c chains.Chain, id uint32) bool {
	if at.cs == nil {
		return false
	}
	if at.metas == nil {
		at.metas = map[chains.Chain]*store.ClusterMeta{}
	}
	m, ok := at.metas[c]
	if !ok {
		if cm, found, err := at.cs.ClusterMeta(ctx, c); err == nil && found {
			m = &cm
		}
		at.metas[c] = m
	}
	return m != nil && m.IsFlagged(id)
}

type clusterKey struct {
	chain chains.Chain
	id    uint32
}

func NewAttribution(st Store) *Attribution {
	x := &Attribution{st: st}
	x.lst, _ = st.(store.LabelStore)
	x.cs, _ = st.(cluster.Store)
	x.batch, _ = st.(BatchStore)
	return x
}

// cluster returns a's cluster id and size (from what prefetch read when
// it read a), or store.ErrNotFound.
func (x *Attribution) cluster(ctx context.Context, c chains.Chain, a chains.Address) (id, size uint32, err error) {
	if v, ok := x.clusters[addrKey{c, a}]; ok {
		if v[1] == 0 {
			return 0, 0, store.ErrNotFound
		}
		return v[0], v[1], nil
	}
	return x.cs.ClusterOf(ctx, c, a)
}

// clusterOf returns a's cluster id, ok false when a has none or is alone.
func (x *Attribution) clusterOf(ctx context.Context, c chains.Chain, a chains.Address) (uint32, bool) {
	if x.cs == nil {
		return 0, false
	}
	id, size, err := x.cluster(ctx, c, a)
	return id, err == nil && size > 1
}

// Labels returns the labels of a, and those of the other addresses of
// its cluster (the cluster's attributions) with the address they are on.
func (x *Attribution) Labels(ctx context.Context, c chains.Chain, a chains.Address) (own, cl []labels.Label, err error) {
	if x.lst == nil {
		return nil, nil, nil
	}
	if ls, ok := x.own[addrKey{c, a}]; ok {
		own = slices.Clone(ls)
	} else if own, err = x.lst.Labels(ctx, c, a); err != nil {
		return nil, nil, err
	}
	id, ok := x.clusterOf(ctx, c, a)
	if !ok {
		return own, nil, nil
	}
	if x.byCluster == nil {
		x.byCluster = map[clusterKey][]labels.Label{}
		var all []labels.Label
		byChain := map[chains.Chain][]chains.Address{}
		err := x.lst.EachLabel(ctx, func(l labels.Label) error {
			all = append(all, l)
			byChain[l.Chain] = append(byChain[l.Chain], l.Address)
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		for lc, as := range byChain {
			if err := x.prefetch(ctx, lc, as); err != nil {
				return nil, nil, err
			}
		}
		for _, l := range all {
			if lid, ok := x.clusterOf(ctx, l.Chain, l.Address); ok {
				k := clusterKey{l.Chain, lid}
				x.byCluster[k] = append(x.byCluster[k], l)
			}
		}
	}
	for _, l := range x.byCluster[clusterKey{c, id}] {
		if l.Address != a {
			cl = append(cl, l)
		}
	}
	return own, cl, nil
}
