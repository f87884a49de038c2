package embedded

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fundtrace/fundtrace/chains"
)

// Values are written with append-style encoders and read with a decoder
// that keeps the first error (sticky) and is checked once at the end, so
// a truncated record yields an error, never a panic or a short read
// mistaken for data.

var errShort = errors.New("record too short")

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte1() byte {
	if d.err != nil || len(d.b) < 1 {
		d.err = errShort
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) hash() (h chains.Hash) {
	if d.err != nil || len(d.b) < 32 {
		d.err = errShort
		return h
	}
	copy(h[:], d.b)
	d.b = d.b[32:]
	return h
}

// end returns the first error, or one if bytes are left over: a record
// longer than its fields is as corrupt as a shorter one.
func (d *decoder) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	return d.err
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil || len(d.b) < n {
		d.err = errShort
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func appendAddresses(dst []byte, as []chains.Address) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(as)))
	for _, a := range as {
		dst = append(dst, byte(len(a)))
		dst = append(dst, a...)
	}
	return dst
}

// Output value: value, type, addresses.
func appendOutput(dst []byte, o *chains.Output) []byte {
	dst = binary.AppendUvarint(dst, uint64(o.Value))
	dst = append(dst, byte(o.Type))
	return appendAddresses(dst, o.Addresses)
}

// outputInto decodes an output into o, its addresses into a, which gives
// them to o when it is filled.
func (d *decoder) outputInto(index uint32, o *chains.Output, a *addrArena) {
	o.Index = index
	o.Value = int64(d.uvarint())
	o.Type = chains.ScriptType(d.byte1())
	n := int(d.uvarint())
	if d.err != nil || n > len(d.b) {
		d.err = errShort
		return
	}
	for range n {
		l := int(d.byte1())
		a.raw = append(a.raw, d.bytes(l)...)
		a.ends = append(a.ends, len(a.raw))
	}
	if n > 0 {
		a.outs = append(a.outs, arenaOut{o, n})
	}
}

// addrArena gathers the addresses of many decoded outputs so that they
// share one string and one slice: two allocations for a whole lookup
// instead of two per output.
type addrArena struct {
	raw  []byte // the addresses, back to back
	ends []int  // where each ends in raw
	outs []arenaOut
}

type arenaOut struct {
	o *chains.Output
	n int // its addresses, next in order
}

// fill gives each output its addresses.
func (a *addrArena) fill() {
	if len(a.ends) == 0 {
		return
	}
	s := string(a.raw)
	all := make([]chains.Address, len(a.ends))
	from := 0
	for i, end := range a.ends {
		all[i] = chains.Address(s[from:end])
		from = end
	}
	k := 0
	for _, ao := range a.outs {
		ao.o.Addresses = all[k : k+ao.n : k+ao.n]
		k += ao.n
	}
}

// Transaction value: header fields; the output count and an offset
// table (nout+1 little-endian uint32s, relative to the first output) that
// lets one output be read without decoding the others; the outputs; then
// the inputs with their resolved prevouts.
func appendTx(dst []byte, tx *chains.Tx) []byte {
	dst = binary.AppendUvarint(dst, uint64(tx.Height))
	dst = binary.AppendUvarint(dst, uint64(tx.Position))
	dst = binary.AppendVarint(dst, tx.Time)
	dst = binary.AppendVarint(dst, int64(tx.Version))
	dst = binary.AppendUvarint(dst, uint64(tx.LockTime))
	dst = binary.AppendUvarint(dst, uint64(tx.Size))
	dst = binary.AppendUvarint(dst, uint64(tx.VSize))
	var flags byte
	if tx.Coinbase {
		flags |= 1
	}
	dst = append(dst, flags)
	dst = binary.AppendUvarint(dst, uint64(len(tx.Inputs)))
	dst = binary.AppendUvarint(dst, uint64(len(tx.Outputs)))
	table := len(dst)
	dst = append(dst, make([]byte, 4*(len(tx.Outputs)+1))...)
	start := len(dst)
	for i := range tx.Outputs {
		binary.LittleEndian.PutUint32(dst[table+4*i:], uint32(len(dst)-start))
		dst = appendOutput(dst, &tx.Outputs[i])
	}
	binary.LittleEndian.PutUint32(dst[table+4*len(tx.Outputs):], uint32(len(dst)-start))
	for i := range tx.Inputs {
		in := &tx.Inputs[i]
		dst = binary.AppendUvarint(dst, uint64(in.Sequence))
		if in.Coinbase {
			continue
		}
		dst = append(dst, in.Prev.Hash[:]...)
		dst = binary.AppendUvarint(dst, uint64(in.Prev.Index))
		dst = appendOutput(dst, &in.Prevout)
	}
	return dst
}

// txHeader decodes the fields before the offset table.
func (d *decoder) txHeader(tx *chains.Tx) (nin, nout uint64) {
	tx.Height = int64(d.uvarint())
	tx.Position = uint32(d.uvarint())
	tx.Time = d.varint()
	tx.Version = int32(d.varint())
	tx.LockTime = uint32(d.uvarint())
	tx.Size = uint32(d.uvarint())
	tx.VSize = uint32(d.uvarint())
	tx.Coinbase = d.byte1()&1 != 0
	nin, nout = d.uvarint(), d.uvarint()
	if d.err == nil && (nin > uint64(len(d.b)) || 4*(nout+1) > uint64(len(d.b))) {
		d.err = errShort
	}
	return nin, nout
}

// decodeTxOutputInto decodes output vout of a transaction value into o,
// its addresses into a; ok is false when the transaction has no such
// output.
func decodeTxOutputInto(v []byte, vout uint32, o *chains.Output, a *addrArena) (ok bool, err error) {
	d := decoder{b: v}
	var tx chains.Tx
	_, nout := d.txHeader(&tx)
	if d.err != nil {
		return false, d.err
	}
	if uint64(vout) >= nout {
		return false, nil
	}
	table := d.b
	outs := d.b[4*(nout+1):]
	from := binary.LittleEndian.Uint32(table[4*vout:])
	to := binary.LittleEndian.Uint32(table[4*(vout+1):])
	if from > to || uint64(to) > uint64(len(outs)) {
		return false, errShort
	}
	od := decoder{b: outs[from:to]}
	od.outputInto(vout, o, a)
	return true, od.err
}

func decodeTx(c chains.Chain, hash chains.Hash, v []byte) (*chains.Tx, error) {
	d := decoder{b: v}
	tx := &chains.Tx{Chain: c, Hash: hash}
	nin, nout := d.txHeader(tx)
	if d.err != nil {
		return nil, d.err
	}
	d.bytes(int(4 * (nout + 1)))
	var a addrArena
	tx.Outputs = make([]chains.Output, nout)
	for i := range tx.Outputs {
		d.outputInto(uint32(i), &tx.Outputs[i], &a)
	}
	tx.Inputs = make([]chains.Input, nin)
	for i := range tx.Inputs {
		in := &tx.Inputs[i]
		in.Index = uint32(i)
		in.Sequence = uint32(d.uvarint())
		if tx.Coinbase {
			in.Coinbase = true
			continue
		}
		in.Prev.Hash = d.hash()
		in.Prev.Index = uint32(d.uvarint())
		d.outputInto(in.Prev.Index, &in.Prevout, &a)
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	a.fill()
	return tx, nil
}

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
	d := decoder{b: v}
	var sp spend
	if len(v) >= oldRecord {
		sp.txid, sp.hasTxid = d.hash(), true
		sp.vin = uint32(d.uvarint())
		sp.height = int64(d.uvarint())
	} else {
		sp.height = int64(d.uvarint())
		sp.pos = uint32(d.uvarint())
		sp.vin = uint32(d.uvarint())
	}
	return sp, d.end()
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
	d := decoder{b: v}
	if len(v) >= oldRecord {
		txid, hasTxid = d.hash(), true
	}
	value = int64(d.uvarint())
	typ = chains.ScriptType(d.byte1())
	return value, typ, txid, hasTxid, d.end()
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
	b.Hash = d.hash()
	b.PrevHash = d.hash()
	b.MerkleRoot = d.hash()
	b.Time = d.varint()
	b.Bits = uint32(d.uvarint())
	b.Size = uint32(d.uvarint())
	n := d.uvarint()
	if d.err == nil && n*32 != uint64(len(d.b)) {
		d.err = errShort
	}
	b.TxCount = uint32(n)
}

func decodeBlock(c chains.Chain, height int64, v []byte) (chains.Block, []chains.Hash, error) {
	d := decoder{b: v}
	b := chains.Block{Chain: c, Height: height}
	d.blockHeader(&b)
	if d.err != nil {
		return b, nil, d.err
	}
	txids := make([]chains.Hash, b.TxCount)
	for i := range txids {
		txids[i] = d.hash()
	}
	return b, txids, d.err
}

// blockTxid returns, from a block value, the block's time and the txid at
// position pos, without decoding the others: a history or spender record
// names its transaction by height and position.
func blockTxid(v []byte, pos uint32) (time int64, txid chains.Hash, err error) {
	d := decoder{b: v}
	var b chains.Block
	d.blockHeader(&b)
	if d.err != nil {
		return 0, txid, d.err
	}
	if pos >= b.TxCount {
		return 0, txid, fmt.Errorf("no transaction at position %d of %d", pos, b.TxCount)
	}
	copy(txid[:], d.b[32*int(pos):])
	return b.Time, txid, nil
}
