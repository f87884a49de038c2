package tracer

import (
	"context"
	"math/big"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/ingest/btc"
	"github.com/fundtrace/fundtrace/internal/csvtest"
	"github.com/fundtrace/fundtrace/sim"
	"github.com/fundtrace/fundtrace/store/embedded"
)

// shippedBlocks is a store of the shipped mainnet blocks 0..200.
func shippedBlocks(t *testing.T) *embedded.Store {
	st, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := btc.Index(context.Background(), st, btc.IndexConfig{Dir: filepath.Join("..", "testdata", "btc", "blocks"), ToHeight: 200}); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestBackwardBlock170: the first payment between people (block 170:
// Satoshi pays Hal Finney 10 BTC and takes 40 back, from block 9's
// coinbase). Read from the chain: both outputs came from that coinbase,
// the 10 BTC from its first 10 BTC under FIFO, the 40 from the rest.
func TestBackwardBlock170(t *testing.T) {
	ctx := context.Background()
	st := shippedBlocks(t)
	tx170, _ := chains.ParseHash("f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16")
	cb9, _ := chains.ParseHash("0437cd7f8525ceed2324359c2d0ba26006d92d856a9c20fa0241106ee5a597c9")
	seeds := []Seed{{Outpoint: chains.Outpoint{Hash: tx170, Index: 0}, Ref: "hal"}, {Outpoint: chains.Outpoint{Hash: tx170, Index: 1}, Ref: "change"}}
	res, err := UTXOBackward(ctx, st, chains.Bitcoin, seeds, Config{Models: []string{Haircut, FIFO, Poison}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Origins) != 2 {
		t.Fatalf("origins %+v", res.Origins)
	}
	for i, want := range []int64{10e8, 40e8} {
		o := res.Origins[i]
		if o.Seed != i || o.Outpoint != (chains.Outpoint{Hash: cb9}) || o.Reason != "coinbase" || o.Transfer.Height != 9 || o.Hop != 1 ||
			o.Amounts.FIFO.Int64() != want || o.Amounts.HaircutUnits().Int64() != want || o.Amounts.Poison.Int64() != 50e8 {
			t.Fatalf("origin %d: %+v (haircut %v), want block 9's coinbase with %d", i, o, o.Amounts.Haircut, want)
		}
	}
	if res.Lookups != 2 {
		t.Fatalf("%d lookups for two hops", res.Lookups)
	}
}

// TestBackwardConservation: going back from every victim payment of the
// shipped scenario to coinbases and labeled wallets, FIFO accounts for
// every satoshi of the payment (each output's satoshis are some input's)
// and haircut for all of it but the dust dropped on the way; the victims
// bought at exchanges, so exchanges are among the origins.
func TestBackwardConservation(t *testing.T) {
	ctx := context.Background()
	dir := "../testdata/sim/btc"
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
		a, _ := net.ParseAddress(r["address"])
		labels[a] = [2]string{r["category"], r["label"]}
	}
	var seeds []Seed
	values := map[int]int64{}
	for i, r := range csvtest.Read(t, filepath.Join(dir, sim.TruthDir, "victim_payments.csv")) {
		h, _ := chains.ParseHash(r["txid"])
		vout, _ := strconv.Atoi(r["vout"])
		seeds = append(seeds, Seed{Outpoint: chains.Outpoint{Hash: h, Index: uint32(vout)}, Ref: r["victim_payment_id"]})
		values[i], _ = strconv.ParseInt(r["value_sats"], 10, 64)
	}
	res, err := UTXOBackward(ctx, st, chains.Bitcoin, seeds, Config{MinAmount: map[chains.Address]*big.Int{"": big.NewInt(1)}, MaxHops: 1000,
		Labels: func(a chains.Address) (string, string, bool) { l, ok := labels[a]; return l[0], l[1], ok }})
	if err != nil {
		t.Fatal(err)
	}
	fifo := map[int]int64{}
	hair := map[int]*big.Rat{}
	exchanges := 0
	for _, o := range res.Origins {
		if o.Reason == "max-hops" || o.Reason == "max-nodes" {
			t.Fatalf("origin %+v: the trace was cut short", o)
		}
		fifo[o.Seed] += o.Amounts.FIFO.Int64()
		if hair[o.Seed] == nil {
			hair[o.Seed] = new(big.Rat)
		}
		hair[o.Seed].Add(hair[o.Seed], o.Amounts.Haircut)
		if o.Category == "exchange" {
			exchanges++
		}
	}
	for i := range seeds {
		if values[i] == 0 || fifo[i] != values[i] {
			t.Errorf("victim payment %s of %d sats: FIFO origins add up to %d", seeds[i].Ref, values[i], fifo[i])
		}
		h, _ := hair[i].Float64()
		if h > float64(values[i]) || h < float64(values[i])*0.999 {
			t.Errorf("victim payment %s of %d sats: haircut origins add up to %.0f", seeds[i].Ref, values[i], h)
		}
	}
	if exchanges == 0 {
		t.Fatal("no victim's money came from an exchange")
	}
	t.Logf("%d origins (%d at exchanges) over %d hops, %d store queries", len(res.Origins), exchanges, res.Hops, res.Lookups)
}

// TestAccountBackwardConservation: going back from every victim payment
// of the committed Ethereum scenario, FIFO accounts for every unit of the
// payment and haircut for all of it (exactly: it keeps fractions); the
// victims bought at exchanges, so the money came from their hot wallets.
func TestAccountBackwardConservation(t *testing.T) {
	ctx := context.Background()
	dir := "../testdata/sim/eth"
	st := indexETH(t, dir)
	labels, token := ethLabels(t, dir)
	var seeds []Seed
	for _, r := range csvtest.Read(t, filepath.Join(dir, sim.TruthDir, "victim_payments.csv")) {
		h, _ := chains.ParseHash(r["tx_hash"])
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
	res, err := AccountBackward(ctx, st, chains.Ethereum, seeds, Config{MinAmount: map[chains.Address]*big.Int{"": big.NewInt(1), token: big.NewInt(1)},
		MaxHops: 1000, Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	fifo := map[int]*big.Int{}
	hair := map[int]*big.Rat{}
	exchanges := 0
	for _, o := range res.Origins {
		if o.Reason == "max-hops" || o.Reason == "max-nodes" || o.Reason == "max-history" {
			t.Fatalf("origin %+v: the trace was cut short", o)
		}
		if fifo[o.Seed] == nil {
			fifo[o.Seed], hair[o.Seed] = new(big.Int), new(big.Rat)
		}
		fifo[o.Seed].Add(fifo[o.Seed], o.Amounts.FIFO)
		hair[o.Seed].Add(hair[o.Seed], o.Amounts.Haircut)
		if o.Category == "exchange" {
			exchanges++
		}
	}
	for i, s := range seeds {
		if fifo[i] == nil || fifo[i].Cmp(s.Transfer.Amount) != 0 || hair[i].Cmp(new(big.Rat).SetInt(s.Transfer.Amount)) != 0 {
			t.Errorf("victim payment %s of %s: origins add up to %v (FIFO), %v (haircut)", s.Ref, s.Transfer.Amount, fifo[i], hair[i])
		}
	}
	if exchanges == 0 {
		t.Fatal("no victim's money came from an exchange")
	}
	t.Logf("%d origins (%d at exchanges) over %d hops, %d history queries", len(res.Origins), exchanges, res.Hops, res.Lookups)
}

// TestLabeledSeed: a victim payment straight to a labeled exchange is a
// deposit at hop 0; to another labeled service, a stop; unless the trace
// leaves that off (exposure), when the money is followed as any other.
// (Block 170's 10 BTC to Hal Finney, labeled here for the test.)
func TestLabeledSeed(t *testing.T) {
	ctx := context.Background()
	st := shippedBlocks(t)
	tx170, _ := chains.ParseHash("f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16")
	hal, err := bitcoin.NetworkByName("mainnet").ParseAddress("1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3")
	if err != nil {
		t.Fatal(err)
	}
	seeds := []Seed{{Outpoint: chains.Outpoint{Hash: tx170, Index: 0}, Ref: "hal"}}
	as := func(cat string) Labeler {
		return func(a chains.Address) (string, string, bool) { return cat, "Test", a == hal }
	}
	res, err := UTXO(ctx, st, chains.Bitcoin, seeds, Config{Labels: as("exchange"), StopAtLabeledSeeds: true})
	if err != nil || len(res.Deposits) != 1 || res.Deposits[0].Hop != 0 || res.Deposits[0].Amounts.FIFO.Int64() != 10e8 || len(res.Flows) != 0 {
		t.Fatalf("seed at an exchange: %+v %v", res, err)
	}
	res, err = UTXO(ctx, st, chains.Bitcoin, seeds, Config{Labels: as("mixer"), StopAtLabeledSeeds: true})
	if err != nil || len(res.Deposits) != 0 || len(res.Stops) != 1 || res.Stops[0].Reason != "service" {
		t.Fatalf("seed at a mixer: %+v %v", res, err)
	}
	res, err = UTXO(ctx, st, chains.Bitcoin, seeds, Config{Labels: as("exchange")})
	if err != nil || len(res.Deposits) != 0 || len(res.Stops) != 1 || res.Stops[0].Reason != "unspent" {
		t.Fatalf("seed followed: %+v %v", res, err)
	}
}
