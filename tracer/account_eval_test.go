package tracer

import (
	"context"
	"math/big"
	"path/filepath"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/ingest/eth"
	"github.com/fundtrace/fundtrace/internal/csvtest"
	"github.com/fundtrace/fundtrace/internal/simtest"
	"github.com/fundtrace/fundtrace/sim"
	"github.com/fundtrace/fundtrace/store/embedded"
)

// indexETH indexes a simulated Ethereum scenario the way a user would:
// served over JSON-RPC, read by the indexer.
func indexETH(t testing.TB, dir string) *embedded.Store {
	t.Helper()
	ctx := context.Background()
	url, _ := simtest.ServeETH(t, dir)
	cl, err := ethereum.Dial(ctx, url, ethereum.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	st, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := eth.Index(ctx, st, cl, eth.IndexConfig{Confirmations: 0}); err != nil {
		t.Fatal(err)
	}
	return st
}

// ethLabels reads a scenario's labels.csv.
func ethLabels(t testing.TB, dir string) (Labeler, chains.Address) {
	labels := map[chains.Address][2]string{}
	var token chains.Address
	for _, r := range csvtest.Read(t, filepath.Join(dir, "labels.csv")) {
		a, err := ethereum.ParseAddress(r["address"])
		if err != nil {
			t.Fatal(err)
		}
		labels[a] = [2]string{r["category"], r["label"]}
		if r["category"] == "token" {
			token = a
		}
	}
	return func(a chains.Address) (string, string, bool) { l, ok := labels[a]; return l[0], l[1], ok }, token
}

// evaluateETH traces the scenario's victim payments (ETH and the token,
// each asset followed separately) knowing only the chain and labels.csv,
// and scores the deposits reached against truth/exposures.csv.
func evaluateETH(t *testing.T, dir string) (accuracy, *Result) {
	ctx := context.Background()
	st := indexETH(t, dir)
	labels, token := ethLabels(t, dir)
	var seeds []Seed
	for _, r := range csvtest.Read(t, filepath.Join(dir, sim.TruthDir, "victim_payments.csv")) {
		h, err := chains.ParseHash(r["tx_hash"])
		if err != nil {
			t.Fatal(err)
		}
		to, _ := ethereum.ParseAddress(r["to"])
		asset := chains.Address("")
		if r["asset"] != "ETH" {
			asset = token
		}
		amt, _ := new(big.Int).SetString(r["amount"], 10)
		tr, err := FindAccountSeed(ctx, st, chains.Ethereum, h, nil, &to, &asset, amt)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, Seed{Transfer: tr, Ref: r["victim_payment_id"]})
	}
	// The truth drops a share under a gwei (a token unit): shares under
	// that are merged into the other-victims remainder, no more.
	minAmount := map[chains.Address]*big.Int{"": big.NewInt(1e9), token: big.NewInt(1)}
	res, err := Account(ctx, st, chains.Ethereum, seeds, Config{Models: []string{Haircut, FIFO, Poison}, Labels: labels, MinAmount: minAmount})
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		victim, tx, addr string
	}
	gwei := big.NewInt(1e9)
	// The truth counts ETH in whole gwei (rounded down at every step),
	// the token in its base units; errors are reported in those units.
	unit := func(asset chains.Address, v *big.Int) float64 {
		if asset == "" {
			v = new(big.Int).Quo(v, gwei)
		}
		f, _ := new(big.Float).SetInt(v).Float64()
		return f
	}
	truth := map[key][2]float64{}
	for _, r := range csvtest.Read(t, filepath.Join(dir, sim.TruthDir, "exposures.csv")) {
		hc, _ := new(big.Int).SetString(r["haircut"], 10)
		ff, _ := new(big.Int).SetString(r["fifo"], 10)
		asset := chains.Address("")
		if r["asset"] != "ETH" {
			asset = token
		}
		truth[key{r["victim_payment_id"], r["tx_hash"], r["deposit_address"]}] = [2]float64{unit(asset, hc), unit(asset, ff)}
	}
	ours := map[key][2]float64{}
	for _, d := range res.Deposits {
		if d.Seed == Other {
			continue // no victim's alone
		}
		k := key{seeds[d.Seed].Ref, "0x" + d.Transfer.TxHash.String(), ethereum.FormatAddress(d.Address)}
		ours[k] = [2]float64{unit(d.Transfer.Asset, d.Amounts.HaircutUnits()), unit(d.Transfer.Asset, d.Amounts.FIFO)}
	}
	var acc accuracy
	for k, v := range truth {
		acc.truth++
		if o, ok := ours[k]; ok {
			acc.found++
			acc.haircutErr += abs(o[0] - v[0])
			acc.fifoErr += abs(o[1] - v[1])
		} else {
			t.Logf("missed %+v %v", k, v)
		}
	}
	if acc.found > 0 {
		acc.haircutErr /= float64(acc.found)
		acc.fifoErr /= float64(acc.found)
	}
	for k, v := range ours {
		if v[0] < 1 && v[1] < 1 {
			continue // under a unit: the truth drops it
		}
		acc.ours++
		if _, ok := truth[k]; ok {
			acc.right++
		} else {
			t.Logf("extra %+v %v", k, v)
		}
	}
	return acc, res
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// TestAccuracyETH: on the committed Ethereum scenario the trace must find
// at least 95 % of the deposits the truth lists, with both models' amounts
// within a few units of the truth's (which rounds down at every step).
func TestAccuracyETH(t *testing.T) {
	acc, res := evaluateETH(t, "../testdata/sim/eth")
	recall := float64(acc.found) / float64(max(acc.truth, 1))
	precision := float64(acc.right) / float64(max(acc.ours, 1))
	t.Logf("deposits: recall %.4f (%d of %d), precision %.4f (%d of %d); mean amount error: haircut %.2f, FIFO %.2f (gwei or token units); %d hops, %d history lookups, %d visits",
		recall, acc.found, acc.truth, precision, acc.right, acc.ours, acc.haircutErr, acc.fifoErr, res.Hops, res.Lookups, res.Visited)
	if acc.truth == 0 || recall < 0.95 || precision < 0.95 {
		t.Fatalf("recall %.4f, precision %.4f: want >= 0.95", recall, precision)
	}
	if acc.fifoErr > 1 || acc.haircutErr > 100 {
		t.Fatalf("mean amount error haircut %.2f, FIFO %.2f units", acc.haircutErr, acc.fifoErr)
	}
	if res.Lookups > res.Hops {
		t.Fatalf("%d history lookups over %d hops: want at most one a hop", res.Lookups, res.Hops)
	}
}
