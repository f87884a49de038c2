package heuristics

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
)

// ether is n/1000 ETH in wei.
func ether(milli int64) *big.Int {
	return new(big.Int).Mul(big.NewInt(milli), big.NewInt(1e15))
}

type xfer struct {
	h        int64
	asset    string
	from, to uint32
	amount   *big.Int
}

// feed gives d the transfers, named "a<id>" (id 0: none), tx i at index i.
func feed(d *Deposit, xs []xfer) {
	for i, x := range xs {
		t := chains.Transfer{Height: x.h, TxIndex: uint32(i), Asset: chains.Address(x.asset), Amount: x.amount, Success: true}
		t.TxHash[0], t.TxHash[1] = byte(i), byte(i>>8)
		if x.from != 0 {
			t.From = chains.Address(fmt.Sprint("a", x.from))
		}
		t.To = chains.Address(fmt.Sprint("a", x.to))
		d.Observe(&t, x.from, x.to)
	}
}

func linksOf(t *testing.T, d *Deposit) string {
	var b strings.Builder
	err := d.Links(func(c, f uint32, fw Forward) error {
		fmt.Fprintf(&b, "%d<-%d@%d/%d ", c, f, fw.Height, fw.TxIndex)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestDepositHandMade: a hot wallet (100) sweeping four deposit addresses
// (1-4), one of them too late; a user sending part of what it has; a
// second collector (200) that itself sweeps into the hot wallet; a token
// sweep after an ETH one; a deposit address that spends more than the
// transfers brought it.
func TestDepositHandMade(t *testing.T) {
	usdt := "usdt-contract"
	xs := []xfer{
		{10, "", 11, 1, ether(1000)},  // 0: users pay deposit addresses 1-4
		{10, "", 12, 2, ether(2000)},  // 1
		{11, "", 13, 3, ether(500)},   // 2
		{12, "", 14, 4, ether(700)},   // 3
		{20, "", 1, 100, ether(995)},  // 4: 1 sweeps: 5 left, under a tenth of 995
		{21, "", 2, 100, ether(1000)}, // 5: 2 sends half: not a sweep
		{22, "", 2, 100, ether(990)},  // 6: then the rest: 10 left of 990
		{30, usdt, 15, 1, big.NewInt(1_000_000)},
		{31, usdt, 1, 100, big.NewInt(1_000_000)}, // 8: a token sweep of a pair already seen
		{40, "", 3, 100, ether(600)},              // 9: 3 spends more than it got (-100 left)
		{41, "", 31, 21, ether(1000)},             // 10: collector 200's three forwarders are paid...
		{42, "", 31, 22, ether(1000)},
		{43, "", 31, 23, ether(1000)},
		{50, "", 21, 200, ether(1000)}, // 13: ...and sweep
		{50, "", 22, 200, ether(1000)},
		{50, "", 23, 200, ether(1000)},
		{51, "", 21, 200, ether(0)},     // 16: a zero transfer: ignored
		{60, "", 200, 100, ether(2990)}, // 17: 200 sweeps into 100: it is a deposit address
		{1013, "", 4, 100, ether(700)},  // 18: 4 sweeps 1,001 blocks after its money came
		{1014, "", 16, 5, ether(1100)},  // 19
		{1015, "", 5, 100, ether(1000)}, // 20: 100 left: a tenth of 1000 exactly, a sweep
		{1016, "", 16, 6, ether(1101)},  // 21
		{1017, "", 6, 100, ether(1000)}, // 22: 101 left: not a sweep
	}
	var d Deposit
	feed(&d, xs)
	got := linksOf(t, &d)
	// 100's forwarders: 1 (tx 4), 2 (tx 6), 3 (tx 9), 5 (tx 20), 200 (tx
	// 17); 200's three (21-23) make no links, 200 forwarding to 100.
	want := "100<-1@20/4 100<-2@22/6 100<-3@40/9 100<-5@1015/20 100<-200@60/17 "
	if got != want {
		t.Fatalf("links %q, want %q", got, want)
	}
	wide := Deposit{Window: 1001}
	feed(&wide, xs)
	if got := linksOf(t, &wide); got != "100<-1@20/4 100<-2@22/6 100<-3@40/9 100<-4@1013/18 100<-5@1015/20 100<-200@60/17 " {
		t.Fatalf("with a window of 1,001 blocks: %q", got)
	}
	d2 := Deposit{MinCount: 6}
	feed(&d2, xs)
	if got := linksOf(t, &d2); got != "" {
		t.Fatalf("with 6 forwarders needed: %q", got)
	}
}

// reference is the heuristic as first written (maps of big integers by
// address), to check the compact one against.
type reference struct {
	window int64
	min    int
	bal    map[[2]uint64]*big.Int
	at     map[[2]uint64]int64
	fw     map[uint32]map[uint32][2]int64
}

func (r *reference) observe(x xfer, asset uint64, i int) {
	if x.amount.Sign() <= 0 {
		return
	}
	if x.from != 0 {
		k := [2]uint64{asset, uint64(x.from)}
		if b := r.bal[k]; b != nil {
			b.Sub(b, x.amount)
			left := new(big.Int).Mul(b, big.NewInt(10))
			if x.h-r.at[k] <= r.window && left.Cmp(x.amount) <= 0 && x.from != x.to {
				if r.fw[x.to] == nil {
					r.fw[x.to] = map[uint32][2]int64{}
				}
				if _, ok := r.fw[x.to][x.from]; !ok {
					r.fw[x.to][x.from] = [2]int64{x.h, int64(i)}
				}
			}
		}
	}
	k := [2]uint64{asset, uint64(x.to)}
	if b := r.bal[k]; b != nil {
		b.Add(b, x.amount)
	} else {
		r.bal[k] = new(big.Int).Set(x.amount)
	}
	r.at[k] = x.h
}

func (r *reference) links() string {
	forwards := map[uint32]bool{}
	for _, fw := range r.fw {
		if len(fw) >= r.min {
			for f := range fw {
				forwards[f] = true
			}
		}
	}
	var b strings.Builder
	for c := uint32(0); c < 1000; c++ {
		fw := r.fw[c]
		if len(fw) < r.min || forwards[c] {
			continue
		}
		for f := uint32(0); f < 1000; f++ {
			if e, ok := fw[f]; ok {
				fmt.Fprintf(&b, "%d<-%d@%d/%d ", c, f, e[0], e[1])
			}
		}
	}
	return b.String()
}

// randomTransfers is a stream over 60 addresses and three assets, with
// amounts from one wei to past 2^127 (balances kept as big integers)
// and below zero.
func randomTransfers(n int, seed uint64) []xfer {
	rng := rand.New(rand.NewPCG(seed, 1))
	assets := []string{"", "tok-a", "tok-b"}
	var xs []xfer
	h := int64(0)
	for range n {
		h += int64(rng.IntN(40))
		amt := new(big.Int)
		switch rng.IntN(6) {
		case 0:
			amt.Lsh(big.NewInt(int64(1+rng.IntN(1000))), uint(118+rng.IntN(20))) // around 2^127
		case 1:
			amt.SetInt64(int64(rng.IntN(3))) // zero, one or two wei
		default:
			amt.Mul(big.NewInt(int64(1+rng.IntN(1000))), big.NewInt(1e15))
		}
		xs = append(xs, xfer{h: h, asset: assets[rng.IntN(3)], from: uint32(rng.IntN(61)), to: uint32(1 + rng.IntN(60)), amount: amt})
	}
	return xs
}

// TestDepositMatchesReference: on random streams with wide and negative
// balances, the compact heuristic finds the links the map-of-big-integers
// one does, and a state written half way and read back goes on to the
// same links and the same state bytes as one pass.
func TestDepositMatchesReference(t *testing.T) {
	for seed := range uint64(20) {
		xs := randomTransfers(3000, seed)
		ref := &reference{window: 200, min: 2, bal: map[[2]uint64]*big.Int{}, at: map[[2]uint64]int64{}, fw: map[uint32]map[uint32][2]int64{}}
		assetNo := map[string]uint64{}
		for i, x := range xs {
			if _, ok := assetNo[x.asset]; !ok {
				assetNo[x.asset] = uint64(len(assetNo))
			}
			ref.observe(x, assetNo[x.asset], i)
		}
		one := Deposit{Window: 200, MinCount: 2}
		feed(&one, xs)
		want := ref.links()
		if want == "" {
			t.Fatalf("seed %d: the reference found no link: a test that cannot fail", seed)
		}
		if got := linksOf(t, &one); got != want {
			t.Fatalf("seed %d: links\n%s\nwant\n%s", seed, got, want)
		}
		if len(one.wide) == 0 {
			t.Fatalf("seed %d: no balance past 127 bits", seed)
		}
		var a bytes.Buffer
		if err := one.WriteState(&a); err != nil {
			t.Fatal(err)
		}
		half := Deposit{Window: 200, MinCount: 2}
		feed(&half, xs[:len(xs)/2])
		var st bytes.Buffer
		if err := half.WriteState(&st); err != nil {
			t.Fatal(err)
		}
		var rest Deposit
		if err := rest.ReadState(&st); err != nil {
			t.Fatal(err)
		}
		// feed numbers the transactions from 0: go on with the second half's
		// own numbers.
		for i, x := range xs[len(xs)/2:] {
			tr := chains.Transfer{Height: x.h, TxIndex: uint32(len(xs)/2 + i), Asset: chains.Address(x.asset), Amount: x.amount, Success: true}
			tr.TxHash[0], tr.TxHash[1] = byte(len(xs)/2+i), byte((len(xs)/2+i)>>8)
			if x.from != 0 {
				tr.From = chains.Address(fmt.Sprint("a", x.from))
			}
			tr.To = chains.Address(fmt.Sprint("a", x.to))
			rest.Observe(&tr, x.from, x.to)
		}
		if got := linksOf(t, &rest); got != want {
			t.Fatalf("seed %d: links after a state round trip\n%s\nwant\n%s", seed, got, want)
		}
		var b bytes.Buffer
		if err := rest.WriteState(&b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Fatalf("seed %d: state after a round trip differs from one pass's (%d vs %d bytes)", seed, b.Len(), a.Len())
		}
	}
}

// TestDepositStateDamaged: a state cut short anywhere, or with a byte
// changed, is refused as ErrDepositState, never taken.
func TestDepositStateDamaged(t *testing.T) {
	var d Deposit
	feed(&d, randomTransfers(400, 7))
	var b bytes.Buffer
	if err := d.WriteState(&b); err != nil {
		t.Fatal(err)
	}
	full := b.Bytes()
	for cut := 0; cut < len(full); cut += 1 + cut/8 {
		var x Deposit
		err := x.ReadState(bytes.NewReader(full[:cut]))
		if !errors.Is(err, ErrDepositState) {
			t.Fatalf("state cut at %d of %d bytes: %v", cut, len(full), err)
		}
	}
	for i := len(depositStateMagic); i < len(full); i += 1 + i/5 {
		bad := bytes.Clone(full)
		bad[i] ^= 0x40
		var x Deposit
		if err := x.ReadState(bytes.NewReader(bad)); !errors.Is(err, ErrDepositState) {
			t.Fatalf("byte %d changed: %v", i, err)
		}
	}
	var x Deposit
	if err := x.ReadState(bytes.NewReader(append(bytes.Clone(full), 0))); !errors.Is(err, ErrDepositState) {
		t.Fatalf("a byte after the checksum: %v", err)
	}
}

// TestInt128: balances round-trip through the 128-bit form up to 127
// bits and a sign, and no further.
func TestInt128(t *testing.T) {
	one := big.NewInt(1)
	p127 := new(big.Int).Lsh(one, 127)
	for _, s := range []string{"0", "1", "-1", "18446744073709551615", "18446744073709551616", "-18446744073709551616",
		new(big.Int).Sub(p127, one).String(), new(big.Int).Neg(new(big.Int).Sub(p127, one)).String()} {
		x, _ := new(big.Int).SetString(s, 10)
		lo, hi, ok := bigInt128(x)
		if !ok {
			t.Fatalf("%s: does not fit", s)
		}
		var y big.Int
		int128Big(&y, lo, hi)
		if y.Cmp(x) != 0 {
			t.Fatalf("%s: came back as %s", s, &y)
		}
	}
	for _, x := range []*big.Int{p127, new(big.Int).Neg(p127), new(big.Int).Lsh(one, 200)} {
		if _, _, ok := bigInt128(x); ok {
			t.Fatalf("%s fits 128 bits with a sign bit", x)
		}
	}
}
