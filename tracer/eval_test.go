package tracer

import (
	"context"
	"math"
	"math/big"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/ingest/btc"
	"github.com/fundtrace/fundtrace/internal/csvtest"
	"github.com/fundtrace/fundtrace/sim"
	"github.com/fundtrace/fundtrace/store/embedded"
)

// Accuracy is a trace scored against the simulator's truth.
type accuracy struct {
	truth, found, ours, right int
	haircutErr, fifoErr       float64 // mean absolute error in satoshis over matched deposits
	// peel chains: steps reported, of them onto a truth peel address;
	// truth peel addresses found, of all
	peelSteps, peelRight, peelFound, peelTruth int
}

// evaluate traces the scenario's victim payments with only what an
// investigator would know (the chain and labels.csv) and scores the
// deposits reached against truth/exposures.csv: recall and precision of
// (victim payment, deposit) pairs carrying at least minAmount under
// haircut or FIFO, and the amount error per model.
func evaluate(t *testing.T, dir string, minAmount int64) accuracy {
	t.Helper()
	ctx := context.Background()
	st, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := btc.Index(ctx, st, btc.IndexConfig{Dir: filepath.Join(dir, sim.BlocksDir)}); err != nil {
		t.Fatal(err)
	}
	net := bitcoin.NetworkByName("regtest")
	labels := map[chains.Address][2]string{}
	for _, r := range csvtest.Read(t, filepath.Join(dir, "labels.csv")) {
		a, err := net.ParseAddress(r["address"])
		if err != nil {
			t.Fatal(err)
		}
		labels[a] = [2]string{r["category"], r["label"]}
	}
	var seeds []Seed
	for _, r := range csvtest.Read(t, filepath.Join(dir, sim.TruthDir, "victim_payments.csv")) {
		h, err := chains.ParseHash(r["txid"])
		if err != nil {
			t.Fatal(err)
		}
		vout, _ := strconv.Atoi(r["vout"])
		seeds = append(seeds, Seed{Outpoint: chains.Outpoint{Hash: h, Index: uint32(vout)}, Ref: r["victim_payment_id"]})
	}
	res, err := UTXO(ctx, st, chains.Bitcoin, seeds, Config{MinAmount: map[chains.Address]*big.Int{"": big.NewInt(minAmount)}, ThroughMixers: true,
		Labels: func(a chains.Address) (string, string, bool) { l, ok := labels[a]; return l[0], l[1], ok }})
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		victim string
		op     chains.Outpoint
	}
	truth := map[key][2]int64{}
	var acc accuracy
	for _, r := range csvtest.Read(t, filepath.Join(dir, sim.TruthDir, "exposures.csv")) {
		h, _ := chains.ParseHash(r["txid"])
		vout, _ := strconv.Atoi(r["vout"])
		hc, _ := strconv.ParseInt(r["haircut_sats"], 10, 64)
		ff, _ := strconv.ParseInt(r["fifo_sats"], 10, 64)
		truth[key{r["victim_payment_id"], chains.Outpoint{Hash: h, Index: uint32(vout)}}] = [2]int64{hc, ff}
	}
	ours := map[key][2]int64{}
	for _, d := range res.Deposits {
		if d.Seed == Other {
			continue // no victim's alone
		}
		ours[key{seeds[d.Seed].Ref, d.Outpoint}] = [2]int64{d.Amounts.HaircutUnits().Int64(), d.Amounts.FIFO.Int64()}
	}
	for k, v := range truth {
		if max(v[0], v[1]) < minAmount {
			continue
		}
		acc.truth++
		if o, ok := ours[k]; ok {
			acc.found++
			acc.haircutErr += math.Abs(float64(o[0] - v[0]))
			acc.fifoErr += math.Abs(float64(o[1] - v[1]))
		}
	}
	if acc.found > 0 {
		acc.haircutErr /= float64(acc.found)
		acc.fifoErr /= float64(acc.found)
	}
	for k, v := range ours {
		if max(v[0], v[1]) < minAmount {
			continue
		}
		acc.ours++
		if _, ok := truth[k]; ok {
			acc.right++
		}
	}
	// Peel chains: the addresses the trace says money went on to down a
	// peel chain are the simulator's peel (or a wallet's change) addresses.
	roles := map[string]string{}
	for _, r := range csvtest.Read(t, filepath.Join(dir, sim.TruthDir, "addresses.csv")) {
		roles[r["address"]] = r["role"]
	}
	pcs := PeelChains(res.Flows)
	var steps, right int
	truthPeel := 0
	for _, r := range roles {
		if r == "peel" {
			truthPeel++
		}
	}
	found := map[string]bool{}
	for _, pc := range pcs {
		for _, f := range pc.Rest {
			steps++
			a := net.MustEncode(f.Transfer.To)
			// The rest goes on to the sender's own address: the scam's
			// peel address, or a user's change (a wallet paying from its
			// change again and again is a peel chain by its shape too).
			switch roles[a] {
			case "peel":
				found[a] = true
				right++
			case "change":
				right++
			}
		}
	}
	acc.peelSteps, acc.peelRight, acc.peelFound, acc.peelTruth = steps, right, len(found), truthPeel
	t.Logf("%s: %d hops, %d coins followed, %d store queries; %d peel chains", dir, res.Hops, res.Visited, res.Lookups, len(pcs))
	return acc
}

// TestAccuracyOnShippedScenario: on the committed scenario, the trace
// must find at least 95 % of the exchange deposits the truth lists
// (carrying at least 1,000 sats under haircut or FIFO).
func TestAccuracyOnShippedScenario(t *testing.T) {
	acc := evaluate(t, "../testdata/sim/btc", 1000)
	recall := float64(acc.found) / float64(max(acc.truth, 1))
	precision := float64(acc.right) / float64(max(acc.ours, 1))
	t.Logf("deposits: recall %.4f (%d of %d), precision %.4f (%d of %d); mean amount error: haircut %.1f sat, FIFO %.1f sat",
		recall, acc.found, acc.truth, precision, acc.right, acc.ours, acc.haircutErr, acc.fifoErr)
	if acc.truth == 0 || recall < 0.95 {
		t.Fatalf("recall of exchange deposits %.4f < 0.95", recall)
	}
	t.Logf("peel chains: %d of %d steps go on to the sender's own peel or change address; %d of the truth's %d peel addresses found",
		acc.peelRight, acc.peelSteps, acc.peelFound, acc.peelTruth)
	if acc.peelSteps == 0 || acc.peelRight < acc.peelSteps*90/100 || acc.peelFound < acc.peelTruth*95/100 {
		t.Fatal("peel chains not found as chains")
	}
}
