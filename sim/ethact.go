package sim

import (
	"github.com/ethereum/go-ethereum/common"
)

// One block of the simulated Ethereum economy and crime.

const (
	eth         = gwei      // 1 ETH in gwei
	usdt        = 1_000_000 // 1 token in base units
	tokenSupply = 10_000_000_000 * usdt
)

func (s *ethSim) act(n, blocks int64) {
	// The beacon chain pays out at the end of every block; at block 1 it
	// funds the exchanges and the token's issuer.
	defer s.creditWithdrawals()
	if n == 1 {
		for _, e := range s.exchanges {
			s.withdraw(s.hot[e], 20_000*eth)
		}
		s.withdraw(s.issuerWallet(), 10*eth)
		return
	}
	s.withdraw(s.hot[s.exchanges[s.r.IntN(len(s.exchanges))]], int64(s.r.IntN(50)+1)*eth/1000)
	switch n {
	case 2:
		s.deployToken()
		return
	case 3:
		s.forwarder = s.deploy(s.scam, "forwarder")
		s.router = s.deploy(s.mixer, "contract")
		for _, e := range s.exchanges {
			s.sendToken(s.issuerWallet(), s.hot[e], tokenSupply/8)
		}
		return
	case 4:
		// The operation's gas wallet buys ETH at an exchange.
		s.sendETH(s.hot[s.exchanges[0]], s.scamGas(), 20*eth)
		return
	}
	for range 6 * s.cfg.Scale {
		u := s.users[s.r.IntN(len(s.users))]
		w := s.wallets[u][0]
		switch k := s.r.IntN(100); {
		case k < 22:
			ex := s.exchanges[s.r.IntN(len(s.exchanges))]
			if s.r.IntN(2) == 0 {
				s.sendETH(s.hot[ex], w, s.ethAmount())
			} else {
				s.sendToken(s.hot[ex], w, s.tokenAmount())
				s.sendETH(s.hot[ex], w, eth/100) // and gas money
			}
		case k < 47:
			to := s.wallets[s.users[s.r.IntN(len(s.users))]][0]
			if amt := s.ethAmount() / 4; s.balance(AssetETH, w) > amt+eth/100 {
				s.sendETH(w, to, amt)
			}
		case k < 67:
			to := s.wallets[s.users[s.r.IntN(len(s.users))]][0]
			amt := s.tokenAmount() / 4
			if s.r.IntN(30) == 0 {
				amt = s.balance(AssetToken, w) + usdt // more than it has: the call reverts
			}
			if s.balance(AssetToken, w) > 0 {
				s.sendToken(w, to, amt)
			}
		case k < 77:
			to := s.wallets[s.users[s.r.IntN(len(s.users))]][0]
			if amt := s.ethAmount() / 4; s.balance(AssetETH, w) > amt+eth/50 {
				r := s.router
				s.tx(w, &r, amt, gasForward+9_000, []byte{0x1a, 0x69, 0x52, 0x30}, true, []ETHCall{{From: r, To: to, Value: amt}}, nil)
			}
		default:
			ex := s.exchanges[s.r.IntN(len(s.exchanges))]
			dep := s.depositAddress(ex, u)
			if s.r.IntN(2) == 0 {
				if amt := s.balance(AssetETH, w) / 2; amt > eth/50 {
					s.sendETH(w, dep, amt)
				}
			} else if amt := s.balance(AssetToken, w) / 2; amt > 0 {
				s.sendToken(w, dep, amt)
			}
		}
	}
	if n%20 == 0 {
		for _, e := range s.exchanges {
			s.sweep(e)
		}
	}
	s.scamActs(n)
}

func (s *ethSim) ethAmount() int64 {
	return int64(float64(eth) * 0.05 * (1 + 10*s.r.Float64()*s.r.Float64()))
}
func (s *ethSim) tokenAmount() int64 { return int64(s.r.IntN(2000)+20) * usdt }

// withdraw adds a withdrawal to the block, credited after its
// transactions, as Ethereum does.
func (s *ethSim) withdraw(to common.Address, amount int64) {
	s.block.Withdrawals = append(s.block.Withdrawals, ETHWithdrawal{Index: s.wdIndex, Address: to, Gwei: amount})
	s.wdIndex++
}

func (s *ethSim) creditWithdrawals() {
	for _, w := range s.block.Withdrawals {
		s.credit(AssetETH, w.Address, w.Gwei)
	}
}

func (s *ethSim) issuerWallet() common.Address { return s.firstWallet(s.issuer, "treasury") }

func (s *ethSim) scamGas() common.Address { return s.firstWallet(s.scam, "wallet") }

// firstWallet is owner's first wallet, made with role when it has none.
func (s *ethSim) firstWallet(owner int, role string) common.Address {
	if ws := s.wallets[owner]; len(ws) > 0 {
		return ws[0]
	}
	a := s.newAddress(owner, role, -1)
	s.wallets[owner] = []common.Address{a}
	return a
}

// deployToken creates the token contract, minting the supply to the
// issuer's treasury in the creation (a Transfer log from address zero).
func (s *ethSim) deployToken() {
	from := s.issuerWallet()
	tok := s.newAddress(s.issuer, "contract", -1)
	s.w.Token = tok
	t := s.tx(from, nil, 0, 900_000, []byte{0x60, 0x80, 0x60, 0x40}, true, nil, nil)
	t.Created = &tok
	t.Logs = []TokenLog{{Token: tok, From: common.Address{}, To: from, Amount: tokenSupply}}
	s.credit(AssetToken, from, tokenSupply)
}

// deploy creates a contract owned by owner from a fresh wallet of it.
func (s *ethSim) deploy(owner int, role string) common.Address {
	from := s.hot[s.exchanges[1]]
	c := s.newAddress(owner, role, -1)
	t := s.tx(from, nil, 0, 400_000, []byte{0x60, 0x80, 0x60, 0x40}, true, nil, nil)
	t.Created = &c
	return c
}

func (s *ethSim) depositAddress(ex, customer int) common.Address {
	k := [2]int{ex, customer}
	if a, ok := s.deposits[k]; ok {
		return a
	}
	a := s.newAddress(ex, "deposit", customer)
	s.deposits[k] = a
	s.ledger.isDeposit[a] = true
	return a
}

// sweep moves the exchange's deposits to its hot wallet: ETH directly;
// tokens once the deposit has gas, which the hot wallet sends it.
func (s *ethSim) sweep(ex int) {
	hot := s.hot[ex]
	var deps []common.Address
	for k, a := range s.deposits {
		if k[0] == ex {
			deps = append(deps, a)
		}
	}
	sortAddresses(deps)
	for _, d := range deps {
		fee := int64(gasToken) * 60
		if tb := s.balance(AssetToken, d); tb > 0 {
			if s.balance(AssetETH, d) < fee {
				s.sendETH(hot, d, 2*fee)
				continue
			}
			s.sendToken(d, hot, tb)
		}
		if eb := s.balance(AssetETH, d); eb > 2*gasTransfer*60 && s.balance(AssetToken, d) == 0 {
			s.sendETH(d, hot, eb-gasTransfer*60)
		}
	}
}
