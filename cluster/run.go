package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
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
// (balances as transfers tell them, who forwarded to whom, by address
// index) is stored with the clusters, beside the run's record, so that a
// later run with the same parameters reads only the new blocks; other
// parameters, or a reorganisation below the clustered height, recompute.
// Links, assignments and the state go to the store as a stream: the run
// holds the addresses, their union-find and the heuristic's state.
func runAccount(ctx context.Context, st Store, c chains.Chain, m store.Meta, enabled []string, o Options) (*Summary, error) {
	src, ok := st.(AccountSource)
	if !ok {
		return nil, fmt.Errorf("the store cannot read %s transfers", c)
	}
	ws, ok := st.(accountStore)
	if !ok {
		return nil, fmt.Errorf("the store cannot write %s clusters as a stream", c)
	}
	for _, h := range enabled {
		if h != heuristics.DepositName {
			return nil, fmt.Errorf("heuristic %q is not for %s (use deposit)", h, c)
		}
	}
	// The heuristic's state holds no garbage, and a transfer at a time
	// makes little: collect early rather than let the heap grow to twice
	// the state (as the stream run does).
	defer debug.SetGCPercent(debug.SetGCPercent(20))
	params := DepositParams
	if params.Window <= 0 {
		params.Window = 1000
	}
	if params.MinCount <= 0 {
		params.MinCount = 3
	}
	d := heuristics.Deposit{Window: params.Window, MinCount: params.MinCount}
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
	switch {
	case sum.Incremental && !prev.Members:
		sum.Incremental, sum.Recomputed = false, noMembers
	case sum.Incremental && state.Format != heuristics.DepositStateFormat:
		sum.Incremental, sum.Recomputed = false, "the stored deposit heuristic's state is an older version's (in the run's record)"
	}
	cl := newClusters()
	cl.Guard = uint32(o.GuardSize)
	cl.progress = o.progress
	var loaded []uint32
	var before []uint64 // the stored run's links, collector<<32 | forwarder, in order
	if sum.Incremental {
		if err := readDepositState(ctx, ws, c, &d); err != nil {
			if !errors.Is(err, heuristics.ErrDepositState) {
				return nil, err
			}
			sum.Incremental, sum.Recomputed = false, fmt.Sprintf("the stored deposit heuristic's state cannot be read (%v)", err)
			d = heuristics.Deposit{Window: params.Window, MinCount: params.MinCount}
		}
	}
	if sum.Incremental {
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
		err = d.Links(func(a, b uint32, _ heuristics.Forward) error {
			before = append(before, uint64(a)<<32|uint64(b))
			return nil
		})
		if err != nil {
			return nil, err
		}
		sum.From = prev.Height + 1
	}
	if err := cl.scanAccount(ctx, src, c, &d, sum.From, m.TipHeight); err != nil {
		return nil, err
	}
	w, err := ws.NewClusterWriter(ctx, c, !sum.Incremental)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	// Every link the state makes is applied (the union-find is rebuilt
	// from them); those the stored run made are in the store already.
	links := 0
	err = d.Links(func(a, b uint32, f heuristics.Forward) error {
		links++
		if _, old := slices.BinarySearch(before, uint64(a)<<32|uint64(b)); old {
			cl.uf.Union(a, b)
			return nil
		}
		l := heuristics.Link{A: cl.addrs[a], B: cl.addrs[b], Heuristic: heuristics.DepositName, Tx: f.Tx}
		cl.guarded(a, b, l, f.Height) // deposit links are kept, and flagged between two large clusters
		cl.uf.Union(a, b)
		return w.Link(store.ClusterLink{A: l.A, B: l.B, Heuristic: l.Heuristic, Tx: l.Tx, IA: a, IB: b, Height: f.Height, Position: f.TxIndex})
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: write %s links: %w", c, err)
	}
	before = nil
	// Assignments: every address's in a full run, the changed ones in an
	// incremental run; the sizes of the clusters they are in.
	uf := &cl.uf
	mins := minIDs(uf)
	dirty := make([]uint64, (uf.Len()+63)/64)
	changed, clusters := 0, int64(0)
	for i, a := range cl.addrs {
		r := uf.Find(uint32(i))
		if r == uint32(i) {
			clusters++
		}
		id := mins[r]
		row := store.ClusterRow{Index: uint32(i), Address: a, Cluster: id}
		if i < len(loaded) {
			if loaded[i] == id {
				continue
			}
			row.Was, row.Moved = loaded[i], true
		}
		dirty[r/64] |= 1 << (r % 64)
		changed++
		if err := w.Row(row); err != nil {
			return nil, fmt.Errorf("cluster: write %s assignments: %w", c, err)
		}
	}
	for r := range uf.Len() {
		if dirty[r/64]&(1<<(r%64)) != 0 {
			if err := w.Size(mins[r], uf.Size(uint32(r))); err != nil {
				return nil, fmt.Errorf("cluster: write %s cluster sizes: %w", c, err)
			}
		}
	}
	n, err := writeDepositState(w, &d)
	if err != nil {
		return nil, fmt.Errorf("cluster: write %s deposit state: %w", c, err)
	}
	js, err := json.Marshal(heuristics.DepositState{Window: d.Window, MinCount: d.MinCount, Format: heuristics.DepositStateFormat,
		Balances: int64(d.Balances()), Pairs: int64(d.Pairs()), Bytes: n})
	if err != nil {
		return nil, err
	}
	meta := store.ClusterMeta{Heuristics: []string{heuristics.DepositName}, Height: m.TipHeight, Hash: m.TipHash,
		Addresses: int64(len(cl.addrs)), Clusters: clusters, Links: map[string]int64{heuristics.DepositName: int64(links)}, State: js}
	if sum.Incremental {
		cl.carry(&prev)
	}
	cl.guardMetaOf(&meta, func(a chains.Address) (uint32, bool) {
		i, ok := cl.ids[a]
		if !ok {
			return 0, false
		}
		return mins[uf.Find(i)], true
	})
	if err := w.Commit(meta); err != nil {
		return nil, err
	}
	sum.Meta, sum.Changed = meta, changed
	return sum, nil
}

// accountStore is what a run over an account chain writes to, and
// reads its last state from.
type accountStore interface {
	NewClusterWriter(ctx context.Context, c chains.Chain, reset bool) (store.ClusterWriter, error)
	ClusterState(ctx context.Context, c chains.Chain, fn func(part []byte) error) error
}

// statePart is the size of the parts a run's state goes to the store in.
const statePart = 256 << 10

// writeDepositState hands the store d's state in parts, returning its
// length.
func writeDepositState(w store.ClusterWriter, d *heuristics.Deposit) (int64, error) {
	pw := &partWriter{w: w, buf: make([]byte, 0, statePart)}
	if err := d.WriteState(pw); err != nil {
		return 0, err
	}
	return pw.n, pw.flush()
}

// partWriter cuts what is written to it into parts of statePart bytes.
type partWriter struct {
	w   store.ClusterWriter
	buf []byte
	n   int64
}

func (p *partWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		k := min(len(b), statePart-len(p.buf))
		p.buf = append(p.buf, b[:k]...)
		b = b[k:]
		if len(p.buf) == statePart {
			if err := p.flush(); err != nil {
				return 0, err
			}
		}
	}
	p.n += int64(n)
	return n, nil
}

func (p *partWriter) flush() error {
	if len(p.buf) == 0 {
		return nil
	}
	err := p.w.State(p.buf)
	p.buf = p.buf[:0]
	return err
}

// readDepositState reads the state of chain c's stored run into d.
func readDepositState(ctx context.Context, st accountStore, c chains.Chain, d *heuristics.Deposit) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := st.ClusterState(ctx, c, func(part []byte) error {
			_, err := pw.Write(part)
			return err
		})
		pw.CloseWithError(err)
		done <- err
	}()
	err := d.ReadState(pr)
	pr.CloseWithError(errStateRead)
	// The store's own failure (not its being stopped) is the error: a
	// damaged state, but also a cancelled run or a lost server.
	if serr := <-done; serr != nil && !errors.Is(serr, errStateRead) {
		var corrupt *store.CorruptError
		if errors.As(serr, &corrupt) {
			return fmt.Errorf("%w: %w", heuristics.ErrDepositState, serr)
		}
		return fmt.Errorf("cluster: read %s deposit state: %w", c, serr)
	}
	return err
}

// errStateRead stops a store's read of a state once it has been read.
var errStateRead = errors.New("state read")

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
