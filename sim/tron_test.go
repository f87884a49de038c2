package sim

import (
	"context"
	"math/big"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/tron"
	troningest "github.com/fundtrace/fundtrace/ingest/trx"
	"github.com/fundtrace/fundtrace/store/embedded"
)

// indexTronDir serves the TRON scenario written in dir over the java-tron
// HTTP API and indexes it with fundtrace's TRON indexer, which checks
// every block's hashes as it reads it.
func indexTronDir(t *testing.T, dir string) (*embedded.Store, *troningest.Result) {
	t.Helper()
	w, err := LoadTron(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewTronHandler(w))
	t.Cleanup(srv.Close)
	cl, err := tron.Dial(srv.URL, tron.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	res, err := troningest.Index(context.Background(), st, cl, troningest.IndexConfig{BatchBlocks: 97})
	if err != nil {
		t.Fatal(err)
	}
	return st, res
}

// TestTronScenario indexes a simulated TRON chain through its HTTP API
// and checks from the store alone what TestETHScenario checks: balances
// never negative with the TRX burnt counted, owners, victim payments, and
// the exposures recomputed by this test's own walk equal to the truth.
func TestTronScenario(t *testing.T) {
	t.Run("fresh", func(t *testing.T) {
		dir := t.TempDir()
		if err := WriteTron(GenerateTron(TronConfig{Seed: 7, Days: 2}), dir); err != nil {
			t.Fatal(err)
		}
		st, res := indexTronDir(t, dir)
		checkTron(t, dir, st, res)
	})
	t.Run("shipped", func(t *testing.T) {
		st, res := indexTronDir(t, shippedTron)
		checkTron(t, shippedTron, st, res)
	})
}

// shippedTron is the TRON scenario committed in testdata (seed 1, 2 days,
// 12 victims).
const shippedTron = "../testdata/sim/tron"

func checkTron(t *testing.T, dir string, st *embedded.Store, res *troningest.Result) {
	if res.Blocks != 2*tronBlocks || res.From != 1 || res.Network == "mainnet" {
		t.Fatalf("index result %+v", res)
	}
	i64 := func(_ string, n int64) string { return strconv.FormatInt(n, 10) }
	victims, exposures := checkAccountChain(t, chains.Tron, dir, st, accountFormat{
		native: AssetTRX, addr: tron.Encode, parse: tron.ParseAddress,
		tx:           func(h chains.Hash) string { return h.String() },
		units:        func(_ string, v *big.Int) *big.Int { return v },
		truthUnits:   i64,
		truthHaircut: func(_, h string) string { return h },
	})
	if victims < 8 || exposures < 8 {
		t.Fatalf("%d victim payments, %d exposures", victims, exposures)
	}
	t.Logf("%d blocks, %d transactions, %d transfers; %d victim payments, %d exposures", res.Blocks, res.Txs, res.Transfers, victims, exposures)
}

// TestTronDeterministic: the same seed writes the same files.
func TestTronDeterministic(t *testing.T) {
	checkDeterministic(t, func(seed uint64, dir string) error {
		return WriteTron(GenerateTron(TronConfig{Seed: seed, Days: 1}), dir)
	})
}
