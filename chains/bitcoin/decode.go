package bitcoin

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/fundtrace/fundtrace/chains"
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
//
// It reads the consensus serialization in place rather than through
// wire.MsgBlock, which allocates every transaction, input, output and
// script: that costs more than everything else the indexer does with a
// transaction. It accepts exactly what btcd's wire.MsgBlock.Deserialize
// accepts, with the same limits; TestDecodeRealBlocks and FuzzDecode hold
// it to btcd's decoding.
type Decoder struct {
	sha   hash.Hash
	sum   [32]byte
	txid  []chainhash.Hash
	level []chainhash.Hash
	ins   []chains.Input
	outs  []chains.Output
	naddr []int // addresses of each output in outs
	arena []byte
	txs   []txSpan
}

// txSpan is where one transaction's parts are in the raw block and in the
// decoder's scratch slices.
type txSpan struct {
	start, end    int // the whole transaction
	body, bodyEnd int // input count through the last output
	witness       bool
	ins, outs     int // first input and output in Decoder.ins and .outs
	version       int32
	lockTime      uint32
}

// Limits of btcd's wire package, which Decode shares so that it accepts
// and refuses what btcd does.
const (
	maxTxPerBlock           = wire.MaxBlockPayload/10 + 1
	maxTxInPerMessage       = wire.MaxMessagePayload/(9+chainhash.HashSize) + 1
	maxTxOutPerMessage      = wire.MaxMessagePayload/wire.MinTxOutPayload + 1
	maxWitnessItemsPerInput = 4_000_000
	maxScriptSize           = 4_000_000
)

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder { return &Decoder{sha: sha256.New()} }

// Decode parses raw (a block in consensus serialization) at height into
// a BlockData whose inputs name their outpoints but are not yet resolved.
// It recomputes the merkle root from the transactions and rejects a block
// whose root does not match its header, so what is stored is what the
// header commits to.
func (d *Decoder) Decode(raw []byte, height int64) (*chains.BlockData, error) {
	blockHash := displayHash(chainhash.DoubleHashH(raw[:min(len(raw), headerSize)]))
	fail := func(format string, a ...any) error {
		return &DecodeError{Height: height, Hash: blockHash, Msg: fmt.Sprintf(format, a...)}
	}
	if len(raw) < headerSize {
		return nil, fail("%d bytes, shorter than a header", len(raw))
	}
	if err := d.parse(raw); err != nil {
		return nil, fail("does not decode: %v", err)
	}
	if len(d.txs) == 0 {
		return nil, fail("no transactions")
	}
	if end := d.txs[len(d.txs)-1].end; end != len(raw) {
		return nil, fail("%d trailing bytes after the last transaction", len(raw)-end)
	}
	le := binary.LittleEndian
	bd := &chains.BlockData{Block: chains.Block{
		Chain:      chains.Bitcoin,
		Height:     height,
		Hash:       blockHash,
		PrevHash:   displayHash(chainhash.Hash(raw[4:36])),
		MerkleRoot: displayHash(chainhash.Hash(raw[36:68])),
		Time:       int64(le.Uint32(raw[68:72])),
		Bits:       le.Uint32(raw[72:76]),
		Size:       uint32(len(raw)),
		TxCount:    uint32(len(d.txs)),
	}}

	// The model's inputs, outputs and addresses each take one allocation
	// per block: exact copies of the scratch slices, and one string that
	// every address is a substring of.
	ins := slices.Clone(d.ins)
	outs := slices.Clone(d.outs)
	arena := string(d.arena)
	addrs := make([]chains.Address, 0, len(outs))
	for i := range outs {
		a0 := len(addrs)
		for range d.naddr[i] {
			l := int(arena[0])
			addrs = append(addrs, chains.Address(arena[1:1+l]))
			arena = arena[1+l:]
		}
		outs[i].Addresses = addrs[a0:len(addrs):len(addrs)]
	}
	bd.Txs = make([]chains.Tx, len(d.txs))
	d.txid = d.txid[:0]
	for i := range d.txs {
		sp := &d.txs[i]
		txid := d.txHash(raw, sp)
		d.txid = append(d.txid, txid)
		tx := &bd.Txs[i]
		tx.Chain = chains.Bitcoin
		tx.Hash = displayHash(txid)
		tx.Height = height
		tx.Position = uint32(i)
		tx.Time = bd.Block.Time
		tx.Version = sp.version
		tx.LockTime = sp.lockTime
		size := sp.end - sp.start
		stripped := size
		if sp.witness {
			stripped = 8 + sp.bodyEnd - sp.body
		}
		tx.Size = uint32(size)
		tx.VSize = uint32((stripped*(blockchain.WitnessScaleFactor-1) + size + blockchain.WitnessScaleFactor - 1) / blockchain.WitnessScaleFactor)
		insEnd, outsEnd := len(ins), len(outs)
		if i+1 < len(d.txs) {
			insEnd, outsEnd = d.txs[i+1].ins, d.txs[i+1].outs
		}
		tx.Inputs = ins[sp.ins:insEnd:insEnd]
		tx.Outputs = outs[sp.outs:outsEnd:outsEnd]
		tx.Coinbase = len(tx.Inputs) == 1 && tx.Inputs[0].Prev.Index == wire.MaxPrevOutIndex && tx.Inputs[0].Prev.Hash == chains.Hash{}
		if (i == 0) != tx.Coinbase {
			return nil, fail("transaction %d (%s): coinbase must be first and only first", i, tx.Hash)
		}
		if tx.Coinbase {
			tx.Inputs[0].Coinbase = true
			tx.Inputs[0].Prev = chains.Outpoint{}
		}
		for j := range tx.Outputs {
			if v := tx.Outputs[j].Value; v < 0 || v > 21e14 {
				return nil, fail("transaction %s output %d: value %d out of range", tx.Hash, j, v)
			}
		}
	}
	if root := d.merkleRoot(); root != chainhash.Hash(raw[36:68]) {
		return nil, fail("merkle root of the transactions %s does not match the header's %s", displayHash(root), bd.Block.MerkleRoot)
	}
	if err := d.checkWitnessCommitment(raw); err != nil {
		return nil, fail("%v", err)
	}
	return bd, nil
}

// witnessMagic opens a coinbase output committing to the block's
// witnesses (BIP141): OP_RETURN, a 36-byte push, 0xaa21a9ed.
var witnessMagic = []byte{0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed}

// checkWitnessCommitment checks, where the coinbase commits to the
// block's witnesses, that the commitment is the double SHA-256 of the
// witness merkle root (of the wtxids, the coinbase's counted as zero)
// and the coinbase's witness reserved value. The txid merkle root does
// not cover witnesses: without this a damaged witness would pass. A
// block without a commitment is left as it is (the simulator's regtest
// blocks carry none), and so is one without witnesses, whose commitment
// covers nothing (miners committed before SegWit activated, as in block
// 481,815, whose coinbase has no reserved value).
func (d *Decoder) checkWitnessCommitment(raw []byte) error {
	witnesses := false
	for i := 1; i < len(d.txs); i++ {
		witnesses = witnesses || d.txs[i].witness
	}
	if !witnesses {
		return nil
	}
	cb := &d.txs[0]
	var tx wire.MsgTx
	if err := tx.Deserialize(bytesReader(raw[cb.start:cb.end])); err != nil {
		return fmt.Errorf("coinbase: %v", err)
	}
	var commitment []byte
	for _, o := range tx.TxOut {
		if len(o.PkScript) >= 38 && string(o.PkScript[:6]) == string(witnessMagic) {
			commitment = o.PkScript[6:38] // the last such output counts
		}
	}
	if commitment == nil {
		return nil
	}
	w := tx.TxIn[0].Witness
	if len(w) != 1 || len(w[0]) != 32 {
		return fmt.Errorf("the coinbase commits to witnesses but its witness is not one 32-byte reserved value")
	}
	saved := d.txid
	wtxids := make([]chainhash.Hash, len(d.txs))
	for i := 1; i < len(d.txs); i++ {
		sp := &d.txs[i]
		if sp.witness {
			wtxids[i] = chainhash.DoubleHashH(raw[sp.start:sp.end])
		} else {
			wtxids[i] = saved[i]
		}
	}
	d.txid = wtxids
	root := d.merkleRoot()
	d.txid = saved
	var buf [64]byte
	copy(buf[:32], root[:])
	copy(buf[32:], w[0])
	if got := chainhash.DoubleHashH(buf[:]); string(got[:]) != string(commitment) {
		return fmt.Errorf("witness commitment %x does not match the witnesses (root %s): a witness is damaged", commitment, displayHash(root))
	}
	return nil
}

// parse walks the transactions of raw into the decoder's scratch slices,
// classifying each output script as it goes.
func (d *Decoder) parse(raw []byte) error {
	d.ins, d.outs, d.naddr, d.arena, d.txs = d.ins[:0], d.outs[:0], d.naddr[:0], d.arena[:0], d.txs[:0]
	p := parser{b: raw, off: headerSize}
	n, err := p.count("transaction count", maxTxPerBlock)
	if err != nil {
		return err
	}
	for i := uint64(0); i < n; i++ {
		start := p.off
		if err := d.parseTx(&p); err != nil {
			return fmt.Errorf("transaction %d at byte %d: %w", i, start, err)
		}
	}
	return nil
}

func (d *Decoder) parseTx(p *parser) error {
	sp := txSpan{start: p.off, ins: len(d.ins), outs: len(d.outs)}
	v, err := p.fixed(4)
	if err != nil {
		return err
	}
	sp.version = int32(binary.LittleEndian.Uint32(v))
	sp.body = p.off
	nin, err := p.varint()
	if err != nil {
		return err
	}
	if nin == 0 { // the segwit marker: a flag byte and the real count follow
		f, err := p.fixed(1)
		if err != nil {
			return err
		}
		if f[0] != 0x01 {
			return fmt.Errorf("witness tx but flag byte is %x", f[0])
		}
		sp.witness = true
		sp.body = p.off
		if nin, err = p.varint(); err != nil {
			return err
		}
	}
	if nin > maxTxInPerMessage {
		return fmt.Errorf("%d inputs, more than fit in a message", nin)
	}
	for j := uint64(0); j < nin; j++ {
		b, err := p.fixed(36)
		if err != nil {
			return err
		}
		in := chains.Input{Index: uint32(j), Prev: chains.Outpoint{Hash: displayHash(chainhash.Hash(b[:32])), Index: binary.LittleEndian.Uint32(b[32:])}}
		if _, err := p.script(); err != nil {
			return err
		}
		if b, err = p.fixed(4); err != nil {
			return err
		}
		in.Sequence = binary.LittleEndian.Uint32(b)
		d.ins = append(d.ins, in)
	}
	nout, err := p.count("output count", maxTxOutPerMessage)
	if err != nil {
		return err
	}
	for j := uint64(0); j < nout; j++ {
		b, err := p.fixed(8)
		if err != nil {
			return err
		}
		script, err := p.script()
		if err != nil {
			return err
		}
		var typ chains.ScriptType
		var na int
		typ, d.arena, na = classify(script, d.arena)
		d.outs = append(d.outs, chains.Output{Index: uint32(j), Value: int64(binary.LittleEndian.Uint64(b)), Type: typ})
		d.naddr = append(d.naddr, na)
	}
	sp.bodyEnd = p.off
	if sp.witness {
		seen := false
		for j := uint64(0); j < nin; j++ {
			items, err := p.count("witness item count", maxWitnessItemsPerInput)
			if err != nil {
				return fmt.Errorf("input %d: %w", j, err)
			}
			seen = seen || items > 0
			for k := uint64(0); k < items; k++ {
				if _, err := p.script(); err != nil {
					return err
				}
			}
		}
		if !seen {
			return errors.New("witness flag set but no witness data")
		}
	}
	lt, err := p.fixed(4)
	if err != nil {
		return err
	}
	sp.lockTime = binary.LittleEndian.Uint32(lt)
	sp.end = p.off
	d.txs = append(d.txs, sp)
	return nil
}

// parser reads a consensus serialization in place.
type parser struct {
	b   []byte
	off int
}

func (p *parser) fixed(n int) ([]byte, error) {
	if len(p.b)-p.off < n {
		return nil, fmt.Errorf("%w at byte %d", io.ErrUnexpectedEOF, p.off)
	}
	b := p.b[p.off : p.off+n]
	p.off += n
	return b, nil
}

// varint reads a CompactSize, refusing non-canonical encodings as btcd's
// wire.ReadVarInt does.
func (p *parser) varint() (uint64, error) {
	b, err := p.fixed(1)
	if err != nil {
		return 0, err
	}
	var size int
	var floor uint64
	switch b[0] {
	case 0xfd:
		size, floor = 2, 0xfd
	case 0xfe:
		size, floor = 4, 0x10000
	case 0xff:
		size, floor = 8, 0x100000000
	default:
		return uint64(b[0]), nil
	}
	at := p.off - 1
	if b, err = p.fixed(size); err != nil {
		return 0, err
	}
	var v uint64
	for i := size - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	if v < floor {
		return 0, fmt.Errorf("non-canonical varint %d at byte %d", v, at)
	}
	return v, nil
}

// count reads a varint that may not exceed limit.
func (p *parser) count(what string, limit uint64) (uint64, error) {
	n, err := p.varint()
	if err == nil && n > limit {
		err = fmt.Errorf("%s %d exceeds %d", what, n, limit)
	}
	return n, err
}

// script reads a length-prefixed byte string: a script or witness item.
func (p *parser) script() ([]byte, error) {
	n, err := p.varint()
	if err != nil {
		return nil, err
	}
	if n > maxScriptSize {
		return nil, fmt.Errorf("script of %d bytes at byte %d, larger than the %d allowed", n, p.off, maxScriptSize)
	}
	return p.fixed(int(n))
}

// txHash computes a txid straight from the raw bytes. A segwit
// transaction's txid covers its serialization without marker, flag and
// witnesses: version, then the inputs and outputs, then the locktime.
func (d *Decoder) txHash(raw []byte, sp *txSpan) chainhash.Hash {
	d.sha.Reset()
	if sp.witness {
		d.sha.Write(raw[sp.start : sp.start+4])
		d.sha.Write(raw[sp.body:sp.bodyEnd])
		d.sha.Write(raw[sp.end-4 : sp.end])
	} else {
		d.sha.Write(raw[sp.start:sp.end])
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
