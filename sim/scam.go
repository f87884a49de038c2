package sim

import (
	"sort"

	"github.com/btcsuite/btcd/wire"
)

// The planted crime: a pig-butchering operation. Victims buy coins at an
// exchange and pay them, in growing amounts over days, to an address the
// operation gave each of them. Every day the operation consolidates what
// came in; then it either runs the coins down a peel chain, peeling a
// share into its accounts' deposit addresses at several exchanges at each
// hop, or splits them, passes one part through the CoinJoin and cashes
// the mixed coins out a day later.

type victimPlan struct {
	victim int
	amount int64
	funded bool
}

type dueCoin struct {
	c    *coin
	at   int    // height of the next move
	move string // "peel", "split", "cashout"
}

// planVictims picks the victims and when and how much each pays.
func (s *sim) planVictims(start int) {
	n := s.cfg.Victims
	perm := s.r.Perm(len(s.users))
	days := max(2, s.cfg.Days/2)
	for _, i := range perm[:min(n, len(perm))] {
		v := s.users[i]
		pays := 1 + s.r.IntN(4)
		base := int64(5_000_000 + s.r.IntN(15_000_000)) // 0.05–0.2 BTC
		var hs []int
		for range pays {
			hs = append(hs, start+4+s.r.IntN(days*24))
		}
		sort.Ints(hs)
		for k, h := range hs {
			s.plan[h] = append(s.plan[h], victimPlan{victim: v, amount: base << k})
		}
	}
	// The operation holds accounts at three of the exchanges.
	perm = s.r.Perm(len(s.exchanges))
	for _, i := range perm[:3] {
		s.scamExchanges = append(s.scamExchanges, s.exchanges[i])
	}
}

func (s *sim) scamActs(start int) {
	// Victims buy at an exchange two blocks before they pay.
	for h := s.height + 2; h <= s.height+2; h++ {
		for i := range s.plan[h] {
			p := &s.plan[h][i]
			ex := s.exchanges[s.r.IntN(len(s.exchanges))]
			s.withdrawals(ex, 2, p.victim, p.amount+100_000)
		}
	}
	for _, p := range s.plan[s.height] {
		s.victimPays(p)
	}
	if (s.height-start)%24 == 23 {
		s.consolidate()
	}
	var later []dueCoin
	for _, d := range s.due {
		if d.at > s.height || !s.inWallet(d.c) {
			if d.at > s.height {
				later = append(later, d)
			}
			continue
		}
		switch d.move {
		case "peel":
			later = append(later, s.peel(d.c)...)
		case "split":
			later = append(later, s.split(d.c)...)
		case "tx0":
			s.scamTx0(d.c)
		}
	}
	s.due = later
	// Mixed coins are cashed out once they have waited half a day.
	var keep []*coin
	for _, c := range s.postmixScam {
		if !s.inWallet(c) {
			continue
		}
		if s.height-c.height < 12 {
			keep = append(keep, c)
			continue
		}
		s.remove(c)
		ex := s.scamExchanges[s.r.IntN(len(s.scamExchanges))]
		fee := s.feeFor(1, 1)
		s.build([]*coin{c}, []payTo{{addr: s.depositAddress(ex, s.scam), value: c.value - fee}})
	}
	s.postmixScam = keep
}

func (s *sim) victimPays(p victimPlan) {
	fee := s.feeFor(2, 2)
	ins := s.pick(p.victim, p.amount+fee, nil)
	if ins == nil {
		return // could not afford it after all: the victim did not pay
	}
	addr, ok := s.collection[p.victim]
	if !ok {
		addr = s.newAddress(s.scam, p2wpkh, "collection", -1)
		s.collection[p.victim] = addr
	}
	tx, sent := s.send(ins, []payTo{{addr: addr, value: p.amount}}, s.feeFor(len(ins), 2), true)
	if !sent {
		return
	}
	script := s.w.Addresses.script(addr)
	for i, o := range tx.TxOut {
		if string(o.PkScript) != string(script) {
			continue
		}
		c := s.findPending(s.scam, wire.OutPoint{Hash: tx.TxHash(), Index: uint32(i)})
		id := len(s.w.Victims)
		c.taint = tainted(id, c.value)
		s.w.Victims = append(s.w.Victims, VictimPayment{ID: id, Victim: p.victim, TxID: tx.TxHash(), Vout: uint32(i), Address: addr, Value: c.value, Height: s.height})
		break
	}
}

// consolidate gathers the day's takings into one fresh address.
func (s *sim) consolidate() {
	wl := s.wallets[s.scam]
	var idx []int
	for i, c := range wl.coins {
		if s.w.Addresses.roleOf(c.addr) == "collection" {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return
	}
	ins := s.take(s.scam, idx)
	var sum int64
	for _, c := range ins {
		sum += c.value
	}
	fee := s.feeFor(len(ins), 1)
	addr := s.newAddress(s.scam, p2wpkh, "consolidation", -1)
	tx := s.build(ins, []payTo{{addr: addr, value: sum - fee}})
	c := s.findPending(s.scam, wire.OutPoint{Hash: tx.TxHash()})
	move := "peel"
	if s.r.IntN(100) < s.cfg.MixPercent {
		move = "split"
	}
	s.due = append(s.due, dueCoin{c: c, at: s.height + 1 + s.r.IntN(4), move: move})
}

// peel sends a share of c to one of the operation's exchange accounts and
// the rest to a fresh address, which peels again a few blocks later; a
// small remainder goes to an exchange whole.
func (s *sim) peel(c *coin) []dueCoin {
	s.remove(c)
	ex := s.scamExchanges[s.r.IntN(len(s.scamExchanges))]
	dep := s.depositAddress(ex, s.scam)
	if c.value < 5_000_000 {
		s.build([]*coin{c}, []payTo{{addr: dep, value: c.value - s.feeFor(1, 1)}})
		return nil
	}
	share := c.value * int64(5+s.r.IntN(21)) / 100
	fee := s.feeFor(1, 2)
	next := s.newAddress(s.scam, p2wpkh, "peel", -1)
	outs := []payTo{{addr: dep, value: share}, {addr: next, value: c.value - share - fee}}
	if s.r.IntN(2) == 0 {
		outs[0], outs[1] = outs[1], outs[0]
	}
	tx := s.build([]*coin{c}, outs)
	for i := range tx.TxOut {
		if n := s.findPending(s.scam, wire.OutPoint{Hash: tx.TxHash(), Index: uint32(i)}); n != nil && n.addr == next {
			return []dueCoin{{c: n, at: s.height + 1 + s.r.IntN(6), move: "peel"}}
		}
	}
	return nil
}

// split divides c into three: one part goes through the CoinJoin (a Tx0
// later), the others down peel chains.
func (s *sim) split(c *coin) []dueCoin {
	s.remove(c)
	fee := s.feeFor(1, 3)
	third := (c.value - fee) / 3
	var outs []payTo
	for range 3 {
		outs = append(outs, payTo{addr: s.newAddress(s.scam, p2wpkh, "split", -1), value: third})
	}
	outs[2].value = c.value - fee - 2*third
	tx := s.build([]*coin{c}, outs)
	var due []dueCoin
	for i := range tx.TxOut {
		n := s.findPending(s.scam, wire.OutPoint{Hash: tx.TxHash(), Index: uint32(i)})
		if i == 0 && n.value > 3*(poolDenom+premixFee)+coordFee+20_000 {
			due = append(due, dueCoin{c: n, at: s.height + 1, move: "tx0"})
			continue
		}
		due = append(due, dueCoin{c: n, at: s.height + 1 + s.r.IntN(6), move: "peel"})
	}
	return due
}

// scamTx0 turns c into premix coins (as many as it funds, up to five)
// whose mixed outputs the operation cashes out later; what is left over
// returns to it as change.
func (s *sim) scamTx0(c *coin) {
	n := int((c.value - coordFee - 20_000) / (poolDenom + premixFee))
	n = min(n, 5)
	if n < 1 {
		return
	}
	s.remove(c)
	s.tx0(s.scam, n, []*coin{c})
}
