package cluster

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/heuristics"
	"github.com/fundtrace/fundtrace/sim"
	"github.com/fundtrace/fundtrace/store/embedded"
)

// benchStore indexes the simulated chain the clustering benchmarks read:
// scale 10, 10 days.
func benchStore(b *testing.B) *embedded.Store {
	b.Helper()
	dir := b.TempDir()
	if err := sim.WriteBTC(sim.GenerateBTC(sim.BTCConfig{Seed: 31, Scale: 10, Days: 10}), dir, sim.WriteOptions{}); err != nil {
		b.Fatal(err)
	}
	st, err := embedded.Open(b.TempDir(), embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if _, err := bitcoin.Index(context.Background(), st, bitcoin.IndexConfig{Dir: filepath.Join(dir, sim.BlocksDir)}); err != nil {
		b.Fatal(err)
	}
	return st
}

// BenchmarkCluster is the whole multi-input clustering of the chain from
// the store: inputs/s, and the heap it holds per address afterwards.
func BenchmarkCluster(b *testing.B) {
	st := benchStore(b)
	ctx := context.Background()
	var inputs, addrs int
	var perAddr float64
	for b.Loop() {
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		cl, err := Bitcoin(ctx, st, chains.Bitcoin, []string{heuristics.MultiInput})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		var after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&after)
		addrs = cl.Addresses()
		perAddr = float64(after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc)) / float64(addrs)
		inputs = countInputs(b, st)
		runtime.KeepAlive(cl)
		b.StartTimer()
	}
	b.ReportMetric(float64(inputs)*float64(b.N)/b.Elapsed().Seconds(), "inputs/s")
	b.ReportMetric(perAddr, "B/address")
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
	var edges [][2]uint32
	for a, es := range cl.adj {
		for _, e := range es {
			if uint32(a) < e.to {
				edges = append(edges, [2]uint32{uint32(a), e.to})
			}
		}
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
