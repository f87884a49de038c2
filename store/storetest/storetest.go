// Package storetest is the conformance suite every store passes: the
// same real mainnet blocks indexed through the same indexer, the same
// lookups, the same answers. Expected values come from btcd's own parse
// of the block files (an independent implementation), never from a
// store's output; Answers lets two stores be compared answer for answer.
package storetest

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/ingest/btc"
	"github.com/fundtrace/fundtrace/internal/testchain"
	"github.com/fundtrace/fundtrace/store"
)

// Store is what the suite exercises: the indexer's sink and the lookups.
type Store interface {
	store.ChainReader
	store.UTXOReader
	store.Writer
}

// BlocksDir is the shipped real block files: mainnet blocks 0..599.
func BlocksDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "btc", "blocks")
}

// Index indexes the shipped blocks into st in batches of batch blocks.
func Index(t testing.TB, st Store, to int64, batch int) *btc.Result {
	t.Helper()
	res, err := btc.Index(context.Background(), st, btc.IndexConfig{Dir: BlocksDir(), ToHeight: to, BatchBlocks: batch})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Check checks a store that holds the blocks of BlocksDir against the
// files, as the suite does after indexing them: every lookup and every
// pass. (A migrated store is checked this way.)
func Check(t *testing.T, st Store) {
	f := readFacts(t)
	checkAll(t, st, f)
	checkPasses(t, st, f)
}

// Run runs the suite; open returns a new, empty store each call.
func Run(t *testing.T, open func(t *testing.T) Store) {
	facts := readFacts(t)
	t.Run("IndexAndLookups", func(t *testing.T) {
		st := open(t)
		Index(t, st, 0, 50)
		checkAll(t, st, facts)
	})
	t.Run("Passes", func(t *testing.T) {
		st := open(t)
		Index(t, st, 0, 50)
		checkPasses(t, st, facts)
	})
	t.Run("ResumeAndRerun", func(t *testing.T) {
		whole := open(t)
		Index(t, whole, 0, 0)
		st := open(t)
		if res := Index(t, st, 250, 7); res.To != 250 {
			t.Fatalf("stopped at %d", res.To)
		}
		if res := Index(t, st, 0, 111); res.From != 251 || res.To != 599 {
			t.Fatalf("resumed %d..%d, want 251..599", res.From, res.To)
		}
		if res := Index(t, st, 0, 0); res.Blocks != 0 {
			t.Fatalf("a second run indexed %d blocks", res.Blocks)
		}
		if a, b := Answers(t, whole), Answers(t, st); a != b {
			t.Fatal("a resumed index answers differently from a whole one")
		}
	})
	t.Run("Reorg", func(t *testing.T) {
		// The store follows a chain to 300; the folder then holds a
		// heavier branch from block 295: the store must drop 296..300 and
		// end exactly as a fresh index of the folder.
		main, fork := ForkFolders(t, 300, 295, 12)
		st := open(t)
		if _, err := btc.Index(context.Background(), st, btc.IndexConfig{Dir: main}); err != nil {
			t.Fatal(err)
		}
		res, err := btc.Index(context.Background(), st, btc.IndexConfig{Dir: fork})
		if err != nil {
			t.Fatal(err)
		}
		if res.ReorgFrom != 295 || res.From != 296 || res.To != 307 {
			t.Fatalf("reorg from %d, indexed %d..%d; want from 295, 296..307", res.ReorgFrom, res.From, res.To)
		}
		fresh := open(t)
		if _, err := btc.Index(context.Background(), fresh, btc.IndexConfig{Dir: fork}); err != nil {
			t.Fatal(err)
		}
		if a, b := Answers(t, fresh), Answers(t, st); a != b {
			t.Fatal("after the reorganisation the store answers differently from a fresh index")
		}
		// A deeper divergence than MaxReorg is refused.
		deep := open(t)
		if _, err := btc.Index(context.Background(), deep, btc.IndexConfig{Dir: main}); err != nil {
			t.Fatal(err)
		}
		if _, err := btc.Index(context.Background(), deep, btc.IndexConfig{Dir: fork, MaxReorg: 3}); err == nil {
			t.Fatal("rolled back deeper than MaxReorg")
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		st := open(t)
		Index(t, st, 20, 0)
		ctx := context.Background()
		if _, err := st.Tx(ctx, chains.Bitcoin, chains.Hash{1}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown tx: %v", err)
		}
		_, first, _ := st.BlockByHeight(ctx, chains.Bitcoin, 1)
		if _, err := st.Txs(ctx, chains.Bitcoin, []chains.Hash{first[0], {1}}); !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), chains.Hash{1}.String()) {
			t.Errorf("Txs with an unknown tx: %v", err)
		}
		if _, _, err := st.BlockByHeight(ctx, chains.Bitcoin, 21); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("block above the tip: %v", err)
		}
		if _, _, err := st.BlockByHash(ctx, chains.Bitcoin, chains.Hash{2}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown block hash: %v", err)
		}
		if _, err := st.FirstSeen(ctx, chains.Bitcoin, chains.MakeAddress(chains.KindPubKeyHash, make([]byte, 20))); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown address: %v", err)
		}
		outs, err := st.LookupOutputs(ctx, chains.Bitcoin, []chains.Outpoint{{Hash: chains.Hash{3}}})
		if err != nil || len(outs) != 1 || outs[0] != nil {
			t.Errorf("unknown outpoint: %v %v", outs, err)
		}
		if _, found, err := st.Spenders(ctx, chains.Bitcoin, []chains.Outpoint{{Hash: chains.Hash{3}}}); err != nil || found[0] {
			t.Errorf("spender of an unknown outpoint: %v %v", found, err)
		}
	})
}

// ForkFolders writes a generated regtest chain of main blocks, and a
// second folder of its blocks 0..at followed by n blocks of a branch from
// block at (coinbase-only, mined: proof of work is checked, so a branch
// cannot be made at mainnet difficulty). The branch is the heavier chain
// when at+n > main.
func ForkFolders(t testing.TB, main, at, n int) (mainDir, forkDir string) {
	t.Helper()
	ch := testchain.Generate(testchain.Config{Seed: 295, Blocks: main, TxsPerBlock: 8})
	write := func(blocks []*wire.MsgBlock) string {
		dir := t.TempDir()
		fw := &bitcoin.FileWriter{Dir: dir, Magic: wire.TestNet}
		for _, b := range blocks {
			if err := fw.Write(testchain.Serialize(b)); err != nil {
				t.Fatal(err)
			}
		}
		if err := fw.Close(); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	fork := append([]*wire.MsgBlock{}, ch.Blocks[:at+1]...)
	prev := ch.Blocks[at]
	for i := 0; i < n; i++ {
		cb := *ch.Blocks[at+1].Transactions[0]
		cb.TxOut = []*wire.TxOut{{Value: 50e8 - int64(i) - 1, PkScript: cb.TxOut[0].PkScript}}
		blk := &wire.MsgBlock{Header: prev.Header, Transactions: []*wire.MsgTx{&cb}}
		blk.Header.PrevBlock = prev.BlockHash()
		blk.Header.MerkleRoot = blockchain.CalcMerkleRoot([]*btcutil.Tx{btcutil.NewTx(&cb)}, false)
		blk.Header.Timestamp = prev.Header.Timestamp.Add(10 * time.Minute)
		testchain.Mine(&blk.Header)
		fork = append(fork, blk)
		prev = blk
	}
	return write(ch.Blocks), write(fork)
}

// facts is the chain as btcd alone reads it from the block files.
type facts struct {
	blocks  []wire.MsgBlock
	txs     map[chainhash.Hash]*wire.MsgTx
	heights map[chainhash.Hash]int64
	order   []chainhash.Hash
}

func readFacts(t testing.TB) *facts {
	t.Helper()
	f := &facts{txs: map[chainhash.Hash]*wire.MsgTx{}, heights: map[chainhash.Hash]int64{}}
	for _, name := range []string{"blk00000.dat", "blk00001.dat"} {
		b, err := os.ReadFile(filepath.Join(BlocksDir(), name))
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off < len(b); {
			l := int(binary.LittleEndian.Uint32(b[off+4:]))
			var blk wire.MsgBlock
			if err := blk.Deserialize(bytes.NewReader(b[off+8 : off+8+l])); err != nil {
				t.Fatal(err)
			}
			h := int64(len(f.blocks))
			f.blocks = append(f.blocks, blk)
			for _, tx := range blk.Transactions {
				f.txs[tx.TxHash()] = tx
				f.heights[tx.TxHash()] = h
				f.order = append(f.order, tx.TxHash())
			}
			off += 8 + l
		}
	}
	return f
}

func display(h chainhash.Hash) (out chains.Hash) {
	for i := range h {
		out[i] = h[31-i]
	}
	return out
}

var mainnet = bitcoin.NetworkByName("mainnet")

// addressOf is btcd's address for a script, with P2PK keys given as their
// P2PKH address as fundtrace files them.
func addressOf(t testing.TB, script []byte) []string {
	_, as, _, err := txscript.ExtractPkScriptAddrs(script, mainnet.Params)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range as {
		if pk, ok := a.(*btcutil.AddressPubKey); ok {
			out = append(out, pk.AddressPubKeyHash().EncodeAddress())
			continue
		}
		out = append(out, a.EncodeAddress())
	}
	return out
}

func encode(as []chains.Address) []string {
	var out []string
	for _, a := range as {
		out = append(out, mainnet.MustEncode(a))
	}
	return out
}

func checkAll(t *testing.T, st Store, f *facts) {
	ctx := context.Background()
	c := chains.Bitcoin
	type payment struct {
		height int64
		op     chains.Outpoint
		value  int64
	}
	hist := map[string][]payment{}
	spentBy := map[chains.Outpoint]chains.Outpoint{}
	var inputs, outputs int64
	for _, id := range f.order {
		mtx := f.txs[id]
		h := display(id)
		tx, err := st.Tx(ctx, c, h)
		if err != nil {
			t.Fatalf("tx %s: %v", h, err)
		}
		if tx.Height != f.heights[id] || tx.Coinbase != blockchain.IsCoinBaseTx(mtx) || len(tx.Inputs) != len(mtx.TxIn) || len(tx.Outputs) != len(mtx.TxOut) {
			t.Fatalf("tx %s: height %d coinbase %v %d in %d out", h, tx.Height, tx.Coinbase, len(tx.Inputs), len(tx.Outputs))
		}
		for i, out := range mtx.TxOut {
			got := tx.Outputs[i]
			want := addressOf(t, out.PkScript)
			if got.Value != out.Value || fmt.Sprint(encode(got.Addresses)) != fmt.Sprint(want) {
				t.Errorf("tx %s out %d: %d %v, the chain says %d %v", h, i, got.Value, encode(got.Addresses), out.Value, want)
			}
			for _, a := range want {
				hist[a] = append(hist[a], payment{tx.Height, chains.Outpoint{Hash: h, Index: uint32(i)}, out.Value})
			}
			outputs++
		}
		if tx.Coinbase {
			continue
		}
		for i, in := range mtx.TxIn {
			prev := f.txs[in.PreviousOutPoint.Hash].TxOut[in.PreviousOutPoint.Index]
			got := tx.Inputs[i]
			op := chains.Outpoint{Hash: display(in.PreviousOutPoint.Hash), Index: in.PreviousOutPoint.Index}
			if got.Prev != op || got.Prevout.Value != prev.Value || fmt.Sprint(encode(got.Prevout.Addresses)) != fmt.Sprint(addressOf(t, prev.PkScript)) {
				t.Errorf("tx %s in %d: spends %s %d %v, the chain says %s %d %v", h, i, got.Prev, got.Prevout.Value,
					encode(got.Prevout.Addresses), op, prev.Value, addressOf(t, prev.PkScript))
			}
			spentBy[op] = chains.Outpoint{Hash: h, Index: uint32(i)}
			inputs++
		}
	}
	// The batched lookup answers as the single one does, in the order
	// asked (newest first here, one hash twice).
	var hs []chains.Hash
	for i := len(f.order) - 1; i >= 0; i-- {
		hs = append(hs, display(f.order[i]))
	}
	if len(hs) > 0 {
		hs = append(hs, hs[0])
	}
	txs, err := st.Txs(ctx, c, hs)
	if err != nil || len(txs) != len(hs) {
		t.Fatalf("Txs of %d: %d, %v", len(hs), len(txs), err)
	}
	for i, h := range hs {
		one, _ := st.Tx(ctx, c, h)
		if !reflect.DeepEqual(one, txs[i]) {
			t.Fatalf("Txs[%d] %+v, Tx says %+v", i, txs[i], one)
		}
	}
	m, err := st.Meta(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if m.TipHeight != int64(len(f.blocks)-1) || m.TipHash != display(f.blocks[len(f.blocks)-1].BlockHash()) || m.Blocks != int64(len(f.blocks)) ||
		m.Txs != int64(len(f.order)) || m.Inputs != inputs || m.Outputs != outputs || m.Addresses != int64(len(hist)) || m.Network != "mainnet" {
		t.Errorf("meta %+v; the chain has %d blocks, %d txs, %d inputs, %d outputs, %d addresses", m, len(f.blocks), len(f.order), inputs, outputs, len(hist))
	}
	for h, blk := range f.blocks {
		b, txids, err := st.BlockByHeight(ctx, c, int64(h))
		if err != nil {
			t.Fatalf("block %d: %v", h, err)
		}
		b2, _, err := st.BlockByHash(ctx, c, display(blk.BlockHash()))
		if err != nil || b2.Height != int64(h) {
			t.Fatalf("block by hash %d: %v %d", h, err, b2.Height)
		}
		if b.Hash != display(blk.BlockHash()) || b.PrevHash != display(blk.Header.PrevBlock) || b.MerkleRoot != display(blk.Header.MerkleRoot) ||
			b.Time != blk.Header.Timestamp.Unix() || len(txids) != len(blk.Transactions) || txids[0] != display(blk.Transactions[0].TxHash()) {
			t.Errorf("block %d: %+v", h, b)
		}
	}
	for addr, pays := range hist {
		a, err := mainnet.ParseAddress(addr)
		if err != nil {
			t.Fatal(err)
		}
		first, err := st.FirstSeen(ctx, c, a)
		if err != nil || first != pays[0].height {
			t.Errorf("first seen %s: %d %v, want %d", addr, first, err, pays[0].height)
		}
		got, err := st.AddressHistory(ctx, c, a, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(pays) {
			t.Fatalf("history of %s: %d entries, the chain has %d", addr, len(got), len(pays))
		}
		for i, p := range pays {
			e := got[i]
			op := chains.Outpoint{Hash: e.TxHash, Index: e.Vout}
			sp, spent := spentBy[op]
			if op != p.op || e.Height != p.height || e.Value != p.value || e.Spent != spent || (spent && (e.SpentBy.TxHash != sp.Hash || e.SpentBy.Vin != sp.Index)) ||
				e.Time != f.blocks[e.Height].Header.Timestamp.Unix() {
				t.Errorf("history of %s entry %d: %+v, the chain says %+v spent by %v", addr, i, e, p, sp)
			}
		}
	}
	// Every output's spender in one lookup (a store may split a big one
	// into parts read at once), as the chain says.
	var ops []chains.Outpoint
	for _, id := range f.order {
		for i := range f.txs[id].TxOut {
			ops = append(ops, chains.Outpoint{Hash: display(id), Index: uint32(i)})
		}
	}
	spends, found, err := st.Spenders(ctx, c, ops)
	if err != nil {
		t.Fatal(err)
	}
	nspent := 0
	for i, op := range ops {
		sp, spent := spentBy[op]
		if found[i] != spent || (spent && (spends[i].TxHash != sp.Hash || spends[i].Vin != sp.Index)) {
			t.Fatalf("spender of %s: %v %+v, the chain says %v %v", op, found[i], spends[i], spent, sp)
		}
		if spent {
			nspent++
		}
	}
	if len(ops) > 200 && nspent == 0 {
		t.Fatalf("%d outputs, none spent", len(ops))
	}
	// Every output by its outpoint in one lookup (what the indexer asks
	// for an input whose output an earlier run indexed), as the chain
	// says, and an index past a transaction's last output not found.
	past := chains.Outpoint{Hash: display(f.order[0]), Index: uint32(len(f.txs[f.order[0]].TxOut))}
	outs, err := st.LookupOutputs(ctx, c, append(ops, past))
	if err != nil || len(outs) != len(ops)+1 {
		t.Fatalf("LookupOutputs of %d: %d, %v", len(ops)+1, len(outs), err)
	}
	i := 0
	for _, id := range f.order {
		for j, want := range f.txs[id].TxOut {
			got := outs[i]
			if got == nil || got.Index != uint32(j) || got.Value != want.Value || fmt.Sprint(encode(got.Addresses)) != fmt.Sprint(addressOf(t, want.PkScript)) {
				t.Fatalf("output %s: %+v, the chain says %d %v", ops[i], got, want.Value, addressOf(t, want.PkScript))
			}
			i++
		}
	}
	if outs[len(ops)] != nil {
		t.Errorf("output %s past the transaction's last: %+v", past, outs[len(ops)])
	}
}

// Answers renders every lookup the suite makes, in a fixed order, so two
// stores holding the same chain can be compared exactly.
func Answers(t testing.TB, st Store) string {
	t.Helper()
	ctx := context.Background()
	c := chains.Bitcoin
	m, err := st.Meta(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	m.TipHex = m.TipHash.String()
	enc.Encode(m)
	addrs := map[chains.Address]bool{}
	for h := int64(0); h <= m.TipHeight; h++ {
		b, txids, err := st.BlockByHeight(ctx, c, h)
		if err != nil {
			t.Fatal(err)
		}
		enc.Encode(b)
		for _, id := range txids {
			tx, err := st.Tx(ctx, c, id)
			if err != nil {
				t.Fatal(err)
			}
			enc.Encode(tx)
			ops := make([]chains.Outpoint, len(tx.Outputs))
			for i, o := range tx.Outputs {
				ops[i] = chains.Outpoint{Hash: id, Index: o.Index}
				for _, a := range o.Addresses {
					addrs[a] = true
				}
			}
			sp, found, err := st.Spenders(ctx, c, ops)
			if err != nil {
				t.Fatal(err)
			}
			enc.Encode(sp)
			enc.Encode(found)
			outs, err := st.LookupOutputs(ctx, c, append(ops, chains.Outpoint{Hash: id, Index: uint32(len(ops))}))
			if err != nil {
				t.Fatal(err)
			}
			enc.Encode(outs)
		}
	}
	list := make([]string, 0, len(addrs))
	for a := range addrs {
		list = append(list, string(a))
	}
	sort.Strings(list)
	for _, a := range list {
		h, err := st.AddressHistory(ctx, c, chains.Address(a), 0)
		if err != nil {
			t.Fatal(err)
		}
		first, err := st.FirstSeen(ctx, c, chains.Address(a))
		if err != nil {
			t.Fatal(err)
		}
		enc.Encode(first)
		enc.Encode(h)
	}
	return out.String()
}
