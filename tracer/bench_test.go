package tracer

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/sim"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/store/embedded"
)

// BenchmarkTrace traces every victim payment of simulated chains of three
// sizes for 10 hops (haircut and FIFO, through mixers) from the embedded
// store: the time of one whole trace, the store queries it makes per hop
// (one spender lookup plus the transactions it reads), and how both grow
// with the chain.
func BenchmarkTrace(b *testing.B) {
	for _, scale := range []int{1, 5, 20} {
		b.Run(fmt.Sprintf("scale-%d", scale), func(b *testing.B) {
			dir := b.TempDir()
			w := sim.GenerateBTC(sim.BTCConfig{Seed: 41, Scale: scale, Days: 10})
			if err := sim.WriteBTC(w, dir, sim.WriteOptions{}); err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			st, err := embedded.Open(filepath.Join(dir, "store"), embedded.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			if _, err := bitcoin.Index(ctx, st, bitcoin.IndexConfig{Dir: filepath.Join(dir, sim.BlocksDir)}); err != nil {
				b.Fatal(err)
			}
			labels := map[chains.Address][2]string{}
			net := bitcoin.NetworkByName("regtest")
			for _, l := range w.Labels {
				a, _ := net.ParseAddress(l.Address)
				labels[a] = [2]string{l.Category, l.Label}
			}
			var seeds []Seed
			for _, v := range w.Victims {
				var h chains.Hash
				for i := range h {
					h[i] = v.TxID[31-i]
				}
				seeds = append(seeds, Seed{Outpoint: chains.Outpoint{Hash: h, Index: v.Vout}, Ref: strconv.Itoa(v.ID)})
			}
			counter := &countingSource{Source: st}
			var res *Result
			for b.Loop() {
				counter.spenders, counter.txs = 0, 0
				res, err = Bitcoin(ctx, counter, chains.Bitcoin, seeds, Config{MaxHops: 10, ThroughMixers: true,
					Labels: func(a chains.Address) (string, string, bool) { l, ok := labels[a]; return l[0], l[1], ok }})
				if err != nil {
					b.Fatal(err)
				}
			}
			txs := 0
			for _, blk := range w.Blocks {
				txs += len(blk.Transactions)
			}
			b.ReportMetric(float64(txs), "chain-txs")
			b.ReportMetric(float64(counter.spenders)/float64(max(res.Hops, 1)), "spender-queries/hop")
			b.ReportMetric(float64(counter.txs)/float64(max(res.Hops, 1)), "tx-reads/hop")
			b.ReportMetric(float64(res.Coins), "coins")
		})
	}
}

// countingSource counts the store queries a trace makes.
type countingSource struct {
	Source
	spenders, txs int
}

func (c *countingSource) Tx(ctx context.Context, ch chains.Chain, h chains.Hash) (*chains.Tx, error) {
	c.txs++
	return c.Source.Tx(ctx, ch, h)
}

func (c *countingSource) Spenders(ctx context.Context, ch chains.Chain, ops []chains.Outpoint) ([]store.Spend, []bool, error) {
	c.spenders++
	return c.Source.Spenders(ctx, ch, ops)
}
