package tracer

import (
	"context"
	"fmt"
	"math/big"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// The hand-checked case of both tracers (amounts in whole coins):
//
//	victim 1 pays 10 and victim 2 pays 30 to a hub (H1, or two coins
//	spent together on Bitcoin), which pays 8 to D1 and 32 on to H2;
//	victim 3 pays 20 to H2, and H2 pays all 52 to D2. D1 and D2 are
//	deposit addresses: they later pay exchange X's labeled wallet W.
//
// Haircut: D1 carries 8 × 10/40 = 2 of victim 1 and 6 of victim 2; the 32
// carry 8 and 24, so D2 carries 8, 24 and 20. FIFO: D1 takes victim 1's
// first 8; the 32 are victim 1's other 2 then victim 2's 30, behind
// victim 3's 20 at H2 (on Bitcoin, after it: the inputs' order), so D2
// carries 2, 30 and 20. Poison: D1 is touched by victims 1 and 2, D2 by
// all three.
type handCase struct {
	deposit string
	victim  int // Other: the merged remainder
	haircut int64
	fifo    int64
}

var handDeposits = []handCase{
	{"D1", 0, 2, 8}, {"D1", 1, 6, 0},
	{"D2", 0, 8, 2}, {"D2", 1, 24, 30}, {"D2", 2, 20, 20},
}

var handPoison = map[string][]int{"D1": {0, 1}, "D2": {0, 1, 2}}

// With shares under 7 merged: D1's 2 and 6 go to the remainder (8 of
// it); nothing else is that small.
var handMerged = []handCase{
	{"D1", Other, 8, 0}, {"D1", 0, 0, 8},
	{"D2", 0, 8, 2}, {"D2", 1, 24, 30}, {"D2", 2, 20, 20},
}

func handLabels(a chains.Address) (string, string, bool) {
	if a == "W" {
		return "exchange", "X", true
	}
	return "", "", false
}

// accountChain is the hand-checked case on an account chain.
type accountChain []chains.Transfer

func (c accountChain) AccountTx(context.Context, chains.Chain, chains.Hash) (*chains.AccountTx, []chains.Transfer, error) {
	return nil, nil, fmt.Errorf("not used")
}

func (c accountChain) TransfersOf(_ context.Context, _ chains.Chain, as []chains.Address, _, _ int64, limit int) ([][]chains.Transfer, []bool, error) {
	out := make([][]chains.Transfer, len(as))
	over := make([]bool, len(as))
	for i, a := range as {
		for _, t := range c {
			if t.From == a || t.To == a {
				out[i] = append(out[i], t)
			}
		}
		if limit > 0 && len(out[i]) > limit {
			out[i], over[i] = nil, true
		}
	}
	return out, over, nil
}

func coins(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(1e18)) }

func handAccountChain() (accountChain, []Seed) {
	tr := func(h byte, height int64, from, to string, n int64) chains.Transfer {
		return chains.Transfer{Chain: chains.Ethereum, Height: height, Time: height * 12, TxHash: chains.Hash{h}, Kind: chains.TransferNative,
			From: chains.Address(from), To: chains.Address(to), Amount: coins(n), Success: true}
	}
	c := accountChain{tr(1, 1, "V1", "H1", 10), tr(2, 2, "V2", "H1", 30), tr(3, 3, "V3", "H2", 20),
		tr(4, 4, "H1", "D1", 8), tr(5, 5, "H1", "H2", 32), tr(6, 6, "H2", "D2", 52), tr(7, 7, "D1", "W", 8), tr(8, 8, "D2", "W", 52)}
	return c, []Seed{{Transfer: c[0], Ref: "v1"}, {Transfer: c[1], Ref: "v2"}, {Transfer: c[2], Ref: "v3"}}
}

// handRuns are the traces run on the hand-checked case: without poison,
// with it, and with shares under 7 merged.
var handRuns = []struct {
	models []string
	min    int64
	want   []handCase
	poison bool
}{
	{[]string{Haircut, FIFO}, 0, handDeposits, false},
	{[]string{Haircut, FIFO, Poison}, 0, handDeposits, true},
	{[]string{Haircut, FIFO}, 7, handMerged, false},
}

// checkHand checks one run's deposits (in whole coins), poison sets and
// merged shares (unit: one coin in base units).
func checkHand(t *testing.T, run int, got []handCase, nPoisoned int, poisoned func(int) (string, *SeedSet), shares int, merged map[int]*big.Rat, unit *big.Rat) {
	t.Helper()
	r := handRuns[run]
	if fmt.Sprint(got) != fmt.Sprint(r.want) {
		t.Errorf("%v min %d: deposits %v, want %v", r.models, r.min, got, r.want)
	}
	checkPoison(t, r.poison, nPoisoned, poisoned)
	if r.min == 0 {
		return
	}
	two, six := new(big.Rat).Mul(unit, big.NewRat(2, 1)), new(big.Rat).Mul(unit, big.NewRat(6, 1))
	if shares != 2 || merged[0] == nil || merged[0].Cmp(two) != 0 || merged[1] == nil || merged[1].Cmp(six) != 0 {
		t.Errorf("merged %d shares, %v: want victim 1's 2 and victim 2's 6", shares, merged)
	}
}

func TestPoisonPerDepositAccount(t *testing.T) {
	c, seeds := handAccountChain()
	for i, r := range handRuns {
		cfg := Config{Models: r.models, Labels: handLabels}
		if r.min > 0 {
			cfg.MinAmount = map[chains.Address]*big.Int{"": coins(r.min)}
		}
		res, err := Account(context.Background(), c, chains.Ethereum, seeds, cfg)
		if err != nil {
			t.Fatal(err)
		}
		got := handCasesOf(res)
		checkHand(t, i, got, len(res.Poisoned), func(i int) (string, *SeedSet) { return string(res.Poisoned[i].Address), res.Poisoned[i].Seeds },
			res.MergedShares, res.Merged, new(big.Rat).SetInt(coins(1)))
	}
}

func checkPoison(t *testing.T, on bool, n int, at func(int) (string, *SeedSet)) {
	t.Helper()
	if !on {
		if n != 0 {
			t.Errorf("%d poisoned deposits without the poison model", n)
		}
		return
	}
	got := map[string][]int{}
	for i := 0; i < n; i++ {
		a, s := at(i)
		s.Each(func(v int) { got[a] = append(got[a], v) })
		if s.Len() != len(got[a]) {
			t.Errorf("%s: Len %d, %d members", a, s.Len(), len(got[a]))
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(handPoison) {
		t.Errorf("poisoned %v, want %v", got, handPoison)
	}
}

// utxoChain is the hand-checked case on a UTXO chain: seeds are outputs
// A:0 (10 to victim 1's payee), B:0 (30), F:0 (20); C spends A:0 and B:0
// into D1 (8) and H (32); E spends C:1 and F:0 into D2 (52); G sweeps
// C:0 and E:0 into W.
type utxoChain struct {
	txs    map[chains.Hash]*chains.Tx
	spends map[chains.Outpoint]store.Spend
}

func (u *utxoChain) Txs(_ context.Context, _ chains.Chain, hs []chains.Hash) ([]*chains.Tx, error) {
	out := make([]*chains.Tx, len(hs))
	for i, h := range hs {
		if out[i] = u.txs[h]; out[i] == nil {
			return nil, fmt.Errorf("no tx %s", h)
		}
	}
	return out, nil
}

func (u *utxoChain) Spenders(_ context.Context, _ chains.Chain, ops []chains.Outpoint) ([]store.Spend, []bool, error) {
	sp := make([]store.Spend, len(ops))
	found := make([]bool, len(ops))
	for i, op := range ops {
		sp[i], found[i] = u.spends[op]
	}
	return sp, found, nil
}

func handUTXOChain() (*utxoChain, []Seed) {
	u := &utxoChain{txs: map[chains.Hash]*chains.Tx{}, spends: map[chains.Outpoint]store.Spend{}}
	out := func(i uint32, to string, n int64) chains.Output {
		return chains.Output{Index: i, Value: n * 1e8, Addresses: []chains.Address{chains.Address(to)}}
	}
	add := func(h byte, height int64, ins []chains.Outpoint, outs ...chains.Output) chains.Hash {
		tx := &chains.Tx{Chain: chains.Bitcoin, Hash: chains.Hash{h}, Height: height, Time: height * 600, Outputs: outs}
		for i, op := range ins {
			prev := u.txs[op.Hash].Outputs[op.Index]
			tx.Inputs = append(tx.Inputs, chains.Input{Index: uint32(i), Prev: op, Prevout: prev})
			u.spends[op] = store.Spend{Outpoint: op, TxHash: tx.Hash, Vin: uint32(i), Height: height, Time: tx.Time}
		}
		u.txs[tx.Hash] = tx
		return tx.Hash
	}
	a := add(1, 1, nil, out(0, "P1", 10))
	b := add(2, 2, nil, out(0, "P2", 30))
	f := add(3, 3, nil, out(0, "P3", 20))
	c := add(4, 4, []chains.Outpoint{{Hash: a}, {Hash: b}}, out(0, "D1", 8), out(1, "H", 32))
	e := add(5, 5, []chains.Outpoint{{Hash: c, Index: 1}, {Hash: f}}, out(0, "D2", 52))
	add(6, 6, []chains.Outpoint{{Hash: c}, {Hash: e}}, out(0, "W", 60))
	return u, []Seed{{Outpoint: chains.Outpoint{Hash: a}, Ref: "v1"}, {Outpoint: chains.Outpoint{Hash: b}, Ref: "v2"}, {Outpoint: chains.Outpoint{Hash: f}, Ref: "v3"}}
}

func TestPoisonPerDepositUTXO(t *testing.T) {
	u, seeds := handUTXOChain()
	// On Bitcoin, H's coin comes first in E's inputs: D2's FIFO is victim
	// 1's 2 and victim 2's 30 and only then victim 3's 20 — the same
	// amounts as the account chain's, whose queue order differs.
	for i, r := range handRuns {
		cfg := Config{Models: r.models, Labels: handLabels}
		if r.min > 0 {
			cfg.MinAmount = map[chains.Address]*big.Int{"": big.NewInt(r.min * 1e8)}
		}
		res, err := UTXO(context.Background(), u, chains.Bitcoin, seeds, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var got []handCase
		for _, d := range res.Deposits {
			got = append(got, handCase{string(d.Address), d.Seed, d.Amounts.HaircutUnits().Int64() / 1e8, d.Amounts.FIFO.Int64() / 1e8})
		}
		checkHand(t, i, got, len(res.Poisoned), func(i int) (string, *SeedSet) { return string(res.Poisoned[i].Address), res.Poisoned[i].Seeds },
			res.MergedShares, res.Merged, big.NewRat(1e8, 1))
	}
}

func TestSeedSet(t *testing.T) {
	a, b := seedSetOf(3), seedSetOf(130)
	u := union(a, b)
	if u.Len() != 2 || !u.Has(3) || !u.Has(130) || u.Has(4) || a.Len() != 1 || a.Has(130) {
		t.Fatalf("union %v of %v and %v", u, a, b)
	}
	if union(u, a) != u || union(a, u) != u || union(nil, a) != a || union(a, nil) != a {
		t.Error("a union that adds nothing must return the set it already has")
	}
	var got []int
	union(u, seedSetOf(64)).Each(func(i int) { got = append(got, i) })
	if fmt.Sprint(got) != "[3 64 130]" {
		t.Errorf("Each: %v", got)
	}
}

// handCasesOf is an account trace's deposits in whole coins.
func handCasesOf(res *Result) []handCase {
	var got []handCase
	for _, d := range res.Deposits {
		got = append(got, handCase{string(d.Address), d.Seed, new(big.Int).Quo(d.Amounts.HaircutUnits(), coins(1)).Int64(),
			new(big.Int).Quo(d.Amounts.FIFO, coins(1)).Int64()})
	}
	return got
}

// TestMaxHistoryStops: an address with more transfers than MaxHistory
// is a stop, its history not followed (H1 has four transfers, H2 three):
// with a limit of 3 only victim 3's 20 coins reach D2 through H2, and
// victims 1 and 2 stop at H1; with a limit of 4 the whole hand-checked
// case is traced.
func TestMaxHistoryStops(t *testing.T) {
	c, seeds := handAccountChain()
	for _, tc := range []struct {
		max   int
		want  []handCase
		stops string
	}{
		{3, []handCase{{"D2", 2, 20, 20}}, "[H1 01 max-history H1 02 max-history]"},
		{4, handDeposits, "[]"},
	} {
		res, err := Account(context.Background(), c, chains.Ethereum, seeds, Config{Models: []string{Haircut, FIFO}, Labels: handLabels, MaxHistory: tc.max})
		if err != nil {
			t.Fatal(err)
		}
		got := handCasesOf(res)
		var stops []string
		for _, s := range res.Stops {
			if s.Reason != StopUnspent {
				stops = append(stops, fmt.Sprintf("%s %x %s", s.Address, s.Tx[:1], s.Reason))
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) || fmt.Sprint(stops) != tc.stops {
			t.Errorf("MaxHistory %d: deposits %v, stops %v; want %v, %s", tc.max, got, stops, tc.want, tc.stops)
		}
	}
}
