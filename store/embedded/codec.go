package embedded

import (
	"encoding/binary"
	"fmt"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/internal/txcodec"
)

// The store's records are read with txcodec's Decoder, and transactions
// are kept in txcodec's form, which ClickHouse keeps too.
type (
	decoder   struct{ txcodec.Decoder }
	addrArena = txcodec.AddrArena
)

func newDecoder(b []byte) decoder { return decoder{txcodec.Decoder{B: b}} }

var errShort = txcodec.ErrShort

// Spender value: the spending transaction's height and position in its
// block, and the input's index. The spending txid is read from the block
// record (blockTxid): naming a transaction by its place rather than its
// 32-byte hash keeps a spender record at a few bytes, and the bytes of a
// write are most of what indexing costs.
func appendSpend(dst []byte, height int64, pos, vin uint32) []byte {
	dst = binary.AppendUvarint(dst, uint64(height))
	dst = binary.AppendUvarint(dst, uint64(pos))
	return binary.AppendUvarint(dst, uint64(vin))
}

// oldRecord is the shortest spender or history value that schema 2 wrote,
// which began with the txid; a value of schema 3 is never this long
// (three varints at most, or a varint and a byte).
const oldRecord = 34

// spend is a decoded spender value. A schema 2 value names the spending
// transaction by txid (hasTxid); a schema 3 one by height and position.
type spend struct {
	height   int64
	pos, vin uint32
	txid     chains.Hash
	hasTxid  bool
}

func decodeSpend(v []byte) (spend, error) {
	d := newDecoder(v)
	var sp spend
	if len(v) >= oldRecord {
		sp.txid, sp.hasTxid = d.Hash(), true
		sp.vin = uint32(d.Uvarint())
		sp.height = int64(d.Uvarint())
	} else {
		sp.height = int64(d.Uvarint())
		sp.pos = uint32(d.Uvarint())
		sp.vin = uint32(d.Uvarint())
	}
	return sp, d.End()
}

// Address-history value: value and script type. The key holds the
// height, position and output index; the txid is read from the block
// record, as for a spender.
func appendReceived(dst []byte, o *chains.Output) []byte {
	dst = binary.AppendUvarint(dst, uint64(o.Value))
	return append(dst, byte(o.Type))
}

// decodeReceived decodes a history value: its txid only when the value is
// of schema 2, which held it.
func decodeReceived(v []byte) (value int64, typ chains.ScriptType, txid chains.Hash, hasTxid bool, err error) {
	d := newDecoder(v)
	if len(v) >= oldRecord {
		txid, hasTxid = d.Hash(), true
	}
	value = int64(d.Uvarint())
	typ = chains.ScriptType(d.Byte())
	return value, typ, txid, hasTxid, d.End()
}

// Block value: header fields, then the txids in block order.
func appendBlock(dst []byte, b *chains.Block, txids []chains.Hash) []byte {
	dst = appendBlockHeader(dst, b, len(txids))
	for i := range txids {
		dst = append(dst, txids[i][:]...)
	}
	return dst
}

// appendBlockHeader appends the fields of a block value before its n
// txids, which the caller appends.
func appendBlockHeader(dst []byte, b *chains.Block, n int) []byte {
	dst = append(dst, b.Hash[:]...)
	dst = append(dst, b.PrevHash[:]...)
	dst = append(dst, b.MerkleRoot[:]...)
	dst = binary.AppendVarint(dst, b.Time)
	dst = binary.AppendUvarint(dst, uint64(b.Bits))
	dst = binary.AppendUvarint(dst, uint64(b.Size))
	return binary.AppendUvarint(dst, uint64(n))
}

// blockHeader decodes the fields of a block value before its txids into
// b, and checks that the txids it counts are what is left in d.
func (d *decoder) blockHeader(b *chains.Block) {
	b.Hash = d.Hash()
	b.PrevHash = d.Hash()
	b.MerkleRoot = d.Hash()
	b.Time = d.Varint()
	b.Bits = uint32(d.Uvarint())
	b.Size = uint32(d.Uvarint())
	n := d.Uvarint()
	if d.Err == nil && n*32 != uint64(len(d.B)) {
		d.Err = errShort
	}
	b.TxCount = uint32(n)
}

func decodeBlock(c chains.Chain, height int64, v []byte) (chains.Block, []chains.Hash, error) {
	d := newDecoder(v)
	b := chains.Block{Chain: c, Height: height}
	d.blockHeader(&b)
	if d.Err != nil {
		return b, nil, d.Err
	}
	txids := make([]chains.Hash, b.TxCount)
	for i := range txids {
		txids[i] = d.Hash()
	}
	return b, txids, d.Err
}

// blockTxid returns, from a block value, the block's time and the txid at
// position pos, without decoding the others: a history or spender record
// names its transaction by height and position.
func blockTxid(v []byte, pos uint32) (time int64, txid chains.Hash, err error) {
	d := newDecoder(v)
	var b chains.Block
	d.blockHeader(&b)
	if d.Err != nil {
		return 0, txid, d.Err
	}
	if pos >= b.TxCount {
		return 0, txid, fmt.Errorf("no transaction at position %d of %d", pos, b.TxCount)
	}
	copy(txid[:], d.B[32*int(pos):])
	return b.Time, txid, nil
}
