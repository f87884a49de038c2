package sim

import (
	"sort"

	"github.com/ethereum/go-ethereum/common"
)

// One block of the simulated TRON economy and crime.

func (s *tronSim) act(n int64) {
	switch n {
	case 1:
		// The block producer withdraws its rewards, the money every other
		// account's TRX comes from; Tether deploys USDT, minting the supply
		// to its treasury.
		s.withdrawReward(400_000_000 * trx)
		return
	case 2:
		for _, e := range s.exchanges {
			s.sendTRX(s.hot[s.found], s.hot[e], 50_000_000*trx)
		}
		s.sendTRX(s.hot[s.found], s.treasury(), 10_000*trx)
		s.sendTRX(s.hot[s.found], s.hot[s.rental], 1_000*trx)
		s.sendTRX(s.hot[s.found], s.scamGas(), 200_000*trx)
		for _, e := range s.otc {
			s.sendTRX(s.hot[s.found], s.wallets[e][1], 5_000_000*trx)
			s.sendTRX(s.hot[s.found], s.wallets[e][0], 10_000*trx)
		}
		return
	case 3:
		s.deployUSDT()
		return
	case 4:
		for _, e := range s.exchanges {
			s.sendUSDT(s.treasury(), s.hot[e], usdtSupply/8)
		}
		s.deployPool()
		return
	case 5:
		// TRC-10: an exchange holds the token (issued before the window
		// the simulation covers) and pays it out to users.
		s.trc10[s.hot[s.exchanges[0]]] = 1_000_000_000_000
		return
	}
	if n%100 == 0 {
		s.withdrawReward(2_000_000 * trx)
	}
	for range 6 * s.cfg.Scale {
		u := s.users[s.r.IntN(len(s.users))]
		w := s.wallets[u][0]
		switch k := s.r.IntN(100); {
		case k < 20:
			ex := s.hot[s.exchanges[s.r.IntN(len(s.exchanges))]]
			if s.r.IntN(3) == 0 {
				s.sendTRX(ex, w, s.trxAmount())
			} else {
				s.sendUSDT(ex, w, s.usdtAmount())
				s.sendTRX(ex, w, 60*trx) // and TRX for the fees
			}
		case k < 32:
			to := s.wallets[s.users[s.r.IntN(len(s.users))]][0]
			if amt := s.trxAmount() / 4; s.balance(AssetTRX, w) > amt+5*trx {
				s.sendTRX(w, to, amt)
			}
		case k < 58:
			to := s.wallets[s.users[s.r.IntN(len(s.users))]][0]
			amt := s.usdtAmount() / 4
			if s.r.IntN(30) == 0 {
				amt = s.balance(AssetToken, w) + 1_000_000 // more than it has: the call reverts
			}
			if s.balance(AssetToken, w) > 0 {
				s.sendUSDT(w, to, amt)
			}
		case k < 63:
			if s.balance(AssetTRX, w) > 10*trx && s.energy[w] == 0 {
				s.rentEnergy(w, 2)
			}
		case k < 70:
			ex := s.hot[s.exchanges[0]]
			to := s.wallets[s.users[s.r.IntN(len(s.users))]][0]
			if s.trc10[w] > 0 && s.balance(AssetTRX, w) > 3*trx {
				s.sendTRC10(w, to, s.trc10[w]/2)
			} else {
				s.sendTRC10(ex, w, int64(s.r.IntN(5000)+1)*1_000_000)
			}
		case k < 78:
			if amt := s.balance(AssetToken, w) / 3; amt > 0 {
				s.swap(w, amt)
			}
		case k < 82:
			// A user sells USDT to an OTC desk, which pays TRX.
			if amt := s.balance(AssetToken, w) / 2; amt > 0 {
				s.sellToOTC(w, s.otc[s.r.IntN(len(s.otc))], amt)
			}
		default:
			ex := s.exchanges[s.r.IntN(len(s.exchanges))]
			dep := s.depositAddress(ex, u)
			if s.r.IntN(3) == 0 {
				if amt := s.balance(AssetTRX, w) / 2; amt > 10*trx {
					s.sendTRX(w, dep, amt)
				}
			} else if amt := s.balance(AssetToken, w) / 2; amt > 0 {
				s.sendUSDT(w, dep, amt)
			}
		}
	}
	if n%20 == 0 {
		for _, e := range s.exchanges {
			s.sweep(e)
		}
	}
	if n%40 == 0 {
		for _, e := range s.otc {
			s.otcDeposits(e)
		}
	}
	s.scamActs(n)
}

func (s *tronSim) trxAmount() int64 {
	return int64(float64(500*trx) * (1 + 10*s.r.Float64()*s.r.Float64()))
}
func (s *tronSim) usdtAmount() int64 { return int64(s.r.IntN(3000)+20) * 1_000_000 }

func (s *tronSim) treasury() common.Address { return s.firstWallet(s.issuer, "treasury") }

func (s *tronSim) scamGas() common.Address { return s.firstWallet(s.scam, "wallet") }

// withdrawReward pays the block producer its accumulated reward.
func (s *tronSim) withdrawReward(amount int64) {
	p := s.hot[s.found]
	t := s.tx(&TronTx{Type: tronWithdraw, Owner: p, Success: true, Withdrawn: amount, Net: 200})
	if t != nil {
		s.ledger.credit(AssetTRX, p, amount)
		s.activated[p] = true
	}
}

// deployUSDT creates the token at USDT's mainnet address, minting the
// supply to Tether's treasury (a Transfer event from the zero address).
func (s *tronSim) deployUSDT() {
	tok := common.HexToAddress("a614f803b6fd780986a42c78ec9c7f77e6ded13c") // TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t
	s.w.Addresses[tok] = &AccountInfo{Address: tok, Owner: s.issuer, Role: "contract", Account: -1}
	s.w.USDT = tok
	from := s.treasury()
	s.tx(&TronTx{Type: tronCreate, Owner: from, Fee: 900 * trx, Energy: 2_000_000, Success: true, Created: &tok,
		Logs: []TokenLog{{Token: tok, To: from, Amount: usdtSupply}}})
	s.activated[tok] = true
}

// deployPool creates the swap pool (USDT for TRX at a fixed price) and
// gives it liquidity.
func (s *tronSim) deployPool() {
	p := s.newAddress(s.dex, "contract", -1)
	s.w.Pool = p
	s.label(p, "Swap pool USDT/TRX", "defi")
	s.tx(&TronTx{Type: tronCreate, Owner: s.hot[s.exchanges[1]], Fee: 500 * trx, Energy: 1_000_000, Success: true, Created: &p})
	s.activated[p] = true
	s.sendTRX(s.hot[s.found], p, 100_000_000*trx)
}

// swap sells USDT to the pool for TRX: one call, the tokens in by a
// Transfer event, the TRX out by an internal transaction.
func (s *tronSim) swap(from common.Address, amount int64) *TronTx {
	p := s.w.Pool
	out := amount * trxPerUSDT
	if s.balance(AssetTRX, p) < out {
		return nil
	}
	data := append([]byte{0x18, 0xcb, 0xaf, 0xe5}, make([]byte, 64)...) // swapExactTokensForTRX-like
	return s.tx(&TronTx{Type: tronTrigger, Owner: from, To: p, Data: data, Fee: feeSwap, Energy: 120_000, Net: 400, Success: true,
		Internal: []TronInternal{{From: p, To: from, Value: out}},
		Logs:     []TokenLog{{Token: s.w.USDT, From: from, To: p, Amount: amount}}})
}

// sellToOTC sends USDT to an OTC desk's collection wallet; the desk pays
// TRX from its other wallet.
func (s *tronSim) sellToOTC(from common.Address, desk int, amount int64) {
	if s.sendUSDT(from, s.wallets[desk][0], amount) == nil {
		return
	}
	s.sendTRX(s.wallets[desk][1], from, amount*trxPerUSDT*98/100)
}

// otcDeposits: a desk deposits half its USDT at an exchange, under its
// own account there.
func (s *tronSim) otcDeposits(desk int) {
	w := s.wallets[desk][0]
	if amt := s.balance(AssetToken, w) / 2; amt > 0 {
		if s.balance(AssetTRX, w) < feeTRC20 {
			s.sendTRX(s.wallets[desk][1], w, 500*trx)
		}
		s.sendUSDT(w, s.depositAddress(s.exchanges[desk%len(s.exchanges)], desk), amt)
	}
}

func (s *tronSim) depositAddress(ex, customer int) common.Address {
	k := [2]int{ex, customer}
	if a, ok := s.deposits[k]; ok {
		return a
	}
	a := s.newAddress(ex, "deposit", customer)
	s.deposits[k] = a
	s.ledger.isDeposit[a] = true
	return a
}

// sweep moves the exchange's deposits to its hot wallet. A deposit
// address holding USDT needs TRX (or energy) to send it: exchanges A and
// C send it TRX first (which also activates it), B and D activate it with
// 1 TRX and delegate energy from their staked TRX. TRX deposits are
// swept less the transfer's fee.
func (s *tronSim) sweep(ex int) {
	hot := s.hot[ex]
	var deps []common.Address
	for k, a := range s.deposits {
		if k[0] == ex {
			deps = append(deps, a)
		}
	}
	sort.Slice(deps, func(i, j int) bool { return string(deps[i][:]) < string(deps[j][:]) })
	delegates := (ex-s.exchanges[0])%2 == 1
	for _, d := range deps {
		if tb := s.balance(AssetToken, d); tb > 0 {
			switch {
			case !s.activated[d] && delegates:
				s.sendTRX(hot, d, 1*trx)
				continue
			case delegates && s.energy[d] == 0:
				s.tx(&TronTx{Type: tronDelegate, Owner: hot, To: d, Amount: 70_000 * 10 * sun, Net: 280, Success: true})
				s.energy[d]++
			case !delegates && s.balance(AssetTRX, d) < feeTRC20:
				s.sendTRX(hot, d, 30*trx)
				continue
			}
			s.sendUSDT(d, hot, tb)
			continue
		}
		if tb := s.balance(AssetTRX, d); tb > 2*feeTRXTransfer && s.r.IntN(2) == 0 {
			s.sendTRX(d, hot, tb-feeTRXTransfer)
		}
	}
}
