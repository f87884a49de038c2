package sim

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	ethingest "github.com/fundtrace/fundtrace/ingest/eth"
	"github.com/fundtrace/fundtrace/internal/csvtest"
	"github.com/fundtrace/fundtrace/store/embedded"
)

// indexETHScenario writes a scenario, serves it over JSON-RPC from the
// written files and indexes it with fundtrace's Ethereum indexer.
func indexETHScenario(t *testing.T, cfg ETHConfig) (string, *embedded.Store, *ethingest.Result) {
	t.Helper()
	dir := t.TempDir()
	if err := WriteETH(GenerateETH(cfg), dir); err != nil {
		t.Fatal(err)
	}
	return indexETHDir(t, dir)
}

// indexETHDir serves the scenario written in dir and indexes it.
func indexETHDir(t *testing.T, dir string) (string, *embedded.Store, *ethingest.Result) {
	t.Helper()
	// As simulate serve-eth serves it: from the file, block by block.
	c, err := OpenETHChain(dir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	h, err := NewETHChainHandler(c)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	cl, err := ethereum.Dial(ctx, srv.URL, ethereum.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	st, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	res, err := ethingest.Index(ctx, st, cl, ethingest.IndexConfig{Confirmations: 0})
	if err != nil {
		t.Fatal(err)
	}
	return dir, st, res
}

// ethAcct is an account's balance of one asset, with its taint, as this
// test computes it from the indexed chain alone.
type ethAcct struct {
	bal     *big.Int
	fifo    []span // absolute positions in the account's lifetime inflow
	head    *big.Int
	haircut map[int]*big.Int
}

// TestETHScenario indexes a simulated Ethereum chain through its JSON-RPC
// server and checks, from what the indexer stored: no balance ever goes
// negative; every account that moves value has an owner in the truth;
// each victim payment is on the chain as recorded; and the exposures,
// recomputed with this test's own FIFO and haircut walk over the stored
// transfers and fees, equal the truth file.
func TestETHScenario(t *testing.T) {
	t.Run("fresh", func(t *testing.T) {
		dir, st, res := indexETHScenario(t, ETHConfig{Seed: 7, Days: 2})
		checkETH(t, dir, st, res)
	})
	t.Run("shipped", func(t *testing.T) {
		dir, st, res := indexETHDir(t, shippedETH)
		checkETH(t, dir, st, res)
	})
}

// shippedETH is the Ethereum scenario committed in testdata (seed 1, 2 days).
const shippedETH = "../testdata/sim/eth"

func checkETH(t *testing.T, dir string, st *embedded.Store, res *ethingest.Result) {
	if res.Traces != ethereum.TraceGeth || res.Blocks < 400 {
		t.Fatalf("index result %+v", res)
	}
	gw := big.NewInt(1e9)
	victims, exposures := checkAccountChain(t, chains.Ethereum, dir, st, accountFormat{
		native: AssetETH, addr: ethereum.FormatAddress, parse: ethereum.ParseAddress,
		tx: func(h chains.Hash) string { return "0x" + h.String() },
		units: func(asset string, wei *big.Int) *big.Int {
			if asset == AssetETH {
				return new(big.Int).Quo(wei, gw) // the simulator counts gwei
			}
			return wei
		},
		truthUnits: units,
		truthHaircut: func(asset, haircut string) string {
			if asset == AssetETH && haircut != "0" {
				return strings.TrimSuffix(haircut, "000000000")
			}
			return haircut
		},
	})
	t.Logf("%d blocks, %d transactions, %d transfers; %d victim payments, %d exposures", res.Blocks, res.Txs, res.Transfers, victims, exposures)
}

// accountFormat is how a simulated account chain's truth files write
// what the store holds.
type accountFormat struct {
	native       string // the native asset's name in the truth
	addr         func(chains.Address) string
	parse        func(string) (chains.Address, error)
	tx           func(chains.Hash) string
	units        func(asset string, stored *big.Int) *big.Int // the simulator's units of a stored amount
	truthUnits   func(asset string, n int64) string           // the truth's writing of the simulator's units
	truthHaircut func(asset, haircut string) string           // the truth's haircut in the simulator's units
}

// checkAccountChain walks the indexed chain from the store alone and
// checks: no balance ever goes negative (fees included, so every
// account's history accounts for its balance); every account paid has an
// owner in the truth; each victim payment is on the chain as recorded;
// and the exposures, recomputed with this test's own FIFO and haircut walk
// over the stored transfers and fees, equal the truth file.
func checkAccountChain(t *testing.T, c chains.Chain, dir string, st *embedded.Store, f accountFormat) (nVictims, nExposures int) {
	ctx := context.Background()
	owners := map[string]string{}
	for _, r := range csvtest.Read(t, filepath.Join(dir, TruthDir, "addresses.csv")) {
		owners[r["address"]] = r["role"]
	}
	victims := map[string][]map[string]string{}
	for _, r := range csvtest.Read(t, filepath.Join(dir, TruthDir, "victim_payments.csv")) {
		victims[r["tx_hash"]] = append(victims[r["tx_hash"]], r)
	}
	if len(victims) == 0 {
		t.Fatal("no victim payments")
	}
	accts := map[string]*ethAcct{}
	get := func(asset string, a chains.Address) *ethAcct {
		k := asset + string(a)
		if accts[k] == nil {
			accts[k] = &ethAcct{bal: new(big.Int), head: new(big.Int), haircut: map[int]*big.Int{}}
		}
		return accts[k]
	}
	var got []string
	credit := func(asset string, to chains.Address, amt *big.Int, fifo []span, hair map[int]*big.Int, tx string) {
		if owners[f.addr(to)] == "" {
			t.Fatalf("%s paid to %s, which has no owner in the truth", tx, f.addr(to))
		}
		if owners[f.addr(to)] == "deposit" {
			fs := map[int]int64{}
			for _, s := range fifo {
				fs[s.victim] += s.hi - s.lo
			}
			vs := map[int]bool{}
			for v := range fs {
				vs[v] = true
			}
			for v := range hair {
				vs[v] = true
			}
			for v := range vs {
				if v < 0 {
					continue
				}
				h := big.NewInt(0)
				if hair[v] != nil {
					h = hair[v]
				}
				got = append(got, fmt.Sprintf("%d %s %s %s %s", v, f.addr(to), tx, h, f.truthUnits(asset, fs[v])))
			}
			fifo, hair = []span{{0, amt.Int64(), -1}}, nil
		}
		a := get(asset, to)
		base := new(big.Int).Add(a.head, a.bal).Int64()
		for _, s := range fifo {
			a.fifo = append(a.fifo, span{base + s.lo, base + s.hi, s.victim})
		}
		a.bal.Add(a.bal, amt)
		for v, h := range hair {
			if a.haircut[v] == nil {
				a.haircut[v] = new(big.Int)
			}
			a.haircut[v].Add(a.haircut[v], h)
		}
	}
	// debit takes amt from the account: FIFO from its oldest inflow,
	// haircut in proportion to the balance.
	debit := func(asset string, from chains.Address, amt *big.Int, tx string) ([]span, map[int]*big.Int) {
		a := get(asset, from)
		if a.bal.Cmp(amt) < 0 {
			t.Fatalf("%s: %s of %s goes negative (%s < %s)", tx, asset, f.addr(from), a.bal, amt)
		}
		lo, hi := a.head.Int64(), a.head.Int64()+amt.Int64()
		var out []span
		for _, s := range a.fifo {
			if l, h := max(s.lo, lo), min(s.hi, hi); l < h {
				out = append(out, span{l - lo, h - lo, s.victim})
			}
		}
		hair := map[int]*big.Int{}
		for v, h := range a.haircut {
			sh := new(big.Int).Mul(h, amt)
			sh.Quo(sh, a.bal)
			if sh.Sign() > 0 {
				hair[v] = sh
			}
			h.Sub(h, sh)
			if h.Sign() <= 0 {
				delete(a.haircut, v)
			}
		}
		a.head.Add(a.head, amt)
		a.bal.Sub(a.bal, amt)
		return out, hair
	}
	toUnits := f.units
	m, _ := st.Meta(ctx, c)
	for h := m.TipHeight - m.Blocks + 1; h <= m.TipHeight; h++ {
		_, txids, err := st.BlockByHeight(ctx, c, h)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range txids {
			tx, ts, err := st.AccountTx(ctx, c, id)
			if err != nil {
				t.Fatal(err)
			}
			hash := f.tx(id)
			debit(f.native, tx.From, toUnits(f.native, tx.Fee), hash)
			for _, tr := range ts {
				if !tr.Success || tr.Amount.Sign() == 0 || tr.Kind == chains.TransferFee { // the fee is debited above
					continue
				}
				asset := f.native
				if tr.Asset != "" {
					asset = AssetToken
				}
				amt := toUnits(asset, tr.Amount)
				if tr.From == chains.MakeAddress(chains.KindAccount, make([]byte, 20)) || tr.From == "" { // a mint, a reward
					credit(asset, tr.To, amt, []span{{0, amt.Int64(), -1}}, nil, hash)
					continue
				}
				fifo, hair := debit(asset, tr.From, amt, hash)
				credit(asset, tr.To, amt, fifo, hair, hash)
			}
			for _, r := range victims[hash] {
				// The victim's payment: its money is the victim payment's from here on.
				var id int
				fmt.Sscan(r["victim_payment_id"], &id)
				to, _ := f.parse(r["to"])
				a := get(r["asset"], to)
				amt, _ := new(big.Int).SetString(r["amount"], 10)
				amt = toUnits(r["asset"], amt)
				end := new(big.Int).Add(a.head, a.bal).Int64()
				var rest []span
				for _, s := range a.fifo {
					if s.hi <= end-amt.Int64() {
						rest = append(rest, s)
					} else if s.lo < end-amt.Int64() {
						rest = append(rest, span{s.lo, end - amt.Int64(), s.victim})
					}
				}
				a.fifo = append(rest, span{end - amt.Int64(), end, id})
				a.haircut[id] = new(big.Int).Set(amt)
			}
		}
		wds, err := st.BlockTransfers(ctx, c, h)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range wds {
			amt := toUnits(f.native, w.Amount)
			credit(f.native, w.To, amt, []span{{0, amt.Int64(), -1}}, nil, "withdrawal")
		}
	}
	var want []string
	for _, r := range csvtest.Read(t, filepath.Join(dir, TruthDir, "exposures.csv")) {
		haircut := f.truthHaircut(r["asset"], r["haircut"])
		want = append(want, fmt.Sprintf("%s %s %s %s %s", r["victim_payment_id"], r["deposit_address"], r["tx_hash"], haircut, r["fifo"]))
	}
	sort.Strings(got)
	sort.Strings(want)
	if len(want) == 0 {
		t.Fatal("no victim money reached an exchange")
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("exposures recomputed from the indexed chain differ from the truth:\n got %d: %v\nwant %d: %v", len(got), head(got), len(want), head(want))
	}
	return len(victims), len(want)
}

// TestETHDeterministic: the same seed writes the same files.
func TestETHDeterministic(t *testing.T) {
	checkDeterministic(t, func(seed uint64, dir string) error { return WriteETH(GenerateETH(ETHConfig{Seed: seed, Days: 1}), dir) })
}

// TestETHChainFile: a chain written block by block reads back whole
// (LoadETH) and block by block (OpenETHChain) as it was made, and so
// does a chain in the first format, one document; a file cut short or
// with a broken line is an error naming the line.
func TestETHChainFile(t *testing.T) {
	w := GenerateETH(ETHConfig{Seed: 5, Days: 1})
	dir, first := t.TempDir(), t.TempDir()
	if err := WriteETH(w, dir); err != nil {
		t.Fatal(err)
	}
	if err := writeWorld(filepath.Join(first, ChainFile), w); err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, first} {
		got, err := LoadETH(d)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := json.Marshal(got); string(b) != string(want) {
			t.Fatalf("%s: the world read back differs from the one written", d)
		}
		c, err := OpenETHChain(d, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if c.Len() != len(w.Blocks) || c.World.Token != w.Token || len(c.World.Victims) != len(w.Victims) {
			t.Fatalf("%s: %d blocks, token %s, %d victims", d, c.Len(), c.World.Token, len(c.World.Victims))
		}
		txs := 0
		for n, b := range w.Blocks {
			got, err := c.Block(n)
			if err != nil {
				t.Fatal(err)
			}
			wb, _ := json.Marshal(b)
			if gb, _ := json.Marshal(got); string(gb) != string(wb) {
				t.Fatalf("%s: block %d read back differs", d, n)
			}
			for _, tx := range b.Txs {
				txs++
				if !slices.Contains(c.txBlocks(tx.Hash), n) {
					t.Fatalf("%s: transaction %s not found in block %d", d, tx.Hash, n)
				}
			}
		}
		if txs == 0 || len(c.txBlocks(common.Hash{1})) != 0 {
			t.Fatalf("%s: %d transactions; a made-up hash found in %v", d, txs, c.txBlocks(common.Hash{1}))
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Cut short: the blocks without the world that ends the file.
	raw := gunzip(t, filepath.Join(dir, ChainFile))
	lines := strings.SplitAfter(raw, "\n")
	for _, c := range []struct{ body, want string }{
		{strings.Join(lines[:len(lines)-2], ""), "without the world"},
		{lines[0] + "{\"Block\": [1,2]}\n", "line 2"},
		{lines[0] + lines[2], "block 2 where block 1 belongs"},
	} {
		bad := t.TempDir()
		gzipTo(t, filepath.Join(bad, ChainFile), c.body)
		if _, err := LoadETH(bad); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("got %v, want an error saying %q", err, c.want)
		}
		if _, err := OpenETHChain(bad, t.TempDir()); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("OpenETHChain: got %v, want an error saying %q", err, c.want)
		}
	}
}

func gunzip(t *testing.T, path string) string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func gzipTo(t *testing.T, path, body string) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(body))
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkDeterministic writes a scenario twice with one seed and once with
// another: the first two must be the same files, byte for byte, and the
// third another chain.
func checkDeterministic(t *testing.T, write func(seed uint64, dir string) error) {
	files := func(seed uint64) map[string]string {
		dir := t.TempDir()
		if err := write(seed, dir); err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, f := range []string{ChainFile, "labels.csv", "case.csv", "truth/addresses.csv", "truth/victim_payments.csv", "truth/exposures.csv", "truth/entities.csv"} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			m[f] = string(b)
		}
		return m
	}
	a, b, c := files(3), files(3), files(4)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("the same seed gave different files")
	}
	if a[ChainFile] == c[ChainFile] {
		t.Fatal("another seed gave the same chain")
	}
}
