package heuristics

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/big"
	"slices"

	"github.com/fundtrace/fundtrace/chains"
)

// Deposit is the Ethereum deposit-address heuristic (Victor 2020): an
// exchange gives each customer a deposit address and sweeps what arrives
// there into its hot wallet, so an address that forwards what it
// received to one collector, within Window blocks, for at least MinCount
// distinct forwarders of that collector, belongs with the collector. ETH
// and token sweeps both count; a forward must empty the address (what is
// left is under a tenth of what it sends: a sweep leaves at most the gas)
// within Window blocks of the last money arriving.
//
// Addresses are the caller's dense ids (a clustering run's address
// indexes), so that what the heuristic keeps is a few dozen bytes per
// address and per pair of forwarder and collector, not maps of address
// strings and big integers: a balance is a 128-bit integer unless it
// outgrows one.
type Deposit struct {
	Window   int64 // blocks between receiving and forwarding (default 1,000)
	MinCount int   // distinct forwarders a collector needs (default 3)

	assets  map[chains.Address]uint32 // asset → its number (the native coin, "", is 0)
	assetOf []chains.Address          // number → asset
	inbox   map[uint64]slot           // asset<<32 | address id → balance, last arrival
	wide    map[uint64]*big.Int       // balances that outgrew 127 bits
	pairs   map[uint64]uint32         // collector<<32 | forwarder → index in fwd
	fwd     []Forward                 // each pair's first forward
	x, y    big.Int                   // scratch
}

// slot is an address's balance of one asset as its transfers tell it (a
// two's-complement 128-bit integer: it goes below zero when the address
// spends what it had before the transfers seen), and the height money
// last arrived at. h < 0 marks a balance kept in wide instead: the
// height is then -1-h.
type slot struct {
	lo, hi uint64
	h      int64
}

// Forward is a forwarder's first forward to a collector: the evidence
// of its link.
type Forward struct {
	Tx      chains.Hash
	Height  int64
	TxIndex uint32 // the transaction's position in its block
}

var ten = big.NewInt(10)

// DepositName is the heuristic's name in links and flags.
const DepositName = "deposit"

func init() {
	Confidence[DepositName] = "high for exchanges: deposit addresses forward to one hot wallet (Victor 2020); parameters: forwarding window and minimum forwarders"
}

func (d *Deposit) init() {
	if d.inbox == nil {
		d.assets, d.assetOf = map[chains.Address]uint32{"": 0}, []chains.Address{""}
		d.inbox, d.wide, d.pairs = map[uint64]slot{}, map[uint64]*big.Int{}, map[uint64]uint32{}
	}
	if d.Window <= 0 {
		d.Window = 1000
	}
	if d.MinCount <= 0 {
		d.MinCount = 3
	}
}

// asset returns a's number, giving it the next one if it has none.
func (d *Deposit) asset(a chains.Address) uint32 {
	n, ok := d.assets[a]
	if !ok {
		n = uint32(len(d.assetOf))
		d.assets[a] = n
		d.assetOf = append(d.assetOf, a)
	}
	return n
}

// load puts the balance of slot s (of key k) into x.
func (d *Deposit) load(x *big.Int, k uint64, s slot) {
	if s.h < 0 {
		x.Set(d.wide[k])
		return
	}
	int128Big(x, s.lo, s.hi)
}

// store keeps balance x, last arrival h, under key k.
func (d *Deposit) store(k uint64, x *big.Int, h int64) {
	if lo, hi, ok := bigInt128(x); ok {
		d.inbox[k] = slot{lo: lo, hi: hi, h: h}
		delete(d.wide, k)
		return
	}
	w := d.wide[k]
	if w == nil {
		w = new(big.Int)
		d.wide[k] = w
	}
	w.Set(x)
	d.inbox[k] = slot{h: -1 - h}
}

func (s slot) height() int64 {
	if s.h < 0 {
		return -1 - s.h
	}
	return s.h
}

// Observe feeds one successful transfer, in chain order; from and to are
// the ids of its two ends (from is unused when t.From is "").
func (d *Deposit) Observe(t *chains.Transfer, from, to uint32) {
	if !t.Success || t.Amount == nil || t.Amount.Sign() <= 0 || t.To == "" {
		return
	}
	d.init()
	asset := uint64(d.asset(t.Asset)) << 32
	if t.From != "" {
		k := asset | uint64(from)
		if s, ok := d.inbox[k]; ok {
			// A forward empties the address soon after money arrived: what
			// is left (of what the transfers brought; gas is not seen
			// here) is under a tenth of what it sends.
			d.load(&d.x, k, s)
			d.x.Sub(&d.x, t.Amount)
			d.y.Mul(&d.x, ten)
			if t.Height-s.height() <= d.Window && d.y.Cmp(t.Amount) <= 0 && t.From != t.To {
				p := uint64(to)<<32 | uint64(from)
				if _, ok := d.pairs[p]; !ok {
					d.pairs[p] = uint32(len(d.fwd))
					d.fwd = append(d.fwd, Forward{Tx: t.TxHash, Height: t.Height, TxIndex: t.TxIndex})
				}
			}
			d.store(k, &d.x, s.height())
		}
	}
	k := asset | uint64(to)
	if s, ok := d.inbox[k]; ok {
		d.load(&d.x, k, s)
		d.x.Add(&d.x, t.Amount)
		d.store(k, &d.x, t.Height)
	} else {
		d.store(k, t.Amount, t.Height)
	}
}

// Links calls fn for every collector with at least MinCount forwarders,
// for each of its forwarders, with the forwarder's first forward as
// evidence, in the order of (collector, forwarder) ids.
func (d *Deposit) Links(fn func(collector, forwarder uint32, f Forward) error) error {
	d.init()
	// Forwarders per collector, and who forwards to a collector that has
	// enough: a collector (a hot wallet) does not itself forward to a
	// collector; an address that does is a deposit address, whatever
	// sends to it. Arrays over the ids the pairs name.
	var top uint32
	for p := range d.pairs {
		top = max(top, uint32(p>>32), uint32(p))
	}
	count := make([]uint32, int(top)+1)
	for p := range d.pairs {
		count[p>>32]++
	}
	need := uint32(d.MinCount)
	forwards := make([]uint64, int(top)/64+1)
	var keep []uint64
	for p := range d.pairs {
		if count[p>>32] >= need {
			f := uint32(p)
			forwards[f/64] |= 1 << (f % 64)
			keep = append(keep, p)
		}
	}
	count = nil
	slices.Sort(keep)
	for _, p := range keep {
		c := uint32(p >> 32)
		if forwards[c/64]&(1<<(c%64)) != 0 {
			continue
		}
		if err := fn(c, uint32(p), d.fwd[d.pairs[p]]); err != nil {
			return err
		}
	}
	return nil
}

// Pairs is how many (collector, forwarder) pairs the heuristic keeps.
func (d *Deposit) Pairs() int { return len(d.pairs) }

// Balances is how many balances (of an asset at an address) it keeps.
func (d *Deposit) Balances() int { return len(d.inbox) }

// DepositState is what a clustering run's record says of the heuristic's
// state, which the run keeps beside the record (WriteState): the
// parameters it was learnt with, its format, and its size. Records of
// format 0 (versions before) held the whole state, as JSON.
type DepositState struct {
	Window   int64 `json:"window"`
	MinCount int   `json:"min_count"`
	Format   int   `json:"format,omitempty"`
	Balances int64 `json:"balances,omitempty"`
	Pairs    int64 `json:"pairs,omitempty"`
	Bytes    int64 `json:"bytes,omitempty"`
}

// DepositStateFormat is the format WriteState writes.
const DepositStateFormat = 2

// depositStateMagic starts the heuristic's state as WriteState writes it.
const depositStateMagic = "fundtrace-deposit-state/2\n"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// WriteState writes what the heuristic has learnt from the transfers it
// has seen, so that a later run can go on from where this one stopped:
// its parameters, the assets by number, every balance and every pair's
// first forward, in key order (the same transfers give the same bytes),
// then a CRC-32C of all before. Integers are varints, keys
// delta-encoded: about 10 bytes a balance and 45 a pair.
//
//	magic window min-count
//	assets: n, then (length, bytes) each
//	balances: n, then (key delta, height, sign, length, big-endian magnitude) each
//	pairs: n, then (key delta, height, tx index, txid(32)) each
//	crc32c(4, little-endian)
func (d *Deposit) WriteState(w io.Writer) error {
	d.init()
	h := crc32.New(castagnoli)
	bw := bufio.NewWriterSize(io.MultiWriter(w, h), 1<<16)
	var b []byte
	put := func(vs ...uint64) {
		b = b[:0]
		for _, v := range vs {
			b = binary.AppendUvarint(b, v)
		}
		bw.Write(b)
	}
	bw.WriteString(depositStateMagic)
	put(uint64(d.Window), uint64(d.MinCount), uint64(len(d.assetOf)))
	for _, a := range d.assetOf {
		put(uint64(len(a)))
		bw.WriteString(string(a))
	}
	keys := make([]uint64, 0, len(d.inbox))
	for k := range d.inbox {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	put(uint64(len(keys)))
	var prev uint64
	var mag []byte
	for _, k := range keys {
		s := d.inbox[k]
		d.load(&d.x, k, s)
		l := (d.x.BitLen() + 7) / 8
		mag = slices.Grow(mag[:0], l)[:l]
		d.x.FillBytes(mag)
		sign := uint64(0)
		if d.x.Sign() < 0 {
			sign = 1
		}
		put(k-prev, uint64(s.height()), sign, uint64(len(mag)))
		bw.Write(mag)
		prev = k
	}
	keys = keys[:0]
	for p := range d.pairs {
		keys = append(keys, p)
	}
	slices.Sort(keys)
	put(uint64(len(keys)))
	prev = 0
	for _, p := range keys {
		f := d.fwd[d.pairs[p]]
		put(p-prev, uint64(f.Height), uint64(f.TxIndex))
		bw.Write(f.Tx[:])
		prev = p
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("deposit state: %w", err)
	}
	var crc [4]byte
	binary.LittleEndian.PutUint32(crc[:], h.Sum32())
	if _, err := w.Write(crc[:]); err != nil {
		return fmt.Errorf("deposit state: %w", err)
	}
	return nil
}

// ErrDepositState is the error of a state ReadState cannot take.
var ErrDepositState = errors.New("deposit state")

// ReadState goes on from a state WriteState wrote, replacing what the
// heuristic held (its parameters too). The ids in it are the ids of the
// run that wrote it.
func (d *Deposit) ReadState(r io.Reader) error {
	h := crc32.New(castagnoli)
	br := bufio.NewReaderSize(r, 1<<16)
	tr := &teeByteReader{r: br, h: h}
	fail := func(what string, err error) error {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("%w: %s at byte %d: %w", ErrDepositState, what, tr.n, err)
	}
	magic := make([]byte, len(depositStateMagic))
	if _, err := io.ReadFull(tr, magic); err != nil || string(magic) != depositStateMagic {
		return fmt.Errorf("%w: not a deposit state of this version", ErrDepositState)
	}
	uv := func(what string) (uint64, error) {
		v, err := binary.ReadUvarint(tr)
		if err != nil {
			return 0, fail(what, err)
		}
		return v, nil
	}
	window, err := uv("window")
	if err != nil {
		return err
	}
	minCount, err := uv("min-count")
	if err != nil {
		return err
	}
	if window > math.MaxInt64 || minCount > math.MaxInt32 {
		return fail("parameters", errors.New("out of range"))
	}
	*d = Deposit{Window: int64(window), MinCount: int(minCount)}
	d.init()
	n, err := uv("assets")
	if err != nil {
		return err
	}
	if n == 0 || n > math.MaxUint32 {
		return fail("assets", fmt.Errorf("%d assets", n))
	}
	d.assets, d.assetOf = map[chains.Address]uint32{}, nil
	for i := range n {
		l, err := uv("asset")
		if err != nil {
			return err
		}
		if l > 64 {
			return fail("asset", fmt.Errorf("%d bytes", l))
		}
		a := make([]byte, l)
		if _, err := io.ReadFull(tr, a); err != nil {
			return fail("asset", err)
		}
		if _, dup := d.assets[chains.Address(a)]; dup || (i == 0) != (l == 0) {
			return fail("asset", fmt.Errorf("asset %d is %x", i, a))
		}
		d.assets[chains.Address(a)] = uint32(i)
		d.assetOf = append(d.assetOf, chains.Address(a))
	}
	if n, err = uv("balances"); err != nil {
		return err
	}
	var k uint64
	var mag []byte
	for i := range n {
		var v [4]uint64
		for j, what := range []string{"balance key", "balance height", "balance sign", "balance length"} {
			if v[j], err = uv(what); err != nil {
				return err
			}
		}
		if i > 0 && v[0] == 0 || v[1] > math.MaxInt64 || v[2] > 1 || v[3] > 64 || k+v[0] < k || (k+v[0])>>32 >= uint64(len(d.assetOf)) {
			return fail("balance", fmt.Errorf("entry %d out of order or range", i))
		}
		k += v[0]
		mag = slices.Grow(mag[:0], int(v[3]))[:v[3]]
		if _, err := io.ReadFull(tr, mag); err != nil {
			return fail("balance", err)
		}
		d.x.SetBytes(mag)
		if v[2] == 1 {
			d.x.Neg(&d.x)
		}
		d.store(k, &d.x, int64(v[1]))
	}
	if n, err = uv("pairs"); err != nil {
		return err
	}
	var p uint64
	for i := range n {
		var v [3]uint64
		for j, what := range []string{"pair key", "pair height", "pair tx index"} {
			if v[j], err = uv(what); err != nil {
				return err
			}
		}
		if i > 0 && v[0] == 0 || p+v[0] < p || v[1] > math.MaxInt64 || v[2] > math.MaxUint32 {
			return fail("pair", fmt.Errorf("entry %d out of order or range", i))
		}
		p += v[0]
		f := Forward{Height: int64(v[1]), TxIndex: uint32(v[2])}
		if _, err := io.ReadFull(tr, f.Tx[:]); err != nil {
			return fail("pair", err)
		}
		d.pairs[p] = uint32(len(d.fwd))
		d.fwd = append(d.fwd, f)
	}
	sum := h.Sum32()
	var crc [4]byte
	if _, err := io.ReadFull(br, crc[:]); err != nil {
		return fail("checksum", err)
	}
	if binary.LittleEndian.Uint32(crc[:]) != sum {
		return fmt.Errorf("%w: checksum mismatch", ErrDepositState)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return fmt.Errorf("%w: bytes after the checksum", ErrDepositState)
	}
	return nil
}

// teeByteReader reads through r, hashing and counting what it reads.
type teeByteReader struct {
	r *bufio.Reader
	h io.Writer
	n int64
	b [1]byte
}

func (t *teeByteReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.h.Write(p[:n])
	t.n += int64(n)
	return n, err
}

func (t *teeByteReader) ReadByte() (byte, error) {
	c, err := t.r.ReadByte()
	if err == nil {
		t.b[0] = c
		t.h.Write(t.b[:])
		t.n++
	}
	return c, err
}

// int128Big sets x to the two's-complement 128-bit integer hi:lo.
func int128Big(x *big.Int, lo, hi uint64) {
	neg := hi>>63 == 1
	if neg {
		lo, hi = ^lo+1, ^hi
		if lo == 0 {
			hi++
		}
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	x.SetBytes(b[:])
	if neg {
		x.Neg(x)
	}
}

// bigInt128 returns x as a two's-complement 128-bit integer; ok is false
// when it does not fit in 127 bits and a sign.
func bigInt128(x *big.Int) (lo, hi uint64, ok bool) {
	if x.BitLen() > 127 {
		return 0, 0, false
	}
	var b [16]byte
	x.FillBytes(b[:])
	hi, lo = binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	if x.Sign() < 0 {
		lo, hi = ^lo+1, ^hi
		if lo == 0 {
			hi++
		}
	}
	return lo, hi, true
}
