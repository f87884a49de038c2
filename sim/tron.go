package sim

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/ethereum/go-ethereum/common"
)

// TronConfig shapes a simulated TRON chain.
type TronConfig struct {
	Seed  uint64
	Scale int // users and transactions per block grow with it (default 1)
	Days  int // days of activity: 28,800 blocks a day in reality, here 480 (default 7)
	// Victims is how many users the scam takes payments from (default 8 × Scale).
	Victims int
	// OnBlock, when set, is told of each block once it is made, with the
	// number of blocks to make (for progress).
	OnBlock func(b *TronBlock, of int64)
}

// TRON amounts are int64 base units: TRX in sun (10⁻⁶ TRX), USDT in its
// base units (6 decimals), the TRC-10 token in its own.
const (
	sun        = 1
	trx        = 1_000_000 * sun
	tronBlocks = 480 // blocks a simulated day
	// AssetTRX is TRON's native coin in the simulator's files.
	AssetTRX = "TRX"
	// TRC10ID is the simulated TRC-10 token's id; its issue names it
	// TRC10Name (TRC10Symbol) with TRC10Decimals decimals.
	TRC10ID       = 1002000
	TRC10Name     = "Simulated Token"
	TRC10Symbol   = "SIMT"
	TRC10Decimals = 6
	// usdtPerTRX: the swap pool's price, 4 TRX for 1 USDT.
	trxPerUSDT = 4
)

// Fees, in sun, as TRON charges them when the sender's staked resources
// do not cover a transaction: bandwidth at 1,000 sun a byte, energy at
// 420 sun a unit.
const (
	feeTRXTransfer = 268_000                    // a TRX transfer's bandwidth
	feeActivate    = 1_100_000                  // creating the recipient's account (1 TRX burnt, 0.1 TRX fee)
	energyTRC20    = 64_285                     // a USDT transfer to a holder
	feeTRC20Net    = 345_000                    // its bandwidth
	feeTRC20       = energyTRC20*420 + 345_000  // burnt without energy: 27.34 TRX
	feeRevert      = 30_000*420 + 345_000       // a transfer that reverts (energy used until it failed)
	feeSwap        = 120_000*420 + 400_000      // a pool swap
	feeLimit       = 150 * trx                  // every contract call's fee_limit
	rentPrice      = 3 * trx                    // what the energy rental charges for a transfer's energy
	usdtSupply     = 50_000_000_000 * 1_000_000 // minted to the treasury at creation
)

// TronWorld is a simulated TRON chain and its truth.
type TronWorld struct {
	Blocks    []*TronBlock
	Entities  []Entity
	Addresses map[common.Address]*AccountInfo // by the 20 bytes after 0x41
	USDT      common.Address
	Pool      common.Address
	Victims   []AccountVictimPayment
	Exposures []AccountExposure
	Labels    []AccountLabel
}

// TronBlock is one block, its ID and its parent's as java-tron computes
// them from the header (height, then bytes 8.. of the header's SHA-256).
type TronBlock struct {
	Number  int64
	ID      common.Hash
	Parent  common.Hash
	Time    int64 // ms
	Witness common.Address
	Txs     []*TronTx
}

// TronTx is one transaction: its contract and what running it did.
type TronTx struct {
	ID        common.Hash // SHA-256 of Raw
	Raw       []byte      // the serialized Transaction.raw (tronproto.go)
	Type      int32       // the contract type
	Owner     common.Address
	To        common.Address // recipient, called contract, or delegation receiver
	Amount    int64          // TRX (sun), TRC-10 amount, or call value
	TokenID   int64          // TRC-10 id for a TransferAsset
	Data      []byte         // call data
	Fee       int64          // sun burnt
	Energy    int64          // energy used
	Net       int64          // bandwidth used
	Success   bool
	Result    string // contractRet: SUCCESS, REVERT
	Created   *common.Address
	Internal  []TronInternal
	Logs      []TokenLog
	Withdrawn int64 // WithdrawBalance's reward
}

// TronInternal is an internal transaction that moved TRX.
type TronInternal struct {
	From, To common.Address
	Value    int64
}

type tronPlan struct {
	victim int
	asset  string
	amount int64
}

type tronSim struct {
	cfg       TronConfig
	r         *rand.Rand
	w         *TronWorld
	ledger    ledger
	block     *TronBlock
	parent    *TronBlock
	users     []int
	exchanges []int
	otc       []int
	scam      int
	issuer    int // Tether
	found     int // the block producer paying out rewards
	rental    int // the energy rental
	dex       int
	wallets   map[int][]common.Address
	hot       map[int]common.Address
	deposits  map[[2]int]common.Address
	activated map[common.Address]bool
	energy    map[common.Address]int // rented USDT transfers left
	plan      map[int64][]tronPlan
	pending   []pendingMove
	collect   map[int]common.Address
	trc10     map[common.Address]int64
	seq       int64 // transactions made: keeps IDs unique
}

// GenerateTron simulates a TRON chain deterministically from cfg.
func GenerateTron(cfg TronConfig) *TronWorld {
	if cfg.Scale <= 0 {
		cfg.Scale = 1
	}
	if cfg.Days <= 0 {
		cfg.Days = 7
	}
	if cfg.Victims <= 0 {
		cfg.Victims = 8 * cfg.Scale
	}
	s := &tronSim{cfg: cfg, r: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x7e0)), ledger: newLedger(),
		wallets: map[int][]common.Address{}, hot: map[int]common.Address{}, deposits: map[[2]int]common.Address{},
		activated: map[common.Address]bool{}, energy: map[common.Address]int{}, plan: map[int64][]tronPlan{},
		collect: map[int]common.Address{}, trc10: map[common.Address]int64{}}
	s.w = &TronWorld{Addresses: map[common.Address]*AccountInfo{}}
	s.population()
	t := int64(1_735_689_600_000) // 2025-01-01, ms
	genesis := &TronBlock{Number: 0, Time: t}
	sealTron(genesis)
	s.w.Blocks = append(s.w.Blocks, genesis)
	s.parent = genesis
	blocks := int64(cfg.Days * tronBlocks)
	s.planVictims(blocks)
	for n := int64(1); n <= blocks; n++ {
		t += 3000
		s.block = &TronBlock{Number: n, Parent: s.parent.ID, Time: t, Witness: s.hot[s.found]}
		s.act(n)
		sealTron(s.block)
		s.w.Blocks = append(s.w.Blocks, s.block)
		s.parent = s.block
		if cfg.OnBlock != nil {
			cfg.OnBlock(s.block, blocks)
		}
	}
	sort.Slice(s.w.Labels, func(i, j int) bool { return s.w.Labels[i].Address.Cmp(s.w.Labels[j].Address) < 0 })
	return s.w
}

// sealTron computes the block's ID from its header, as java-tron does.
func sealTron(b *TronBlock) {
	var leaves [][32]byte
	for _, tx := range b.Txs {
		leaves = append(leaves, sha256.Sum256(tronFullTx(tx)))
	}
	id := sha256.Sum256(tronHeader(b, tronMerkle(leaves)))
	binary.BigEndian.PutUint64(id[:8], uint64(b.Number))
	b.ID = id
}

func (s *tronSim) entity(name, kind string) int {
	id := len(s.w.Entities)
	s.w.Entities = append(s.w.Entities, Entity{ID: id, Name: name, Kind: kind})
	return id
}

func (s *tronSim) newAddress(owner int, role string, account int) common.Address {
	var a common.Address
	for i := range a {
		a[i] = byte(s.r.Uint32())
	}
	s.w.Addresses[a] = &AccountInfo{Address: a, Owner: owner, Role: role, Account: account}
	return a
}

func (s *tronSim) label(a common.Address, label, category string) {
	s.w.Labels = append(s.w.Labels, AccountLabel{Address: a, Label: label, Category: category})
}

func (s *tronSim) population() {
	s.found = s.entity("Block producer", KindMiner)
	s.hot[s.found] = s.newAddress(s.found, "wallet", -1)
	s.issuer = s.entity("Tether", KindExchange)
	for i := range 4 {
		e := s.entity(fmt.Sprintf("Exchange %c", 'A'+i), KindExchange)
		s.exchanges = append(s.exchanges, e)
		s.hot[e] = s.newAddress(e, "hot", -1)
		s.label(s.hot[e], s.w.Entities[e].Name+" hot wallet", "exchange")
	}
	s.rental = s.entity("Energy rental", "service")
	s.hot[s.rental] = s.newAddress(s.rental, "wallet", -1)
	s.label(s.hot[s.rental], "Energy rental", "service")
	s.dex = s.entity("Swap pool", "service")
	for i := range 2 {
		e := s.entity(fmt.Sprintf("OTC desk %d", i+1), "otc")
		s.otc = append(s.otc, e)
		s.wallets[e] = []common.Address{s.newAddress(e, "wallet", -1), s.newAddress(e, "wallet", -1)}
	}
	s.scam = s.entity("Pig-butchering operation", KindScam)
	for i := range 150 * s.cfg.Scale {
		u := s.entity(fmt.Sprintf("User %d", i+1), KindUser)
		s.users = append(s.users, u)
		s.wallets[u] = []common.Address{s.newAddress(u, "wallet", -1)}
	}
}

func (s *tronSim) firstWallet(owner int, role string) common.Address {
	if ws := s.wallets[owner]; len(ws) > 0 {
		return ws[0]
	}
	a := s.newAddress(owner, role, -1)
	s.wallets[owner] = []common.Address{a}
	return a
}

func (s *tronSim) balance(asset string, a common.Address) int64 { return s.ledger.balance(asset, a) }

// move carries amount of asset under both taint models and records the
// victims' money reaching a deposit address.
func (s *tronSim) move(asset string, from, to common.Address, amount int64, tx *TronTx, burn bool) {
	s.ledger.move(asset, from, to, amount, burn, func(fifo, haircut map[int]int64) {
		info := s.w.Addresses[to]
		for _, v := range victimsOf(fifo, haircut) {
			s.w.Exposures = append(s.w.Exposures, AccountExposure{Victim: v, Exchange: info.Owner, Account: info.Account, Address: to,
				TxHash: tx.ID, Asset: asset, Block: s.block.Number, Haircut: haircut[v], FIFO: fifo[v]})
		}
	})
}

// tx adds a transaction to the block: the TRX it burns first, then (if
// it succeeds) its value, its internal transactions and its token
// transfers, in that order, as the indexer reads them. It returns nil,
// and adds nothing, when the owner cannot pay the fee and value.
func (s *tronSim) tx(t *TronTx) *TronTx {
	value := int64(0)
	if t.Type == tronTransfer || t.Type == tronTrigger {
		value = t.Amount
	}
	if s.balance(AssetTRX, t.Owner) < t.Fee+value || (t.Type == tronTransferAsset && s.trc10[t.Owner] < t.Amount) {
		return nil
	}
	if t.Result == "" {
		t.Result = "SUCCESS"
	}
	s.seq++
	t.Raw = tronRaw(t, s.parent, s.block.Time-3000+s.seq%3000, s.seq)
	t.ID = sha256.Sum256(t.Raw)
	if t.Fee > 0 {
		s.move(AssetTRX, t.Owner, common.Address{}, t.Fee, t, true)
	}
	if t.Success {
		if value > 0 {
			s.move(AssetTRX, t.Owner, t.To, value, t, false)
			s.activated[t.To] = true
		}
		if t.Type == tronTransferAsset {
			s.trc10[t.Owner] -= t.Amount
			s.trc10[t.To] += t.Amount
		}
		for _, c := range t.Internal {
			s.move(AssetTRX, c.From, c.To, c.Value, t, false)
			s.activated[c.To] = true
		}
		for _, l := range t.Logs {
			if l.From == (common.Address{}) {
				s.ledger.credit(AssetToken, l.To, l.Amount)
				continue
			}
			s.move(AssetToken, l.From, l.To, l.Amount, t, false)
		}
	} else {
		t.Internal, t.Logs = nil, nil
	}
	s.block.Txs = append(s.block.Txs, t)
	return t
}

// sendTRX is a TransferContract; creating the recipient's account costs
// the sender more.
func (s *tronSim) sendTRX(from, to common.Address, amount int64) *TronTx {
	fee := int64(feeTRXTransfer)
	if s.isHot(from) {
		fee = 0 // exchanges stake TRX for their bandwidth
	}
	if !s.activated[to] {
		fee += feeActivate
	}
	return s.tx(&TronTx{Type: tronTransfer, Owner: from, To: to, Amount: amount, Fee: fee, Net: 268, Success: true})
}

// sendUSDT is a transfer call on the USDT contract; it reverts when the
// sender lacks the tokens (the energy used until then is paid).
func (s *tronSim) sendUSDT(from, to common.Address, amount int64) *TronTx {
	ok := s.balance(AssetToken, from) >= amount
	fee, energy := int64(feeTRC20), int64(energyTRC20)
	switch {
	case !ok:
		fee, energy = feeRevert, 30_000
	case s.isHot(from):
		fee = feeTRC20Net // staked energy
	case s.energy[from] > 0:
		s.energy[from]--
		fee = feeTRC20Net // rented energy
	}
	t := &TronTx{Type: tronTrigger, Owner: from, To: s.w.USDT, Data: transferCall(to, amount), Fee: fee, Energy: energy, Net: 345, Success: ok}
	if !ok {
		t.Result = "REVERT"
	} else {
		t.Logs = []TokenLog{{Token: s.w.USDT, From: from, To: to, Amount: amount}}
	}
	return s.tx(t)
}

func (s *tronSim) sendTRC10(from, to common.Address, amount int64) *TronTx {
	fee := int64(feeTRXTransfer)
	if !s.activated[to] {
		fee += feeActivate
	}
	t := s.tx(&TronTx{Type: tronTransferAsset, Owner: from, To: to, Amount: amount, TokenID: TRC10ID, Fee: fee, Net: 283, Success: true})
	if t != nil {
		s.activated[to] = true
	}
	return t
}

// rentEnergy pays the energy rental, which delegates energy for a few
// USDT transfers: the payment is a flow, the delegation is not.
func (s *tronSim) rentEnergy(user common.Address, transfers int) {
	prov := s.hot[s.rental]
	if s.sendTRX(user, prov, int64(transfers)*rentPrice) == nil {
		return
	}
	s.tx(&TronTx{Type: tronDelegate, Owner: prov, To: user, Amount: int64(transfers) * 65_000 * 10 * sun, Net: 280, Success: true})
	s.energy[user] += transfers
}

func (s *tronSim) isHot(a common.Address) bool {
	info := s.w.Addresses[a]
	return info != nil && info.Role == "hot"
}

func transferCall(to common.Address, amount int64) []byte {
	in := []byte{0xa9, 0x05, 0x9c, 0xbb}
	// The address word as many TRON wallets write it: 0x41 in byte 11.
	w := make([]byte, 32)
	w[11] = 0x41
	copy(w[12:], to[:])
	in = append(in, w...)
	v := make([]byte, 32)
	binary.BigEndian.PutUint64(v[24:], uint64(amount))
	return append(in, v...)
}

// ForkTron returns w's chain reorganised at height at: the blocks below
// are w's, those from at on lose their last transaction (their IDs, and
// every later parent link, change), and extra empty blocks follow, so
// that the fork is the longer chain. For testing indexers against a
// node whose chain changes under them; the truth is w's and no longer
// matches the fork.
func ForkTron(w *TronWorld, at int64, extra int) *TronWorld {
	f := *w
	f.Blocks = append([]*TronBlock(nil), w.Blocks[:at]...)
	for _, b := range w.Blocks[at:] {
		nb := *b
		if len(nb.Txs) > 0 {
			nb.Txs = nb.Txs[:len(nb.Txs)-1]
		}
		f.Blocks = append(f.Blocks, &nb)
	}
	last := f.Blocks[len(f.Blocks)-1]
	for i := range extra {
		f.Blocks = append(f.Blocks, &TronBlock{Number: last.Number + 1 + int64(i), Time: last.Time + 3000*int64(i+1), Witness: last.Witness})
	}
	for _, b := range f.Blocks[at:] {
		b.Parent = f.Blocks[b.Number-1].ID
		sealTron(b)
	}
	return &f
}
