package btc

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
	"weak"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/internal/realblocks"
	"github.com/fundtrace/fundtrace/internal/shareddata"
	"github.com/fundtrace/fundtrace/internal/testchain"
	"github.com/fundtrace/fundtrace/internal/txcodec"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/store/embedded"
)

const realBlocksDir = "../../testdata/btc/blocks" // mainnet blocks 0..599

func openTestStore(t testing.TB) *embedded.Store {
	t.Helper()
	st, err := embedded.Open(filepath.Join(t.TempDir(), "store"), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func mustIndex(t testing.TB, st *embedded.Store, cfg IndexConfig) *Result {
	t.Helper()
	res, err := Index(context.Background(), st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// dump returns the store's content table by table, leaving out the
// per-chain metadata (which also records facts about the source folder).
func dump(t testing.TB, st *embedded.Store) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := st.Dump(context.Background(), func(k, v []byte) error {
		if k[0] != 'm' {
			m[string(k)] = string(v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sameDump(t *testing.T, a, b map[string]string) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("stores differ: %d vs %d keys", len(a), len(b))
	}
	for k, v := range a {
		if b[k] != v {
			t.Fatalf("stores differ at key %x", k)
		}
	}
}

// TestFirstBitcoinPayment checks block 170's famous transaction: Satoshi
// Nakamoto's 10 BTC to Hal Finney, spending the coinbase of block 9, with
// 40 BTC change spent again in block 181 (hand-checked against the chain).
func TestFirstBitcoinPayment(t *testing.T) {
	st := openTestStore(t)
	mustIndex(t, st, IndexConfig{Dir: realBlocksDir})
	ctx := context.Background()
	main := bitcoin.NetworkByName("mainnet")
	h, _ := chains.ParseHash("f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16")
	tx, err := st.Tx(ctx, chains.Bitcoin, h)
	if err != nil {
		t.Fatal(err)
	}
	if tx.Height != 170 || tx.Position != 1 || tx.Fee() != 0 {
		t.Errorf("height %d position %d fee %d", tx.Height, tx.Position, tx.Fee())
	}
	in := tx.Inputs[0]
	if in.Prev.String() != "0437cd7f8525ceed2324359c2d0ba26006d92d856a9c20fa0241106ee5a597c9:0" ||
		in.Prevout.Value != 50e8 || main.MustEncode(in.Prevout.Address()) != "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S" {
		t.Errorf("input %+v", in)
	}
	want := []struct {
		addr  string
		value int64
	}{{"1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3", 10e8}, {"12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S", 40e8}}
	for i, w := range want {
		if o := tx.Outputs[i]; main.MustEncode(o.Address()) != w.addr || o.Value != w.value || o.Type != chains.ScriptPubKey {
			t.Errorf("output %d: %s %d %s, want %s %d pubkey", i, main.MustEncode(o.Address()), o.Value, o.Type, w.addr, w.value)
		}
	}
	satoshi, _ := main.ParseAddress("12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S")
	hist, err := st.AddressHistory(ctx, chains.Bitcoin, satoshi, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) < 2 || hist[0].Height != 9 || hist[0].SpentBy.TxHash != h || hist[1].Height != 170 ||
		hist[1].SpentBy.Height != 181 || !strings.HasPrefix(hist[1].SpentBy.TxHash.String(), "a16f3ce4dd5deb92") {
		t.Errorf("history of 12cbQLTF...: %+v", hist)
	}
	if first, err := st.FirstSeen(ctx, chains.Bitcoin, satoshi); err != nil || first != 9 {
		t.Errorf("first seen %d %v, want 9", first, err)
	}
}

// TestIndexAgainstBitcoinETL compares blocks 0 and 1 with bitcoin-etl's
// expected export of the same blocks, field by field.
func TestIndexAgainstBitcoinETL(t *testing.T) {
	st := openTestStore(t)
	mustIndex(t, st, IndexConfig{Dir: realBlocksDir})
	main := bitcoin.NetworkByName("mainnet")
	for _, c := range []string{"block_0", "block_1"} {
		b, err := os.ReadFile(shareddata.Path(t, "bitcoin", "rpc", "bitcoin-etl", "test_export_blocks_job", "bitcoin", c, "expected_transactions.json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var e struct {
				Hash        string `json:"hash"`
				Size        uint32 `json:"size"`
				VSize       uint32 `json:"virtual_size"`
				Version     int32  `json:"version"`
				LockTime    uint32 `json:"lock_time"`
				BlockNumber int64  `json:"block_number"`
				BlockHash   string `json:"block_hash"`
				Time        int64  `json:"block_timestamp"`
				Coinbase    bool   `json:"is_coinbase"`
				Index       uint32 `json:"index"`
				OutputValue int64  `json:"output_value"`
				Fee         int64  `json:"fee"`
				Outputs     []struct {
					Index     uint32   `json:"index"`
					Type      string   `json:"type"`
					Addresses []string `json:"addresses"`
					Value     int64    `json:"value"`
				} `json:"outputs"`
			}
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatal(err)
			}
			h, _ := chains.ParseHash(e.Hash)
			tx, err := st.Tx(context.Background(), chains.Bitcoin, h)
			if err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			blk, _, err := st.BlockByHeight(context.Background(), chains.Bitcoin, tx.Height)
			if err != nil {
				t.Fatal(err)
			}
			got := fmt.Sprintf("%v", []any{tx.Size, tx.VSize, tx.Version, tx.LockTime, tx.Height, blk.Hash.String(), tx.Time, tx.Coinbase, tx.Position, tx.Fee()})
			want := fmt.Sprintf("%v", []any{e.Size, e.VSize, e.Version, e.LockTime, e.BlockNumber, e.BlockHash, e.Time, e.Coinbase, e.Index, e.Fee})
			if got != want {
				t.Errorf("%s tx %s: got %s, bitcoin-etl %s", c, e.Hash, got, want)
			}
			for i, o := range e.Outputs {
				g := tx.Outputs[i]
				if g.Index != o.Index || g.Type.String() != o.Type || g.Value != o.Value || strings.Join(encodeAll(main, g.Addresses), ",") != strings.Join(o.Addresses, ",") {
					t.Errorf("%s tx %s output %d: %+v, bitcoin-etl %+v", c, e.Hash, i, g, o)
				}
			}
		}
	}
}

func encodeAll(n *bitcoin.Network, as []chains.Address) []string {
	var out []string
	for _, a := range as {
		out = append(out, n.MustEncode(a))
	}
	return out
}

// coreLayout writes blocks 0..599 the way a real node leaves them:
// downloaded out of order across several files, obfuscated with xor.dat,
// with a block whose parent never arrived, a block stored twice, and
// zero-filled preallocated tails.
func coreLayout(t *testing.T, dir string) (orphan chains.Hash) {
	t.Helper()
	var recs [][]byte
	for _, name := range []string{"blk00000.dat", "blk00001.dat"} {
		b, err := os.ReadFile(filepath.Join(realBlocksDir, name))
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off < len(b); {
			l := int(uint32(b[off+4]) | uint32(b[off+5])<<8 | uint32(b[off+6])<<16 | uint32(b[off+7])<<24)
			recs = append(recs, b[off+8:off+8+l])
			off += 8 + l
		}
	}
	// A block whose parent is not in the folder: mainnet block 227,836,
	// whose parent 227,835 is not among blocks 0..599. (A stale sibling
	// cannot be made at mainnet difficulty now that proof of work is
	// checked; TestIndexStaleBranch makes one on regtest.)
	orphanRaw, err := os.ReadFile(shareddata.Path(t, "bitcoin", "blocks", "bitcoinj", "block227836.dat"))
	if err != nil {
		t.Fatal(err)
	}
	if orphan, err = chains.ParseHash("00000000000000d0dfd4c9d588d325dce4f32c1b31b7c0064cba7025a9b9adcc"); err != nil {
		t.Fatal(err)
	}

	all := append(append([][]byte{}, recs...), orphanRaw, recs[42]) // recs[42] a second time
	r := rand.New(rand.NewPCG(1, 2))
	// Core downloads in parallel: shuffle within windows, keeping the
	// rough order a node's files have.
	for i := 0; i < len(all); i += 64 {
		w := all[i:min(i+64, len(all))]
		r.Shuffle(len(w), func(a, b int) { w[a], w[b] = w[b], w[a] })
	}
	fw := &bitcoin.FileWriter{Dir: dir, Magic: wire.MainNet, XORKey: [8]byte{0x9a, 0x1f, 0, 0x77, 0x42, 0xee, 0x10, 0x01}, MaxFileSize: 40_000, PadTo: 16 << 10}
	for _, b := range all {
		if err := fw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	return orphan
}

// TestIndexCoreLayout: the same real blocks laid out as a node leaves
// them give exactly the same store as the plain files, and what was left
// out is reported.
func TestIndexCoreLayout(t *testing.T) {
	plain := openTestStore(t)
	mustIndex(t, plain, IndexConfig{Dir: realBlocksDir})

	dir := t.TempDir()
	orphan := coreLayout(t, dir)
	files, _ := filepath.Glob(filepath.Join(dir, "blk*.dat"))
	if len(files) < 3 {
		t.Fatalf("layout has %d files, want several", len(files))
	}
	st := openTestStore(t)
	res := mustIndex(t, st, IndexConfig{Dir: dir, BatchBlocks: 37})
	if len(res.Stale) != 0 {
		t.Errorf("stale %+v, want none", res.Stale)
	}
	if len(res.Unconnected) != 1 || res.Unconnected[0].Hash != orphan {
		t.Errorf("unconnected %+v, want %s", res.Unconnected, orphan)
	}
	if res.Duplicates != 1 {
		t.Errorf("duplicates %d, want 1", res.Duplicates)
	}
	sameDump(t, dump(t, plain), dump(t, st))
	m, _ := st.Meta(context.Background(), chains.Bitcoin)
	if m.StaleSkipped != 0 || m.Unconnected != 1 || m.TipHeight != 599 {
		t.Errorf("meta %+v", m)
	}
}

// TestIndexSyntheticChain indexes a generated regtest chain with every
// output type, segwit spends and spends within a block, and checks each
// input against what the generator spent.
func TestIndexSyntheticChain(t *testing.T) {
	ch := testchain.Generate(testchain.Config{Seed: 7, Blocks: 120, TxsPerBlock: 40})
	dir := writeChain(t, ch)
	st := openTestStore(t)
	res := mustIndex(t, st, IndexConfig{Dir: dir, BatchBlocks: 9, CacheOutputs: 50})
	if res.Network != "regtest" || res.To != 120 {
		t.Fatalf("network %s tip %d", res.Network, res.To)
	}
	checkPrevouts(t, st, ch)
}

// writeChain writes ch's blocks as a blocks folder.
func writeChain(t *testing.T, ch *testchain.Chain) string {
	t.Helper()
	dir := t.TempDir()
	fw := &bitcoin.FileWriter{Dir: dir, Magic: wire.TestNet, MaxFileSize: 1 << 20}
	for _, b := range ch.Blocks {
		if err := fw.Write(testchain.Serialize(b)); err != nil {
			t.Fatal(err)
		}
	}
	fw.Close()
	return dir
}

// checkPrevouts checks every input's spent output in st against what the
// generator of ch spent.
func checkPrevouts(t *testing.T, st *embedded.Store, ch *testchain.Chain) {
	t.Helper()
	reg := bitcoin.NetworkByName("regtest")
	ctx := context.Background()
	var nin int
	for h, b := range ch.Blocks {
		for _, mtx := range b.Transactions {
			tx, err := st.Tx(ctx, chains.Bitcoin, displayHash(mtx.TxHash()))
			if err != nil {
				t.Fatal(err)
			}
			if tx.Height != int64(h) {
				t.Fatalf("tx %s at %d, want %d", tx.Hash, tx.Height, h)
			}
			if tx.Coinbase {
				continue
			}
			for i, in := range mtx.TxIn {
				c := ch.Spent[in.PreviousOutPoint]
				_, as, _, _ := txscript.ExtractPkScriptAddrs(c.Script, reg.Params)
				got := tx.Inputs[i].Prevout
				if got.Value != c.Value || len(as) != 1 || reg.MustEncode(got.Address()) != pubKeyHashAddressOf(t, as[0]) {
					t.Fatalf("tx %s in %d: %d %s, generator spent %d %v", tx.Hash, i, got.Value, reg.MustEncode(got.Address()), c.Value, as)
				}
				nin++
			}
		}
	}
	if nin != len(ch.Spent) {
		t.Fatalf("checked %d inputs, generator spent %d", nin, len(ch.Spent))
	}
}

// lookupCounter counts the outputs the indexer asks its store for.
type lookupCounter struct {
	*embedded.Store
	asked int
}

func (l *lookupCounter) LookupOutputs(ctx context.Context, c chains.Chain, ops []chains.Outpoint) ([]*chains.Output, error) {
	l.asked += len(ops)
	return l.Store.LookupOutputs(ctx, c, ops)
}

// failingWrite is a store whose write number fail fails, after its
// first fail-1 writes went through. It notes whether a write ever began
// while another was running, and whether a lookup asked for an output
// of a block no committed write had stored (heights gives each
// transaction's height).
type failingWrite struct {
	*embedded.Store
	fail, writes int
	heights      map[chainhash.Hash]int
	committed    atomic.Int64 // the last committed write's tip
	busy         atomic.Bool
	overlapped   atomic.Bool  // two writes at once
	early        atomic.Bool  // an output asked for before its write was committed
	beside       atomic.Int32 // lookups that ran beside a write
}

func newFailingWrite(t *testing.T, ch *testchain.Chain, fail int) *failingWrite {
	f := &failingWrite{Store: openTestStore(t), fail: fail, heights: txHeights(ch)}
	f.committed.Store(-1)
	return f
}

// txHeights gives the height of each of the generated chain's transactions.
func txHeights(ch *testchain.Chain) map[chainhash.Hash]int {
	at := map[chainhash.Hash]int{}
	for h, b := range ch.Blocks {
		for _, mtx := range b.Transactions {
			at[mtx.TxHash()] = h
		}
	}
	return at
}

var errWriteFailed = errors.New("the disk is full")

func (f *failingWrite) WriteBlocks(ctx context.Context, c chains.Chain, network string, blocks []chains.BlockData, opts store.WriteOptions) error {
	if !f.busy.CompareAndSwap(false, true) {
		f.overlapped.Store(true)
	}
	defer f.busy.Store(false)
	// Held on a little, so that the next batch, resolved meanwhile,
	// has its lookup begin beside this write.
	defer time.Sleep(30 * time.Millisecond)
	if f.writes++; f.writes == f.fail {
		return errWriteFailed
	}
	if err := f.Store.WriteBlocks(ctx, c, network, blocks, opts); err != nil {
		return err
	}
	f.committed.Store(blocks[len(blocks)-1].Block.Height)
	return nil
}

func (f *failingWrite) LookupOutputs(ctx context.Context, c chains.Chain, ops []chains.Outpoint) ([]*chains.Output, error) {
	tip := f.committed.Load()
	for _, op := range ops {
		if h, ok := f.heights[chainhash.Hash(op.Hash)]; ok && int64(h) > tip {
			f.early.Store(true)
		}
	}
	if f.busy.Load() {
		f.beside.Add(1)
	}
	return f.Store.LookupOutputs(ctx, c, ops)
}

// TestIndexWriteFails: the store writes one batch while the indexer
// resolves the next and looks up what that one spends and the cache has
// dropped, so a write's failure is met a batch later. The run still
// stops with that error, the store holds exactly the batches written
// before it (nine blocks each), a second run finishes the chain with
// every input as the generator spent it, no write ever ran beside
// another, and every lookup, some of them beside a write, asked only
// for outputs of batches committed before it.
func TestIndexWriteFails(t *testing.T) {
	ch := testchain.Generate(testchain.Config{Seed: 7, Blocks: 120, TxsPerBlock: 40})
	dir := writeChain(t, ch)
	f := newFailingWrite(t, ch, 4)
	_, err := Index(context.Background(), f, IndexConfig{Dir: dir, BatchBlocks: 9, CacheOutputs: 50})
	if !errors.Is(err, errWriteFailed) {
		t.Fatalf("index: %v, want the write's failure", err)
	}
	m, err := f.Meta(context.Background(), chains.Bitcoin)
	if err != nil {
		t.Fatal(err)
	}
	if m.TipHeight != 3*9-1 {
		t.Fatalf("tip %d after the fourth write failed, want %d", m.TipHeight, 3*9-1)
	}
	f.fail = 0
	if res, err := Index(context.Background(), f, IndexConfig{Dir: dir, BatchBlocks: 9, CacheOutputs: 50}); err != nil || res.To != 120 {
		t.Fatalf("second run: %+v, %v", res, err)
	}
	if f.overlapped.Load() {
		t.Error("a write began while another was running")
	}
	if f.early.Load() {
		t.Error("a lookup asked for an output whose block no committed write had stored")
	}
	if f.beside.Load() == 0 {
		t.Error("no lookup ran beside a write")
	}
	checkPrevouts(t, f.Store, ch)
}

// TestIndexSpill: with a cache of 10 outputs, the synthetic chain's
// inputs mostly spend outputs the cache has dropped. With a spill, a run
// from the start asks the store for none of them, and a run resuming
// another asks only for the outputs of the blocks before it; the spent
// outputs are the generator's either way, and the spill's folder is gone
// after each run.
func TestIndexSpill(t *testing.T) {
	ch := testchain.Generate(testchain.Config{Seed: 11, Blocks: 120, TxsPerBlock: 40})
	dir := writeChain(t, ch)
	run := func(t *testing.T, st *lookupCounter, to int64, spill string) {
		t.Helper()
		if _, err := Index(context.Background(), st, IndexConfig{Dir: dir, ToHeight: to, BatchBlocks: 9, CacheOutputs: 10, SpillDir: spill}); err != nil {
			t.Fatal(err)
		}
		if spill != "" {
			if left, _ := os.ReadDir(spill); len(left) != 0 {
				t.Fatalf("the spill left %s behind", left[0].Name())
			}
		}
	}
	// Without the spill the store is asked: the test can tell.
	without := &lookupCounter{Store: openTestStore(t)}
	run(t, without, 0, "")
	if without.asked == 0 {
		t.Fatal("without a spill the store was asked for no output: the cache holds the whole chain, and the test proves nothing")
	}
	checkPrevouts(t, without.Store, ch)

	whole := &lookupCounter{Store: openTestStore(t)}
	run(t, whole, 0, t.TempDir())
	if whole.asked != 0 {
		t.Errorf("one run with a spill asked the store for %d outputs, want 0 (of %d without)", whole.asked, without.asked)
	}
	checkPrevouts(t, whole.Store, ch)

	// Two runs: the second spills afresh and finds the first run's
	// outputs in the store.
	split := &lookupCounter{Store: openTestStore(t)}
	spill := t.TempDir()
	run(t, split, 60, spill)
	if split.asked != 0 {
		t.Errorf("the first run asked the store for %d outputs, want 0", split.asked)
	}
	split.asked = 0
	run(t, split, 0, spill)
	// The inputs above block 60 that spend outputs of blocks 0..60.
	at := txHeights(ch)
	var older int
	for h, b := range ch.Blocks {
		for _, mtx := range b.Transactions {
			if h <= 60 || blockchain.IsCoinBaseTx(mtx) {
				continue
			}
			for _, in := range mtx.TxIn {
				if at[in.PreviousOutPoint.Hash] <= 60 {
					older++
				}
			}
		}
	}
	if split.asked != older || older == 0 {
		t.Errorf("the resumed run asked the store for %d outputs, want the %d its blocks spend from the first run's", split.asked, older)
	}
	checkPrevouts(t, split.Store, ch)
	sameDump(t, dump(t, without.Store), dump(t, split.Store))
	sameDump(t, dump(t, without.Store), dump(t, whole.Store))
}

// TestIndexErrors: a reorganised folder, another network, a missing
// prevout each give a clear error and leave the store as it was.
func TestIndexErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("another network", func(t *testing.T) {
		st := openTestStore(t)
		mustIndex(t, st, IndexConfig{Dir: realBlocksDir, ToHeight: 3})
		ch := testchain.Generate(testchain.Config{Seed: 1, Blocks: 3})
		dir := t.TempDir()
		fw := &bitcoin.FileWriter{Dir: dir, Magic: wire.TestNet}
		for _, b := range ch.Blocks {
			fw.Write(testchain.Serialize(b))
		}
		fw.Close()
		if _, err := Index(ctx, st, IndexConfig{Dir: dir}); err == nil || !strings.Contains(err.Error(), "regtest") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("block that does not decode", func(t *testing.T) {
		// Blocks 0..199 whose block 150 claims two transactions and holds
		// one; its header, and so the chain of headers, is untouched.
		recs := realblocks.Records(t)
		dir := t.TempDir()
		fw := &bitcoin.FileWriter{Dir: dir, Magic: wire.MainNet}
		var at int64
		for i, r := range recs[:200] {
			b := append([]byte(nil), r[8:]...)
			if i == 150 {
				b[80] = 2 // the transaction count, after the 80-byte header
			}
			if i < 150 {
				at += int64(len(r))
			}
			fw.Write(b)
		}
		fw.Close()
		st := openTestStore(t)
		_, err := Index(ctx, st, IndexConfig{Dir: dir, BatchBlocks: 100})
		want := fmt.Sprintf("blk00000.dat: offset %d: block 150 ", at)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "does not decode: transaction 1 at byte") {
			t.Fatalf("got %v, want an error naming %q and the transaction", err, want)
		}
		if m, _ := st.Meta(ctx, chains.Bitcoin); m.TipHeight != 99 || m.Blocks != 100 {
			t.Errorf("tip %d, %d blocks after the failure; want 99 and 100 (the last whole batch)", m.TipHeight, m.Blocks)
		}
		if _, _, err := st.BlockByHeight(ctx, chains.Bitcoin, 100); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("block 100 of the failed batch is stored: %v", err)
		}
	})
	t.Run("missing prevout", func(t *testing.T) {
		// A regtest chain in which one transaction of block 10 is changed
		// (its lock time, so its txid) after the fact, every later header
		// relinked and mined again: the first transaction that spends one
		// of its outputs spends an output the chain never had.
		ch := testchain.Generate(testchain.Config{Seed: 11, Blocks: 120, TxsPerBlock: 20})
		altered := ch.Blocks[10].Transactions[1]
		old := altered.TxHash()
		altered.LockTime++
		wantHeight, wantTx := -1, chainhash.Hash{}
		for h := 10; h < len(ch.Blocks) && wantHeight < 0; h++ {
			for _, tx := range ch.Blocks[h].Transactions[1:] {
				for _, in := range tx.TxIn {
					if in.PreviousOutPoint.Hash == old && wantHeight < 0 {
						wantHeight, wantTx = h, tx.TxHash()
					}
				}
			}
		}
		if wantHeight < 0 {
			t.Fatal("no later transaction spends the altered one")
		}
		dir := t.TempDir()
		fw := &bitcoin.FileWriter{Dir: dir, Magic: wire.TestNet}
		for h, blk := range ch.Blocks {
			if h >= 10 {
				blk.Header.PrevBlock = ch.Blocks[h-1].BlockHash()
				blk.Header.MerkleRoot = blockchain.CalcMerkleRoot(toUtil(blk.Transactions), false)
				testchain.Mine(&blk.Header)
			}
			fw.Write(testchain.Serialize(blk))
		}
		fw.Close()
		st := openTestStore(t)
		_, err := Index(ctx, st, IndexConfig{Dir: dir, BatchBlocks: 5})
		var pe *PrevoutError
		if !errors.As(err, &pe) || pe.Height != int64(wantHeight) || pe.TxHash != displayHash(wantTx) {
			t.Fatalf("got %v, want a PrevoutError for block %d's %s", err, wantHeight, displayHash(wantTx))
		}
		if m, _ := st.Meta(ctx, chains.Bitcoin); m.TipHeight >= int64(wantHeight) {
			t.Errorf("tip %d after the failure at %d", m.TipHeight, wantHeight)
		}
	})
}

func toUtil(txs []*wire.MsgTx) []*btcutil.Tx {
	out := make([]*btcutil.Tx, len(txs))
	for i, tx := range txs {
		out[i] = btcutil.NewTx(tx)
	}
	return out
}

var _ Sink = (*embedded.Store)(nil)
var _ = store.ErrNotFound

func pubKeyHashAddressOf(t *testing.T, a btcutil.Address) string {
	if pk, ok := a.(*btcutil.AddressPubKey); ok {
		return pk.AddressPubKeyHash().EncodeAddress()
	}
	return a.EncodeAddress()
}

// TestIndexLive: a record Core is still writing at the end of the newest
// file fails a normal run (naming file and offset) but, with Live, is left
// for the next run, which indexes it once complete.
func TestIndexLive(t *testing.T) {
	ctx := context.Background()
	recs := realblocks.Records(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "blk00000.dat")
	whole := bytes.Join(recs[:20], nil)
	partial := append(append([]byte(nil), whole...), recs[20][:60]...)
	if err := os.WriteFile(path, partial, 0o644); err != nil {
		t.Fatal(err)
	}
	st := openTestStore(t)
	_, err := Index(ctx, st, IndexConfig{Dir: dir})
	var re *bitcoin.RecordError
	if !errors.As(err, &re) || re.Offset != int64(len(whole)) {
		t.Fatalf("got %v, want a bitcoin.RecordError at offset %d", err, len(whole))
	}
	res, err := Index(ctx, st, IndexConfig{Dir: dir, Live: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.To != 19 || res.Incomplete == nil || res.Incomplete.Offset != int64(len(whole)) {
		t.Fatalf("indexed to %d, incomplete %v", res.To, res.Incomplete)
	}
	if err := os.WriteFile(path, bytes.Join(recs[:21], nil), 0o644); err != nil {
		t.Fatal(err)
	}
	if res, err = Index(ctx, st, IndexConfig{Dir: dir, Live: true}); err != nil || res.From != 20 || res.To != 20 || res.Incomplete != nil {
		t.Fatalf("after completion: %+v %v", res, err)
	}
	// Damage in an older file is an error even with Live.
	if err := os.WriteFile(filepath.Join(dir, "blk00001.dat"), recs[21], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, partial, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Index(ctx, openTestStore(t), IndexConfig{Dir: dir, Live: true}); !errors.As(err, &re) {
		t.Fatalf("damage before the newest file: %v", err)
	}
}

// TestOutputCacheCollision: two outpoints filed under the same 64-bit key
// both come back, each once, whatever the order.
func TestOutputCacheCollision(t *testing.T) {
	a := chains.Outpoint{Hash: chains.Hash{1, 2, 3}, Index: 0}
	b := chains.Outpoint{Index: 1}
	copy(b.Hash[:], a.Hash[:])
	binary.LittleEndian.PutUint64(b.Hash[:8], binary.LittleEndian.Uint64(a.Hash[:8])^0x9e3779b97f4a7c15)
	b.Hash[20] = 9
	if cacheKey(a) != cacheKey(b) || a == b {
		t.Fatal("test outpoints do not collide")
	}
	oa := &chains.Output{Value: 1, Type: chains.ScriptPubKeyHash, Addresses: []chains.Address{"1A"}}
	ob := &chains.Output{Value: 2, Type: chains.ScriptMultisig, Addresses: []chains.Address{"1B", "1C"}}
	for _, order := range [][2]chains.Outpoint{{a, b}, {b, a}} {
		c := newOutputCache(10)
		c.put(a, oa)
		c.put(b, ob)
		c.rotate(nil)
		for _, op := range order {
			want := oa
			if op == b {
				want = ob
			}
			wantTake(t, c, op, want)
			wantTake(t, c, op, nil)
		}
	}
	c := newOutputCache(1)
	c.put(a, oa)
	c.rotate(nil) // a moves to the old generation
	c.put(b, ob)
	wantTake(t, c, b, ob)
	wantTake(t, c, a, oa)
}

// wantTake takes op from c and fails unless it gives want's value, type
// and addresses, or nothing when want is nil.
func wantTake(t *testing.T, c *outputCache, op chains.Outpoint, want *chains.Output) {
	t.Helper()
	rec, ok := c.take(op)
	if !ok {
		if want != nil {
			t.Fatalf("take %v: not found, want %+v", op, *want)
		}
		return
	}
	var got chains.Output
	var a txcodec.AddrArena
	d := txcodec.Decoder{B: rec}
	d.OutputInto(op.Index, &got, &a)
	if err := d.End(); err != nil {
		t.Fatalf("take %v: %v", op, err)
	}
	a.Fill()
	switch {
	case want == nil:
		t.Fatalf("take %v = %+v, want nothing", op, got)
	case got.Value != want.Value || got.Type != want.Type || !slices.Equal(got.Addresses, want.Addresses):
		t.Fatalf("take %v = %+v, want %+v", op, got, *want)
	}
}

// TestOutputCacheRecycles: a retired generation's room serves the next
// one, without what it held: after two rotations the first generation's
// outputs are gone, the second's are found once, and the recycled
// generation takes new ones.
func TestOutputCacheRecycles(t *testing.T) {
	ops := make([]chains.Outpoint, 3)
	outs := make([]chains.Output, 3)
	for i := range ops {
		ops[i].Hash[0] = byte(i + 1)
		outs[i].Value = int64(i)
		outs[i].Addresses = []chains.Address{chains.Address(fmt.Sprintf("addr%d", i))}
	}
	c := newOutputCache(1)
	c.put(ops[0], &outs[0])
	c.rotate(nil)
	c.put(ops[1], &outs[1])
	c.rotate(nil) // ops[0]'s generation is dropped and becomes the current one
	wantTake(t, c, ops[0], nil)
	c.put(ops[2], &outs[2])
	wantTake(t, c, ops[1], &outs[1])
	wantTake(t, c, ops[2], &outs[2])
	wantTake(t, c, ops[1], nil)
	wantTake(t, c, ops[2], nil)
}

// TestOutputCacheCompacts: once most of a generation has been spent, a
// rotation compacts it, in place; what was not spent is still found,
// once, with its addresses, and what was spent is not found again.
func TestOutputCacheCompacts(t *testing.T) {
	c := newOutputCache(1 << 20)
	outs := make([]chains.Output, 5000)
	op := func(i int) chains.Outpoint {
		var h chains.Hash
		binary.BigEndian.PutUint32(h[:], uint32(i*7919))
		return chains.Outpoint{Hash: h, Index: uint32(i % 3)}
	}
	for i := range outs {
		outs[i].Value = int64(i)
		for k := range i % 4 { // none, one, or a multisig's several
			outs[i].Addresses = append(outs[i].Addresses, chains.Address(fmt.Sprintf("%d-%d", i, k)))
		}
		c.put(op(i), &outs[i])
	}
	for i := range outs {
		if i%10 != 0 {
			wantTake(t, c, op(i), &outs[i])
		}
	}
	text, room := len(c.cur.text), cap(c.cur.ents)
	c.rotate(nil)
	if cap(c.cur.ents) != room {
		t.Fatalf("compacted into new slices (room for %d entries, %d before): the copies were in order, so in place", cap(c.cur.ents), room)
	}
	if n := len(c.cur.ents); n >= len(outs)/2 {
		t.Fatalf("not compacted: %d entries kept for %d unspent outputs", n, c.cur.at.len())
	}
	if n := len(c.cur.text); n >= text/2 {
		t.Fatalf("text not compacted: %d of %d bytes kept", n, text)
	}
	for i := range outs {
		if i%10 == 0 {
			wantTake(t, c, op(i), &outs[i])
		} else {
			wantTake(t, c, op(i), nil)
		}
	}
}

// TestOutputCacheGrowsOnce: past its first 65,536 outputs a generation
// takes at once the room limit outputs need (reserve), instead of
// doubling all the way, and keeps it: neither its entries nor its text
// move again before it holds limit outputs, and every output put before,
// across and after the jump is found once, whole.
func TestOutputCacheGrowsOnce(t *testing.T) {
	const limit = 100_000
	c := newOutputCache(limit)
	op := func(i int) chains.Outpoint {
		var h chains.Hash
		binary.BigEndian.PutUint32(h[:], uint32(i)*2654435761)
		binary.BigEndian.PutUint32(h[4:], uint32(i))
		return chains.Outpoint{Hash: h, Index: uint32(i % 5)}
	}
	out := func(i int) chains.Output {
		o := chains.Output{Value: int64(i), Type: chains.ScriptPubKeyHash}
		for k := range 1 + i%3 {
			o.Addresses = append(o.Addresses, chains.Address(fmt.Sprintf("a%d-%d", i, k)))
		}
		return o
	}
	const n = limit - 1
	var ents *cached
	var text *byte
	moved := 0
	for i := range n {
		o := out(i)
		c.put(op(i), &o)
		if i < 70_000 {
			continue
		}
		if i == 70_000 {
			if got, want := cap(c.cur.ents), 2*limit+1024; got != want {
				t.Fatalf("after 70,000 outputs room for %d entries, want %d (a generation's)", got, want)
			}
		} else if &c.cur.ents[0] != ents || &c.cur.text[0] != text {
			moved++
		}
		ents, text = &c.cur.ents[0], &c.cur.text[0]
	}
	if moved != 0 {
		t.Fatalf("the generation's slices moved %d times after the jump", moved)
	}
	for i := range n {
		o := out(i)
		wantTake(t, c, op(i), &o)
	}
	wantTake(t, c, op(7), nil)
}

// TestOutputCacheDuplicateCompacts: an outpoint put again (a duplicate
// txid, BIP30) stands for the later output; compacting after it, with
// the later output's copy larger than the first's and after every other
// copy, keeps every output not taken intact, the later one included.
func TestOutputCacheDuplicateCompacts(t *testing.T) {
	c := newOutputCache(1 << 20)
	op := func(i int) chains.Outpoint {
		var h chains.Hash
		binary.BigEndian.PutUint32(h[:], uint32(i*104729+1))
		return chains.Outpoint{Hash: h}
	}
	outs := make([]chains.Output, 3000)
	for i := range outs {
		outs[i] = chains.Output{Value: int64(i), Type: chains.ScriptPubKeyHash, Addresses: []chains.Address{chains.Address(fmt.Sprintf("a%d", i))}}
		c.put(op(i), &outs[i])
	}
	// Outpoint 5 again, with three long addresses: its copy outgrows the
	// first's, and sits after every other output's.
	dup := chains.Output{Value: 77, Type: chains.ScriptMultisig}
	for k := range 3 {
		dup.Addresses = append(dup.Addresses, chains.Address(fmt.Sprintf("%s-%d", strings.Repeat("x", 40), k)))
	}
	c.put(op(5), &dup)
	want := map[int]*chains.Output{5: &dup}
	for i := range outs {
		switch {
		case i == 5:
		case i%7 == 0:
			want[i] = &outs[i]
		default:
			wantTake(t, c, op(i), &outs[i])
		}
	}
	c.rotate(nil)
	if n := len(c.cur.ents); n != len(want) {
		t.Fatalf("compacted to %d entries, want the %d not taken", n, len(want))
	}
	for i := range outs {
		wantTake(t, c, op(i), want[i])
	}
}

// TestIndexStaleBranch: a regtest chain with a sibling of block 50 (same
// parent, another coinbase, mined) stored after it: the sibling is
// reported stale and left out.
func TestIndexStaleBranch(t *testing.T) {
	ch := testchain.Generate(testchain.Config{Seed: 5, Blocks: 80, TxsPerBlock: 5})
	sib := *ch.Blocks[50]
	cb := *sib.Transactions[0]
	cb.TxOut = []*wire.TxOut{{Value: cb.TxOut[0].Value - 1, PkScript: cb.TxOut[0].PkScript}}
	sib.Transactions = []*wire.MsgTx{&cb}
	sib.Header.MerkleRoot = blockchain.CalcMerkleRoot(toUtil(sib.Transactions), false)
	testchain.Mine(&sib.Header)
	dir := t.TempDir()
	fw := &bitcoin.FileWriter{Dir: dir, Magic: wire.TestNet}
	for _, b := range ch.Blocks {
		fw.Write(testchain.Serialize(b))
	}
	fw.Write(testchain.Serialize(&sib))
	fw.Close()
	res := mustIndex(t, openTestStore(t), IndexConfig{Dir: dir})
	if res.To != 80 || len(res.Stale) != 1 || res.Stale[0].Hash != displayHash(sib.BlockHash()) || res.Stale[0].Height != 50 {
		t.Fatalf("tip %d, stale %+v; want 80 and the sibling at 50", res.To, res.Stale)
	}
}

// TestIndexVerifiesBlocks: real mainnet blocks 0..199 with one byte of
// block 150 changed. A flipped nonce byte leaves a header whose hash does
// not meet its target: the error names the file, the offset and the
// block hash, and nothing is indexed (before, block 150 was indexed under
// the forged hash and the blocks after it were left out without a word).
// A flipped byte in a transaction leaves the header intact and fails the
// merkle root: blocks before it are kept, none from it on.
func TestIndexVerifiesBlocks(t *testing.T) {
	ctx := context.Background()
	recs := realblocks.Records(t)
	var at int64
	for _, r := range recs[:150] {
		at += int64(len(r))
	}
	write := func(t *testing.T, edit func(b []byte)) string {
		dir := t.TempDir()
		fw := &bitcoin.FileWriter{Dir: dir, Magic: wire.MainNet}
		for i, r := range recs[:200] {
			b := append([]byte(nil), r[8:]...)
			if i == 150 {
				edit(b)
			}
			fw.Write(b)
		}
		fw.Close()
		return dir
	}
	t.Run("nonce", func(t *testing.T) {
		var forged chainhash.Hash
		dir := write(t, func(b []byte) {
			b[76] ^= 0x01 // the nonce's first byte
			var h wire.BlockHeader
			h.Deserialize(bytes.NewReader(b))
			forged = h.BlockHash()
		})
		st := openTestStore(t)
		_, err := Index(ctx, st, IndexConfig{Dir: dir, BatchBlocks: 100})
		want := fmt.Sprintf("blk00000.dat: offset %d: block %s: header hash does not meet its own target", at, displayHash(forged))
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, bitcoin.ErrBadRecord) {
			t.Fatalf("got %v, want %q", err, want)
		}
		if m, _ := st.Meta(ctx, chains.Bitcoin); m.TipHeight != -1 {
			t.Errorf("tip %d: blocks were indexed from a folder with a forged header", m.TipHeight)
		}
	})
	t.Run("transaction", func(t *testing.T) {
		dir := write(t, func(b []byte) { b[len(b)-10] ^= 0x01 }) // in the coinbase's output script
		st := openTestStore(t)
		_, err := Index(ctx, st, IndexConfig{Dir: dir, BatchBlocks: 100})
		want := fmt.Sprintf("blk00000.dat: offset %d: block 150 ", at)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "merkle root") {
			t.Fatalf("got %v, want %q and the merkle root", err, want)
		}
		if m, _ := st.Meta(ctx, chains.Bitcoin); m.TipHeight != 99 {
			t.Errorf("tip %d; want 99, the last whole batch before block 150", m.TipHeight)
		}
	})
}

// displayHash converts a hash from wire order (btcd's) to display order
// (the store's).
func displayHash(h chainhash.Hash) chains.Hash {
	var d chains.Hash
	for i := range h {
		d[i] = h[len(h)-1-i]
	}
	return d
}

// TestOutputCacheKeepsNoBlock: the cache keeps copies, so the decoded
// output and the text of its addresses can be collected while the
// output waits in the cache to be spent. When the cache held a pointer
// into the decoded block, one unspent output kept its whole block, and
// the indexer's memory grew with the chain (1.1 GB at 0.96 M
// transactions, 2.2 GB at 2.6 M, 3.5 GB at 5.45 M).
func TestOutputCacheKeepsNoBlock(t *testing.T) {
	c := newOutputCache(10)
	op := chains.Outpoint{Hash: chains.Hash{7}, Index: 1}
	want := chains.Output{Index: 1, Value: 5, Type: chains.ScriptPubKeyHash, Addresses: []chains.Address{"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"}}
	out, text := func() (weak.Pointer[chains.Output], weak.Pointer[byte]) {
		// On the heap, like a block's, and longer than the allocator's tiny
		// objects, which share their memory.
		addr := string(append([]byte(nil), want.Addresses[0]...))
		o := &chains.Output{Index: want.Index, Value: want.Value, Type: want.Type, Addresses: []chains.Address{chains.Address(addr)}}
		c.put(op, o)
		return weak.Make(o), weak.Make(unsafe.StringData(addr))
	}()
	runtime.GC()
	runtime.GC()
	if out.Value() != nil {
		t.Error("the cache keeps the decoded output alive")
	}
	if text.Value() != nil {
		t.Error("the cache keeps the text of the output's address alive")
	}
	wantTake(t, c, op, &want)
}

// TestRemoveDeadSpills: a spill folder whose run has ended (killed
// before it could remove it) is removed by the next run; one of a
// running process, and anything else, stays.
func TestRemoveDeadSpills(t *testing.T) {
	dir := t.TempDir()
	ended := exec.Command(os.Args[0], "-test.run=^$")
	if err := ended.Run(); err != nil {
		t.Fatal(err)
	}
	dead := fmt.Sprintf("%s%d-1", spillPrefix, ended.Process.Pid)
	live := fmt.Sprintf("%s%d-2", spillPrefix, os.Getppid())
	other := "fundtrace-outputs-notapid"
	for _, n := range []string{dead, live, other} {
		if err := os.MkdirAll(filepath.Join(dir, n, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sp, err := openSpill(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	mine := filepath.Base(sp.dir)
	if err := sp.close(); err != nil {
		t.Fatal(err)
	}
	var left []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if want := []string{other, live}; !slices.Equal(left, want) && !slices.Equal(left, []string{live, other}) {
		t.Errorf("left %v, want %v (the ended run's %s removed, this run's %s removed at its close)", left, want, dead, mine)
	}
}
