package cluster

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/chains/tron"
	"github.com/fundtrace/fundtrace/heuristics"
	"github.com/fundtrace/fundtrace/ingest/btc"
	"github.com/fundtrace/fundtrace/ingest/eth"
	"github.com/fundtrace/fundtrace/ingest/trx"
	"github.com/fundtrace/fundtrace/internal/csvtest"
	"github.com/fundtrace/fundtrace/internal/simtest"
	"github.com/fundtrace/fundtrace/sim"
	"github.com/fundtrace/fundtrace/store/embedded"
)

// simulated writes and indexes a simulated chain and returns the store
// and the scenario's folder.
func simulated(t *testing.T, cfg sim.BTCConfig) (*embedded.Store, string) {
	t.Helper()
	dir := t.TempDir()
	if err := sim.WriteBTC(sim.GenerateBTC(cfg), dir, sim.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := btc.Index(context.Background(), st, btc.IndexConfig{Dir: filepath.Join(dir, sim.BlocksDir)}); err != nil {
		t.Fatal(err)
	}
	return st, dir
}

// owners reads the truth's owner of every address.
func owners(t *testing.T, dir string) map[chains.Address]int {
	net := bitcoin.NetworkByName("regtest")
	out := map[chains.Address]int{}
	for _, r := range csvtest.Read(t, filepath.Join(dir, sim.TruthDir, "addresses.csv")) {
		a, err := net.ParseAddress(r["address"])
		if err != nil {
			t.Fatal(err)
		}
		out[a], _ = strconv.Atoi(r["entity_id"])
	}
	return out
}

var heuristicSets = [][]string{
	{heuristics.MultiInput},
	{heuristics.MultiInput, heuristics.ChangeFresh},
	{heuristics.MultiInput, heuristics.ChangeScript},
	{heuristics.MultiInput, heuristics.ChangeRound},
	{heuristics.MultiInput, heuristics.ChangeOptimal},
	{heuristics.MultiInput, heuristics.ChangeFresh, heuristics.ChangeOptimal},
	{heuristics.MultiInput, heuristics.ChangeFresh, heuristics.ChangeScript, heuristics.ChangeRound, heuristics.ChangeOptimal},
}

// TestAccuracyOnSimulatedChain measures each heuristic set on a simulated
// chain against its ground truth and prints the table (make eval). It
// fails if multi-input precision drops below 0.99 or a planted CoinJoin
// goes undetected.
func TestAccuracyOnSimulatedChain(t *testing.T) {
	ctx := context.Background()
	st, dir := simulated(t, sim.BTCConfig{Seed: 11, Days: 10})
	truth := owners(t, dir)
	var table strings.Builder
	fmt.Fprintf(&table, "%-72s %9s %9s %9s %9s\n", "heuristics", "precision", "recall", "clusters", "entities")
	for _, set := range heuristicSets {
		cl, err := Bitcoin(ctx, st, chains.Bitcoin, set)
		if err != nil {
			t.Fatal(err)
		}
		s := cl.Evaluate(truth)
		fmt.Fprintf(&table, "%-72s %9.4f %9.4f %9d %9d\n", strings.Join(set, "+"), s.Precision, s.Recall, s.Clusters, s.Entities)
		if len(set) == 1 && s.Precision < 0.99 {
			t.Errorf("multi-input precision %.4f < 0.99", s.Precision)
		}
	}
	// What CoinJoin detection prevents: multi-input linking CoinJoin inputs.
	hs, err := bitcoinHeuristics(ctx, st, chains.Bitcoin, []string{heuristics.MultiInput})
	if err != nil {
		t.Fatal(err)
	}
	hs.LinkCoinJoins = true
	m, _ := st.Meta(ctx, chains.Bitcoin)
	naive := newClusters()
	if err := naive.scan(ctx, st, chains.Bitcoin, hs, 0, m.TipHeight); err != nil {
		t.Fatal(err)
	}
	s := naive.Evaluate(truth)
	fmt.Fprintf(&table, "%-72s %9.4f %9.4f %9d %9d\n", "multi-input without CoinJoin detection", s.Precision, s.Recall, s.Clusters, s.Entities)
	t.Logf("accuracy on a simulated chain (seed 11, 10 days):\n%s", table.String())
	// CoinJoin detection against the planted ones, per kind, and what it
	// flags that is not one (exchanges' batch payouts that repeat round
	// amounts, Whirlpool Tx0s: their inputs are one owner's).
	planted := map[chains.Hash]string{}
	for _, r := range csvtest.Read(t, filepath.Join(dir, sim.TruthDir, "coinjoins.csv")) {
		h, err := chains.ParseHash(r["txid"])
		if err != nil {
			t.Fatal(err)
		}
		planted[h] = r["kind"]
	}
	found, falsePos, all := map[string]int{}, 0, 0
	for h := int64(0); h <= m.TipHeight; h++ {
		_, txids, err := st.BlockByHeight(ctx, chains.Bitcoin, h)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range txids {
			tx, err := st.Tx(ctx, chains.Bitcoin, id)
			if err != nil {
				t.Fatal(err)
			}
			all++
			kind, isPlanted := planted[id]
			switch detected := heuristics.IsCoinJoin(tx); {
			case isPlanted && detected:
				found[kind]++
			case isPlanted:
				t.Errorf("planted %s CoinJoin %s not detected", kind, id)
			case detected:
				falsePos++
				t.Logf("taken for a CoinJoin, not one: %s (%d inputs, %d outputs)", id, len(tx.Inputs), len(tx.Outputs))
			}
		}
	}
	var det strings.Builder
	fmt.Fprintf(&det, "%-12s %8s %8s %8s\n", "kind", "planted", "detected", "recall")
	perKind := map[string]int{}
	for _, k := range planted {
		perKind[k]++
	}
	for _, k := range []string{"whirlpool", "wasabi", "wabisabi", "joinmarket"} {
		if perKind[k] == 0 {
			t.Errorf("the simulated chain has no %s CoinJoin", k)
			continue
		}
		fmt.Fprintf(&det, "%-12s %8d %8d %8.4f\n", k, perKind[k], found[k], float64(found[k])/float64(perKind[k]))
	}
	fmt.Fprintf(&det, "false positives: %d of %d transactions that are not CoinJoins\n", falsePos, all-len(planted))
	t.Logf("CoinJoin detection on the same chain:\n%s", det.String())
	if falsePos*1000 > all {
		t.Errorf("%d transactions taken for CoinJoins that are not (more than 1 in 1,000)", falsePos)
	}
}

// TestExplain: two addresses of one cluster are explained by a chain of
// links, each a transaction of the chain whose inputs hold both ends.
func TestExplain(t *testing.T) {
	ctx := context.Background()
	st, _ := simulated(t, sim.BTCConfig{Seed: 12, Days: 3})
	cl, err := Bitcoin(ctx, st, chains.Bitcoin, []string{heuristics.MultiInput})
	if err != nil {
		t.Fatal(err)
	}
	// Find the largest cluster and two of its addresses far apart.
	var best chains.Address
	var bestSize uint32
	for _, a := range cl.addrs {
		if _, size, _ := cl.ID(a); size > bestSize {
			best, bestSize = a, size
		}
	}
	bid, _, _ := cl.ID(best)
	var other chains.Address
	for i := len(cl.addrs) - 1; i >= 0; i-- {
		if id, _, _ := cl.ID(cl.addrs[i]); id == bid && cl.addrs[i] != best {
			other = cl.addrs[i]
			break
		}
	}
	path := cl.Explain(best, other)
	if len(path) == 0 || path[0].A != best || path[len(path)-1].B != other {
		t.Fatalf("no chain of evidence between two addresses of one cluster: %v", path)
	}
	for _, l := range path {
		tx, err := st.Tx(ctx, chains.Bitcoin, l.Tx)
		if err != nil {
			t.Fatal(err)
		}
		in := map[chains.Address]bool{}
		for _, i := range tx.Inputs {
			in[i.Prevout.Address()] = true
		}
		if !in[l.A] || !in[l.B] || l.Heuristic != heuristics.MultiInput {
			t.Fatalf("link %+v is not a multi-input link of its transaction", l)
		}
	}
	// Addresses of different clusters are not explained.
	for _, a := range cl.addrs {
		if id, _, _ := cl.ID(a); id != bid {
			if p := cl.Explain(best, a); p != nil {
				t.Fatalf("explained a link across clusters: %v", p)
			}
			break
		}
	}
}

// TestDepositHeuristicOnSimulatedChain measures the deposit heuristic on a
// simulated Ethereum chain served over JSON-RPC and indexed with index
// eth: the exchanges' deposit addresses must join their hot wallets, and
// nothing else may be merged wrongly.
func TestDepositHeuristicOnSimulatedChain(t *testing.T) {
	ctx := context.Background()
	dir, url := simtest.NewETH(t, sim.ETHConfig{Seed: 21, Days: 3})
	cl, err := ethereum.Dial(ctx, url, ethereum.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	st, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := eth.Index(ctx, st, cl, eth.IndexConfig{Confirmations: 0}); err != nil {
		t.Fatal(err)
	}
	scoreDeposits(t, st, chains.Ethereum, dir, ethereum.ParseAddress)
}

// scoreDeposits runs the deposit heuristic (window 1,000 blocks, 3
// forwarders) on chain c of st and scores it against the scenario's
// truth in dir: pairwise precision at least 0.99, and at least 80 % of
// the deposit addresses joined to their exchange.
func scoreDeposits(t *testing.T, st *embedded.Store, c chains.Chain, dir string, parse func(string) (chains.Address, error)) {
	truth := map[chains.Address]int{}
	deposits := map[chains.Address]bool{}
	for _, r := range csvtest.Read(t, filepath.Join(dir, sim.TruthDir, "addresses.csv")) {
		a, err := parse(r["address"])
		if err != nil {
			t.Fatal(err)
		}
		truth[a], _ = strconv.Atoi(r["entity_id"])
		if r["role"] == "deposit" {
			deposits[a] = true
		}
	}
	clusters, err := Ethereum(context.Background(), st, c, &heuristics.Deposit{Window: 1000, MinCount: 3})
	if err != nil {
		t.Fatal(err)
	}
	s := clusters.Evaluate(truth)
	joined := 0
	for d := range deposits {
		if _, size, ok := clusters.ID(d); ok && size > 1 {
			joined++
		}
	}
	t.Logf("%s deposit heuristic (window 1000 blocks, 3 forwarders): precision %.4f, recall %.4f, %d clusters for %d entities; %d of %d deposit addresses joined their exchange",
		c, s.Precision, s.Recall, s.Clusters, s.Entities, joined, len(deposits))
	if s.Precision < 0.99 {
		t.Errorf("deposit heuristic precision %.4f < 0.99", s.Precision)
	}
	if joined*10 < len(deposits)*8 {
		t.Errorf("only %d of %d deposit addresses joined their exchange", joined, len(deposits))
	}
}

// TestDepositHeuristicOnTron measures the deposit heuristic on the shipped
// TRON scenario, indexed through its java-tron API: exchanges there sweep
// USDT from deposit addresses they first gave TRX (or energy) for the
// fee, so a deposit address's TRX top-up must not stop it forwarding.
// Pairwise precision and recall against the truth's owners, and how many
// deposit addresses joined their exchange.
func TestDepositHeuristicOnTron(t *testing.T) {
	ctx := context.Background()
	const dir = "../testdata/sim/tron"
	url, _ := simtest.ServeTron(t, dir)
	cl, err := tron.Dial(url, tron.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := trx.Index(ctx, st, cl, trx.IndexConfig{}); err != nil {
		t.Fatal(err)
	}
	scoreDeposits(t, st, chains.Tron, dir, tron.ParseAddress)
}
