package bitcoin

import (
	"bytes"
	"encoding/binary"
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
	"github.com/fundtrace/fundtrace/internal/realblocks"
	"github.com/fundtrace/fundtrace/internal/shareddata"
)

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
	for _, rb := range realblocks.All {
		t.Run(rb.Path[len(rb.Path)-1], func(t *testing.T) {
			t.Parallel()
			raw := realblocks.Read(t, rb)
			bd, err := NewDecoder().Decode(raw, rb.Height)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(bd.Block.Hash.String(), rb.HashPrefix) {
				t.Errorf("hash %s, want prefix %s", bd.Block.Hash, rb.HashPrefix)
			}
			if len(bd.Txs) != rb.Txs || int(bd.Block.TxCount) != rb.Txs {
				t.Errorf("%d transactions, want %d", len(bd.Txs), rb.Txs)
			}
			var msg wire.MsgBlock
			if err := msg.Deserialize(bytes.NewReader(raw)); err != nil {
				t.Fatal(err)
			}
			if rb.Height >= 227931 { // BIP34 activation height
				if h := bip34Height(msg.Transactions[0].TxIn[0].SignatureScript); h != rb.Height {
					t.Errorf("coinbase commits to height %d, want %d", h, rb.Height)
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
	raw := realblocks.Read(t, realblocks.Block{Path: []string{"bcoin", "block300025.raw"}})
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
	raw := realblocks.Read(t, realblocks.All[0])
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
	for _, rb := range []realblocks.Block{realblocks.All[0], realblocks.All[9]} {
		raw := realblocks.Read(f, rb)
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
	var rb realblocks.Block
	for _, b := range realblocks.All {
		if b.Height == 702861 {
			rb = b
		}
	}
	raw := realblocks.Read(t, rb)
	if _, err := NewDecoder().Decode(raw, rb.Height); err != nil {
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
	_, err := NewDecoder().Decode(buf.Bytes(), rb.Height)
	if err == nil || !strings.Contains(err.Error(), "witness commitment") || !strings.Contains(err.Error(), "000000000000000000000c835b2adcaedc20fdf6ee440009c249452c726dafae") {
		t.Fatalf("a damaged witness: %v", err)
	}
}
