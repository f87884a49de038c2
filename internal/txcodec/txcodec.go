// Package txcodec is the byte form of a transaction both stores keep:
// the embedded store as a record's value, ClickHouse as one column of
// its transactions table. One form, one decoder: a transaction reads back
// the same from either, and ClickHouse reads one column a transaction
// rather than one per field (each column a seek and a decompression for
// every transaction a trace looks up).
//
// Values are written with append-style encoders and read with a Decoder.
package txcodec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/fundtrace/fundtrace/chains"
)

// ErrShort is the error of a record shorter than its fields.
var ErrShort = errors.New("record too short")

// Decoder reads a record. It keeps the first error (sticky), checked once
// at the end, so a truncated record yields an error, never a panic or a
// short read mistaken for data.
type Decoder struct {
	B   []byte // what is left to read
	Err error  // the first error
}

// Uvarint reads an unsigned varint.
func (d *Decoder) Uvarint() uint64 {
	if d.Err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.B)
	if n <= 0 {
		d.Err = ErrShort
		return 0
	}
	d.B = d.B[n:]
	return v
}

// Varint reads a signed varint.
func (d *Decoder) Varint() int64 {
	if d.Err != nil {
		return 0
	}
	v, n := binary.Varint(d.B)
	if n <= 0 {
		d.Err = ErrShort
		return 0
	}
	d.B = d.B[n:]
	return v
}

// Byte reads one byte.
func (d *Decoder) Byte() byte {
	if d.Err != nil || len(d.B) < 1 {
		d.Err = ErrShort
		return 0
	}
	v := d.B[0]
	d.B = d.B[1:]
	return v
}

// Hash reads 32 bytes.
func (d *Decoder) Hash() (h chains.Hash) {
	if d.Err != nil || len(d.B) < 32 {
		d.Err = ErrShort
		return h
	}
	copy(h[:], d.B)
	d.B = d.B[32:]
	return h
}

// End returns the first error, or one if bytes are left over: a record
// longer than its fields is as corrupt as a shorter one.
func (d *Decoder) End() error {
	if d.Err == nil && len(d.B) != 0 {
		d.Err = fmt.Errorf("%d trailing bytes", len(d.B))
	}
	return d.Err
}

// Bytes reads n bytes, without copying them.
func (d *Decoder) Bytes(n int) []byte {
	if d.Err != nil || len(d.B) < n {
		d.Err = ErrShort
		return nil
	}
	v := d.B[:n]
	d.B = d.B[n:]
	return v
}

// AppendAddresses appends a count and each address, a length byte and
// its text.
func AppendAddresses(dst []byte, as []chains.Address) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(as)))
	for _, a := range as {
		dst = append(dst, byte(len(a)))
		dst = append(dst, a...)
	}
	return dst
}

// AppendOutput appends an output: value, type, addresses.
func AppendOutput(dst []byte, o *chains.Output) []byte {
	dst = binary.AppendUvarint(dst, uint64(o.Value))
	dst = append(dst, byte(o.Type))
	return AppendAddresses(dst, o.Addresses)
}

// OutputInto decodes an output into o, its addresses into a, which gives
// them to o when it is filled.
func (d *Decoder) OutputInto(index uint32, o *chains.Output, a *AddrArena) {
	o.Index = index
	o.Value = int64(d.Uvarint())
	o.Type = chains.ScriptType(d.Byte())
	n := int(d.Uvarint())
	if d.Err != nil || n > len(d.B) {
		d.Err = ErrShort
		return
	}
	for range n {
		l := int(d.Byte())
		a.raw = append(a.raw, d.Bytes(l)...)
		a.ends = append(a.ends, len(a.raw))
	}
	if n > 0 {
		a.outs = append(a.outs, arenaOut{o, n})
	}
}

// arenas holds DecodeTx's arenas between calls.
var arenas = sync.Pool{New: func() any { return new(AddrArena) }}

// AddrArena gathers the addresses of many decoded outputs so that they
// share one string and one slice: two allocations for a whole lookup
// instead of two per output.
type AddrArena struct {
	raw  []byte // the addresses, back to back
	ends []int  // where each ends in raw
	outs []arenaOut
}

type arenaOut struct {
	o *chains.Output
	n int // its addresses, next in order
}

// Reset empties a for the next outputs once Fill has given out the
// addresses it held (Fill copies them).
func (a *AddrArena) Reset() {
	a.raw, a.ends = a.raw[:0], a.ends[:0]
	clear(a.outs)
	a.outs = a.outs[:0]
}

// Fill gives each output its addresses.
func (a *AddrArena) Fill() {
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

// AppendTx appends a transaction's record: header fields; the output count and an offset
// table (nout+1 little-endian uint32s, relative to the first output) that
// lets one output be read without decoding the others; the outputs; then
// the inputs with their resolved prevouts.
func AppendTx(dst []byte, tx *chains.Tx) []byte {
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
		dst = AppendOutput(dst, &tx.Outputs[i])
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
		dst = AppendOutput(dst, &in.Prevout)
	}
	return dst
}

// txHeader decodes the fields before the offset table.
func (d *Decoder) txHeader(tx *chains.Tx) (nin, nout uint64) {
	tx.Height = int64(d.Uvarint())
	tx.Position = uint32(d.Uvarint())
	tx.Time = d.Varint()
	tx.Version = int32(d.Varint())
	tx.LockTime = uint32(d.Uvarint())
	tx.Size = uint32(d.Uvarint())
	tx.VSize = uint32(d.Uvarint())
	tx.Coinbase = d.Byte()&1 != 0
	nin, nout = d.Uvarint(), d.Uvarint()
	if d.Err == nil && (nin > uint64(len(d.B)) || 4*(nout+1) > uint64(len(d.B))) {
		d.Err = ErrShort
	}
	return nin, nout
}

// DecodeOutput decodes output vout of a transaction value into o,
// its addresses into a; ok is false when the transaction has no such
// output.
func DecodeOutput(v []byte, vout uint32, o *chains.Output, a *AddrArena) (ok bool, err error) {
	d := Decoder{B: v}
	var tx chains.Tx
	_, nout := d.txHeader(&tx)
	if d.Err != nil {
		return false, d.Err
	}
	if uint64(vout) >= nout {
		return false, nil
	}
	table := d.B
	outs := d.B[4*(nout+1):]
	from := binary.LittleEndian.Uint32(table[4*vout:])
	to := binary.LittleEndian.Uint32(table[4*(vout+1):])
	if from > to || uint64(to) > uint64(len(outs)) {
		return false, ErrShort
	}
	od := Decoder{B: outs[from:to]}
	od.OutputInto(vout, o, a)
	return true, od.Err
}

// DecodeTx decodes a record AppendTx made: the transaction hash names on c.
func DecodeTx(c chains.Chain, hash chains.Hash, v []byte) (*chains.Tx, error) {
	d := Decoder{B: v}
	tx := &chains.Tx{Chain: c, Hash: hash}
	nin, nout := d.txHeader(tx)
	if d.Err != nil {
		return nil, d.Err
	}
	d.Bytes(int(4 * (nout + 1)))
	// An arena of its own grew its three slices by appending, for every
	// transaction: 0.5 s of a clustering run's 11 s over 1.03 M
	// transactions, in growslice. Its room is reused instead (Fill
	// copies out what it gives).
	a := arenas.Get().(*AddrArena)
	defer func() {
		a.Reset()
		arenas.Put(a)
	}()
	tx.Outputs = make([]chains.Output, nout)
	for i := range tx.Outputs {
		d.OutputInto(uint32(i), &tx.Outputs[i], a)
	}
	tx.Inputs = make([]chains.Input, nin)
	for i := range tx.Inputs {
		in := &tx.Inputs[i]
		in.Index = uint32(i)
		in.Sequence = uint32(d.Uvarint())
		if tx.Coinbase {
			in.Coinbase = true
			continue
		}
		in.Prev.Hash = d.Hash()
		in.Prev.Index = uint32(d.Uvarint())
		d.OutputInto(in.Prev.Index, &in.Prevout, a)
	}
	if err := d.End(); err != nil {
		return nil, err
	}
	a.Fill()
	return tx, nil
}
