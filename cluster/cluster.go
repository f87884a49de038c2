// Package cluster groups a chain's addresses into entities by applying
// the heuristics package's heuristics to every transaction in a store,
// with union-find over compact address ids, and keeps every link so that
// any two addresses in one cluster can be explained by a chain of
// evidence (transaction and heuristic at each step).
package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/heuristics"
	"github.com/fundtrace/fundtrace/store"
)

// Source is what clustering reads from a store.
type Source interface {
	store.ChainReader
	Tx(ctx context.Context, c chains.Chain, h chains.Hash) (*chains.Tx, error)
	FirstSeen(ctx context.Context, c chains.Chain, a chains.Address) (int64, error)
}

// link is one piece of evidence, by address ids: 44 bytes, where a
// heuristics.Link (two address strings holding on to the transaction
// they were read from) took twice that and more, and an adjacency list
// kept each link twice over.
type link struct {
	a, b      uint32
	heuristic uint8
	tx        chains.Hash
}

// Clusters is the result of clustering one chain.
type Clusters struct {
	progress func(stage string, done, total int64) // nil: not asked
	ids      map[chains.Address]uint32
	addrs    []chains.Address
	uf       heuristics.UnionFind
	names    []string // heuristic names by index
	Links    map[string]int
	Txs      int64
	// CoinJoins counts the transactions skipped as CoinJoins.
	CoinJoins int64
	mins      map[uint32]uint32
	index     map[string]uint8
	fresh     []link // links found by the last scan

	// Guard is the super-cluster guard's size (0: off): see Run.
	Guard uint32
	// Suspects are the change links the guard held back, Flagged the
	// multi-input merges of two clusters over Guard it kept; Dropped
	// counts those past store.MaxSuspects of each.
	Suspects, Flagged []store.ClusterSuspect
	Dropped           int64
}

// guarded decides a link between a and b under the super-cluster guard:
// false when it must be held back (a change heuristic's link joining two
// clusters over the guard's size, the failure that merged whole
// exchanges in earlier studies); a multi-input link between two such
// clusters is kept and flagged.
func (cl *Clusters) guarded(a, b uint32, l heuristics.Link, height int64) bool {
	if cl.Guard == 0 {
		return true
	}
	ra, rb := cl.uf.Find(a), cl.uf.Find(b)
	if ra == rb {
		return true
	}
	sa, sb := cl.uf.Size(ra), cl.uf.Size(rb)
	if sa <= cl.Guard || sb <= cl.Guard {
		return true
	}
	s := store.ClusterSuspect{A: []byte(l.A), B: []byte(l.B), Heuristic: l.Heuristic, Tx: l.Tx.String(), Height: height, SizeA: sa, SizeB: sb}
	keep := l.Heuristic == heuristics.MultiInput || l.Heuristic == heuristics.DepositName
	list := &cl.Suspects
	if keep {
		list = &cl.Flagged
	}
	if len(*list) < store.MaxSuspects {
		*list = append(*list, s)
	} else {
		cl.Dropped++
	}
	return keep
}

func (cl *Clusters) id(a chains.Address) uint32 {
	if i, ok := cl.ids[a]; ok {
		return i
	}
	i := cl.uf.Add()
	cl.ids[a] = i
	cl.addrs = append(cl.addrs, a)
	return i
}

// Bitcoin clusters a UTXO chain's addresses with the enabled heuristics,
// reading the store block by block (one transaction at a time in memory).
func Bitcoin(ctx context.Context, src Source, c chains.Chain, enabled []string) (*Clusters, error) {
	m, err := src.Meta(ctx, c)
	if err != nil {
		return nil, err
	}
	hs, err := bitcoinHeuristics(ctx, src, c, enabled)
	if err != nil {
		return nil, err
	}
	cl := newClusters()
	return cl, cl.scan(ctx, src, c, hs, 0, m.TipHeight)
}

func newClusters() *Clusters {
	return &Clusters{ids: map[chains.Address]uint32{}, Links: map[string]int{}, index: map[string]uint8{}}
}

func bitcoinHeuristics(ctx context.Context, src Source, c chains.Chain, enabled []string) (*heuristics.Bitcoin, error) {
	on := map[string]bool{}
	for _, h := range enabled {
		if _, ok := heuristics.Confidence[h]; !ok || h == heuristics.DepositName {
			return nil, fmt.Errorf("unknown heuristic %q (known: multi-input, change-fresh, change-script, change-round, change-optimal)", h)
		}
		on[h] = true
	}
	seen := func(a chains.Address, before int64) bool {
		h, err := src.FirstSeen(ctx, c, a)
		return err == nil && h < before
	}
	return &heuristics.Bitcoin{Enabled: on, Seen: seen}, nil
}

// scan applies hs to the transactions of blocks from..to.
func (cl *Clusters) scan(ctx context.Context, src Source, c chains.Chain, hs *heuristics.Bitcoin, from, to int64) error {
	for h := from; h <= to; h++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		_, txids, err := src.BlockByHeight(ctx, c, h)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("cluster: block %d: %w", h, err)
		}
		for _, id := range txids {
			tx, err := src.Tx(ctx, c, id)
			if err != nil {
				return fmt.Errorf("cluster: block %d: %w", h, err)
			}
			cl.Txs++
			for _, o := range tx.Outputs {
				for _, a := range o.Addresses {
					cl.id(a)
				}
			}
			if heuristics.IsCoinJoin(tx) {
				cl.CoinJoins++
			}
			for _, l := range hs.Links(tx) {
				k, ok := cl.index[l.Heuristic]
				if !ok {
					k = uint8(len(cl.names))
					cl.index[l.Heuristic] = k
					cl.names = append(cl.names, l.Heuristic)
				}
				a, b := cl.id(l.A), cl.id(l.B)
				if !cl.guarded(a, b, l, h) {
					continue
				}
				cl.uf.Union(a, b)
				cl.Links[l.Heuristic]++
				cl.fresh = append(cl.fresh, link{a: a, b: b, heuristic: k, tx: l.Tx})
			}
		}
	}
	return nil
}

// Addresses is the number of addresses seen.
func (cl *Clusters) Addresses() int { return len(cl.addrs) }

// Count is the number of clusters.
func (cl *Clusters) Count() int {
	n := 0
	for i := range cl.addrs {
		if cl.uf.Find(uint32(i)) == uint32(i) {
			n++
		}
	}
	return n
}

// ID returns the cluster id of a (the id of its first-seen address) and
// the cluster's size; ok is false for an address never paid.
func (cl *Clusters) ID(a chains.Address) (id uint32, size uint32, ok bool) {
	i, ok := cl.ids[a]
	if !ok {
		return 0, 0, false
	}
	return cl.minID(cl.uf.Find(i)), cl.uf.Size(i), true
}

// minID is the smallest address id in root's set: a cluster id that does
// not depend on how the unions went. Computed once for all roots.
func (cl *Clusters) minID(root uint32) uint32 {
	if cl.mins == nil {
		cl.mins = make(map[uint32]uint32)
		for i := range cl.addrs {
			r := cl.uf.Find(uint32(i))
			if m, ok := cl.mins[r]; !ok || uint32(i) < m {
				cl.mins[r] = uint32(i)
			}
		}
	}
	return cl.mins[root]
}

// Each calls fn for every address in first-seen order with its cluster id.
func (cl *Clusters) Each(fn func(a chains.Address, cluster uint32) error) error {
	for i, a := range cl.addrs {
		if err := fn(a, cl.minID(cl.uf.Find(uint32(i)))); err != nil {
			return err
		}
	}
	return nil
}

// Link turns a link found by the last scan back into addresses.
func (cl *Clusters) Link(i int) heuristics.Link {
	l := cl.fresh[i]
	return heuristics.Link{A: cl.addrs[l.a], B: cl.addrs[l.b], Heuristic: cl.names[l.heuristic], Tx: l.tx}
}

// Explain returns the shortest chain of links between a and b (breadth
// first over the links of the last scan), or nil if they are not linked.
// It builds its adjacency lists when asked: they are not kept.
func (cl *Clusters) Explain(a, b chains.Address) []heuristics.Link {
	ia, ok1 := cl.ids[a]
	ib, ok2 := cl.ids[b]
	if !ok1 || !ok2 || cl.uf.Find(ia) != cl.uf.Find(ib) {
		return nil
	}
	if ia == ib {
		return []heuristics.Link{}
	}
	adj := map[uint32][]int{}
	for i, l := range cl.fresh {
		adj[l.a] = append(adj[l.a], i)
		adj[l.b] = append(adj[l.b], i)
	}
	type step struct {
		from uint32
		link int
	}
	prev := map[uint32]step{ia: {from: ia}}
	queue := []uint32{ia}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		for _, li := range adj[x] {
			to := cl.fresh[li].a
			if to == x {
				to = cl.fresh[li].b
			}
			if _, ok := prev[to]; ok {
				continue
			}
			prev[to] = step{from: x, link: li}
			if to == ib {
				var path []heuristics.Link
				for y := ib; y != ia; y = prev[y].from {
					s := prev[y]
					l := cl.fresh[s.link]
					path = append([]heuristics.Link{{A: cl.addrs[s.from], B: cl.addrs[y], Heuristic: cl.names[l.heuristic], Tx: l.tx}}, path...)
				}
				return path
			}
			queue = append(queue, to)
		}
	}
	return nil
}
