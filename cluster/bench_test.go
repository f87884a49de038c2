package cluster

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/heuristics"
	"github.com/fundtrace/fundtrace/ingest/btc"
	"github.com/fundtrace/fundtrace/sim"
	"github.com/fundtrace/fundtrace/store/embedded"
)

// benchScale is the scale of the simulated chain the clustering
// benchmarks read (FUNDTRACE_BENCH_SCALE; default 100, about 300,000
// transactions in 14 days; 330 and 45 days make a million).
func benchScale() (scale, days int) {
	scale, days = 100, 14
	if s, err := strconv.Atoi(os.Getenv("FUNDTRACE_BENCH_SCALE")); err == nil && s > 0 {
		scale = s
	}
	if d, err := strconv.Atoi(os.Getenv("FUNDTRACE_BENCH_DAYS")); err == nil && d > 0 {
		days = d
	}
	return scale, days
}

// benchStores caches the indexed chain across the benchmarks of one run;
// TestMain removes them at the end.
var (
	benchStores = map[string]*embedded.Store{}
	benchBlocks = map[string]string{} // the block files of each
	benchDirs   []string
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, st := range benchStores {
		st.Close()
	}
	for _, d := range benchDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// benchStore indexes the simulated chain the clustering benchmarks read.
func benchStore(b *testing.B) *embedded.Store {
	b.Helper()
	scale, days := benchScale()
	key := fmt.Sprint(scale, days)
	if st, ok := benchStores[key]; ok {
		return st
	}
	dir, err := os.MkdirTemp("", "fundtrace-bench")
	if err != nil {
		b.Fatal(err)
	}
	benchDirs = append(benchDirs, dir)
	if err := sim.WriteBTC(sim.GenerateBTC(sim.BTCConfig{Seed: 31, Scale: scale, Days: days}), dir, sim.WriteOptions{}); err != nil {
		b.Fatal(err)
	}
	st, err := embedded.Open(filepath.Join(dir, "store"), embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	benchStores[key] = st
	benchBlocks[key] = filepath.Join(dir, sim.BlocksDir)
	if _, err := btc.Index(context.Background(), st, btc.IndexConfig{Dir: filepath.Join(dir, sim.BlocksDir)}); err != nil {
		b.Fatal(err)
	}
	return st
}

// BenchmarkCluster is a whole run of fundtrace cluster (multi-input and
// change-fresh, the default) over the chain in the store, end to end:
// the passes over the store, the heuristics, the links and assignments
// written. It reports inputs/s; the peak heap per address while it runs
// (sampled every few milliseconds, less the heap before it started: the
// process's resident peak is measured by make bench-scale); and the bare
// union-find over the same run's multi-input edges, timed after it, as
// bare-inputs/s and the ratio of the two (the goal: 0.25).
func BenchmarkCluster(b *testing.B) {
	st := benchStore(b)
	ctx := context.Background()
	set := []string{heuristics.MultiInput, heuristics.ChangeFresh}
	var addrs int64
	var peakPerAddr float64
	op := 0
	for b.Loop() {
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		peak := before.HeapAlloc
		done := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			var m runtime.MemStats
			for {
				select {
				case <-done:
					return
				case <-time.After(5 * time.Millisecond):
					runtime.ReadMemStats(&m)
					peak = max(peak, m.HeapAlloc)
				}
			}
		}()
		// The guard size alternates between two values no cluster of
		// this chain reaches, so that each op recomputes.
		sum, err := RunWith(ctx, st, chains.Bitcoin, set, Options{GuardSize: DefaultGuardSize + op%2})
		op++
		close(done)
		<-sampled
		if err != nil || sum.Incremental {
			b.Fatalf("%+v %v", sum, err)
		}
		addrs = sum.Meta.Addresses
		peakPerAddr = float64(peak-before.HeapAlloc) / float64(addrs)
	}
	inputs := float64(countInputs(b, st))
	rate := inputs * float64(b.N) / b.Elapsed().Seconds()
	b.StopTimer()
	bare := inputs / bareUnionFind(b, st)
	b.ReportMetric(rate, "inputs/s")
	b.ReportMetric(bare, "bare-inputs/s")
	b.ReportMetric(rate/bare, "ratio")
	b.ReportMetric(peakPerAddr, "B/address")
	b.ReportMetric(float64(addrs), "addresses")
}

// bareUnionFind times, in seconds (best of three), a union-find over the
// multi-input edges of the chain in st with nothing around it.
func bareUnionFind(b *testing.B, st *embedded.Store) float64 {
	cl, err := Bitcoin(context.Background(), st, chains.Bitcoin, []string{heuristics.MultiInput})
	if err != nil {
		b.Fatal(err)
	}
	edges := make([][2]uint32, len(cl.fresh))
	for i, l := range cl.fresh {
		edges[i] = [2]uint32{l.a, l.b}
	}
	n := cl.Addresses()
	best := time.Duration(math.MaxInt64)
	for range 3 {
		start := time.Now()
		u := heuristics.NewUnionFind(n)
		for _, e := range edges {
			u.Union(e[0], e[1])
		}
		best = min(best, time.Since(start))
	}
	return best.Seconds()
}

// BenchmarkBareUnionFind unions the same multi-input edge list with
// nothing around it: no store reads, no heuristics, no evidence kept.
func BenchmarkBareUnionFind(b *testing.B) {
	st := benchStore(b)
	ctx := context.Background()
	cl, err := Bitcoin(ctx, st, chains.Bitcoin, []string{heuristics.MultiInput})
	if err != nil {
		b.Fatal(err)
	}
	edges := make([][2]uint32, len(cl.fresh))
	for i, l := range cl.fresh {
		edges[i] = [2]uint32{l.a, l.b}
	}
	inputs := countInputs(b, st)
	n := cl.Addresses()
	for b.Loop() {
		var u heuristics.UnionFind
		for range n {
			u.Add()
		}
		for _, e := range edges {
			u.Union(e[0], e[1])
		}
	}
	b.ReportMetric(float64(inputs)*float64(b.N)/b.Elapsed().Seconds(), "inputs/s")
	b.ReportMetric(8, "B/address") // parent and size: two uint32
}

func countInputs(b *testing.B, st *embedded.Store) int {
	ctx := context.Background()
	m, _ := st.Meta(ctx, chains.Bitcoin)
	return int(m.Inputs)
}

// BenchmarkClusterIncremental is the clustering issue's incremental
// target: after indexing 1% more blocks, cluster (multi-input and
// change-fresh, the default) should cost at most 5% of a full run. Each
// op indexes 99% of the chain into a new store and clusters it (not
// timed), indexes the rest, and times the incremental run; the full run
// over the same blocks is timed in the same op, and the ratio reported.
func BenchmarkClusterIncremental(b *testing.B) {
	full := benchStore(b)
	blocks := benchBlocks[fmt.Sprint(benchScale())]
	ctx := context.Background()
	m, err := full.Meta(ctx, chains.Bitcoin)
	if err != nil {
		b.Fatal(err)
	}
	cut := m.TipHeight - (m.TipHeight+1)/100
	set := []string{heuristics.MultiInput, heuristics.ChangeFresh}
	var incr, whole time.Duration
	op := 0
	for b.Loop() {
		b.StopTimer()
		dir, err := os.MkdirTemp("", "fundtrace-bench-incr")
		if err != nil {
			b.Fatal(err)
		}
		st, err := embedded.Open(dir, embedded.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := btc.Index(ctx, st, btc.IndexConfig{Dir: blocks, ToHeight: cut}); err != nil {
			b.Fatal(err)
		}
		if _, err := Run(ctx, st, chains.Bitcoin, set); err != nil {
			b.Fatal(err)
		}
		if _, err := btc.Index(ctx, st, btc.IndexConfig{Dir: blocks}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		sum, err := Run(ctx, st, chains.Bitcoin, set)
		if err != nil || !sum.Incremental {
			b.Fatalf("incremental run: %+v %v", sum, err)
		}
		incr += time.Since(start)
		b.StopTimer()
		st.Close()
		os.RemoveAll(dir)
		// A full run over the same blocks: the guard size alternates
		// between two values no cluster of this chain reaches, so that
		// each op recomputes rather than finding the clusters current.
		start = time.Now()
		sum, err = RunWith(ctx, full, chains.Bitcoin, set, Options{GuardSize: DefaultGuardSize + op%2})
		op++
		if err != nil || sum.Incremental {
			b.Fatalf("full run: %+v %v", sum, err)
		}
		whole += time.Since(start)
		b.StartTimer()
	}
	b.ReportMetric(float64(incr.Milliseconds())/float64(b.N), "incremental-ms")
	b.ReportMetric(float64(whole.Milliseconds())/float64(b.N), "full-ms")
	b.ReportMetric(float64(incr)/float64(whole), "ratio")
}
