package bitcoin

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/hex"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/internal/shareddata"
)

// realBlock is one real mainnet block from the shared data, with what
// SOURCES.md (and so the chain) says about it.
type realBlock struct {
	path       []string
	height     int64
	hashPrefix string
	txs        int
}

var realBlocks = []realBlock{
	{[]string{"bitcoinj", "block169482.dat"}, 169482, "0000000000000756", 14},
	{[]string{"bitcoinj", "block227835.dat"}, 227835, "00000000000001aa", 122},
	{[]string{"bitcoinj", "block227836.dat"}, 227836, "00000000000000d0", 100},
	{[]string{"bcoin", "block300025.raw"}, 300025, "0000000000000000821c", 461},
	{[]string{"bitcoinj", "block363703.dat"}, 363703, "", 587},
	{[]string{"bitcoinj", "block370661.dat"}, 370661, "", 708},
	{[]string{"conduit-db", "block413567.raw"}, 413567, "0000000000000000025a", 1557},
	{[]string{"bitcoinj", "block481815.dat"}, 481815, "", 2097},
	{[]string{"bitcoinj", "block481829.dat"}, 481829, "", 2020},
	{[]string{"bcoin", "block482683.raw"}, 482683, "", 12},
	{[]string{"bitcoin-s", "000000000000000000050f70113ab1932c195442cb49bcc4ee4d7f426c8a3295.txt.gz"}, 514485, "000000000000000000050f70113ab1932c195442cb49bcc4ee4d7f426c8a3295", 2165},
	{[]string{"btcd", "block-00000000000000000021868c2cefc52a480d173c849412fe81c4e5ab806f94ab.blk"}, 540107, "00000000000000000021868c2cefc52a480d173c849412fe81c4e5ab806f94ab", 230},
	{[]string{"rust-bitcoin", "mainnet_block_000000000000000000000c835b2adcaedc20fdf6ee440009c249452c726dafae.raw"}, 702861, "000000000000000000000c835b2adcaedc20fdf6ee440009c249452c726dafae", 2500},
}

// readRealBlock returns the raw bytes of a shared real block, undoing the
// gzip+hex of the bitcoin-s file.
func readRealBlock(t testing.TB, rb realBlock) []byte {
	t.Helper()
	p := shareddata.Path(t, append([]string{"bitcoin", "blocks"}, rb.path...)...)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(p, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	if strings.HasSuffix(p, ".txt.gz") {
		if b, err = hex.DecodeString(strings.TrimSpace(string(b))); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// bip34Height reads the height a BIP34 coinbase commits to.
func bip34Height(script []byte) int64 {
	if len(script) < 1 || script[0] < 1 || script[0] > 8 || len(script) < 1+int(script[0]) {
		return -1
	}
	var h int64
	for i := int(script[0]); i >= 1; i-- {
		h = h<<8 | int64(script[i])
	}
	return h
}

// TestDecodeRealBlocks decodes every real block and checks it against the
// chain itself: the block hash, the transaction count, the merkle root
// (Decode rejects a mismatch), the BIP34 height in the coinbase, and every
// txid, size and vsize against btcd's independent computation.
func TestDecodeRealBlocks(t *testing.T) {
	for _, rb := range realBlocks {
		t.Run(rb.path[len(rb.path)-1], func(t *testing.T) {
			t.Parallel()
			raw := readRealBlock(t, rb)
			bd, err := NewDecoder().Decode(raw, rb.height)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(bd.Block.Hash.String(), rb.hashPrefix) {
				t.Errorf("hash %s, want prefix %s", bd.Block.Hash, rb.hashPrefix)
			}
			if len(bd.Txs) != rb.txs || int(bd.Block.TxCount) != rb.txs {
				t.Errorf("%d transactions, want %d", len(bd.Txs), rb.txs)
			}
			var msg wire.MsgBlock
			if err := msg.Deserialize(bytes.NewReader(raw)); err != nil {
				t.Fatal(err)
			}
			if rb.height >= 227931 { // BIP34 activation height
				if h := bip34Height(msg.Transactions[0].TxIn[0].SignatureScript); h != rb.height {
					t.Errorf("coinbase commits to height %d, want %d", h, rb.height)
				}
			}
			for i, mtx := range msg.Transactions {
				tx := &bd.Txs[i]
				if want := displayHash(mtx.TxHash()); tx.Hash != want {
					t.Fatalf("tx %d: txid %s, btcd says %s", i, tx.Hash, want)
				}
				if tx.Size != uint32(mtx.SerializeSize()) {
					t.Errorf("tx %s: size %d, btcd says %d", tx.Hash, tx.Size, mtx.SerializeSize())
				}
				weight := blockchain.GetTransactionWeight(btcutil.NewTx(mtx))
				if want := uint32((weight + 3) / 4); tx.VSize != want {
					t.Errorf("tx %s: vsize %d, btcd's weight gives %d", tx.Hash, tx.VSize, want)
				}
				if len(tx.Outputs) != len(mtx.TxOut) || len(tx.Inputs) != len(mtx.TxIn) {
					t.Fatalf("tx %s: %d/%d inputs/outputs, want %d/%d", tx.Hash, len(tx.Inputs), len(tx.Outputs), len(mtx.TxIn), len(mtx.TxOut))
				}
				for j, out := range mtx.TxOut {
					if tx.Outputs[j].Value != out.Value {
						t.Errorf("tx %s output %d: value %d, want %d", tx.Hash, j, tx.Outputs[j].Value, out.Value)
					}
					checkAgainstBtcd(t, tx.Hash.String(), out.PkScript)
				}
				for j, in := range mtx.TxIn {
					if i > 0 && tx.Inputs[j].Prev != (chains.Outpoint{Hash: displayHash(in.PreviousOutPoint.Hash), Index: in.PreviousOutPoint.Index}) {
						t.Errorf("tx %s input %d: outpoint %s", tx.Hash, j, tx.Inputs[j].Prev)
					}
				}
			}
		})
	}
}

// TestBlock300025Fees resolves block 300,025's inputs from its real undo
// data and checks the fee identity SOURCES.md states from the chain:
// the inputs exceed the outputs by 7,773,345 sat, which is the coinbase's
// 2,507,773,345 sat minus the 25 BTC subsidy.
func TestBlock300025Fees(t *testing.T) {
	raw := readRealBlock(t, realBlock{path: []string{"bcoin", "block300025.raw"}})
	undo, err := os.ReadFile(shareddata.Path(t, "bitcoin", "blocks", "bcoin", "block300025-undo.raw"))
	if err != nil {
		t.Fatal(err)
	}
	bd, err := NewDecoder().Decode(raw, 300025)
	if err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(undo)
	var in, out int64
	n := 0
	for ti := range bd.Txs {
		tx := &bd.Txs[ti]
		if tx.Coinbase {
			continue
		}
		for i := range tx.Inputs {
			var v int64
			if err := binary.Read(r, binary.LittleEndian, &v); err != nil {
				t.Fatalf("undo entry %d: %v", n, err)
			}
			l, err := wire.ReadVarInt(r, 0)
			if err != nil {
				t.Fatal(err)
			}
			script := make([]byte, l)
			if _, err := io.ReadFull(r, script); err != nil {
				t.Fatal(err)
			}
			typ, addrs := ClassifyScript(script, nil)
			tx.Inputs[i].Prevout = chains.Output{Index: tx.Inputs[i].Prev.Index, Value: v, Type: typ, Addresses: addrs}
			in += v
			n++
		}
		for _, o := range tx.Outputs {
			out += o.Value
		}
	}
	if r.Len() != 0 || n != 1427 {
		t.Fatalf("used %d undo entries with %d bytes left; want 1427 and 0", n, r.Len())
	}
	if in-out != 7773345 {
		t.Errorf("inputs - outputs = %d sat, want 7,773,345", in-out)
	}
	if cb := bd.Txs[0].Outputs[0].Value; cb != 2507773345 {
		t.Errorf("coinbase pays %d, want 2,507,773,345", cb)
	}
	var fees int64
	for ti := range bd.Txs {
		fees += bd.Txs[ti].Fee()
	}
	if fees != 7773345 {
		t.Errorf("sum of Tx.Fee = %d, want 7,773,345", fees)
	}
}

func TestDecodeRejects(t *testing.T) {
	raw := readRealBlock(t, realBlocks[0])
	bad := func(name string, mutate func([]byte) []byte) {
		t.Run(name, func(t *testing.T) {
			b := mutate(append([]byte(nil), raw...))
			if _, err := NewDecoder().Decode(b, 1); err == nil {
				t.Fatal("decoded a corrupt block")
			}
		})
	}
	bad("truncated", func(b []byte) []byte { return b[:len(b)-10] })
	bad("trailing bytes", func(b []byte) []byte { return append(b, 0) })
	bad("flipped byte in a transaction", func(b []byte) []byte { b[len(b)-100] ^= 1; return b })
	bad("header only", func(b []byte) []byte { return b[:80] })
	bad("shorter than a header", func(b []byte) []byte { return b[:40] })
}

// FuzzDecode holds the in-place parser to btcd's wire decoding, the
// reference it replaces: both accept or both refuse the same bytes, and
// where they accept, every transaction has the same place, txid, inputs,
// outputs and addresses.
func FuzzDecode(f *testing.F) {
	// Seeds: the header and first transactions of a legacy and a segwit
	// block (small inputs fuzz and minimize faster than whole blocks).
	for _, rb := range []realBlock{realBlocks[0], realBlocks[9]} {
		raw := readRealBlock(f, rb)
		var msg wire.MsgBlock
		locs, err := msg.DeserializeTxLoc(bytes.NewBuffer(raw))
		if err != nil {
			f.Fatal(err)
		}
		small := append(raw[:headerSize:headerSize], 3)
		small = append(small, raw[locs[0].TxStart:locs[2].TxStart+locs[2].TxLen]...)
		f.Add(small)
		f.Add(small[:len(small)-7])
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) < headerSize {
			return
		}
		d := NewDecoder()
		err := d.parse(raw)
		var msg wire.MsgBlock
		locs, werr := msg.DeserializeTxLoc(bytes.NewBuffer(raw))
		if (err == nil) != (werr == nil) {
			t.Fatalf("parse: %v; btcd: %v", err, werr)
		}
		if err != nil {
			return
		}
		if len(d.txs) != len(msg.Transactions) {
			t.Fatalf("%d transactions, btcd %d", len(d.txs), len(msg.Transactions))
		}
		for i, mtx := range msg.Transactions {
			sp := &d.txs[i]
			if sp.start != locs[i].TxStart || sp.end-sp.start != locs[i].TxLen {
				t.Fatalf("tx %d at %d+%d, btcd %d+%d", i, sp.start, sp.end-sp.start, locs[i].TxStart, locs[i].TxLen)
			}
			if got, want := d.txHash(raw, sp), mtx.TxHash(); got != want {
				t.Fatalf("tx %d: txid %s, btcd %s", i, got, want)
			}
			if sp.version != mtx.Version || sp.lockTime != mtx.LockTime || sp.witness != mtx.HasWitness() {
				t.Fatalf("tx %d: version/locktime/witness differ", i)
			}
			if sp.witness && 8+sp.bodyEnd-sp.body != mtx.SerializeSizeStripped() {
				t.Fatalf("tx %d: stripped size %d, btcd %d", i, 8+sp.bodyEnd-sp.body, mtx.SerializeSizeStripped())
			}
			for j, in := range mtx.TxIn {
				got := d.ins[sp.ins+j]
				if got.Prev.Hash != displayHash(in.PreviousOutPoint.Hash) || got.Prev.Index != in.PreviousOutPoint.Index || got.Sequence != in.Sequence {
					t.Fatalf("tx %d input %d differs", i, j)
				}
			}
			for j, out := range mtx.TxOut {
				if got := d.outs[sp.outs+j]; got.Value != out.Value {
					t.Fatalf("tx %d output %d: value %d, btcd %d", i, j, got.Value, out.Value)
				}
			}
		}
		if len(d.ins) != countIns(&msg) || len(d.outs) != countOuts(&msg) {
			t.Fatalf("%d inputs, %d outputs; btcd %d, %d", len(d.ins), len(d.outs), countIns(&msg), countOuts(&msg))
		}
		// The outputs' addresses, through Decode's model, against
		// ClassifyScript of btcd's scripts (itself fuzzed against txscript).
		if bd, err := d.Decode(raw, 1); err == nil {
			for i, mtx := range msg.Transactions {
				for j, out := range mtx.TxOut {
					typ, addrs := ClassifyScript(out.PkScript, nil)
					got := bd.Txs[i].Outputs[j]
					if got.Type != typ || !slices.Equal(got.Addresses, addrs) {
						t.Fatalf("tx %d output %d: %v %q, want %v %q", i, j, got.Type, got.Addresses, typ, addrs)
					}
				}
			}
		}
	})
}

func countIns(m *wire.MsgBlock) (n int) {
	for _, tx := range m.Transactions {
		n += len(tx.TxIn)
	}
	return n
}

func countOuts(m *wire.MsgBlock) (n int) {
	for _, tx := range m.Transactions {
		n += len(tx.TxOut)
	}
	return n
}

// TestDisplayHash checks the byte reversal against btcd's own display
// form of a hash, for a hash whose every byte differs, and back.
func TestDisplayHash(t *testing.T) {
	var h chainhash.Hash
	for i := range h {
		h[i] = byte(i*7 + 1)
	}
	d := displayHash(h)
	if d.String() != h.String() {
		t.Fatalf("displayHash = %s, btcd displays %s", d, h)
	}
	if wireHash(d) != h {
		t.Fatalf("wireHash(displayHash(h)) = %x, want %x", wireHash(d), h)
	}
}

// TestDecodeWitnessCommitment: mainnet block 702,861 (2,065 segwit
// transactions) with one byte of one witness changed keeps its txids and
// its merkle root; only the coinbase's witness commitment catches it.
func TestDecodeWitnessCommitment(t *testing.T) {
	var rb realBlock
	for _, b := range realBlocks {
		if b.height == 702861 {
			rb = b
		}
	}
	raw := readRealBlock(t, rb)
	if _, err := NewDecoder().Decode(raw, rb.height); err != nil {
		t.Fatal(err)
	}
	var msg wire.MsgBlock
	if err := msg.Deserialize(bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	for _, tx := range msg.Transactions[1:] {
		if len(tx.TxIn[0].Witness) > 0 {
			tx.TxIn[0].Witness[0][3] ^= 0x01
			break
		}
	}
	var buf bytes.Buffer
	if err := msg.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	_, err := NewDecoder().Decode(buf.Bytes(), rb.height)
	if err == nil || !strings.Contains(err.Error(), "witness commitment") || !strings.Contains(err.Error(), "000000000000000000000c835b2adcaedc20fdf6ee440009c249452c726dafae") {
		t.Fatalf("a damaged witness: %v", err)
	}
}
