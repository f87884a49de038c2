package sim

import (
	"fmt"
	"sort"

	"github.com/ethereum/go-ethereum/common"
)

// acct is an account's balance of one asset and its taint: FIFO as
// segments in arrival order, haircut as each victim's share.
type acct struct {
	bal     int64
	fifo    []Segment
	haircut map[int]int64
}

// ledger holds the balances of an account chain's accounts, per asset,
// with the taint each carries under both models. The Ethereum and TRON
// simulators keep their truth in one.
type ledger struct {
	accts     map[string]*acct // asset + address
	isDeposit map[common.Address]bool
}

func newLedger() ledger {
	return ledger{accts: map[string]*acct{}, isDeposit: map[common.Address]bool{}}
}

func (l *ledger) acct(asset string, a common.Address) *acct {
	k := asset + string(a[:])
	x := l.accts[k]
	if x == nil {
		x = &acct{haircut: map[int]int64{}}
		l.accts[k] = x
	}
	return x
}

// move takes amount of asset from one account to another (with burn, to
// nowhere: a fee), carrying taint under both models. Money landing on an
// exchange deposit address stops being the victims': onDeposit is told
// what each victim's share of it was (FIFO and haircut), and the deposit
// address holds it clean.
func (l *ledger) move(asset string, from, to common.Address, amount int64, burn bool, onDeposit func(fifo, haircut map[int]int64)) {
	src := l.acct(asset, from)
	if amount > src.bal {
		panic(fmt.Sprintf("sim: %s of %x would go negative", asset, from))
	}
	// FIFO: the oldest units first.
	var segs []Segment
	need := amount
	for need > 0 {
		take := min(need, src.fifo[0].Sats)
		segs = appendSegment(segs, Segment{Victim: src.fifo[0].Victim, Sats: take})
		src.fifo[0].Sats -= take
		need -= take
		if src.fifo[0].Sats == 0 {
			src.fifo = src.fifo[1:]
		}
	}
	// Haircut: each victim's share of the balance, in proportion.
	shares := map[int]int64{}
	for v, t := range src.haircut {
		sh := mulDiv(t, amount, src.bal)
		if sh > 0 {
			shares[v] = sh
		}
		if t-sh < 1 {
			delete(src.haircut, v)
		} else {
			src.haircut[v] = t - sh
		}
	}
	src.bal -= amount
	if burn {
		return
	}
	dst := l.acct(asset, to)
	if l.isDeposit[to] {
		fifo := map[int]int64{}
		for _, sg := range segs {
			if sg.Victim >= 0 {
				fifo[sg.Victim] += sg.Sats
			}
		}
		onDeposit(fifo, shares)
		segs, shares = []Segment{{Victim: -1, Sats: amount}}, nil
	}
	dst.bal += amount
	for _, sg := range segs {
		dst.fifo = appendSegment(dst.fifo, sg)
	}
	for v, sh := range shares {
		dst.haircut[v] += sh
	}
}

// credit adds fresh, clean money (a withdrawal, a mint, a reward).
func (l *ledger) credit(asset string, to common.Address, amount int64) {
	a := l.acct(asset, to)
	a.bal += amount
	a.fifo = appendSegment(a.fifo, Segment{Victim: -1, Sats: amount})
}

func (l *ledger) balance(asset string, a common.Address) int64 { return l.acct(asset, a).bal }

// victimsOf lists, in order, the victims with a FIFO or haircut share.
func victimsOf(fifo, haircut map[int]int64) []int {
	var vs []int
	for v := range fifo {
		vs = append(vs, v)
	}
	for v := range haircut {
		if _, ok := fifo[v]; !ok {
			vs = append(vs, v)
		}
	}
	sort.Ints(vs)
	return vs
}
