package cluster

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/heuristics"
	"github.com/fundtrace/fundtrace/ingest/btc"
	"github.com/fundtrace/fundtrace/sim"
)

// TestSuperClusterGuard: with a guard small enough to matter on a
// simulated chain, every change link between two clusters over the
// guard's size is held back and every multi-input merge of two is kept
// and flagged; the guarded clusters split none of the unguarded ones'
// owners apart more than they were (they are a refinement of them), and
// are no less precise against the simulator's owners.
func TestSuperClusterGuard(t *testing.T) {
	ctx := context.Background()
	st, dir := simulated(t, sim.BTCConfig{Seed: 14, Days: 10})
	truth := owners(t, dir)
	// Every heuristic, the weak ones too: change-script and change-round
	// link the most wrongly (make eval), the failures the guard is for.
	set := []string{heuristics.MultiInput, heuristics.ChangeFresh, heuristics.ChangeScript, heuristics.ChangeRound, heuristics.ChangeOptimal}
	m, _ := st.Meta(ctx, chains.Bitcoin)
	run := func(guard uint32) *Clusters {
		hs, err := bitcoinHeuristics(ctx, st, chains.Bitcoin, set)
		if err != nil {
			t.Fatal(err)
		}
		cl := newClusters()
		cl.Guard = guard
		if err := cl.scan(ctx, st, chains.Bitcoin, hs, 0, m.TipHeight); err != nil {
			t.Fatal(err)
		}
		return cl
	}
	const guard = 3
	free, guarded := run(0), run(guard)
	if len(free.Suspects)+len(free.Flagged) != 0 {
		t.Fatal("suspects with the guard off")
	}
	if len(guarded.Suspects) == 0 || len(guarded.Flagged) == 0 {
		t.Fatalf("guard %d: %d held back, %d flagged; the test needs both", guard, len(guarded.Suspects), len(guarded.Flagged))
	}
	for _, s := range guarded.Suspects {
		if s.Heuristic == heuristics.MultiInput || s.SizeA <= guard || s.SizeB <= guard {
			t.Fatalf("held back: %+v", s)
		}
	}
	for _, s := range guarded.Flagged {
		if s.Heuristic != heuristics.MultiInput || s.SizeA <= guard || s.SizeB <= guard {
			t.Fatalf("flagged: %+v", s)
		}
	}
	// A refinement: every guarded cluster lies within one free cluster.
	within := map[uint32]uint32{}
	for i, a := range guarded.addrs {
		g := guarded.uf.Find(uint32(i))
		f := free.uf.Find(free.ids[a])
		if prev, ok := within[g]; ok && prev != f {
			t.Fatalf("guarded cluster of %x spans two free clusters", []byte(a))
		}
		within[g] = f
	}
	pf, pg := free.Evaluate(truth), guarded.Evaluate(truth)
	t.Logf("guard %d: %d change links held back, %d multi-input merges flagged; precision %.4f → %.4f, recall %.4f → %.4f, clusters %d → %d",
		guard, len(guarded.Suspects), len(guarded.Flagged), pf.Precision, pg.Precision, pf.Recall, pg.Recall, pf.Clusters, pg.Clusters)
	if pg.Precision < pf.Precision {
		t.Errorf("the guard lowered precision: %.4f < %.4f", pg.Precision, pf.Precision)
	}
}

// TestGuardIncremental: suspects and flagged clusters extended block
// batch by batch are those of one run over the whole chain; another
// guard size recomputes.
func TestGuardIncremental(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := sim.WriteBTC(sim.GenerateBTC(sim.BTCConfig{Seed: 14, Days: 10}), dir, sim.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	blocks := filepath.Join(dir, sim.BlocksDir)
	set := []string{heuristics.MultiInput, heuristics.ChangeFresh, heuristics.ChangeScript, heuristics.ChangeRound, heuristics.ChangeOptimal}
	o := Options{GuardSize: 3}
	steps := tempStore(t)
	for _, to := range []int64{200, 300, 400} {
		if _, err := btc.Index(ctx, steps, btc.IndexConfig{Dir: blocks, ToHeight: to}); err != nil {
			t.Fatal(err)
		}
		if _, err := RunWith(ctx, steps, chains.Bitcoin, set, o); err != nil {
			t.Fatal(err)
		}
	}
	once := tempStore(t)
	if _, err := btc.Index(ctx, once, btc.IndexConfig{Dir: blocks, ToHeight: 400}); err != nil {
		t.Fatal(err)
	}
	if _, err := RunWith(ctx, once, chains.Bitcoin, set, o); err != nil {
		t.Fatal(err)
	}
	a, _, _ := steps.ClusterMeta(ctx, chains.Bitcoin)
	b, _, _ := once.ClusterMeta(ctx, chains.Bitcoin)
	if len(a.Suspects) != len(b.Suspects) || len(a.Flagged) != len(b.Flagged) || len(b.Flagged) == 0 || len(b.Suspects) == 0 ||
		fmtIDs(a.FlaggedClusters) != fmtIDs(b.FlaggedClusters) {
		t.Fatalf("step by step: %d held, %d flagged, clusters %v; at once: %d, %d, %v",
			len(a.Suspects), len(a.Flagged), a.FlaggedClusters, len(b.Suspects), len(b.Flagged), b.FlaggedClusters)
	}
	sum, err := RunWith(ctx, steps, chains.Bitcoin, set, Options{GuardSize: 0})
	if err != nil || sum.Incremental || len(sum.Meta.Suspects) != 0 {
		t.Fatalf("another guard size must recompute: %+v %v", sum, err)
	}
}

func fmtIDs(ids []uint32) string {
	b := make([]byte, 0, len(ids)*4)
	for _, id := range ids {
		b = append(b, byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
	}
	return string(b)
}
