package sim

import (
	"sort"

	"github.com/ethereum/go-ethereum/common"
)

// The planted crime on TRON: victims buy USDT (or TRX) at an exchange and
// pay it, in doubling amounts, to an address the operation gave each of
// them. A few blocks later the operation moves it along a chain of one
// to three intermediate wallets, each given TRX for its fees by the
// operation's gas wallet or energy rented for it. At the end of the
// chain the money is deposited at the operation's accounts at three
// exchanges, or (USDT) sold to an OTC desk, which later deposits its own
// USDT at an exchange under its own account, or swapped for TRX at the
// pool, where the USDT trail ends.

func (s *tronSim) planVictims(blocks int64) {
	perm := s.r.Perm(len(s.users))
	half := max(blocks/2, 40)
	for _, i := range perm[:min(s.cfg.Victims, len(perm))] {
		v := s.users[i]
		asset, base := AssetToken, int64(s.r.IntN(9000)+1000)*1_000_000
		if s.r.IntN(5) == 0 {
			asset, base = AssetTRX, int64(s.r.IntN(20_000)+5_000)*trx
		}
		pays := 1 + s.r.IntN(3)
		var hs []int64
		for range pays {
			hs = append(hs, 10+s.r.Int64N(half))
		}
		sort.Slice(hs, func(i, j int) bool { return hs[i] < hs[j] })
		for k, h := range hs {
			s.plan[h] = append(s.plan[h], tronPlan{victim: v, asset: asset, amount: base << k})
		}
	}
}

func (s *tronSim) scamActs(n int64) {
	// Victims buy two blocks before they pay.
	for _, p := range s.plan[n+2] {
		w := s.wallets[p.victim][0]
		ex := s.hot[s.exchanges[s.r.IntN(len(s.exchanges))]]
		if p.asset == AssetTRX {
			s.sendTRX(ex, w, p.amount+10*trx)
		} else {
			s.sendUSDT(ex, w, p.amount)
			s.sendTRX(ex, w, 60*trx)
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

func (s *tronSim) victimPays(p tronPlan, n int64) {
	w := s.wallets[p.victim][0]
	to, ok := s.collect[p.victim]
	if !ok {
		to = s.newAddress(s.scam, "collection", -1)
		s.collect[p.victim] = to
	}
	var t *TronTx
	if p.asset == AssetTRX {
		if s.balance(AssetTRX, w) < p.amount+2*trx {
			return
		}
		t = s.sendTRX(w, to, p.amount)
	} else {
		if s.balance(AssetToken, w) < p.amount {
			return
		}
		t = s.sendUSDT(w, to, p.amount)
	}
	if t == nil || !t.Success {
		return
	}
	id := len(s.w.Victims)
	a := s.ledger.acct(p.asset, to)
	a.fifo = retag(a.fifo, p.amount, id)
	a.haircut[id] = p.amount
	s.w.Victims = append(s.w.Victims, AccountVictimPayment{ID: id, Victim: p.victim, TxHash: t.ID, Asset: p.asset, From: w, To: to, Amount: p.amount, Block: n})
	s.pending = append(s.pending, pendingMove{at: n + 3 + s.r.Int64N(20), asset: p.asset, from: to, hops: 1 + s.r.IntN(3)})
}

// scamMove makes the next move of the money at m.from.
func (s *tronSim) scamMove(m pendingMove, n int64) []pendingMove {
	gas := s.scamGas()
	later := func(at int64, mv pendingMove) []pendingMove { mv.at = at; return []pendingMove{mv} }
	if m.asset == AssetTRX {
		bal := s.balance(AssetTRX, m.from)
		if bal <= 2*trx {
			return nil
		}
		to := s.depositAddress(s.scamExchange(), s.scam)
		var next []pendingMove
		if m.hops > 0 {
			to = s.newAddress(s.scam, "intermediate", -1)
			next = later(n+2+s.r.Int64N(30), pendingMove{asset: AssetTRX, from: to, hops: m.hops - 1})
		}
		fee := int64(feeTRXTransfer)
		if !s.activated[to] {
			fee += feeActivate
		}
		if s.sendTRX(m.from, to, bal-fee) == nil {
			return nil
		}
		return next
	}
	bal := s.balance(AssetToken, m.from)
	if bal == 0 {
		return nil
	}
	// Fees: the gas wallet sends TRX, or (one time in three) rents energy
	// for the wallet.
	if s.balance(AssetTRX, m.from) < feeTRC20 && s.energy[m.from] == 0 {
		if s.r.IntN(3) == 0 {
			if s.sendTRX(gas, m.from, 2*trx) != nil {
				s.rentEnergyFor(gas, m.from)
			}
		} else {
			s.sendTRX(gas, m.from, 60*trx)
		}
		return later(n+1, m)
	}
	if m.hops > 0 {
		to := s.newAddress(s.scam, "intermediate", -1)
		if s.sendUSDT(m.from, to, bal) == nil {
			return nil
		}
		return later(n+2+s.r.Int64N(30), pendingMove{asset: AssetToken, from: to, hops: m.hops - 1})
	}
	k := s.r.IntN(20)
	if k >= 17 && s.balance(AssetTRX, m.from) < feeSwap+2*trx {
		k = 0 // not enough TRX for the pool: deposit instead
	}
	switch {
	case k < 12:
		s.sendUSDT(m.from, s.depositAddress(s.scamExchange(), s.scam), bal)
	case k < 17:
		s.sellToOTC(m.from, s.otc[s.r.IntN(len(s.otc))], bal)
	default:
		// Swapped for TRX, which goes to an exchange from a fresh wallet.
		if t := s.swap(m.from, bal); t != nil {
			to := s.newAddress(s.scam, "intermediate", -1)
			s.sendTRX(m.from, to, bal*trxPerUSDT)
			return later(n+2+s.r.Int64N(30), pendingMove{asset: AssetTRX, from: to, hops: 0})
		}
	}
	return nil
}

// rentEnergyFor has the operation's gas wallet rent energy for wallet.
func (s *tronSim) rentEnergyFor(payer, wallet common.Address) {
	prov := s.hot[s.rental]
	if s.sendTRX(payer, prov, rentPrice) == nil {
		return
	}
	s.tx(&TronTx{Type: tronDelegate, Owner: prov, To: wallet, Amount: 65_000 * 10 * sun, Net: 280, Success: true})
	s.energy[wallet]++
}

// scamExchange is one of the three exchanges the operation has accounts at.
func (s *tronSim) scamExchange() int { return s.exchanges[1+s.r.IntN(3)] }
