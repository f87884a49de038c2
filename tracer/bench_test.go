package tracer

import (
	"context"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/ingest/btc"
	"github.com/fundtrace/fundtrace/ingest/eth"
	"github.com/fundtrace/fundtrace/internal/chtest"
	"github.com/fundtrace/fundtrace/internal/simtest"
	"github.com/fundtrace/fundtrace/sim"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/store/clickhouse"
	"github.com/fundtrace/fundtrace/store/embedded"
)

// server is the ClickHouse server TestMain starts when
// FUNDTRACE_TEST_CLICKHOUSE=1 (make test, make bench).
var server *chtest.Server

func TestMain(m *testing.M) { os.Exit(chtest.Main(m, &server)) }

var dbSeq atomic.Int64

// traceStore is what the traces here read, from either store.
type traceStore interface {
	UTXOSource
	AccountSource
	btc.Sink
	eth.Sink
	Close() error
}

// stores opens, per kind available, an empty store.
func stores(tb testing.TB) map[string]func() traceStore {
	out := map[string]func() traceStore{
		"embedded": func() traceStore {
			st, err := embedded.Open(tb.TempDir(), embedded.Options{})
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { st.Close() })
			return st
		},
	}
	if server != nil {
		out["clickhouse"] = func() traceStore {
			db := fmt.Sprintf("ft_trace_%d_%d", os.Getpid(), dbSeq.Add(1))
			st, err := clickhouse.Open(context.Background(), "clickhouse://"+server.Addr()+"/"+db, clickhouse.Options{})
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { st.Close() })
			return st
		}
	}
	return out
}

// btcScenario is a generated Bitcoin scenario indexed into st.
func btcScenario(tb testing.TB, st traceStore, scale int) ([]Seed, Labeler, int) {
	dir := tb.TempDir()
	w := sim.GenerateBTC(sim.BTCConfig{Seed: 41, Scale: scale, Days: 10})
	if err := sim.WriteBTC(w, dir, sim.WriteOptions{}); err != nil {
		tb.Fatal(err)
	}
	if _, err := btc.Index(context.Background(), st, btc.IndexConfig{Dir: filepath.Join(dir, sim.BlocksDir)}); err != nil {
		tb.Fatal(err)
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
	txs := 0
	for _, blk := range w.Blocks {
		txs += len(blk.Transactions)
	}
	return seeds, func(a chains.Address) (string, string, bool) { l, ok := labels[a]; return l[0], l[1], ok }, txs
}

// ethScenario is a generated Ethereum scenario indexed into st over
// JSON-RPC, as a node would be read.
func ethScenario(tb testing.TB, st traceStore, scale int) ([]Seed, Labeler, int) {
	w := sim.GenerateETH(sim.ETHConfig{Seed: 41, Scale: scale, Days: 2})
	ctx := context.Background()
	cl, err := ethereum.Dial(ctx, simtest.ServeETHWorld(tb, w), ethereum.ClientOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	defer cl.Close()
	if _, err := eth.Index(ctx, st, cl, eth.IndexConfig{Confirmations: 0}); err != nil {
		tb.Fatal(err)
	}
	labels := map[chains.Address][2]string{}
	for _, l := range w.Labels {
		labels[ethereum.Addr(l.Address)] = [2]string{l.Category, l.Label}
	}
	var seeds []Seed
	for _, v := range w.Victims {
		to, asset := ethereum.Addr(v.To), chains.Address("")
		amt := big.NewInt(v.Amount)
		if v.Asset == sim.AssetETH {
			amt.Mul(amt, big.NewInt(1e9))
		} else {
			asset = ethereum.Addr(w.Token)
		}
		tr, err := FindAccountSeed(ctx, st, chains.Ethereum, chains.Hash(v.TxHash), nil, &to, &asset, amt)
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, Seed{Transfer: tr, Ref: strconv.Itoa(v.ID)})
	}
	txs := 0
	for _, b := range w.Blocks {
		txs += len(b.Txs)
	}
	return seeds, func(a chains.Address) (string, string, bool) { l, ok := labels[a]; return l[0], l[1], ok }, txs
}

// BenchmarkTrace traces every victim payment of simulated Bitcoin chains
// of three sizes for 10 hops (haircut and FIFO, through mixers) from each
// store: the time of one whole trace, the store queries it makes per hop
// (one spender lookup and one read of the spending transactions), and
// how both grow with the chain.
func BenchmarkTrace(b *testing.B) {
	for name, open := range stores(b) {
		for _, scale := range []int{1, 5, 20} {
			b.Run(fmt.Sprintf("%s/scale-%d", name, scale), func(b *testing.B) {
				st := open()
				seeds, labels, txs := btcScenario(b, st, scale)
				counter := &countingSource{UTXOSource: st}
				var res *Result
				var err error
				for b.Loop() {
					counter.spenders, counter.txs = 0, 0
					res, err = UTXO(context.Background(), counter, chains.Bitcoin, seeds, Config{MaxHops: 10, ThroughMixers: true, Labels: labels})
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(txs), "chain-txs")
				b.ReportMetric(float64(counter.spenders+counter.txs)/float64(max(res.Hops, 1)), "queries/hop")
				b.ReportMetric(float64(res.Visited), "coins")
			})
		}
	}
}

// BenchmarkTraceETH traces every victim payment (ETH and the token) of
// simulated Ethereum chains of three sizes for 10 hops from each store.
func BenchmarkTraceETH(b *testing.B) {
	for name, open := range stores(b) {
		for _, scale := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("%s/scale-%d", name, scale), func(b *testing.B) {
				st := open()
				seeds, labels, txs := ethScenario(b, st, scale)
				counter := &countingAccounts{AccountSource: st}
				var res *Result
				var err error
				for b.Loop() {
					counter.histories = 0
					res, err = Account(context.Background(), counter, chains.Ethereum, seeds, Config{MaxHops: 10, Labels: labels})
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(txs), "chain-txs")
				b.ReportMetric(float64(counter.histories)/float64(max(res.Hops, 1)), "queries/hop")
				b.ReportMetric(float64(res.Visited), "visits")
			})
		}
	}
}

// countingSource counts the store queries a trace makes.
type countingSource struct {
	UTXOSource
	spenders, txs int
}

func (c *countingSource) Txs(ctx context.Context, ch chains.Chain, hs []chains.Hash) ([]*chains.Tx, error) {
	c.txs++
	return c.UTXOSource.Txs(ctx, ch, hs)
}

func (c *countingSource) Spenders(ctx context.Context, ch chains.Chain, ops []chains.Outpoint) ([]store.Spend, []bool, error) {
	c.spenders++
	return c.UTXOSource.Spenders(ctx, ch, ops)
}

type countingAccounts struct {
	AccountSource
	histories int
}

func (c *countingAccounts) TransfersOf(ctx context.Context, ch chains.Chain, as []chains.Address, from, to int64, limit int) ([][]chains.Transfer, []bool, error) {
	c.histories++
	return c.AccountSource.TransfersOf(ctx, ch, as, from, to, limit)
}

// TestSameTraceOnBothStores: a trace reads the same answers from
// ClickHouse as from the embedded store, so it finds the same deposits
// with the same amounts, on all three chains.
func TestSameTraceOnBothStores(t *testing.T) {
	if server == nil {
		t.Skip("no ClickHouse server")
	}
	all := stores(t)
	var btcDump, ethDump [2]string
	for i, name := range []string{"embedded", "clickhouse"} {
		st := all[name]()
		seeds, labels, _ := btcScenario(t, st, 1)
		res, err := UTXO(context.Background(), st, chains.Bitcoin, seeds, Config{MaxHops: 10, ThroughMixers: true, Labels: labels, Models: []string{Haircut, FIFO, Poison}})
		if err != nil {
			t.Fatal(err)
		}
		btcDump[i] = fmt.Sprintf("%d flows %d stops\n", len(res.Flows), len(res.Stops))
		for _, d := range res.Deposits {
			btcDump[i] += fmt.Sprintf("%d %s %s %d %s %d %d\n", d.Seed, d.Outpoint, d.Exchange, d.Hop, d.Amounts.Haircut.RatString(), d.Amounts.FIFO, d.Amounts.Poison)
		}
		est := all[name]()
		aseeds, alabels, _ := ethScenario(t, est, 1)
		ares, err := Account(context.Background(), est, chains.Ethereum, aseeds, Config{Labels: alabels, Models: []string{Haircut, FIFO, Poison}})
		if err != nil {
			t.Fatal(err)
		}
		ethDump[i] = fmt.Sprintf("%d flows %d stops\n", len(ares.Flows), len(ares.Stops))
		for _, d := range ares.Deposits {
			ethDump[i] += fmt.Sprintf("%d %s %s %s %d %s %s %s\n", d.Seed, d.Transfer.TxHash, d.Address, d.Exchange, d.Hop, d.Amounts.Haircut.RatString(), d.Amounts.FIFO, d.Amounts.Poison)
		}
	}
	if btcDump[0] != btcDump[1] || len(btcDump[0]) < 100 {
		t.Fatalf("bitcoin trace differs:\nembedded:\n%s\nclickhouse:\n%s", btcDump[0], btcDump[1])
	}
	if ethDump[0] != ethDump[1] || len(ethDump[0]) < 100 {
		t.Fatalf("ethereum trace differs:\nembedded:\n%s\nclickhouse:\n%s", ethDump[0], ethDump[1])
	}
	// The shipped TRON scenario, USDT and TRX.
	var tronDump [2]string
	for i, name := range []string{"embedded", "clickhouse"} {
		st := all[name]()
		indexTron(t, st, shippedTron)
		seeds, labels := tronCase(t, st, shippedTron)
		res, err := Account(context.Background(), st, chains.Tron, seeds, Config{Labels: labels, Models: []string{Haircut, FIFO, Poison}})
		if err != nil {
			t.Fatal(err)
		}
		tronDump[i] = fmt.Sprintf("%d flows %d stops\n", len(res.Flows), len(res.Stops))
		for _, d := range res.Deposits {
			tronDump[i] += fmt.Sprintf("%d %s %s %s %d %s %s %s\n", d.Seed, d.Transfer.TxHash, d.Address, d.Exchange, d.Hop, d.Amounts.Haircut.RatString(), d.Amounts.FIFO, d.Amounts.Poison)
		}
	}
	if tronDump[0] != tronDump[1] || len(tronDump[0]) < 1000 {
		t.Fatalf("TRON trace differs:\nembedded:\n%s\nclickhouse:\n%s", tronDump[0], tronDump[1])
	}
}
