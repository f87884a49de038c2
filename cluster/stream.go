package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"slices"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/heuristics"
	"github.com/fundtrace/fundtrace/internal/hugepage"
	"github.com/fundtrace/fundtrace/store"
)

// Clustering a UTXO chain at scale. A run holds, per address, an entry
// of the address index (16 bytes: see addrIndex), the union-find's parent
// and size (8) and, at the end, its cluster's id (4); nothing else grows
// with the chain. It reads the store in sequential passes:
//
//  1. every address once, with where it was first paid (EachAddress):
//     the ids, dense and in first-paid order, so that "paid before
//     height h" (the change-fresh heuristic) is "id below the count of
//     addresses paid before h", one array of a count per block;
//  2. every transaction in chain order (EachTx), linking as it goes and
//     handing each link to the store as it is found;
//  3. every address again, writing its assignment.
//
// An incremental run reads the stored assignments instead of pass 1
// (the ids are the stored indexes) and only the new blocks in pass 2,
// and writes only the assignments that changed.

// StreamStore is a store clustering can read in passes and write as a
// stream.
type StreamStore interface {
	Store
	// EachAddress calls fn for every address the chain paid, once, with
	// where it was first paid.
	EachAddress(ctx context.Context, c chains.Chain, fn func(a chains.Address, first store.FirstPaid) error) error
	// EachAssignment calls fn for every stored assignment.
	EachAssignment(ctx context.Context, c chains.Chain, fn func(a chains.Address, index, cluster uint32) error) error
	// EachTx calls fn for every transaction of blocks from..to, in
	// chain order, as one pass. Each tx is fn's to keep: the run
	// gathers a few before linking them.
	EachTx(ctx context.Context, c chains.Chain, from, to int64, fn func(tx *chains.Tx) error) error
	NewClusterWriter(ctx context.Context, c chains.Chain, reset bool) (store.ClusterWriter, error)
}

// IndexedStore is a stream store that keeps each address's cluster
// under the address's index: an incremental run loads the clusters
// without a single address, looks up only the addresses the new blocks
// name, and rewrites a changed cluster by index (Row without Address).
type IndexedStore interface {
	StreamStore
	EachCluster(ctx context.Context, c chains.Chain, fn func(index, cluster uint32) error) error
	AddressIndex(ctx context.Context, c chains.Chain, a chains.Address) (index uint32, ok bool, err error)
	// AddressIndexes is AddressIndex for many addresses at once.
	AddressIndexes(ctx context.Context, c chains.Chain, as []chains.Address) (index []uint32, found []bool, err error)
}

// prefetchTxs is how many transactions an incremental run over an
// IndexedStore gathers before it looks up the addresses they name, all
// at once and in key order.
const prefetchTxs = 4096

// maxSeeds bounds the hash seeds tried before giving up on an address
// index without collisions (see addrIndex).
const maxSeeds = 4

// firstKey packs where an address was first paid into one integer that
// sorts as (height, position, vout); positions and output indexes past
// the fields' widths compare equal, and the hash breaks the tie.
func firstKey(f store.FirstPaid) (uint64, error) {
	if f.Height < 0 || f.Height >= 1<<28 {
		return 0, fmt.Errorf("first payment at height %d: out of range", f.Height)
	}
	return uint64(f.Height)<<36 | uint64(min(f.Position, 1<<20-1))<<16 | uint64(min(f.Vout, 1<<16-1)), nil
}

// streamRun is one run of the stream clustering.
type streamRun struct {
	st  StreamStore
	c   chains.Chain
	cl  *Clusters // the guard, the counts and the union-find
	idx *addrIndex
	n   uint32   // ids the index holds (0..n-1); extra ids follow
	wm  []uint32 // full runs: wm[h] is how many addresses were first paid below height h
	old []uint32 // incremental runs: each indexed address's stored cluster
	w   store.ClusterWriter
	// byIndex: an incremental run over an IndexedStore, whose index
	// holds no entries; addresses not in extra are looked up in the
	// store (known caches them).
	byIndex IndexedStore
	// complete: the index holds every address the store has (read from
	// the state file): one it lacks is new, never looked up in the store.
	complete bool
	known    map[chains.Address]uint32
	absent   map[chains.Address]bool // looked up, not in the store
	ctx      context.Context
	err      error // a failed store lookup, reported after the pass
}

// runStream clusters UTXO chain c of st: the stream form of RunWith.
//
// prev is the stored run's record, which s.Incremental says to extend.
func runStream(ctx context.Context, st StreamStore, c chains.Chain, m store.Meta, hs *heuristics.Bitcoin, set []string, o Options, prev *store.ClusterMeta, s *Summary) error {
	// The arrays hold no pointers, and the garbage a pass makes (a
	// transaction at a time) is small: collect it early rather than let
	// the heap grow to twice the arrays.
	defer debug.SetGCPercent(debug.SetGCPercent(20))
	r := &streamRun{st: st, c: c, cl: newClusters(), ctx: ctx}
	r.cl.Guard = uint32(o.GuardSize)
	r.cl.progress = o.progress
	if !s.Incremental {
		prev = nil
	} else {
		var ok bool
		var err error
		// The addresses the new blocks pay for the first time get ids as
		// the run meets them: room for them at once.
		more := 0
		if d := m.Addresses - prev.Addresses; d > 0 && d < math.MaxUint32 {
			more = int(d)
		}
		if ss, isState := st.(StateStore); isState && r.loadState(ss, prev, more) {
			ok, s.FromState = true, true
		} else if is, isIndexed := st.(IndexedStore); isIndexed {
			ok, err = r.loadByIndex(ctx, is, prev, more)
		} else {
			ok, err = r.load(ctx, prev)
		}
		if err != nil {
			return err
		}
		if !ok {
			s.Incremental = false
			s.Recomputed = fmt.Sprintf("the stored assignments are not the %d addresses the clusters' record counts (clusters an older version stored?)", prev.Addresses)
			s.From = 0
			prev = nil
		}
	}
	if !s.Incremental {
		if err := r.index(ctx, m.TipHeight, m.Addresses); err != nil {
			return err
		}
	}
	hs.Seen = r.seen
	w, err := st.NewClusterWriter(ctx, c, !s.Incremental)
	if err != nil {
		return err
	}
	defer w.Close()
	r.w = w
	if prev != nil {
		for k, v := range prev.Links {
			r.cl.Links[k] = int(v)
		}
	}
	if err := r.scan(ctx, hs, s.From, m.TipHeight, s.Incremental); err != nil {
		return err
	}
	if r.err != nil {
		return r.err
	}
	changed, clusters, clusterOf, err := r.write(ctx, s.Incremental)
	if err != nil {
		return err
	}
	meta := store.ClusterMeta{Heuristics: set, Height: m.TipHeight, Hash: m.TipHash, Addresses: int64(r.idx.next),
		Clusters: clusters, Links: map[string]int64{}}
	for k, v := range r.cl.Links {
		meta.Links[k] = int64(v)
	}
	if ss, ok := st.(StateStore); ok {
		of := clusterOf
		if s.Incremental && r.complete {
			// write brought the loaded clusters up to date.
			of = func(id uint32) uint32 {
				if int(id) < len(r.old) {
					return r.old[id]
				}
				return clusterOf(id)
			}
		}
		// An incremental run writes the state file while the store's
		// writer applies its moves, on the other core: at 8.3 M
		// addresses the file took 0.4 s of a run of 2.7 s, the moves
		// 0.4. (A full run's writer ingests its tables then, for
		// seconds, and would hold their buffers beside the file's.)
		var (
			name     string
			ok       bool
			stateErr error
			done     = make(chan struct{})
		)
		go func() {
			defer close(done)
			name, ok, stateErr = r.writeState(ss.ClusterStatePath(c), of)
		}()
		var flushErr error
		if f, isFlusher := w.(flusher); isFlusher && s.Incremental {
			flushErr = f.Flush()
		}
		<-done
		if err := errors.Join(flushErr, stateErr); err != nil {
			return err
		}
		if ok {
			meta.Snapshot = name
		}
	}
	if prev != nil {
		r.cl.carry(prev)
	}
	r.cl.guardMetaOf(&meta, func(a chains.Address) (uint32, bool) {
		id, ok := r.lookup(a)
		if !ok {
			return 0, false
		}
		return clusterOf(id), true
	})
	if err := w.Commit(meta); err != nil {
		return err
	}
	s.Meta, s.Changed = meta, changed
	return nil
}

// flusher is a cluster writer that can do its work but the record's
// before Commit (the embedded store's).
type flusher interface {
	Flush() error
}

// index builds the address index from every address's first payment
// (pass 1), ids in first-paid order.
func (r *streamRun) index(ctx context.Context, tip, want int64) error {
	for seed := uint64(0); seed < maxSeeds; seed++ {
		x := newAddrIndex(seed)
		// The store counts its addresses: an array of that size, where
		// append would hold the old array and one a quarter larger at
		// once. Should the count be short, append still works.
		pairs := hugepage.Make[hashID](0, int(max(want, 0)))
		err := r.st.EachAddress(ctx, r.c, func(a chains.Address, f store.FirstPaid) error {
			k, err := firstKey(f)
			if err != nil {
				return fmt.Errorf("address %s: %w", a, err)
			}
			pairs = append(pairs, hashID{h: x.hash(a), id: k})
			if r.cl.progress != nil && len(pairs)%progressEvery == 0 {
				r.cl.progress("addresses", int64(len(pairs)), want)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("cluster: read %s addresses: %w", r.c, err)
		}
		n := len(pairs)
		if n >= math.MaxUint32 {
			return fmt.Errorf("cluster: %d addresses: more than ids of 32 bits can number", n)
		}
		// Ids in first-paid order; several addresses of one output in
		// hash order.
		sortHashIDs(pairs, true)
		r.wm = make([]uint32, tip+2)
		j := 0
		for h := range r.wm {
			for j < n && int64(pairs[j].id>>36) < int64(h) {
				j++
			}
			r.wm[h] = uint32(j)
		}
		// The pairs become the index in place: the id replaces the key.
		for i := range pairs {
			pairs[i].id = uint64(i)
		}
		x.ent = pairs
		if !x.seal() {
			continue // two addresses of one hash: another seed
		}
		x.next = uint32(n)
		r.idx, r.n = x, uint32(n)
		r.cl.uf = heuristics.NewUnionFind(n)
		return nil
	}
	return fmt.Errorf("cluster: the hashes of %s addresses collide under %d seeds", r.c, maxSeeds)
}

// load builds the address index and the union-find from the stored
// assignments of the run being extended; ok is false when they are not
// what its record says (recompute).
func (r *streamRun) load(ctx context.Context, prev *store.ClusterMeta) (ok bool, err error) {
	n := prev.Addresses
	if n < 0 || n >= math.MaxUint32 {
		return false, nil
	}
	errMismatch := errors.New("mismatch")
	for seed := uint64(0); seed < maxSeeds; seed++ {
		x := newAddrIndex(seed)
		x.ent = make([]hashID, 0, n)
		r.old = make([]uint32, n)
		r.cl.uf = heuristics.NewUnionFind(int(n))
		err := r.st.EachAssignment(ctx, r.c, func(a chains.Address, index, cluster uint32) error {
			if int64(index) >= n || int64(cluster) >= n || len(x.ent) == int(n) {
				return errMismatch
			}
			x.ent = append(x.ent, hashID{h: x.hash(a), id: uint64(index)})
			r.old[index] = cluster
			r.cl.uf.Union(index, cluster)
			return nil
		})
		if errors.Is(err, errMismatch) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("cluster: read %s assignments: %w", r.c, err)
		}
		if len(x.ent) != int(n) {
			return false, nil
		}
		if !x.seal() {
			continue
		}
		x.next = uint32(n)
		r.idx, r.n = x, uint32(n)
		return true, nil
	}
	return false, fmt.Errorf("cluster: the hashes of %s addresses collide under %d seeds", r.c, maxSeeds)
}

// loadByIndex is load from an IndexedStore: the clusters by index, no
// address.
func (r *streamRun) loadByIndex(ctx context.Context, st IndexedStore, prev *store.ClusterMeta, more int) (ok bool, err error) {
	n := prev.Addresses
	if n < 0 || n >= math.MaxUint32 {
		return false, nil
	}
	r.old = make([]uint32, n)
	count := int64(0)
	errMismatch := errors.New("mismatch")
	err = st.EachCluster(ctx, r.c, func(index, cluster uint32) error {
		if int64(index) >= n || int64(cluster) >= n {
			return errMismatch
		}
		count++
		r.old[index] = cluster
		return nil
	})
	if errors.Is(err, errMismatch) || (err == nil && count != n) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cluster: read %s clusters: %w", r.c, err)
	}
	if r.cl.uf, ok = storedForest(r.old, more); !ok {
		return false, nil
	}
	r.idx = newAddrIndex(0)
	r.idx.seal()
	r.idx.next = uint32(n)
	r.n = uint32(n)
	r.byIndex, r.known, r.absent = st, map[chains.Address]uint32{}, map[chains.Address]bool{}
	return true, nil
}

// loadState loads an incremental run from the state file the stored
// run's record names (see state.go); false when there is none to use.
//
// The union-find's arrays have room for more ids.
func (r *streamRun) loadState(st StateStore, prev *store.ClusterMeta, more int) bool {
	if prev.Snapshot == "" || prev.Addresses <= 0 || prev.Addresses >= math.MaxUint32 {
		return false
	}
	x, clusters, ok := readState(st.ClusterStatePath(r.c), prev.Snapshot, prev.Addresses)
	if !ok {
		return false
	}
	uf, ok := storedForest(clusters, more)
	if !ok {
		return false
	}
	r.idx, r.n, r.old, r.cl.uf = x, uint32(prev.Addresses), clusters, uf
	r.byIndex, r.complete = st, true
	return true
}

// storedForest makes the union-find of the stored clusters, with room
// for more ids: a cluster's id is one of its members, its own cluster,
// so the stored clusters are a forest one level deep as they stand. The
// arrays are new; clusters stays as it is.
func storedForest(clusters []uint32, more int) (heuristics.UnionFind, bool) {
	parent := hugepage.Make[uint32](len(clusters), len(clusters)+more)
	copy(parent, clusters)
	return heuristics.FromRoots(parent)
}

// lookup returns a's id: from the index, or from the store in an
// incremental run over an IndexedStore.
func (r *streamRun) lookup(a chains.Address) (uint32, bool) {
	if id, ok := r.idx.lookup(a); ok || r.byIndex == nil || r.complete {
		return id, ok
	}
	if id, ok := r.known[a]; ok {
		return id, true
	}
	if r.absent[a] {
		return 0, false
	}
	id, ok, err := r.byIndex.AddressIndex(r.ctx, r.c, a)
	if err != nil {
		if r.err == nil {
			r.err = fmt.Errorf("cluster: look up %s: %w", a, err)
		}
		return 0, false
	}
	if ok {
		r.known[a] = id
	}
	return id, ok
}

// prefetch looks up, all at once, those of the addresses addrs that the
// run does not know yet, and keeps those the store has.
func (r *streamRun) prefetch(addrs []chains.Address) error {
	var as []chains.Address
	for _, a := range addrs {
		if _, ok := r.known[a]; ok {
			continue
		}
		if _, ok := r.idx.lookup(a); !ok {
			as = append(as, a)
		}
	}
	slices.Sort(as)
	as = slices.Compact(as)
	index, found, err := r.byIndex.AddressIndexes(r.ctx, r.c, as)
	if err != nil {
		return fmt.Errorf("cluster: look up %s addresses: %w", r.c, err)
	}
	for i, a := range as {
		if found[i] {
			r.known[a] = index[i]
		} else {
			r.absent[a] = true
		}
	}
	return nil
}

// seen is the change-fresh heuristic's question: was a paid below height
// before?
func (r *streamRun) seen(a chains.Address, before int64) bool {
	id, ok := r.lookup(a)
	switch {
	case !ok:
		return false
	case id >= r.n:
		h, ok := r.idx.extraAt[a]
		return ok && h < before
	case r.wm == nil:
		return true // an incremental run: every indexed address was paid below the new blocks
	case before < 0:
		return false
	case before >= int64(len(r.wm)):
		return true
	}
	return id < r.wm[before]
}

// id returns a's id, giving it the next one if it has none.
func (r *streamRun) id(a chains.Address, height int64) uint32 {
	if id, ok := r.lookup(a); ok {
		return id
	}
	r.cl.uf.Add()
	return r.idx.add(a, height)
}

// scan applies hs to the transactions of blocks from..to (pass 2),
// writing each link as it is found. An incremental run first gives the
// addresses its transactions pay for the first time their ids, in
// first-paid order.
func (r *streamRun) scan(ctx context.Context, hs *heuristics.Bitcoin, from, to int64, incremental bool) (err error) {
	cl := r.cl
	var misses []chains.Address
	each := func(tx *chains.Tx) error {
		cl.Txs++
		if cl.progress != nil && cl.Txs%progressEvery == 0 {
			cl.progress("transactions", tx.Height, to)
		}
		if incremental {
			for i := range tx.Outputs {
				misses = misses[:0]
				for _, a := range tx.Outputs[i].Addresses {
					if _, ok := r.lookup(a); !ok && !slices.Contains(misses, a) {
						misses = append(misses, a)
					}
				}
				if len(misses) > 1 {
					slices.SortFunc(misses, func(a, b chains.Address) int { return cmp.Compare(r.idx.hash(a), r.idx.hash(b)) })
				}
				for _, a := range misses {
					r.id(a, tx.Height)
				}
			}
		}
		if heuristics.IsCoinJoin(tx) {
			cl.CoinJoins++
		}
		for _, l := range hs.Links(tx) {
			a, b := r.id(l.A, tx.Height), r.id(l.B, tx.Height)
			if !cl.guarded(a, b, l, tx.Height) {
				continue
			}
			cl.uf.Union(a, b)
			cl.Links[l.Heuristic]++
			err := r.w.Link(store.ClusterLink{A: l.A, B: l.B, Heuristic: l.Heuristic, Tx: l.Tx, IA: a, IB: b, Height: tx.Height, Position: tx.Position})
			if err != nil {
				return fmt.Errorf("cluster: write a link of %s: %w", l.Tx, err)
			}
		}
		return nil
	}
	// Transactions are linked a group at a time, once the lookups of the
	// addresses they name are made ready at once: looked up in the store
	// (prefetch) by an incremental run whose index holds no entries, or
	// else the index's lines asked for (idBatch.warm), so that each
	// lookup finds them cached.
	var (
		group []*chains.Tx
		b     idBatch
	)
	fromStore := r.byIndex != nil && !r.complete
	flush := func() error {
		if fromStore {
			if err := r.prefetch(b.addrs); err != nil {
				return err
			}
		} else {
			b.warm(r.idx)
		}
		clear(b.addrs)
		b.addrs = b.addrs[:0]
		for _, tx := range group {
			if err := each(tx); err != nil {
				return err
			}
		}
		clear(group)
		group = group[:0]
		return nil
	}
	err = r.st.EachTx(ctx, r.c, from, to, func(tx *chains.Tx) error {
		group = append(group, tx)
		for i := range tx.Inputs {
			b.addrs = append(b.addrs, tx.Inputs[i].Prevout.Addresses...)
		}
		for i := range tx.Outputs {
			b.addrs = append(b.addrs, tx.Outputs[i].Addresses...)
		}
		if fromStore && len(group) == prefetchTxs || !fromStore && len(b.addrs) >= idBatchSize {
			return flush()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cluster: read %s transactions: %w", r.c, err)
	}
	return flush()
}

// minIDs returns, for every root of the union-find, the smallest id in
// its set, the cluster's id: the id of its first-paid address, which
// does not depend on the order of the unions and stays as the cluster
// grows. Other ids' entries are unused.
func (r *streamRun) minIDs() []uint32 { return minIDs(&r.cl.uf) }

// minIDs is streamRun.minIDs of any union-find.
func minIDs(uf *heuristics.UnionFind) []uint32 {
	mins := make([]uint32, uf.Len())
	for i := range mins {
		mins[i] = math.MaxUint32
	}
	for i := range mins {
		if root := uf.Find(uint32(i)); mins[root] == math.MaxUint32 {
			mins[root] = uint32(i)
		}
	}
	return mins
}

// setLabels labels an incremental run's sets with their smallest ids
// without an array over every id (4 bytes an address, and a Find for
// each): most sets are stored clusters as they were, a forest one level
// deep under their smallest id, and only a set whose root is not its
// smallest id has an entry.
type setLabels struct {
	uf  *heuristics.UnionFind
	m   map[uint32]uint32 // root → label, where they differ
	has []uint64          // the roots m has, one bit per id
}

// newSetLabels labels the sets of uf, whose ids below len(old) are the
// stored ones in clusters old. A set's smallest id is a stored cluster's
// (its own entry in old) or a new id: visited in increasing order, the
// first of a set met is its label, and the root needs an entry when it
// comes later.
func newSetLabels(uf *heuristics.UnionFind, old []uint32) *setLabels {
	l := &setLabels{uf: uf, m: map[uint32]uint32{}, has: make([]uint64, (uf.Len()+63)/64)}
	visit := func(x uint32) {
		if root := uf.Find(x); root > x && l.has[root/64]&(1<<(root%64)) == 0 {
			l.m[root] = x
			l.has[root/64] |= 1 << (root % 64)
		}
	}
	for i, c := range old {
		if c == uint32(i) {
			visit(c)
		}
	}
	for x := len(old); x < uf.Len(); x++ {
		visit(uint32(x))
	}
	return l
}

// ofRoot is the label of the set whose root is root.
func (l *setLabels) ofRoot(root uint32) uint32 {
	if l.has[root/64]&(1<<(root%64)) != 0 {
		return l.m[root]
	}
	return root
}

// of is the label of id's set.
func (l *setLabels) of(id uint32) uint32 { return l.ofRoot(l.uf.Find(id)) }

// write hands the store the assignments (pass 3): every address's in a
// full run, in an incremental one those that changed; and the sizes of
// their clusters. It returns the assignments written, the number of
// clusters and the cluster of an id.
//
// A full run labels the union-find's sets with their smallest ids in
// place (the sizes are written as the labels are made, in the order of
// the clusters' ids); an incremental run, which writes only the sizes
// of clusters that changed and learns which only from the assignments,
// keeps the labels in an array of their own.
func (r *streamRun) write(ctx context.Context, incremental bool) (changed int, clusters int64, clusterOf func(uint32) uint32, err error) {
	uf := &r.cl.uf
	var dirty []uint64  // incremental: clusters whose size is to be written, one bit per id
	var labels []uint32 // labelled in place: an id's label is its entry (LabelOf)
	labelOfRoot := func(root uint32) uint32 { return clusterOf(root) }
	switch {
	case incremental && r.byIndex != nil:
		l := newSetLabels(uf, r.old)
		clusterOf, labelOfRoot = l.of, l.ofRoot
		dirty = make([]uint64, (uf.Len()+63)/64)
	case incremental || uf.Len() >= heuristics.MaxLabelled:
		mins := r.minIDs()
		clusterOf = func(id uint32) uint32 { return mins[uf.Find(id)] }
		if incremental {
			dirty = make([]uint64, (uf.Len()+63)/64)
		}
	default:
		err := uf.Label(func(label, size uint32) error {
			clusters++
			return r.w.Size(label, size)
		})
		if err != nil {
			return 0, 0, nil, fmt.Errorf("cluster: write %s cluster sizes: %w", r.c, err)
		}
		clusterOf, labels = uf.LabelOf, uf.Parents()
	}
	// row writes id's assignment to cluster c; moved, from cluster was.
	row := func(a chains.Address, id, c, was uint32, moved bool) error {
		if dirty != nil {
			dirty[c/64] |= 1 << (c % 64)
		}
		changed++
		if r.cl.progress != nil && changed%progressEvery == 0 {
			r.cl.progress("assignments", int64(changed), int64(r.n))
		}
		return r.w.Row(store.ClusterRow{Index: id, Address: a, Cluster: c, Was: was, Moved: moved})
	}
	switch {
	case incremental && r.byIndex != nil:
		for i, old := range r.old {
			// A stored cluster's id is its smallest member, met before
			// the others: its entry holds the cluster's label by now.
			c := r.old[old]
			if old == uint32(i) {
				c = clusterOf(old)
			}
			if c != old {
				r.old[i] = c // the state file writes it as it now is
				if err = row("", uint32(i), c, old, true); err != nil {
					break
				}
			}
		}
	case incremental:
		err = r.st.EachAssignment(ctx, r.c, func(a chains.Address, index, cluster uint32) error {
			if int(index) >= len(r.old) {
				return nil
			}
			c := clusterOf(index)
			if c == cluster {
				return nil
			}
			return row(a, index, c, cluster, true)
		})
	default:
		// Every address again, as the first pass met them: their ids
		// looked up a batch at a time (idBatch), and with them the
		// lines of the labels clusterOf reads (after Label, an id's
		// label is its parent).
		var b idBatch
		flush := func() error {
			b.resolve(r.idx, labels)
			for i, a := range b.addrs {
				id := b.ids[i]
				if id >= r.n {
					return fmt.Errorf("address %s was not there in the first pass (was the store written to while clustering?)", a)
				}
				if err := row(a, id, clusterOf(id), 0, false); err != nil {
					return err
				}
			}
			clear(b.addrs)
			b.addrs = b.addrs[:0]
			return nil
		}
		err = r.st.EachAddress(ctx, r.c, func(a chains.Address, _ store.FirstPaid) error {
			if b.addrs = append(b.addrs, a); len(b.addrs) < idBatchSize {
				return nil
			}
			return flush()
		})
		if err == nil {
			err = flush()
		}
	}
	if err != nil {
		return 0, 0, nil, fmt.Errorf("cluster: write %s assignments: %w", r.c, err)
	}
	// The addresses given ids past the index, in id order; sorted with
	// their ids beside them, not by looking each up in the map at every
	// comparison (0.5 s of an incremental run that met 275,000 new
	// addresses).
	type idAddr struct {
		id uint32
		a  chains.Address
	}
	extra := make([]idAddr, 0, len(r.idx.extra))
	for a, id := range r.idx.extra {
		extra = append(extra, idAddr{id, a})
	}
	slices.SortFunc(extra, func(a, b idAddr) int { return cmp.Compare(a.id, b.id) })
	for _, e := range extra {
		if err := row(e.a, e.id, clusterOf(e.id), 0, false); err != nil {
			return 0, 0, nil, err
		}
	}
	if clusters > 0 || uf.Len() == 0 {
		return changed, clusters, clusterOf, nil // labelled: sizes written
	}
	for i := range uf.Len() {
		id := uint32(i)
		if !uf.IsRoot(id) {
			continue
		}
		clusters++
		c := labelOfRoot(id)
		if dirty != nil && dirty[c/64]&(1<<(c%64)) == 0 {
			continue
		}
		if err := r.w.Size(c, uf.Size(id)); err != nil {
			return 0, 0, nil, fmt.Errorf("cluster: write %s cluster sizes: %w", r.c, err)
		}
	}
	return changed, clusters, clusterOf, nil
}

// progressEvery is how many addresses or transactions a pass handles
// between two progress reports.
const progressEvery = 1 << 16
