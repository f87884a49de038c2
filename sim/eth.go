package sim

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"sort"
	"strconv"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// ETHConfig shapes a simulated Ethereum chain.
type ETHConfig struct {
	Seed  uint64
	Scale int // users and transactions per block grow with it (default 1)
	Days  int // days of activity, 7,200 blocks a day in reality; here 240 (default 7)
	// Victims is how many users the scam takes payments from (default 6 × Scale).
	Victims int
	// OnBlock, when set, is told of each block once it is made (genesis
	// first), with the number of blocks to make after genesis.
	OnBlock func(b *ETHBlock, of int64)
	// DropBlocks leaves the world's Blocks empty: OnBlock has each block
	// and it is not kept, so a long chain is written as it is made and
	// never held whole (a transaction and its outcome take about 400
	// bytes in memory).
	DropBlocks bool
}

// ETH amounts in the simulator are int64: ETH in gwei (a transfer's wei
// is its gwei × 10⁹), the token in its base units (6 decimals). The
// JSON-RPC answers carry wei.
const gwei = 1_000_000_000

// Assets.
const (
	AssetETH   = "ETH"
	AssetToken = "USDT" // the simulated USDT-like token
)

// Per-block gas of each kind of call (what the receipts say).
const (
	gasTransfer = 21_000
	gasToken    = 51_000
	gasForward  = 35_000 // plus 9,000 a forwarded call
)

// ETHWorld is a simulated Ethereum chain and its truth.
type ETHWorld struct {
	ChainID   int64
	Blocks    []*ETHBlock
	Entities  []Entity
	Addresses map[common.Address]*AccountInfo
	Token     common.Address
	Victims   []AccountVictimPayment
	Exposures []AccountExposure
	Labels    []AccountLabel
}

// AccountInfo is the truth about one account of an account chain.
type AccountInfo struct {
	Address common.Address
	Owner   int
	Role    string // wallet, deposit, hot, contract, collection, intermediate, forwarder, treasury
	Account int    // for deposit addresses: the customer's entity id; else -1
}

// ETHBlock is one block: its transactions with what happened in them,
// and the withdrawals credited at its end.
type ETHBlock struct {
	Number      int64
	Hash        common.Hash
	Parent      common.Hash
	Time        int64
	Txs         []*ETHTx
	Withdrawals []ETHWithdrawal
}

// ETHWithdrawal credits an account with gwei from the beacon chain.
type ETHWithdrawal struct {
	Index   int64
	Address common.Address
	Gwei    int64
}

// ETHTx is one transaction.
type ETHTx struct {
	Hash     common.Hash
	From     common.Address
	To       *common.Address // nil: creation
	Value    int64           // gwei
	Nonce    int64
	Gas      int64
	GasUsed  int64
	GasPrice int64 // gwei
	Input    []byte
	Success  bool
	Created  *common.Address
	Calls    []ETHCall // internal value calls, in trace order
	Logs     []TokenLog
}

// ETHCall is an internal CALL that moved ETH.
type ETHCall struct {
	From, To common.Address
	Value    int64 // gwei
}

// TokenLog is a token Transfer log.
type TokenLog struct {
	Token    common.Address
	From, To common.Address
	Amount   int64
}

// AccountVictimPayment is a victim's payment to the scam.
type AccountVictimPayment struct {
	ID     int
	Victim int
	TxHash common.Hash
	Asset  string
	From   common.Address
	To     common.Address
	Amount int64 // gwei for ETH, base units for the token
	Block  int64
}

// AccountExposure is victim money reaching an exchange deposit address.
type AccountExposure struct {
	Victim   int
	Exchange int
	Account  int
	Address  common.Address
	TxHash   common.Hash
	Asset    string
	Block    int64
	Haircut  int64
	FIFO     int64
}

// AccountLabel is what an investigator would know.
type AccountLabel struct {
	Address  common.Address
	Label    string
	Category string
}

type ethSim struct {
	cfg       ETHConfig
	r         *rand.Rand
	w         *ETHWorld
	ledger    ledger
	nonce     map[common.Address]int64
	block     *ETHBlock
	wdIndex   int64
	users     []int
	exchanges []int
	scam      int
	issuer    int
	mixer     int
	wallets   map[int][]common.Address
	hot       map[int]common.Address
	deposits  map[[2]int]common.Address
	forwarder common.Address // the scam's forwarder contract
	router    common.Address // a public payment router users call
	plan      map[int64][]ethPlan
	pending   []pendingMove
	collect   map[int]common.Address
}

type ethPlan struct {
	victim int
	asset  string
	amount int64
}

type pendingMove struct {
	at    int64
	asset string
	from  common.Address
	hops  int
}

// GenerateETH simulates an Ethereum chain deterministically from cfg.
func GenerateETH(cfg ETHConfig) *ETHWorld {
	if cfg.Scale <= 0 {
		cfg.Scale = 1
	}
	if cfg.Days <= 0 {
		cfg.Days = 7
	}
	if cfg.Victims <= 0 {
		cfg.Victims = 6 * cfg.Scale
	}
	s := &ethSim{cfg: cfg, r: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0xe7e)), nonce: map[common.Address]int64{},
		wallets: map[int][]common.Address{}, hot: map[int]common.Address{}, deposits: map[[2]int]common.Address{},
		plan: map[int64][]ethPlan{}, collect: map[int]common.Address{}}
	s.ledger = newLedger()
	s.w = &ETHWorld{ChainID: 1337, Addresses: map[common.Address]*AccountInfo{}}
	s.population()
	parent := common.Hash{}
	t := int64(1_704_067_200) // 2024-01-01
	genesis := &ETHBlock{Number: 0, Time: t}
	genesis.Hash = crypto.Keccak256Hash([]byte(fmt.Sprintf("sim %d block 0", cfg.Seed)))
	blocks := int64(cfg.Days * 240)
	s.made(genesis, blocks)
	parent = genesis.Hash
	s.planVictims(blocks)
	for n := int64(1); n <= blocks; n++ {
		t += 12
		s.block = &ETHBlock{Number: n, Parent: parent, Time: t}
		s.act(n, blocks)
		s.block.Hash = crypto.Keccak256Hash([]byte(fmt.Sprintf("sim %d block %d %d", cfg.Seed, n, len(s.block.Txs))), parent[:])
		s.made(s.block, blocks)
		parent = s.block.Hash
	}
	sort.Slice(s.w.Labels, func(i, j int) bool { return s.w.Labels[i].Address.Cmp(s.w.Labels[j].Address) < 0 })
	return s.w
}

// made hands a finished block on: to the world, to OnBlock, or both.
func (s *ethSim) made(b *ETHBlock, of int64) {
	if !s.cfg.DropBlocks {
		s.w.Blocks = append(s.w.Blocks, b)
	}
	if s.cfg.OnBlock != nil {
		s.cfg.OnBlock(b, of)
	}
}

func (s *ethSim) entity(name, kind string) int {
	id := len(s.w.Entities)
	s.w.Entities = append(s.w.Entities, Entity{ID: id, Name: name, Kind: kind})
	return id
}

func (s *ethSim) newAddress(owner int, role string, account int) common.Address {
	var a common.Address
	for i := range a {
		a[i] = byte(s.r.Uint32())
	}
	s.w.Addresses[a] = &AccountInfo{Address: a, Owner: owner, Role: role, Account: account}
	return a
}

func (s *ethSim) population() {
	s.issuer = s.entity("Token issuer", KindExchange)
	for i := range 4 {
		e := s.entity(fmt.Sprintf("Exchange %c", 'A'+i), KindExchange)
		s.exchanges = append(s.exchanges, e)
		s.hot[e] = s.newAddress(e, "hot", -1)
		s.w.Labels = append(s.w.Labels, AccountLabel{Address: s.hot[e], Label: s.w.Entities[e].Name + " hot wallet", Category: "exchange"})
	}
	s.mixer = s.entity("Payment router", KindMixer)
	s.scam = s.entity("Pig-butchering operation", KindScam)
	for i := range 120 * s.cfg.Scale {
		u := s.entity(fmt.Sprintf("User %d", i+1), KindUser)
		s.users = append(s.users, u)
		s.wallets[u] = []common.Address{s.newAddress(u, "wallet", -1)}
	}
}

// deposit records victim money landing on an exchange deposit address.
func (s *ethSim) deposit(asset string, to common.Address, tx common.Hash, fifo, haircut map[int]int64) {
	info := s.w.Addresses[to]
	for _, v := range victimsOf(fifo, haircut) {
		s.w.Exposures = append(s.w.Exposures, AccountExposure{Victim: v, Exchange: info.Owner, Account: info.Account, Address: to,
			TxHash: tx, Asset: asset, Block: s.block.Number, Haircut: haircut[v], FIFO: fifo[v]})
	}
}

func (s *ethSim) move(asset string, from, to common.Address, amount int64, tx common.Hash, burn bool) {
	s.ledger.move(asset, from, to, amount, burn, func(fifo, haircut map[int]int64) { s.deposit(asset, to, tx, fifo, haircut) })
}

func (s *ethSim) credit(asset string, to common.Address, amount int64) {
	s.ledger.credit(asset, to, amount)
}

func (s *ethSim) balance(asset string, a common.Address) int64 { return s.ledger.balance(asset, a) }

func (s *ethSim) txHash(from common.Address) common.Hash {
	n := s.nonce[from]
	s.nonce[from] = n + 1
	return crypto.Keccak256Hash(from[:], []byte(strconv.FormatInt(n, 10)), []byte(strconv.FormatUint(s.cfg.Seed, 10)))
}

func (s *ethSim) gasPrice() int64 { return 8 + s.r.Int64N(40) }

// tx sends a transaction: the fee first, then (if it succeeds) the value,
// the internal calls and the token transfers, in that order.
func (s *ethSim) tx(from common.Address, to *common.Address, value int64, gasUsed int64, input []byte, ok bool, calls []ETHCall, logs []TokenLog) *ETHTx {
	price := s.gasPrice()
	t := &ETHTx{From: from, To: to, Value: value, Nonce: s.nonce[from], Gas: gasUsed + 20_000, GasUsed: gasUsed, GasPrice: price, Input: input, Success: ok}
	t.Hash = s.txHash(from)
	fee := gasUsed * price
	if s.balance(AssetETH, from) < fee+value {
		s.nonce[from]--
		return nil
	}
	s.move(AssetETH, from, common.Address{}, fee, t.Hash, true)
	if ok {
		if value > 0 {
			s.move(AssetETH, from, *to, value, t.Hash, false)
		}
		for _, c := range calls {
			s.move(AssetETH, c.From, c.To, c.Value, t.Hash, false)
		}
		for _, l := range logs {
			s.move(AssetToken, l.From, l.To, l.Amount, t.Hash, false)
		}
		t.Calls, t.Logs = calls, logs
	}
	s.block.Txs = append(s.block.Txs, t)
	return t
}

func (s *ethSim) transferInput(to common.Address, amount int64) []byte {
	in := []byte{0xa9, 0x05, 0x9c, 0xbb}
	in = append(in, common.LeftPadBytes(to[:], 32)...)
	return append(in, common.LeftPadBytes(big.NewInt(amount).Bytes(), 32)...)
}

// sendETH and sendToken are the two plain payments.
func (s *ethSim) sendETH(from, to common.Address, gweiAmt int64) *ETHTx {
	return s.tx(from, &to, gweiAmt, gasTransfer, nil, true, nil, nil)
}

func (s *ethSim) sendToken(from, to common.Address, amount int64) *ETHTx {
	tok := s.w.Token
	ok := s.balance(AssetToken, from) >= amount
	var logs []TokenLog
	if ok {
		logs = []TokenLog{{Token: tok, From: from, To: to, Amount: amount}}
	}
	return s.tx(from, &tok, 0, gasToken, s.transferInput(to, amount), ok, nil, logs)
}
