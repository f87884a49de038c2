package bitcoin

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"hash"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// DecodeError reports a block that does not decode or whose content
// contradicts its header.
type DecodeError struct {
	Height int64
	Hash   chains.Hash
	Msg    string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("block %d %s: %s", e.Height, e.Hash, e.Msg)
}

// Decoder turns raw blocks into the chain-neutral model. It keeps scratch
// buffers, so use one per goroutine.
type Decoder struct {
	sha   hash.Hash
	sum   [32]byte
	msg   wire.MsgBlock
	txid  []chainhash.Hash
	level []chainhash.Hash
}

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder { return &Decoder{sha: sha256.New()} }

// Decode parses raw (a block in consensus serialization) at height into
// a BlockData whose inputs name their outpoints but are not yet resolved.
// It recomputes the merkle root from the transactions and rejects a block
// whose root does not match its header, so what is stored is what the
// header commits to.
func (d *Decoder) Decode(raw []byte, height int64) (*store.BlockData, error) {
	blockHash := displayHash(chainhash.DoubleHashH(raw[:min(len(raw), headerSize)]))
	fail := func(format string, a ...any) error {
		return &DecodeError{Height: height, Hash: blockHash, Msg: fmt.Sprintf(format, a...)}
	}
	if len(raw) < headerSize {
		return nil, fail("%d bytes, shorter than a header", len(raw))
	}
	d.msg = wire.MsgBlock{}
	locs, err := d.msg.DeserializeTxLoc(bytes.NewBuffer(raw))
	if err != nil {
		return nil, fail("does not decode: %v", err)
	}
	if len(d.msg.Transactions) == 0 {
		return nil, fail("no transactions")
	}
	end := locs[len(locs)-1].TxStart + locs[len(locs)-1].TxLen
	if end != len(raw) {
		return nil, fail("%d trailing bytes after the last transaction", len(raw)-end)
	}
	hdr := &d.msg.Header
	bd := &store.BlockData{Block: chains.Block{
		Chain:      chains.Bitcoin,
		Height:     height,
		Hash:       blockHash,
		PrevHash:   displayHash(hdr.PrevBlock),
		MerkleRoot: displayHash(hdr.MerkleRoot),
		Time:       hdr.Timestamp.Unix(),
		Bits:       hdr.Bits,
		Size:       uint32(len(raw)),
		TxCount:    uint32(len(d.msg.Transactions)),
	}}

	// One backing array per block for inputs, outputs and address slices:
	// a few allocations per block instead of several per transaction.
	var nin, nout int
	for _, tx := range d.msg.Transactions {
		nin += len(tx.TxIn)
		nout += len(tx.TxOut)
	}
	ins := make([]chains.Input, 0, nin)
	outs := make([]chains.Output, 0, nout)
	addrs := make([]chains.Address, 0, nout)
	bd.Txs = make([]chains.Tx, len(d.msg.Transactions))
	d.txid = d.txid[:0]
	for i, mtx := range d.msg.Transactions {
		loc := locs[i]
		txid := d.txHash(mtx, raw[loc.TxStart:loc.TxStart+loc.TxLen])
		d.txid = append(d.txid, txid)
		tx := &bd.Txs[i]
		tx.Chain = chains.Bitcoin
		tx.Hash = displayHash(txid)
		tx.Height = height
		tx.Position = uint32(i)
		tx.Time = bd.Block.Time
		tx.Version = mtx.Version
		tx.LockTime = mtx.LockTime
		tx.Size = uint32(loc.TxLen)
		stripped := loc.TxLen
		if mtx.HasWitness() {
			stripped = mtx.SerializeSizeStripped()
		}
		tx.VSize = uint32((stripped*(blockchain.WitnessScaleFactor-1) + loc.TxLen + blockchain.WitnessScaleFactor - 1) / blockchain.WitnessScaleFactor)
		tx.Coinbase = len(mtx.TxIn) == 1 && mtx.TxIn[0].PreviousOutPoint.Index == wire.MaxPrevOutIndex && mtx.TxIn[0].PreviousOutPoint.Hash == chainhash.Hash{}
		if (i == 0) != tx.Coinbase {
			return nil, fail("transaction %d (%s): coinbase must be first and only first", i, tx.Hash)
		}
		start := len(ins)
		for j, in := range mtx.TxIn {
			ci := chains.Input{Index: uint32(j), Sequence: in.Sequence, Coinbase: tx.Coinbase}
			if !tx.Coinbase {
				ci.Prev = chains.Outpoint{Hash: displayHash(in.PreviousOutPoint.Hash), Index: in.PreviousOutPoint.Index}
			}
			ins = append(ins, ci)
		}
		tx.Inputs = ins[start:len(ins):len(ins)]
		start = len(outs)
		for j, out := range mtx.TxOut {
			if out.Value < 0 || out.Value > 21e14 {
				return nil, fail("transaction %s output %d: value %d out of range", tx.Hash, j, out.Value)
			}
			a0 := len(addrs)
			var typ chains.ScriptType
			typ, addrs = ClassifyScript(out.PkScript, addrs)
			outs = append(outs, chains.Output{Index: uint32(j), Value: out.Value, Type: typ, Addresses: addrs[a0:len(addrs):len(addrs)]})
		}
		tx.Outputs = outs[start:len(outs):len(outs)]
	}
	if root := d.merkleRoot(); root != hdr.MerkleRoot {
		return nil, fail("merkle root of the transactions %s does not match the header's %s", displayHash(root), bd.Block.MerkleRoot)
	}
	return bd, nil
}

// txHash computes a txid straight from the raw bytes instead of
// re-serializing the transaction (which wire.MsgTx.TxHash does). A
// segwit transaction's txid covers its serialization without marker,
// flag and witnesses: version, then the inputs and outputs that follow the
// two marker bytes, then the locktime.
func (d *Decoder) txHash(mtx *wire.MsgTx, raw []byte) chainhash.Hash {
	d.sha.Reset()
	if mtx.HasWitness() {
		body := mtx.SerializeSizeStripped() - 8
		d.sha.Write(raw[:4])
		d.sha.Write(raw[6 : 6+body])
		d.sha.Write(raw[len(raw)-4:])
	} else {
		d.sha.Write(raw)
	}
	first := d.sha.Sum(d.sum[:0])
	return chainhash.Hash(sha256.Sum256(first))
}

// merkleRoot computes the block's merkle root from d.txid as Bitcoin
// does: pairwise double-SHA256, duplicating the last hash of an odd level.
func (d *Decoder) merkleRoot() chainhash.Hash {
	level := append(d.level[:0], d.txid...)
	var buf [64]byte
	for len(level) > 1 {
		if len(level)%2 == 1 {
			level = append(level, level[len(level)-1])
		}
		for i := 0; i < len(level); i += 2 {
			copy(buf[:32], level[i][:])
			copy(buf[32:], level[i+1][:])
			level[i/2] = chainhash.DoubleHashH(buf[:])
		}
		level = level[:len(level)/2]
	}
	d.level = level
	return level[0]
}
