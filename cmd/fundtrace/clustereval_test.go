package main

import (
	"path/filepath"
	"testing"

	"github.com/fundtrace/fundtrace/internal/csvtest"
	"github.com/fundtrace/fundtrace/internal/simtest"
)

// TestDepositClustersExported measures the deposit heuristic on the
// shipped Ethereum and TRON scenarios through the commands users run:
// index, cluster, then cluster export; the exported clusters are scored
// pairwise against the truth's owners (precision: of the address pairs
// exported together, the share one owner has; recall: of the pairs one
// owner has, the share exported together). make eval prints the figures.
func TestDepositClustersExported(t *testing.T) {
	for _, c := range []struct{ chain, scen string }{{"eth", "../../testdata/sim/eth"}, {"tron", "../../testdata/sim/tron"}} {
		t.Run(c.chain, func(t *testing.T) {
			var index []string
			if c.chain == "eth" {
				url, _ := simtest.ServeETH(t, c.scen)
				index = []string{"index", "eth", "--rpc", url, "--confirmations", "0"}
			} else {
				url, _ := simtest.ServeTron(t, c.scen)
				index = []string{"index", "tron", "--api", url, "--confirmations", "0"}
			}
			st := t.TempDir() + "/store"
			out := filepath.Join(t.TempDir(), "clusters.csv")
			runEach(t, st, index, []string{"cluster"}, []string{"cluster", "export", "--out", out})
			owner := map[string]string{}
			for _, r := range csvtest.Read(t, filepath.Join(c.scen, "truth", "addresses.csv")) {
				owner[r["address"]] = r["entity_id"]
			}
			rows := csvtest.Read(t, out)
			byCluster, byOwner, byBoth := map[string]int{}, map[string]int{}, map[[2]string]int{}
			for _, r := range rows {
				o, ok := owner[r["address"]]
				if !ok {
					continue // the zero address, precompiles: no one's
				}
				byCluster[r["cluster_id"]]++
				byOwner[o]++
				byBoth[[2]string{r["cluster_id"], o}]++
			}
			pairs := func(m map[string]int) (n float64) {
				for _, k := range m {
					n += float64(k) * float64(k-1) / 2
				}
				return n
			}
			var together float64
			for _, k := range byBoth {
				together += float64(k) * float64(k-1) / 2
			}
			precision, recall := together/max(pairs(byCluster), 1), together/max(pairs(byOwner), 1)
			t.Logf("%s deposit clusters from fundtrace cluster export: pairwise precision %.4f, recall %.4f (%d addresses, %d clusters, %d owners)",
				c.chain, precision, recall, len(rows), len(byCluster), len(byOwner))
			if len(rows) < 300 || precision < 0.99 {
				t.Fatalf("%d addresses exported, precision %.4f: want at least 0.99", len(rows), precision)
			}
		})
	}
}
