package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/heuristics"
	"github.com/fundtrace/fundtrace/store"
)

// Store is a store that keeps clusters.
type Store interface {
	Source
	ClusterMeta(ctx context.Context, c chains.Chain) (store.ClusterMeta, bool, error)
	LoadClusters(ctx context.Context, c chains.Chain, fn func(store.ClusterRow) error) error
	SaveClusters(ctx context.Context, c chains.Chain, reset bool, m store.ClusterMeta, rows []store.ClusterRow, sizes map[uint32]uint32, links []store.ClusterLink) error
	ClusterOf(ctx context.Context, c chains.Chain, a chains.Address) (id, size uint32, err error)
	ClusterLinks(ctx context.Context, c chains.Chain, a chains.Address) ([]store.ClusterLink, error)
}

// Summary reports a Run.
type Summary struct {
	Meta        store.ClusterMeta
	Incremental bool  // extended the stored clusters instead of recomputing
	From        int64 // first block read
	Changed     int   // addresses whose cluster was written
	// Recomputed says why a run that could have extended stored clusters
	// recomputed them all ("" when it extended them or none were stored).
	Recomputed string
	// FromState: an incremental run that read the previous run's state
	// file (state.go) rather than the stored assignments.
	FromState bool
}

// recompute says why stored clusters (prev, of chain meta m) cannot be
// extended with the heuristics set and guard size, or "" when they can;
// tip is the hash of the store's block at prev.Height (zero if none).
func recompute(prev *store.ClusterMeta, m store.Meta, set []string, guard int, tip chains.Hash) string {
	switch {
	case !slices.Equal(prev.Heuristics, set):
		return fmt.Sprintf("the heuristics changed (stored %s, asked %s)", strings.Join(prev.Heuristics, ","), strings.Join(set, ","))
	case prev.GuardSize != int64(guard):
		return fmt.Sprintf("the guard size changed (stored %d, asked %d)", prev.GuardSize, guard)
	case prev.Height > m.TipHeight:
		return fmt.Sprintf("the store's tip %d is below the clustered height %d: blocks were rolled back, and a union of clusters cannot be undone", m.TipHeight, prev.Height)
	case tip != prev.Hash:
		return fmt.Sprintf("block %d, where the clusters were computed to, is no longer on the chain (a reorganisation): a union of clusters cannot be undone, so they are rebuilt", prev.Height)
	case !prev.Members:
		return noMembers
	}
	return ""
}

// noMembers is why a run recomputes clusters an older version stored.
const noMembers = "the stored clusters do not list their members (an older version computed them)"

// DefaultGuardSize is the super-cluster guard's default: a change link
// between two clusters of more than this many addresses each is held
// back, a multi-input merge of two is flagged.
const DefaultGuardSize = 10_000

// Options tune Run.
type Options struct {
	// GuardSize is the super-cluster guard's size (Harrigan & Fretter
	// 2016, and BlockSci's super-clusters): a change-heuristic link that
	// would merge two clusters each larger than it is held back and kept
	// as a suspect; a multi-input merge of two such clusters is made but
	// flagged. 0 turns the guard off; a negative value means the default.
	GuardSize int
	// Progress, when set, is told how a run is getting on: called often
	// (every few thousand addresses or transactions); the caller decides
	// how often to show it.
	Progress func(Progress)
}

// Progress is where a clustering run stands: the pass (Stage: addresses,
// the first pass over every address; transactions, in chain order, Done
// and Total heights; assignments, the last pass writing every address's
// cluster; blocks, an account chain's pass) and how far it is in it.
type Progress struct {
	Stage       string
	Done, Total int64
}

// progress reports p when the run was asked to.
func (o *Options) progress(stage string, done, total int64) {
	if o.Progress != nil {
		o.Progress(Progress{Stage: stage, Done: done, Total: total})
	}
}

// Run clusters the chain's addresses in st with the enabled heuristics
// and the default guard (see RunWith).
func Run(ctx context.Context, st Store, c chains.Chain, enabled []string) (*Summary, error) {
	return RunWith(ctx, st, c, enabled, Options{GuardSize: -1})
}

// RunWith clusters the chain's addresses in st with the enabled
// heuristics and stores the result. When the store already holds
// clusters computed with the same heuristics and guard up to a block
// still on the chain, only the newer blocks are read and only the changed
// assignments written; any other run recomputes from scratch.
func RunWith(ctx context.Context, st Store, c chains.Chain, enabled []string, o Options) (*Summary, error) {
	if o.GuardSize < 0 {
		o.GuardSize = DefaultGuardSize
	}
	m, err := st.Meta(ctx, c)
	if err != nil {
		return nil, err
	}
	if c.IsAccount() {
		return runAccount(ctx, st, c, m, enabled, o)
	}
	hs, err := bitcoinHeuristics(ctx, st, c, enabled)
	if err != nil {
		return nil, err
	}
	set := slices.Clone(enabled)
	slices.Sort(set)
	set = slices.Compact(set)
	prev, ok, err := st.ClusterMeta(ctx, c)
	if err != nil {
		return nil, err
	}
	sum := &Summary{}
	if ok {
		var tip chains.Hash
		if blk, _, err := st.BlockByHeight(ctx, c, prev.Height); err == nil {
			tip = blk.Hash
		}
		sum.Recomputed = recompute(&prev, m, set, o.GuardSize, tip)
		sum.Incremental = sum.Recomputed == ""
	}
	ss, ok := st.(StreamStore)
	if !ok {
		return nil, fmt.Errorf("the store cannot read %s in passes", c)
	}
	if sum.Incremental {
		sum.From = prev.Height + 1
	}
	if err := runStream(ctx, ss, c, m, hs, set, o, &prev, sum); err != nil {
		return nil, err
	}
	return sum, nil
}

// Explain returns the shortest chain of stored links between a and b,
// breadth first from a; nil when they are not linked.
func Explain(ctx context.Context, st Store, c chains.Chain, a, b chains.Address) ([]heuristics.Link, error) {
	ida, _, err := st.ClusterOf(ctx, c, a)
	if err != nil {
		return nil, fmt.Errorf("%w: the first address has no cluster (run fundtrace cluster)", err)
	}
	idb, _, err := st.ClusterOf(ctx, c, b)
	if err != nil {
		return nil, fmt.Errorf("%w: the second address has no cluster", err)
	}
	if ida != idb {
		return nil, nil
	}
	if a == b {
		return []heuristics.Link{}, nil
	}
	prev := map[chains.Address]store.ClusterLink{a: {}}
	queue := []chains.Address{a}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		links, err := st.ClusterLinks(ctx, c, x)
		if err != nil {
			return nil, err
		}
		// Stores list links in their own orders; breadth first over one
		// order gives every store the same shortest chain.
		sort.Slice(links, func(i, j int) bool {
			li, lj := links[i], links[j]
			if li.B != lj.B {
				return li.B < lj.B
			}
			if li.Heuristic != lj.Heuristic {
				return li.Heuristic < lj.Heuristic
			}
			return string(li.Tx[:]) < string(lj.Tx[:])
		})
		for _, l := range links {
			if _, ok := prev[l.B]; ok {
				continue
			}
			prev[l.B] = l
			if l.B == b {
				var path []heuristics.Link
				for y := b; y != a; y = prev[y].A {
					s := prev[y]
					path = append([]heuristics.Link{{A: s.A, B: s.B, Heuristic: s.Heuristic, Tx: s.Tx}}, path...)
				}
				return path, nil
			}
			queue = append(queue, l.B)
		}
	}
	return nil, fmt.Errorf("%s and %s share cluster %d but no stored chain of links joins them: recompute with fundtrace cluster", a, b, ida)
}

// DepositParams are the deposit heuristic's parameters for Run on an
// account chain.
var DepositParams = heuristics.Deposit{Window: 1000, MinCount: 3}

// runAccount clusters an account chain. The deposit heuristic's state
// (balances as transfers tell them, who forwarded to whom) is stored with
// the clusters, so a later run with the same parameters reads only the
// new blocks; other parameters, or a reorganisation below the clustered
// height, recompute.
func runAccount(ctx context.Context, st Store, c chains.Chain, m store.Meta, enabled []string, o Options) (*Summary, error) {
	src, ok := st.(AccountSource)
	if !ok {
		return nil, fmt.Errorf("the store cannot read %s transfers", c)
	}
	for _, h := range enabled {
		if h != heuristics.DepositName {
			return nil, fmt.Errorf("heuristic %q is not for %s (use deposit)", h, c)
		}
	}
	d := DepositParams
	if d.Window <= 0 {
		d.Window = 1000
	}
	if d.MinCount <= 0 {
		d.MinCount = 3
	}
	prev, ok, err := st.ClusterMeta(ctx, c)
	if err != nil {
		return nil, err
	}
	sum := &Summary{From: m.TipHeight - m.Blocks + 1}
	var state heuristics.DepositState
	if ok && len(prev.State) > 0 && prev.Height <= m.TipHeight && json.Unmarshal(prev.State, &state) == nil &&
		state.Window == d.Window && state.MinCount == d.MinCount && prev.GuardSize == int64(o.GuardSize) {
		if blk, _, err := st.BlockByHeight(ctx, c, prev.Height); err == nil && blk.Hash == prev.Hash {
			sum.Incremental = true
		}
	}
	if sum.Incremental && !prev.Members {
		sum.Incremental, sum.Recomputed = false, noMembers
	}
	cl := newClusters()
	cl.Guard = uint32(o.GuardSize)
	cl.progress = o.progress
	var loaded []uint32
	before := map[[2]chains.Address]bool{}
	if sum.Incremental {
		if err := d.Restore(state); err != nil {
			return nil, err
		}
		err := st.LoadClusters(ctx, c, func(r store.ClusterRow) error {
			if i := cl.id(r.Address); i != r.Index {
				return &store.CorruptError{Key: "cluster index", Err: fmt.Errorf("address %d stored as %d", i, r.Index)}
			}
			loaded = append(loaded, r.Cluster)
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, l := range d.Links() {
			before[[2]chains.Address{l.A, l.B}] = true
		}
		sum.From = prev.Height + 1
	}
	if err := cl.scanAccount(ctx, src, c, &d, sum.From, m.TipHeight); err != nil {
		return nil, err
	}
	cl.linkDeposits(d.Links())
	var rows []store.ClusterRow
	sizes := map[uint32]uint32{}
	for i, a := range cl.addrs {
		id := cl.minID(cl.uf.Find(uint32(i)))
		if i >= len(loaded) || loaded[i] != id {
			rows = append(rows, store.ClusterRow{Index: uint32(i), Address: a, Cluster: id})
			sizes[id] = cl.uf.Size(uint32(i))
		}
	}
	var links []store.ClusterLink
	for i := range cl.fresh {
		if l := cl.Link(i); !before[[2]chains.Address{l.A, l.B}] {
			links = append(links, store.ClusterLink{A: l.A, B: l.B, Heuristic: l.Heuristic, Tx: l.Tx})
		}
	}
	js, err := json.Marshal(d.State())
	if err != nil {
		return nil, err
	}
	meta := store.ClusterMeta{Heuristics: []string{heuristics.DepositName}, Height: m.TipHeight, Hash: m.TipHash,
		Addresses: int64(len(cl.addrs)), Clusters: int64(cl.Count()), Links: map[string]int64{heuristics.DepositName: int64(len(cl.fresh))}, State: js}
	if sum.Incremental {
		cl.carry(&prev)
	}
	cl.guardMeta(&meta)
	if err := st.SaveClusters(ctx, c, !sum.Incremental, meta, rows, sizes, links); err != nil {
		return nil, err
	}
	sum.Meta, sum.Changed = meta, len(rows)
	return sum, nil
}

// carry adds the suspects and flagged merges of the run this one extends
// before its own.
func (cl *Clusters) carry(prev *store.ClusterMeta) {
	cl.Suspects = append(slices.Clone(prev.Suspects), cl.Suspects...)
	cl.Flagged = append(slices.Clone(prev.Flagged), cl.Flagged...)
	cl.Dropped += prev.Dropped
	for _, l := range []*[]store.ClusterSuspect{&cl.Suspects, &cl.Flagged} {
		if n := len(*l); n > store.MaxSuspects {
			cl.Dropped += int64(n - store.MaxSuspects)
			*l = (*l)[:store.MaxSuspects]
		}
	}
}

// guardMeta records the guard, its suspects and flagged merges, and the
// clusters those merges built as they stand now.
func (cl *Clusters) guardMeta(m *store.ClusterMeta) {
	cl.guardMetaOf(m, func(a chains.Address) (uint32, bool) {
		i, ok := cl.ids[a]
		if !ok {
			return 0, false
		}
		return cl.minID(cl.uf.Find(i)), true
	})
}

// guardMetaOf is guardMeta with the cluster of an address given.
func (cl *Clusters) guardMetaOf(m *store.ClusterMeta, clusterOf func(chains.Address) (uint32, bool)) {
	m.GuardSize, m.Suspects, m.Flagged, m.Dropped = int64(cl.Guard), cl.Suspects, cl.Flagged, cl.Dropped
	seen := map[uint32]bool{}
	for _, f := range cl.Flagged {
		id, ok := clusterOf(chains.Address(f.A))
		if !ok {
			continue
		}
		if !seen[id] {
			seen[id] = true
			m.FlaggedClusters = append(m.FlaggedClusters, id)
		}
	}
	slices.Sort(m.FlaggedClusters)
}
