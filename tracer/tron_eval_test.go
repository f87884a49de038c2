package tracer

import (
	"context"
	"math/big"
	"path/filepath"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/tron"
	"github.com/fundtrace/fundtrace/ingest/trx"
	"github.com/fundtrace/fundtrace/internal/csvtest"
	"github.com/fundtrace/fundtrace/internal/simtest"
	"github.com/fundtrace/fundtrace/sim"
	"github.com/fundtrace/fundtrace/store/embedded"
)

// shippedTron is the TRON scenario committed in testdata (seed 1, 2 days,
// 12 victims).
const shippedTron = "../testdata/sim/tron"

// indexTron indexes a simulated TRON scenario into st as a user would:
// served over the java-tron HTTP API, read by the indexer.
func indexTron(t testing.TB, st trx.Sink, dir string) {
	t.Helper()
	url, _ := simtest.ServeTron(t, dir)
	cl, err := tron.Dial(url, tron.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := trx.Index(context.Background(), st, cl, trx.IndexConfig{}); err != nil {
		t.Fatal(err)
	}
}

// tronCase reads the scenario's labels.csv and its victim payments as
// seeds, found in st.
func tronCase(t testing.TB, st AccountSource, dir string) ([]Seed, Labeler) {
	t.Helper()
	known := map[chains.Address][2]string{}
	for _, r := range csvtest.Read(t, filepath.Join(dir, "labels.csv")) {
		a, err := tron.ParseAddress(r["address"])
		if err != nil {
			t.Fatal(err)
		}
		known[a] = [2]string{r["category"], r["label"]}
	}
	labels := func(a chains.Address) (string, string, bool) { l, ok := known[a]; return l[0], l[1], ok }
	var seeds []Seed
	for _, r := range csvtest.Read(t, filepath.Join(dir, sim.TruthDir, "victim_payments.csv")) {
		h, err := chains.ParseHash(r["tx_hash"])
		if err != nil {
			t.Fatal(err)
		}
		to, _ := tron.ParseAddress(r["to"])
		asset := chains.Address("")
		if r["asset"] != sim.AssetTRX {
			asset = tron.USDT
		}
		amt, _ := new(big.Int).SetString(r["amount"], 10)
		tr, err := FindAccountSeed(context.Background(), st, chains.Tron, h, nil, &to, &asset, amt)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, Seed{Transfer: tr, Ref: r["victim_payment_id"]})
	}
	return seeds, labels
}

// TestAccuracyTron traces every victim payment of the shipped TRON
// scenario (USDT and TRX, each followed separately) knowing only the
// chain and labels.csv, and scores the deposits reached against
// truth/exposures.csv: deposit recall and precision at least 0.95, and the
// haircut and FIFO amounts within 1 % of the truth's in all.
func TestAccuracyTron(t *testing.T) {
	ctx := context.Background()
	st, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	indexTron(t, st, shippedTron)
	seeds, labels := tronCase(t, st, shippedTron)
	// The truth drops a share under one base unit, as this trace does.
	minAmount := map[chains.Address]*big.Int{"": big.NewInt(1), tron.USDT: big.NewInt(1)}
	res, err := Account(ctx, st, chains.Tron, seeds, Config{Models: []string{Haircut, FIFO, Poison}, Labels: labels, MinAmount: minAmount})
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ victim, tx, addr string }
	float := func(v *big.Int) float64 { f, _ := new(big.Float).SetInt(v).Float64(); return f }
	truth := map[key][2]float64{}
	for _, r := range csvtest.Read(t, filepath.Join(shippedTron, sim.TruthDir, "exposures.csv")) {
		hc, _ := new(big.Int).SetString(r["haircut"], 10)
		ff, _ := new(big.Int).SetString(r["fifo"], 10)
		truth[key{r["victim_payment_id"], r["tx_hash"], r["deposit_address"]}] = [2]float64{float(hc), float(ff)}
	}
	ours := map[key][2]float64{}
	for _, d := range res.Deposits {
		if d.Seed == Other {
			continue
		}
		ours[key{seeds[d.Seed].Ref, d.Transfer.TxHash.String(), tron.Encode(d.Address)}] = [2]float64{float(d.Amounts.HaircutUnits()), float(d.Amounts.FIFO)}
	}
	var found, right, nOurs int
	var hcErr, ffErr, hcSum, ffSum float64
	for k, v := range truth {
		if o, ok := ours[k]; ok {
			found++
			hcErr += abs(o[0] - v[0])
			ffErr += abs(o[1] - v[1])
		} else {
			t.Logf("missed %+v %v", k, v)
		}
		hcSum += v[0]
		ffSum += v[1]
	}
	for k, v := range ours {
		if v[0] < 1 && v[1] < 1 {
			continue
		}
		nOurs++
		if _, ok := truth[k]; ok {
			right++
		} else {
			t.Logf("extra %+v %v", k, v)
		}
	}
	recall := float64(found) / float64(max(len(truth), 1))
	precision := float64(right) / float64(max(nOurs, 1))
	hcRel, ffRel := hcErr/max(hcSum, 1), ffErr/max(ffSum, 1)
	t.Logf("TRON deposits: recall %.4f (%d of %d), precision %.4f (%d of %d); amount error: haircut %.4f %%, FIFO %.4f %%; %d hops, %d history lookups, %d visits",
		recall, found, len(truth), precision, right, nOurs, 100*hcRel, 100*ffRel, res.Hops, res.Lookups, res.Visited)
	if len(truth) < 50 || recall < 0.95 || precision < 0.95 {
		t.Fatalf("recall %.4f, precision %.4f over %d true deposits: want >= 0.95", recall, precision, len(truth))
	}
	if hcRel > 0.01 || ffRel > 0.01 {
		t.Fatalf("amount error haircut %.4f %%, FIFO %.4f %%: want at most 1 %%", 100*hcRel, 100*ffRel)
	}
}
