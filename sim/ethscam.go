package sim

import (
	"bytes"
	"sort"

	"github.com/ethereum/go-ethereum/common"
)

// The planted crime on Ethereum: victims buy ETH or the token at an
// exchange and pay it, in doubling amounts, to an address the operation
// gave each of them. A few blocks later the operation moves it on: ETH
// through its forwarder contract, which splits it by internal calls into
// fresh intermediate wallets; the token through a chain of intermediate
// wallets (each given gas first). After two or three hops the money is
// deposited at the operation's accounts at three exchanges.

func (s *ethSim) planVictims(blocks int64) {
	n := s.cfg.Victims
	perm := s.r.Perm(len(s.users))
	half := max(blocks/2, 20)
	for _, i := range perm[:min(n, len(perm))] {
		v := s.users[i]
		asset, base := AssetETH, int64(s.r.IntN(20)+5)*eth/10 // 0.5–2.4 ETH
		if s.r.IntN(2) == 0 {
			asset, base = AssetToken, int64(s.r.IntN(9000)+1000)*usdt
		}
		pays := 1 + s.r.IntN(3)
		var hs []int64
		for range pays {
			hs = append(hs, 10+s.r.Int64N(half))
		}
		sort.Slice(hs, func(i, j int) bool { return hs[i] < hs[j] })
		for k, h := range hs {
			s.plan[h] = append(s.plan[h], ethPlan{victim: v, asset: asset, amount: base << k})
		}
	}
}

func (s *ethSim) scamActs(n int64) {
	// Victims buy two blocks before they pay.
	for _, p := range s.plan[n+2] {
		w := s.wallets[p.victim][0]
		ex := s.hot[s.exchanges[s.r.IntN(len(s.exchanges))]]
		if p.asset == AssetETH {
			s.sendETH(ex, w, p.amount+eth/50)
		} else {
			s.sendToken(ex, w, p.amount)
			s.sendETH(ex, w, eth/50)
		}
	}
	for _, p := range s.plan[n] {
		s.victimPays(p, n)
	}
	var later []pendingMove
	for _, m := range s.pending {
		if m.at > n {
			later = append(later, m)
			continue
		}
		later = append(later, s.scamMove(m, n)...)
	}
	s.pending = later
}

func (s *ethSim) victimPays(p ethPlan, n int64) {
	w := s.wallets[p.victim][0]
	to, ok := s.collect[p.victim]
	if !ok {
		to = s.newAddress(s.scam, "collection", -1)
		s.collect[p.victim] = to
	}
	var t *ETHTx
	if p.asset == AssetETH {
		if s.balance(AssetETH, w) < p.amount+eth/100 {
			return
		}
		t = s.sendETH(w, to, p.amount)
	} else {
		if s.balance(AssetToken, w) < p.amount {
			return
		}
		t = s.sendToken(w, to, p.amount)
	}
	if t == nil || !t.Success {
		return
	}
	id := len(s.w.Victims)
	// The payment's money is the victim payment's from here on.
	a := s.ledger.acct(p.asset, to)
	a.fifo = retag(a.fifo, p.amount, id)
	a.haircut[id] = p.amount
	s.w.Victims = append(s.w.Victims, AccountVictimPayment{ID: id, Victim: p.victim, TxHash: t.Hash, Asset: p.asset, From: w, To: to, Amount: p.amount, Block: n})
	s.pending = append(s.pending, pendingMove{at: n + 3 + s.r.Int64N(20), asset: p.asset, from: to, hops: 2 + s.r.IntN(2)})
}

// retag marks the last amount units of a FIFO queue (the payment just
// received, which landed at the end) as victim id's.
func retag(fifo []Segment, amount int64, id int) []Segment {
	var out []Segment
	var total int64
	for _, s := range fifo {
		total += s.Sats
	}
	keep := total - amount
	for _, s := range fifo {
		take := min(keep, s.Sats)
		if take > 0 {
			out = appendSegment(out, Segment{Victim: s.Victim, Sats: take})
		}
		keep -= take
	}
	return appendSegment(out, Segment{Victim: id, Sats: amount})
}

// scamMove makes the next move of the money at m.from.
func (s *ethSim) scamMove(m pendingMove, n int64) []pendingMove {
	gas := s.scamGas()
	if m.asset == AssetETH {
		bal := s.balance(AssetETH, m.from)
		fee := int64(gasForward+3*9_000) * 60
		if bal <= fee+eth/100 {
			return nil
		}
		value := bal - fee
		if m.hops == 0 {
			dep := s.depositAddress(s.scamExchange(), s.scam)
			s.sendETH(m.from, dep, bal-int64(gasTransfer)*60)
			return nil
		}
		// Through the forwarder: split into two or three wallets.
		parts := 2 + s.r.IntN(2)
		var calls []ETHCall
		var next []pendingMove
		left := value
		for i := range parts {
			to := s.newAddress(s.scam, "intermediate", -1)
			v := left / int64(parts-i)
			calls = append(calls, ETHCall{From: s.forwarder, To: to, Value: v})
			left -= v
			next = append(next, pendingMove{at: n + 2 + s.r.Int64N(30), asset: AssetETH, from: to, hops: m.hops - 1})
		}
		f := s.forwarder
		if t := s.tx(m.from, &f, value, int64(gasForward+parts*9_000), []byte{0x4b, 0x63, 0xe8, 0x0d}, true, calls, nil); t == nil {
			return nil
		}
		return next
	}
	bal := s.balance(AssetToken, m.from)
	if bal == 0 {
		return nil
	}
	if s.balance(AssetETH, m.from) < int64(gasToken)*60 {
		s.sendETH(gas, m.from, int64(gasToken)*100)
		return []pendingMove{{at: n + 1, asset: m.asset, from: m.from, hops: m.hops}}
	}
	to := s.depositAddress(s.scamExchange(), s.scam)
	var next []pendingMove
	if m.hops > 0 {
		to = s.newAddress(s.scam, "intermediate", -1)
		next = []pendingMove{{at: n + 2 + s.r.Int64N(30), asset: AssetToken, from: to, hops: m.hops - 1}}
	}
	s.sendToken(m.from, to, bal)
	return next
}

// scamExchange is one of the three exchanges the operation has accounts at.
func (s *ethSim) scamExchange() int { return s.exchanges[1+s.r.IntN(3)] }

func sortAddresses(as []common.Address) {
	sort.Slice(as, func(i, j int) bool { return bytes.Compare(as[i][:], as[j][:]) < 0 })
}
