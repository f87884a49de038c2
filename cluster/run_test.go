package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/heuristics"
	"github.com/fundtrace/fundtrace/ingest/btc"
	"github.com/fundtrace/fundtrace/ingest/eth"
	"github.com/fundtrace/fundtrace/internal/simtest"
	"github.com/fundtrace/fundtrace/sim"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/store/embedded"
	"github.com/fundtrace/fundtrace/store/storetest"
)

// tempStore is a new embedded store, closed when the test ends.
func tempStore(t *testing.T) *embedded.Store {
	t.Helper()
	st, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func clusterDump(t *testing.T, st *embedded.Store) string {
	t.Helper()
	var b strings.Builder
	ctx := context.Background()
	m, _, err := st.ClusterMeta(ctx, chains.Bitcoin)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "%v %d %d %d %v\n", m.Heuristics, m.Height, m.Addresses, m.Clusters, m.Links)
	err = st.LoadClusters(ctx, chains.Bitcoin, func(r store.ClusterRow) error {
		fmt.Fprintf(&b, "%d %x %d %d\n", r.Index, []byte(r.Address), r.Cluster, r.Size)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestIncremental: clusters extended block batch by block batch end as
// those computed once over the whole chain; a change of heuristics
// recomputes them; explanations come from the stored links.
func TestIncremental(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := sim.WriteBTC(sim.GenerateBTC(sim.BTCConfig{Seed: 13, Days: 4}), dir, sim.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	open := func() *embedded.Store { return tempStore(t) }
	set := []string{heuristics.MultiInput, heuristics.ChangeFresh}
	blocks := filepath.Join(dir, sim.BlocksDir)
	steps := open()
	for _, to := range []int64{120, 150, 170, 300} {
		if _, err := btc.Index(ctx, steps, btc.IndexConfig{Dir: blocks, ToHeight: to}); err != nil {
			t.Fatal(err)
		}
		sum, err := Run(ctx, steps, chains.Bitcoin, set)
		if err != nil {
			t.Fatal(err)
		}
		if (to != 120) != sum.Incremental {
			t.Fatalf("run to %d: incremental %v", to, sum.Incremental)
		}
		storetest.CheckMembers(t, steps, chains.Bitcoin, 0)
	}
	once := open()
	if _, err := btc.Index(ctx, once, btc.IndexConfig{Dir: blocks}); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(ctx, once, chains.Bitcoin, set); err != nil {
		t.Fatal(err)
	}
	a, b := clusterDump(t, steps), clusterDump(t, once)
	if a != b {
		t.Fatal("clusters extended step by step differ from clusters computed once")
	}
	// The same steps again, reading the state file each time, or with a
	// damaged one (a byte changed among the addresses or among the
	// clusters, a file cut short) or none at all at the second step: the
	// same clusters, the damaged or missing file not read but the store
	// (and, an incremental run that read the store having no hashes of
	// the old addresses, no state file after it).
	for _, damage := range []string{"", "flip", "flip-clusters", "cut", "remove"} {
		st := open()
		for _, to := range []int64{120, 150, 170, 300} {
			if _, err := btc.Index(ctx, st, btc.IndexConfig{Dir: blocks, ToHeight: to}); err != nil {
				t.Fatal(err)
			}
			path := st.ClusterStatePath(chains.Bitcoin)
			if to == 150 {
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				switch damage {
				case "flip":
					b[len(b)/2] ^= 1
					os.WriteFile(path, b, 0o644)
				case "flip-clusters": // the last id's cluster
					b[len(b)-6] ^= 1
					os.WriteFile(path, b, 0o644)
				case "cut":
					os.WriteFile(path, b[:len(b)-5], 0o644)
				case "remove":
					os.Remove(path)
				}
			}
			sum, err := Run(ctx, st, chains.Bitcoin, set)
			if err != nil {
				t.Fatal(err)
			}
			if to != 120 && sum.FromState != (damage == "") {
				t.Fatalf("%q: run to %d read the state file: %v", damage, to, sum.FromState)
			}
		}
		if got := clusterDump(t, st); got != b {
			t.Fatalf("%q: clusters extended step by step differ from clusters computed once", damage)
		}
		storetest.CheckMembers(t, st, chains.Bitcoin, 0)
	}
	// The stream export reads (address order) holds the same rows.
	var streamed []string
	err := once.EachClusterRow(ctx, chains.Bitcoin, func(r store.ClusterRow) error {
		streamed = append(streamed, fmt.Sprintf("%d %x %d %d", r.Index, []byte(r.Address), r.Cluster, r.Size))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(streamed)
	loaded := strings.Split(strings.TrimSpace(b), "\n")[1:]
	sort.Strings(loaded)
	if strings.Join(streamed, "\n") != strings.Join(loaded, "\n") || len(loaded) < 100 {
		t.Fatalf("EachClusterRow gives %d rows, LoadClusters %d, or others", len(streamed), len(loaded))
	}
	// Another heuristic set recomputes, and matches a fresh computation.
	sum, err := Run(ctx, steps, chains.Bitcoin, []string{heuristics.MultiInput})
	if err != nil || sum.Incremental || !strings.Contains(sum.Recomputed, "heuristics changed") {
		t.Fatalf("a change of heuristics must recompute, and say so: %+v %v", sum, err)
	}
	if _, err := Run(ctx, once, chains.Bitcoin, []string{heuristics.MultiInput}); err != nil {
		t.Fatal(err)
	}
	if clusterDump(t, steps) != clusterDump(t, once) {
		t.Fatal("recomputed clusters differ")
	}
	agree(t, once, []string{heuristics.MultiInput})
	if _, err := Run(ctx, once, chains.Bitcoin, set); err != nil {
		t.Fatal(err)
	}
	agree(t, once, set)
}

// agree checks that the in-memory clusters (ids given as addresses are
// met, first-seen by a lookup per address) agree with the stored ones
// (the stream run: ids from a pass over the histories), and that
// explanations from the store link members of a cluster.
func agree(t *testing.T, st *embedded.Store, set []string) {
	t.Helper()
	ctx := context.Background()
	cl, err := Bitcoin(ctx, st, chains.Bitcoin, set)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := st.ClusterMeta(ctx, chains.Bitcoin)
	if err != nil || m.Addresses != int64(cl.Addresses()) || m.Clusters != int64(cl.Count()) {
		t.Fatalf("%v: stored %d addresses in %d clusters, computed %d in %d (%v)", set, m.Addresses, m.Clusters, cl.Addresses(), cl.Count(), err)
	}
	checked := 0
	for i, x := range cl.addrs {
		id, size, _ := cl.ID(x)
		sid, ssize, err := st.ClusterOf(ctx, chains.Bitcoin, x)
		if err != nil || sid != id || ssize != size {
			t.Fatalf("%v: address %d: stored cluster %d (size %d), computed %d (%d): %v", set, i, sid, ssize, id, size, err)
		}
		if size > 2 && checked < 20 {
			first := cl.addrs[id]
			path, err := Explain(ctx, st, chains.Bitcoin, first, x)
			if err != nil || (first != x && len(path) == 0) {
				t.Fatalf("no stored explanation between members of cluster %d: %v", id, err)
			}
			for _, l := range path {
				if tx, err := st.Tx(ctx, chains.Bitcoin, l.Tx); err != nil || tx.Height < 0 {
					t.Fatalf("explanation step %v: its transaction: %v", l, err)
				}
			}
			checked++
		}
	}
}

// TestIncrementalEthereum: the deposit heuristic extended run by run ends
// with the clusters of one run over the whole chain.
func TestIncrementalEthereum(t *testing.T) {
	ctx := context.Background()
	_, url := simtest.NewETH(t, sim.ETHConfig{Seed: 22, Days: 2})
	index := func(st *embedded.Store, to int64) {
		cl, err := ethereum.Dial(ctx, url, ethereum.ClientOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if _, err := eth.Index(ctx, st, cl, eth.IndexConfig{Confirmations: 0, To: to}); err != nil {
			t.Fatal(err)
		}
	}
	open := func() *embedded.Store {
		st, err := embedded.Open(t.TempDir(), embedded.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	dump := func(st *embedded.Store) string {
		var b strings.Builder
		m, _, err := st.ClusterMeta(ctx, chains.Ethereum)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%d %d %d %v\n", m.Height, m.Addresses, m.Clusters, m.Links)
		err = st.LoadClusters(ctx, chains.Ethereum, func(r store.ClusterRow) error {
			fmt.Fprintf(&b, "%d %x %d %d\n", r.Index, []byte(r.Address), r.Cluster, r.Size)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	steps := open()
	for i, to := range []int64{150, 300, 480} {
		index(steps, to)
		sum, err := Run(ctx, steps, chains.Ethereum, []string{heuristics.DepositName})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Incremental != (i > 0) {
			t.Fatalf("run to %d: incremental %v", to, sum.Incremental)
		}
		storetest.CheckMembers(t, steps, chains.Ethereum, 0)
	}
	once := open()
	index(once, 480)
	if _, err := Run(ctx, once, chains.Ethereum, []string{heuristics.DepositName}); err != nil {
		t.Fatal(err)
	}
	if a, b := dump(steps), dump(once); a != b {
		t.Fatalf("Ethereum clusters extended run by run differ from one run:\n%.400s\nvs\n%.400s", a, b)
	}
}

// TestReorgRecomputes: clusters computed to a block that a reorganisation
// took off the chain are recomputed, and the run says why.
func TestReorgRecomputes(t *testing.T) {
	ctx := context.Background()
	main, fork := storetest.ForkFolders(t, 300, 295, 12)
	st := tempStore(t)
	set := []string{heuristics.MultiInput}
	if _, err := btc.Index(ctx, st, btc.IndexConfig{Dir: main}); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(ctx, st, chains.Bitcoin, set); err != nil {
		t.Fatal(err)
	}
	if _, err := btc.Index(ctx, st, btc.IndexConfig{Dir: fork}); err != nil {
		t.Fatal(err)
	}
	sum, err := Run(ctx, st, chains.Bitcoin, set)
	if err != nil || sum.Incremental || !strings.Contains(sum.Recomputed, "block 300") || !strings.Contains(sum.Recomputed, "no longer on the chain") {
		t.Fatalf("after a reorganisation: %+v %v", sum, err)
	}
	fresh := tempStore(t)
	if _, err := btc.Index(ctx, fresh, btc.IndexConfig{Dir: fork}); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(ctx, fresh, chains.Bitcoin, set); err != nil {
		t.Fatal(err)
	}
	if clusterDump(t, st) != clusterDump(t, fresh) {
		t.Fatal("clusters recomputed after a reorganisation differ from a fresh run")
	}
}

// TestOlderClustersRecompute: clusters an older version stored, which do
// not list their members by cluster, are recomputed by the next run, and
// it says why.
func TestOlderClustersRecompute(t *testing.T) {
	prev := store.ClusterMeta{Heuristics: []string{heuristics.MultiInput}, Height: 5, Members: false}
	m := store.Meta{TipHeight: 9}
	if got := recompute(&prev, m, prev.Heuristics, 0, prev.Hash); got != noMembers {
		t.Fatalf("clusters without members: %q", got)
	}
	prev.Members = true
	if got := recompute(&prev, m, prev.Heuristics, 0, prev.Hash); got != "" {
		t.Fatalf("clusters with members, nothing changed: %q", got)
	}
}

// TestDepositStateRecomputes: a run whose stored deposit state is an
// older version's (JSON in the record) or damaged recomputes, says why,
// and ends with the clusters of a first run.
func TestDepositStateRecomputes(t *testing.T) {
	ctx := context.Background()
	_, url := simtest.NewETH(t, sim.ETHConfig{Seed: 22, Days: 2})
	st, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cl, err := ethereum.Dial(ctx, url, ethereum.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := eth.Index(ctx, st, cl, eth.IndexConfig{Confirmations: 0, To: 300}); err != nil {
		t.Fatal(err)
	}
	set := []string{heuristics.DepositName}
	first, err := Run(ctx, st, chains.Ethereum, set)
	if err != nil {
		t.Fatal(err)
	}
	dump := func() string {
		var b strings.Builder
		err := st.LoadClusters(ctx, chains.Ethereum, func(r store.ClusterRow) error {
			fmt.Fprintf(&b, "%d %x %d %d\n", r.Index, []byte(r.Address), r.Cluster, r.Size)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	want := dump()
	if first.Meta.Links[heuristics.DepositName] == 0 {
		t.Fatal("no deposit link: nothing to compare")
	}
	for _, tc := range []struct {
		name, why string
		damage    func(m store.ClusterMeta)
	}{
		{"older version", "older version", func(m store.ClusterMeta) {
			// What versions before kept: the whole state in the record.
			m.State = json.RawMessage(`{"window":1000,"min_count":3,"inbox":{},"forwarders":{}}`)
			w, err := st.NewClusterWriter(ctx, chains.Ethereum, false)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if err := w.Commit(m); err != nil {
				t.Fatal(err)
			}
		}},
		{"damaged", "cannot be read", func(m store.ClusterMeta) {
			w, err := st.NewClusterWriter(ctx, chains.Ethereum, false)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if err := w.State([]byte("fundtrace-deposit-state/2\nnot a state")); err != nil {
				t.Fatal(err)
			}
			if err := w.Commit(m); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		m, ok, err := st.ClusterMeta(ctx, chains.Ethereum)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		tc.damage(m)
		sum, err := Run(ctx, st, chains.Ethereum, set)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if sum.Incremental || !strings.Contains(sum.Recomputed, tc.why) {
			t.Fatalf("%s: incremental %v, recomputed %q", tc.name, sum.Incremental, sum.Recomputed)
		}
		if got := dump(); got != want {
			t.Fatalf("%s: the recomputed clusters differ from the first run's", tc.name)
		}
		// and the next run goes on from the state this one stored.
		if sum, err := Run(ctx, st, chains.Ethereum, set); err != nil || !sum.Incremental {
			t.Fatalf("%s: the run after: %+v %v", tc.name, sum, err)
		}
	}
}
