package sim

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/ingest/btc"
	"github.com/fundtrace/fundtrace/internal/csvtest"
	"github.com/fundtrace/fundtrace/store/embedded"
)

// The tests read the scenario back from the files, as any other tool
// would, and check it against the chain's rules and the truth against the
// chain, with their own parsing and their own taint walk: nothing of the
// simulator's bookkeeping is trusted.

func writeScenario(t *testing.T, cfg BTCConfig) string {
	t.Helper()
	dir := t.TempDir()
	if err := WriteBTC(GenerateBTC(cfg), dir, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// readBlocks parses blk*.dat records (magic, length, block) with btcd.
func readBlocks(t *testing.T, dir string) []*wire.MsgBlock {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "blk*.dat"))
	sort.Strings(files)
	var out []*wire.MsgBlock
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for len(b) >= 8 && binary.LittleEndian.Uint32(b) == uint32(wire.TestNet) {
			n := binary.LittleEndian.Uint32(b[4:])
			var blk wire.MsgBlock
			if err := blk.Deserialize(bytes.NewReader(b[8 : 8+n])); err != nil {
				t.Fatal(err)
			}
			out = append(out, &blk)
			b = b[8+n:]
		}
	}
	return out
}

func scriptAddress(t *testing.T, script []byte) string {
	_, addrs, _, err := txscript.ExtractPkScriptAddrs(script, &chaincfg.RegressionNetParams)
	if err != nil || len(addrs) != 1 {
		t.Fatalf("output script %x: %v %v", script, addrs, err)
	}
	return addrs[0].EncodeAddress()
}

// TestChainRules: the block files are a valid chain: linkage from
// regtest's genesis, merkle roots, every input spending an existing
// unspent output once, coinbases spent only after 100 blocks, no value
// created but the subsidy.
func TestChainRules(t *testing.T) {
	for name, dir := range scenarios(t) {
		t.Run(name, func(t *testing.T) { checkChainRules(t, dir) })
	}
}

// shipped is the scenario committed in testdata (seed 1, 8 days), which
// the README's demo indexes.
const shipped = "../testdata/sim/btc"

func scenarios(t *testing.T) map[string]string {
	return map[string]string{"fresh": writeScenario(t, BTCConfig{Seed: 3, Days: 6}), "shipped": shipped}
}

func checkChainRules(t *testing.T, dir string) {
	blocks := readBlocks(t, filepath.Join(dir, BlocksDir))
	if blocks[0].BlockHash() != *chaincfg.RegressionNetParams.GenesisHash {
		t.Fatal("the first block is not regtest's genesis")
	}
	type utxo struct {
		value    int64
		height   int
		coinbase bool
	}
	unspent := map[wire.OutPoint]utxo{}
	var txs, coinjoins int
	for h, b := range blocks {
		if h > 0 && b.Header.PrevBlock != blocks[h-1].BlockHash() {
			t.Fatalf("block %d does not link to block %d", h, h-1)
		}
		if err := blockchain.CheckProofOfWork(btcutil.NewBlock(b), chaincfg.RegressionNetParams.PowLimit); err != nil {
			t.Fatalf("block %d: %v", h, err)
		}
		bt := make([]*btcutil.Tx, len(b.Transactions))
		for i, tx := range b.Transactions {
			bt[i] = btcutil.NewTx(tx)
		}
		if blockchain.CalcMerkleRoot(bt, false) != b.Header.MerkleRoot {
			t.Fatalf("block %d: merkle root", h)
		}
		var fees, cbOut int64
		for i, tx := range b.Transactions {
			txs++
			var in, out int64
			for _, o := range tx.TxOut {
				out += o.Value
			}
			if i == 0 {
				cbOut = out
			} else {
				for _, txin := range tx.TxIn {
					u, ok := unspent[txin.PreviousOutPoint]
					if !ok {
						t.Fatalf("block %d tx %s spends %s, which is not unspent", h, tx.TxHash(), txin.PreviousOutPoint)
					}
					if u.coinbase && h-u.height < 100 {
						t.Fatalf("block %d spends a coinbase of block %d before maturity", h, u.height)
					}
					delete(unspent, txin.PreviousOutPoint)
					in += u.value
				}
				if out > in {
					t.Fatalf("tx %s creates value: in %d, out %d", tx.TxHash(), in, out)
				}
				fees += in - out
				if isCoinJoin(tx) {
					coinjoins++
				}
			}
			for k, o := range tx.TxOut {
				unspent[wire.OutPoint{Hash: tx.TxHash(), Index: uint32(k)}] = utxo{o.Value, h, i == 0}
			}
		}
		if h > 0 && cbOut > blockchain.CalcBlockSubsidy(int32(h), &chaincfg.RegressionNetParams)+fees {
			t.Fatalf("block %d: coinbase pays %d, more than subsidy and fees %d", h, cbOut, fees)
		}
	}
	if coinjoins == 0 {
		t.Fatal("no CoinJoin in the chain")
	}
	t.Logf("%d blocks, %d transactions, %d CoinJoins", len(blocks), txs, coinjoins)
}

// isCoinJoin: five or more outputs of one value, from five or more inputs.
func isCoinJoin(tx *wire.MsgTx) bool {
	count := map[int64]int{}
	for _, o := range tx.TxOut {
		count[o.Value]++
	}
	for _, n := range count {
		if n >= 5 && len(tx.TxIn) >= 5 {
			return true
		}
	}
	return false
}

// span is a run of a transaction's input satoshis, [lo, hi), that came
// from one victim payment.
type span struct {
	lo, hi int64
	victim int
}

// TestTruthMatchesChain recomputes, from the chain's transactions alone,
// where each victim payment's money went under the haircut and FIFO
// models, stopping at exchange deposit addresses, and compares it with
// the truth files. It also checks that every address the chain pays has
// an owner and that each victim payment is on the chain as recorded.
func TestTruthMatchesChain(t *testing.T) {
	for name, dir := range scenarios(t) {
		t.Run(name, func(t *testing.T) { checkTruth(t, dir) })
	}
}

func checkTruth(t *testing.T, dir string) {
	blocks := readBlocks(t, filepath.Join(dir, BlocksDir))
	roles := map[string]string{}
	for _, r := range csvtest.Read(t, filepath.Join(dir, TruthDir, "addresses.csv")) {
		roles[r["address"]] = r["role"]
	}
	type payment struct {
		id    int
		value int64
		addr  string
	}
	victims := map[wire.OutPoint]payment{}
	for _, r := range csvtest.Read(t, filepath.Join(dir, TruthDir, "victim_payments.csv")) {
		var op wire.OutPoint
		h, err := chains.ParseHash(r["txid"])
		if err != nil {
			t.Fatal(err)
		}
		// chains.Hash is in display order; wire hashes are reversed.
		for i := range h {
			op.Hash[i] = h[31-i]
		}
		vout, _ := strconv.Atoi(r["vout"])
		op.Index = uint32(vout)
		id, _ := strconv.Atoi(r["victim_payment_id"])
		v, _ := strconv.ParseInt(r["value_sats"], 10, 64)
		victims[op] = payment{id, v, r["address"]}
	}
	if len(victims) == 0 {
		t.Fatal("no victim payments")
	}
	// Haircut in millisatoshis, rounded down at each transaction, shares
	// under a satoshi dropped (FORMAT.md); computed here with big.Int.
	type coin struct {
		value   int64
		haircut map[int]int64
		fifo    []span // relative to the coin: [0, value)
	}
	coins := map[wire.OutPoint]*coin{}
	var got []string
	found := 0
	for _, b := range blocks[1:] { // regtest's genesis is no one's: its coinbase cannot be spent
		for _, tx := range b.Transactions {
			id := tx.TxHash()
			// The inputs laid end to end.
			var total int64
			hair := map[int]int64{}
			var spans []span
			if !blockchain.IsCoinBaseTx(tx) {
				for _, in := range tx.TxIn {
					c := coins[in.PreviousOutPoint]
					delete(coins, in.PreviousOutPoint)
					for v, m := range c.haircut {
						hair[v] += m
					}
					for _, s := range c.fifo {
						spans = append(spans, span{total + s.lo, total + s.hi, s.victim})
					}
					total += c.value
				}
			}
			var at int64
			for k, o := range tx.TxOut {
				op := wire.OutPoint{Hash: id, Index: uint32(k)}
				if txscript.GetScriptClass(o.PkScript) == txscript.NullDataTy && o.Value == 0 {
					continue // a Tx0's OP_RETURN: no owner, no coin
				}
				addr := scriptAddress(t, o.PkScript)
				if _, ok := roles[addr]; !ok {
					t.Fatalf("output %s pays %s, which has no owner in the truth", op, addr)
				}
				c := &coin{value: o.Value, haircut: map[int]int64{}}
				for v, m := range hair {
					share := new(big.Int).Mul(big.NewInt(m), big.NewInt(o.Value))
					share.Quo(share, big.NewInt(total))
					if share.Int64() >= 1000 {
						c.haircut[v] = share.Int64()
					}
				}
				// FIFO: this output is satoshis [at, at+value) of the inputs.
				for _, s := range spans {
					lo, hi := max(s.lo, at), min(s.hi, at+o.Value)
					if lo < hi {
						c.fifo = append(c.fifo, span{lo - at, hi - at, s.victim})
					}
				}
				at += o.Value
				if p, ok := victims[op]; ok {
					found++
					if p.value != o.Value || p.addr != addr {
						t.Fatalf("victim payment %d is %d sats to %s on the chain, truth says %d to %s", p.id, o.Value, addr, p.value, p.addr)
					}
					c.haircut = map[int]int64{p.id: o.Value * 1000}
					c.fifo = []span{{0, o.Value, p.id}}
				}
				if roles[addr] == "deposit" {
					fifo := map[int]int64{}
					for _, s := range c.fifo {
						fifo[s.victim] += s.hi - s.lo
					}
					for v := range fifo {
						if _, ok := c.haircut[v]; !ok {
							c.haircut[v] = 0 // FIFO taint with no haircut share left
						}
					}
					for v, m := range c.haircut {
						hc := m / 1000
						if v >= 0 && (hc > 0 || fifo[v] > 0) {
							got = append(got, fmt.Sprintf("%d %s %d %d %d", v, id, k, hc, fifo[v]))
						}
					}
					c = &coin{value: o.Value}
				}
				coins[op] = c
			}
		}
	}
	if found != len(victims) {
		t.Fatalf("%d of %d victim payments found on the chain", found, len(victims))
	}
	var want []string
	for _, r := range csvtest.Read(t, filepath.Join(dir, TruthDir, "exposures.csv")) {
		want = append(want, fmt.Sprintf("%s %s %s %s %s", r["victim_payment_id"], r["txid"], r["vout"], r["haircut_sats"], r["fifo_sats"]))
	}
	sort.Strings(got)
	sort.Strings(want)
	if len(want) == 0 {
		t.Fatal("no victim money reached an exchange")
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("exposures recomputed from the chain differ from the truth:\n got %d: %v\nwant %d: %v", len(got), head(got), len(want), head(want))
	}
}

func head(s []string) []string { return s[:min(len(s), 8)] }

// TestDeterministic: the same seed writes the same files, byte for byte;
// another seed does not.
func TestDeterministic(t *testing.T) {
	files := func(dir string) map[string]string {
		m := map[string]string{}
		filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				b, _ := os.ReadFile(p)
				rel, _ := filepath.Rel(dir, p)
				m[rel] = string(b)
			}
			return nil
		})
		return m
	}
	a := files(writeScenario(t, BTCConfig{Seed: 9, Days: 3}))
	b := files(writeScenario(t, BTCConfig{Seed: 9, Days: 3}))
	c := files(writeScenario(t, BTCConfig{Seed: 10, Days: 3}))
	if len(a) == 0 || fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("the same seed gave different files")
	}
	if a[filepath.Join(TruthDir, "addresses.csv")] == c[filepath.Join(TruthDir, "addresses.csv")] {
		t.Fatal("another seed gave the same addresses")
	}
}

// TestIndexable: fundtrace's indexer reads the scenario's block files
// (xor-obfuscated too) and finds the chain the files hold.
func TestIndexable(t *testing.T) {
	w := GenerateBTC(BTCConfig{Seed: 4, Days: 3})
	dir := t.TempDir()
	if err := WriteBTC(w, dir, WriteOptions{XORKey: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}}); err != nil {
		t.Fatal(err)
	}
	st, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	res, err := btc.Index(context.Background(), st, btc.IndexConfig{Dir: filepath.Join(dir, BlocksDir)})
	if err != nil {
		t.Fatal(err)
	}
	var txs int64
	for _, b := range w.Blocks {
		txs += int64(len(b.Transactions))
	}
	if res.Network != "regtest" || res.Blocks != int64(len(w.Blocks)) || res.Txs != txs {
		t.Fatalf("indexed %+v; the chain has %d blocks, %d transactions", res, len(w.Blocks), txs)
	}
}

// TestEconomyShape checks the habits the heuristics will be measured on:
// change mostly to fresh addresses but some reuse, exchange deposits
// swept together, CoinJoins, and the scam's peel chain.
func TestEconomyShape(t *testing.T) {
	w := GenerateBTC(BTCConfig{Seed: 2, Days: 8})
	roles := map[string]int{}
	for a := range w.Addresses.All() {
		roles[a.Role]++
	}
	for _, r := range []string{"receive", "change", "deposit", "hot", "coinbase", "collection", "consolidation", "peel", "premix", "postmix", "coordinator-fee"} {
		if roles[r] == 0 {
			t.Errorf("no %s address", r)
		}
	}
	if roles["change"] < roles["receive"]/4 {
		t.Errorf("%d change addresses for %d receive addresses: change should mostly go to fresh addresses", roles["change"], roles["receive"])
	}
	if len(w.Labels) != 5 {
		t.Errorf("%d labels: want the four exchange hot wallets and the coordinator", len(w.Labels))
	}
	var scamDeposits int
	for _, x := range w.Exposures {
		if w.Entities[x.Account].Kind == KindScam {
			scamDeposits++
		}
	}
	if scamDeposits == 0 {
		t.Error("the scam never reached its exchange accounts")
	}
}

// TestCrimeConfigurable: the number of victims and whether the scam uses
// the CoinJoin follow the configuration.
func TestCrimeConfigurable(t *testing.T) {
	scamMixes := func(w *BTCWorld) int {
		n := 0
		for a := range w.Addresses.All() {
			if a.Role == "premix" && w.Entities[a.Owner].Kind == KindScam {
				n++
			}
		}
		return n
	}
	victims := func(w *BTCWorld) int {
		seen := map[int]bool{}
		for _, v := range w.Victims {
			seen[v.Victim] = true
		}
		return len(seen)
	}
	none := GenerateBTC(BTCConfig{Seed: 6, Days: 8, Victims: 3, MixPercent: -1})
	all := GenerateBTC(BTCConfig{Seed: 6, Days: 8, Victims: 12, MixPercent: 100})
	if scamMixes(none) != 0 || scamMixes(all) == 0 {
		t.Fatalf("scam premix coins: %d with mixing off, %d with all of it mixed", scamMixes(none), scamMixes(all))
	}
	if victims(none) > 3 || victims(all) <= 3 {
		t.Fatalf("victims who paid: %d of 3, %d of 12", victims(none), victims(all))
	}
}

// TestGenerateBTCFilesSameAsWhole: a chain written block by block as it
// is made is the same, file for file and byte for byte, as one generated
// whole and written after.
func TestGenerateBTCFilesSameAsWhole(t *testing.T) {
	cfg := BTCConfig{Seed: 9, Scale: 1, Days: 3}
	whole, stream := t.TempDir(), t.TempDir()
	if err := WriteBTC(GenerateBTC(cfg), whole, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := GenerateBTCFiles(cfg, stream, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Blocks) != 1 || len(w.Times) < 100 {
		t.Fatalf("streamed world holds %d blocks, %d times", len(w.Blocks), len(w.Times))
	}
	n := 0
	err = filepath.WalkDir(whole, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(whole, p)
		a, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(filepath.Join(stream, rel))
		if err != nil {
			return err
		}
		if !bytes.Equal(a, b) {
			return fmt.Errorf("%s differs", rel)
		}
		n++
		return nil
	})
	if err != nil || n < 5 {
		t.Fatalf("compared %d files: %v", n, err)
	}
}

// TestNoExposures: the same chain without the exposures file, which the
// world still counts.
func TestNoExposures(t *testing.T) {
	cfg := BTCConfig{Seed: 9, Scale: 1, Days: 3}
	with, without := t.TempDir(), t.TempDir()
	if _, err := GenerateBTCFiles(cfg, with, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := GenerateBTCFiles(cfg, without, WriteOptions{NoExposures: true})
	if err != nil {
		t.Fatal(err)
	}
	rows := csvtest.Read(t, filepath.Join(with, TruthDir, "exposures.csv"))
	if len(rows) == 0 || w.ExposureCount != len(rows) || len(w.Exposures) != 0 {
		t.Errorf("%d exposures counted, %d held; the file has %d", w.ExposureCount, len(w.Exposures), len(rows))
	}
	if _, err := os.Stat(filepath.Join(without, TruthDir, "exposures.csv")); !os.IsNotExist(err) {
		t.Errorf("exposures.csv written: %v", err)
	}
	for _, f := range []string{"addresses.csv", "victim_payments.csv"} {
		a, _ := os.ReadFile(filepath.Join(with, TruthDir, f))
		b, _ := os.ReadFile(filepath.Join(without, TruthDir, f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs", f)
		}
	}
}
