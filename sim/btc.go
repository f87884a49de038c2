// Package sim simulates chains with an economy and planted scam flows,
// and writes the ground truth beside them: who owns every address, which
// payments were victims', and where their money went under the haircut
// and FIFO taint models. Public chains have no ground truth; a simulated
// one lets clustering and tracing be measured, and investigators be
// trained, on cases whose answers are known.
package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/fundtrace/fundtrace/internal/testchain"
)

// BTCConfig shapes a simulated Bitcoin chain.
type BTCConfig struct {
	Seed  uint64
	Scale int // economy size multiplier: users and transactions per block (default 1)
	Days  int // days of economy after the mining bootstrap (default 14, 24 blocks a day)
	// Victims is how many users the scam takes payments from (default 8 × Scale, at least 6).
	Victims int
	// MixPercent is the share of the scam's daily takings split and partly
	// passed through the CoinJoin rather than run down a peel chain
	// (default 40; -1 for none).
	MixPercent int
	// OnBlock, when set, is handed each block as it is made (the genesis
	// block first), and BTCWorld.Blocks keeps only the newest: a chain
	// larger than memory goes to disk as it grows (GenerateBTCFiles).
	OnBlock func(*wire.MsgBlock)
	// OnExposure, when set, is handed each exposure as it is found,
	// and BTCWorld.Exposures stays empty (ExposureCount counts them):
	// on a long chain they outgrow memory (GenerateBTCFiles).
	OnExposure func(Exposure)
}

// Entity kinds.
const (
	KindUser     = "user"
	KindExchange = "exchange"
	KindMiner    = "miner"
	KindMixer    = "mixer"
	KindScam     = "scam"
)

// Entity is one owner of addresses.
type Entity struct {
	ID   int
	Name string
	Kind string
}

// AddressInfo is the truth about one address.
type AddressInfo struct {
	Address string
	Owner   int    // entity id
	Role    string // receive, change, deposit, hot, coinbase, collection, consolidation, peel, split, premix, postmix, coordinator-fee, cashout
	Account int    // for exchange deposit addresses: the customer's entity id; else -1
}

// VictimPayment is one payment a victim made to the scam.
type VictimPayment struct {
	ID      int
	Victim  int // entity id
	TxID    chainhash.Hash
	Vout    uint32
	Address string
	Value   int64
	Height  int
}

// Exposure is victim money reaching an exchange deposit address: the
// end of a trace, where a freezing request goes.
type Exposure struct {
	Victim   int // victim payment id
	Exchange int // entity id
	Account  int // the customer whose deposit address it is
	Address  string
	TxID     chainhash.Hash
	Vout     uint32
	Height   int
	Value    int64 // the deposit's whole value
	Haircut  int64 // victim satoshis in it under the haircut model (rounded down)
	FIFO     int64 // victim satoshis in it under FIFO
}

// BTCWorld is a simulated chain and its truth.
type BTCWorld struct {
	Blocks    []*wire.MsgBlock // blocks[0] is regtest's genesis (with OnBlock, only the newest)
	Times     []time.Time      // every block's timestamp, by height
	TxCount   int              // transactions in all blocks
	Entities  []Entity
	Addresses *AddressBook
	Victims   []VictimPayment
	Exposures []Exposure // empty with BTCConfig.OnExposure
	// ExposureCount is how many exposures were found.
	ExposureCount int
	Labels        []Label
	CoinJoins     []CoinJoin
}

// CoinJoin is a planted CoinJoin transaction.
type CoinJoin struct {
	TxID chainhash.Hash
	Kind string // whirlpool, wasabi, wabisabi, joinmarket
}

// Label is what an investigator would really know about an address.
type Label struct {
	Address  string
	Label    string
	Category string // exchange, mixer
}

type coin struct {
	op       wire.OutPoint
	value    int64
	addr     string
	typ      addrType
	owner    int
	taint    Taint
	height   int
	coinbase bool
}

type addrType int

const (
	p2wpkh addrType = iota
	p2pkh
	p2shp2wpkh
	p2tr
)

type wallet struct {
	coins   []*coin // spendable
	pending []*coin // created in the block being built
	receive []string
	pref    addrType
	// deposit address of each customer at an exchange
	deposits map[int]string
	hot      string
}

type sim struct {
	cfg     BTCConfig
	r       *rand.Rand
	w       *BTCWorld
	wallets []*wallet
	height  int
	t       time.Time
	block   []*wire.MsgTx
	fees    int64
	// roles
	users, exchanges, miners []int
	mixer, scam              int
	deposit                  map[string]bool
	plan                     map[int][]victimPlan // block height → victim payments due then
	collection               map[int]string       // victim → the scam's address given to them
	premix                   []*coin
	postmixScam              []*coin
	due                      []dueCoin // scam coins with their next move
	scamExchanges            []int
}

const coinbaseMaturity = 100

// GenerateBTC simulates a chain deterministically from cfg.
func GenerateBTC(cfg BTCConfig) *BTCWorld {
	if cfg.Scale <= 0 {
		cfg.Scale = 1
	}
	if cfg.Days <= 0 {
		cfg.Days = 14
	}
	if cfg.Victims <= 0 {
		cfg.Victims = max(6, 8*cfg.Scale)
	}
	if cfg.MixPercent == 0 {
		cfg.MixPercent = 40
	}
	s := &sim{cfg: cfg, r: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0xb7c)),
		deposit: map[string]bool{}, plan: map[int][]victimPlan{}, collection: map[int]string{}}
	s.w = &BTCWorld{Addresses: newAddressBook()}
	genesis := *chaincfg.RegressionNetParams.GenesisBlock
	s.w.Blocks = []*wire.MsgBlock{&genesis}
	s.w.Times = []time.Time{genesis.Header.Timestamp}
	s.w.TxCount = len(genesis.Transactions)
	if cfg.OnBlock != nil {
		cfg.OnBlock(&genesis)
	}
	s.t = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	s.population()
	// Bootstrap: miners mine until their first coinbases mature.
	boot := coinbaseMaturity + 10
	for s.height = 1; s.height <= boot; s.height++ {
		s.t = s.t.Add(10 * time.Minute)
		if s.height > coinbaseMaturity {
			s.minersSell()
		}
		s.seal()
	}
	start := s.height
	s.planVictims(start)
	for end := start + cfg.Days*24; s.height < end; s.height++ {
		s.t = s.t.Add(time.Duration(50+s.r.IntN(20)) * time.Minute)
		s.economy(start)
		s.scamActs(start)
		s.seal()
	}
	sort.Slice(s.w.Labels, func(i, j int) bool { return s.w.Labels[i].Address < s.w.Labels[j].Address })
	return s.w
}

func (s *sim) entity(name, kind string) int {
	id := len(s.w.Entities)
	s.w.Entities = append(s.w.Entities, Entity{ID: id, Name: name, Kind: kind})
	s.wallets = append(s.wallets, &wallet{pref: addrType(s.r.IntN(4)), deposits: map[int]string{}})
	return id
}

func (s *sim) population() {
	for i := range 3 {
		s.miners = append(s.miners, s.entity(fmt.Sprintf("Miner %d", i+1), KindMiner))
	}
	for i := range 4 {
		e := s.entity(fmt.Sprintf("Exchange %c", 'A'+i), KindExchange)
		s.exchanges = append(s.exchanges, e)
		hot := s.newAddress(e, p2wpkh, "hot", -1)
		s.wallets[e].hot = hot
		s.w.Labels = append(s.w.Labels, Label{Address: hot, Label: s.w.Entities[e].Name + " hot wallet", Category: "exchange"})
	}
	s.mixer = s.entity("CoinJoin coordinator", KindMixer)
	s.scam = s.entity("Pig-butchering operation", KindScam)
	for i := range 150 * s.cfg.Scale {
		s.users = append(s.users, s.entity(fmt.Sprintf("User %d", i+1), KindUser))
	}
}

// newAddress makes a fresh address of type typ for owner.
func (s *sim) newAddress(owner int, typ addrType, role string, account int) string {
	key := s.bytes(keySize(typ))
	addr := encode(typ, key)
	s.w.Addresses.add(addr, typ, key, owner, role, account)
	return addr
}

func (s *sim) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(s.r.Uint32())
	}
	return b
}

// receiveAddress is where owner asks to be paid: a fresh address most of
// the time, one used before otherwise.
func (s *sim) receiveAddress(owner int) string {
	wl := s.wallets[owner]
	if len(wl.receive) > 0 && s.r.IntN(5) == 0 {
		return wl.receive[s.r.IntN(len(wl.receive))]
	}
	typ := wl.pref
	if s.r.IntN(10) == 0 {
		typ = addrType(s.r.IntN(4))
	}
	a := s.newAddress(owner, typ, "receive", -1)
	wl.receive = append(wl.receive, a)
	return a
}

// changeAddress: fresh most of the time, else the first input's address.
func (s *sim) changeAddress(owner int, ins []*coin) string {
	if s.w.Entities[owner].Kind == KindExchange {
		return s.wallets[owner].hot
	}
	if s.r.IntN(7) == 0 && len(ins) > 0 && !s.deposit[ins[0].addr] {
		return ins[0].addr
	}
	return s.newAddress(owner, s.wallets[owner].pref, "change", -1)
}

// depositAddress is customer's deposit address at exchange ex.
func (s *sim) depositAddress(ex, customer int) string {
	wl := s.wallets[ex]
	if a, ok := wl.deposits[customer]; ok {
		return a
	}
	a := s.newAddress(ex, addrType(s.r.IntN(2)*3), "deposit", customer) // p2wpkh or p2tr
	wl.deposits[customer] = a
	s.deposit[a] = true
	return a
}

// balance is what owner can spend now.
func (s *sim) balance(owner int) int64 {
	var n int64
	for _, c := range s.wallets[owner].coins {
		n += c.value
	}
	return n
}

// pick removes coins of owner worth at least amount (largest first when
// needed, after a random start) and returns them; nil if it cannot.
func (s *sim) pick(owner int, amount int64, filter func(*coin) bool) []*coin {
	wl := s.wallets[owner]
	var cand []int
	for i, c := range wl.coins {
		if filter == nil || filter(c) {
			cand = append(cand, i)
		}
	}
	s.r.Shuffle(len(cand), func(i, j int) { cand[i], cand[j] = cand[j], cand[i] })
	sort.SliceStable(cand, func(i, j int) bool { return wl.coins[cand[i]].value > wl.coins[cand[j]].value && s.r.IntN(3) == 0 })
	var got []int
	var sum int64
	for _, i := range cand {
		got = append(got, i)
		sum += wl.coins[i].value
		if sum >= amount {
			break
		}
	}
	if sum < amount {
		return nil
	}
	return s.take(owner, got)
}

func (s *sim) take(owner int, idx []int) []*coin {
	wl := s.wallets[owner]
	sort.Ints(idx)
	out := make([]*coin, 0, len(idx))
	for k := len(idx) - 1; k >= 0; k-- {
		i := idx[k]
		out = append(out, wl.coins[i])
		wl.coins[i] = wl.coins[len(wl.coins)-1]
		wl.coins = wl.coins[:len(wl.coins)-1]
	}
	return out
}

type payTo struct {
	addr  string
	value int64
	// script, when set, is an output that pays no address (an OP_RETURN):
	// it makes no coin.
	script []byte
}

// feeFor is a fee for a transaction of nin inputs and nout outputs at a
// feerate drawn from a skewed distribution (1–60 sat/vB, mostly low).
func (s *sim) feeFor(nin, nout int) int64 {
	rate := 1 + int64(math.Floor(math.Pow(s.r.Float64(), 3)*60))
	return rate * int64(11+110*nin+34*nout) // vbytes: a legacy input is 148, a segwit one 68–91
}

// send builds a transaction spending ins to outs, plus change to the
// owner of the inputs when ins exceed outs and the fee.
func (s *sim) send(ins []*coin, outs []payTo, fee int64, shuffle bool) (*wire.MsgTx, bool) {
	var in, out int64
	for _, c := range ins {
		in += c.value
	}
	for _, o := range outs {
		out += o.value
	}
	if in < out+fee {
		s.giveBack(ins)
		return nil, false
	}
	if change := in - out - fee; change >= 546 {
		outs = append(outs, payTo{addr: s.changeAddress(ins[0].owner, ins), value: change})
	}
	if shuffle {
		s.r.Shuffle(len(outs), func(i, j int) { outs[i], outs[j] = outs[j], outs[i] })
	}
	return s.build(ins, outs), true
}

// giveBack returns unspent picks to their owners.
func (s *sim) giveBack(cs []*coin) {
	for _, c := range cs {
		s.wallets[c.owner].coins = append(s.wallets[c.owner].coins, c)
	}
}

// build makes the transaction, propagates taint, records exposures and
// hands the new coins to their owners (spendable from the next block).
func (s *sim) build(ins []*coin, outs []payTo) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	inVals := make([]int64, len(ins))
	inTaint := make([]Taint, len(ins))
	for i, c := range ins {
		txin := wire.NewTxIn(&c.op, nil, nil)
		sig := s.bytes(71 + s.r.IntN(2))
		pub := append([]byte{2 + byte(s.r.IntN(2))}, s.bytes(32)...)
		switch c.typ {
		case p2pkh:
			txin.SignatureScript = append(append(append([]byte{byte(len(sig))}, sig...), byte(len(pub))), pub...)
		case p2wpkh:
			txin.Witness = wire.TxWitness{sig, pub}
		case p2shp2wpkh:
			txin.SignatureScript = append([]byte{22, 0x00, 20}, s.bytes(20)...)
			txin.Witness = wire.TxWitness{sig, pub}
		case p2tr:
			txin.Witness = wire.TxWitness{s.bytes(64)}
		}
		txin.Sequence = 0xfffffffd
		tx.AddTxIn(txin)
		inVals[i], inTaint[i] = c.value, c.taint
	}
	outVals := make([]int64, len(outs))
	ids := make([]uint32, len(outs)) // each paid address's, looked up once
	for i, o := range outs {
		script := o.script
		if script == nil {
			ids[i] = s.w.Addresses.id(o.addr)
			script = s.w.Addresses.scriptOf(ids[i])
		}
		tx.AddTxOut(wire.NewTxOut(o.value, script))
		outVals[i] = o.value
	}
	taints := Propagate(inVals, inTaint, outVals)
	id := tx.TxHash()
	for i, o := range outs {
		if o.script != nil {
			continue
		}
		info := s.w.Addresses.recs[ids[i]]
		owner := int(info.owner)
		c := &coin{op: wire.OutPoint{Hash: id, Index: uint32(i)}, value: o.value, addr: o.addr,
			typ: info.typ, owner: owner, taint: taints[i], height: s.height}
		if s.deposit[o.addr] {
			// The end of a trace: record what reached the exchange, and
			// stop following it (the exchange's own coins are not the
			// scam's once credited).
			for _, v := range c.taint.Victims() {
				if c.taint.HaircutSats(v) == 0 && c.taint.FIFOSats(v) == 0 {
					continue // less than a satoshi of it under either model
				}
				x := Exposure{Victim: v, Exchange: owner, Account: int(info.account), Address: o.addr,
					TxID: id, Vout: uint32(i), Height: s.height, Value: o.value, Haircut: c.taint.HaircutSats(v), FIFO: c.taint.FIFOSats(v)}
				s.w.ExposureCount++
				if s.cfg.OnExposure != nil {
					s.cfg.OnExposure(x)
				} else {
					s.w.Exposures = append(s.w.Exposures, x)
				}
			}
			c.taint = clean(o.value)
		}
		s.wallets[owner].pending = append(s.wallets[owner].pending, c)
	}
	var in, out int64
	for _, v := range inVals {
		in += v
	}
	for _, v := range outVals {
		out += v
	}
	s.fees += in - out
	s.block = append(s.block, tx)
	return tx
}

// seal closes the block: coinbase to a miner, merkle root, and the new
// coins become spendable (coinbases after maturity).
func (s *sim) seal() {
	miner := s.miners[s.r.IntN(len(s.miners))]
	addr := s.newAddress(miner, p2wpkh, "coinbase", -1)
	cb := wire.NewMsgTx(1)
	h := s.height
	height := []byte{3, byte(h), byte(h >> 8), byte(h >> 16)}
	cb.AddTxIn(wire.NewTxIn(wire.NewOutPoint(&chainhash.Hash{}, wire.MaxPrevOutIndex), append(height, s.bytes(8)...), nil))
	value := blockchain.CalcBlockSubsidy(int32(h), &chaincfg.RegressionNetParams) + s.fees
	cb.AddTxOut(wire.NewTxOut(value, s.w.Addresses.script(addr)))
	prev := s.w.Blocks[len(s.w.Blocks)-1]
	blk := &wire.MsgBlock{Header: wire.BlockHeader{Version: 0x20000000, PrevBlock: prev.BlockHash(), Timestamp: s.t, Bits: 0x207fffff, Nonce: s.r.Uint32()}}
	blk.Transactions = append([]*wire.MsgTx{cb}, s.block...)
	txs := make([]*btcutil.Tx, len(blk.Transactions))
	for i, tx := range blk.Transactions {
		txs[i] = btcutil.NewTx(tx)
	}
	blk.Header.MerkleRoot = blockchain.CalcMerkleRoot(txs, false)
	testchain.Mine(&blk.Header) // indexers check proof of work
	if s.cfg.OnBlock != nil {
		s.cfg.OnBlock(blk)
		s.w.Blocks[0] = blk
		s.w.Blocks = s.w.Blocks[:1]
	} else {
		s.w.Blocks = append(s.w.Blocks, blk)
	}
	s.w.Times = append(s.w.Times, blk.Header.Timestamp)
	s.w.TxCount += len(blk.Transactions)
	s.block, s.fees = nil, 0
	for _, wl := range s.wallets {
		wl.coins = append(wl.coins, wl.pending...)
		wl.pending = wl.pending[:0]
	}
	mature := &coin{op: wire.OutPoint{Hash: cb.TxHash()}, value: value, addr: addr, typ: p2wpkh, owner: miner,
		taint: clean(value), height: h, coinbase: true}
	s.wallets[miner].coins = append(s.wallets[miner].coins, mature)
}

// spendable filters out coinbases that have not matured.
func (s *sim) spendable(c *coin) bool { return !c.coinbase || s.height-c.height >= coinbaseMaturity }

// minersSell: each miner sells one matured coin to an exchange, most of
// it, as miners sell their income. Called every block, so that the fees
// the economy pays come back to it: before, miners sold only while the
// chain was bootstrapped, the fees piled up in their coinbases, and a
// large economy ran out of money (at scale 30, 285 transactions a block
// at first, 36 after 30,000 blocks). The coin is the first spendable one
// of the wallet: a linear scan, where pick would shuffle and sort the
// miner's every coinbase each block.
func (s *sim) minersSell() {
	for _, m := range s.miners {
		wl := s.wallets[m]
		i := slices.IndexFunc(wl.coins, s.spendable)
		if i < 0 {
			continue
		}
		ins := s.take(m, []int{i})
		sum := ins[0].value
		ex := s.exchanges[s.r.IntN(len(s.exchanges))]
		fee := s.feeFor(len(ins), 2)
		// A coin too small to pay its fee goes back to the wallet.
		s.send(ins, []payTo{{addr: s.wallets[ex].hot, value: sum * 9 / 10}}, fee, true)
	}
}

// amount draws a payment amount: log-normal around 0.002 BTC.
func (s *sim) amount() int64 {
	v := math.Exp(s.r.NormFloat64()*1.3) * 2e5
	return max(10_000, min(int64(v), 5e8))
}

// economy is one block of ordinary life.
func (s *sim) economy(start int) {
	n := 12 * s.cfg.Scale
	for range n {
		switch k := s.r.IntN(100); {
		case k < 75:
			s.userPays()
		case k < 92:
			s.userDeposits()
		default:
			s.userTx0()
		}
	}
	for i, ex := range s.exchanges {
		if (s.height+i)%3 == 0 {
			s.withdrawals(ex, 5+s.r.IntN(10*s.cfg.Scale+5), -1, 0)
		}
		if (s.height+i)%6 == 0 {
			s.sweep(ex)
		}
	}
	for range max(1, s.cfg.Scale/2) {
		s.whirlpool()
	}
	s.minersSell()
	switch (s.height - start) % 24 {
	case 12:
		s.wasabi()
	case 4:
		s.wabisabi()
	case 18, 20:
		s.joinmarket()
	}
}

func (s *sim) randomUser() int { return s.users[s.r.IntN(len(s.users))] }

// funded returns a random user with coins, trying a few.
func (s *sim) funded() int {
	for range 4 {
		if u := s.randomUser(); len(s.wallets[u].coins) > 0 {
			return u
		}
	}
	return s.randomUser()
}

func (s *sim) userPays() {
	from, to := s.funded(), s.randomUser()
	if from == to {
		return
	}
	amt := s.amount()
	fee := s.feeFor(2, 2)
	ins := s.pick(from, amt+fee, nil)
	if ins == nil {
		return
	}
	s.send(ins, []payTo{{addr: s.receiveAddress(to), value: amt}}, s.feeFor(len(ins), 2), true)
}

func (s *sim) userDeposits() {
	u := s.funded()
	if s.balance(u) < 100_000 {
		return
	}
	ex := s.exchanges[s.r.IntN(len(s.exchanges))]
	amt := min(s.amount()*3, s.balance(u)/2)
	fee := s.feeFor(2, 2)
	ins := s.pick(u, amt+fee, nil)
	if ins == nil {
		return
	}
	s.send(ins, []payTo{{addr: s.depositAddress(ex, u), value: amt}}, s.feeFor(len(ins), 2), true)
}

// withdrawals pays n customers from the exchange's hot wallet in one
// batched transaction; when to >= 0 one of them is to, receiving extra.
// popularAmounts are the round amounts customers often withdraw.
var popularAmounts = []int64{1_000_000, 5_000_000, 10_000_000, 50_000_000}

func (s *sim) withdrawals(ex, n int, to int, extra int64) {
	var outs []payTo
	var sum int64
	for range n {
		u := s.randomUser()
		v := s.amount() * 2
		if s.r.IntN(4) == 0 {
			// Customers withdraw round amounts: a batch repeats some
			// (the false-positive trap for CoinJoin detection).
			v = popularAmounts[s.r.IntN(len(popularAmounts))]
		}
		outs = append(outs, payTo{addr: s.receiveAddress(u), value: v})
		sum += v
	}
	if to >= 0 {
		outs = append(outs, payTo{addr: s.receiveAddress(to), value: extra})
		sum += extra
	}
	fee := s.feeFor(3, len(outs)+1)
	ins := s.pick(ex, sum+fee, func(c *coin) bool { return c.addr == s.wallets[ex].hot })
	if ins == nil {
		return
	}
	s.send(ins, outs, s.feeFor(len(ins), len(outs)+1), true)
}

// sweep moves every deposit the exchange has received to its hot wallet.
func (s *sim) sweep(ex int) {
	wl := s.wallets[ex]
	var idx []int
	for i, c := range wl.coins {
		if s.deposit[c.addr] {
			idx = append(idx, i)
		}
		if len(idx) == 200 {
			break
		}
	}
	if len(idx) < 2 {
		return
	}
	ins := s.take(ex, idx)
	var sum int64
	for _, c := range ins {
		sum += c.value
	}
	fee := s.feeFor(len(ins), 1)
	if sum <= fee+546 {
		s.giveBack(ins)
		return
	}
	s.send(ins, []payTo{{addr: wl.hot, value: sum - fee}}, fee, false)
}

// Whirlpool-style CoinJoin: a Tx0 splits a coin into premix coins of the
// pool's denomination (plus the miner fee share) and pays the
// coordinator's fee; a mix takes five premix coins of five owners and
// pays five equal outputs to fresh addresses.
const (
	poolDenom  = 1_000_000 // 0.01 BTC
	premixFee  = 1_200
	coordFee   = 50_000
	mixInputs  = 5
	wasabiSize = 20
)

func (s *sim) userTx0() {
	// Users wait while the pool has premix coins enough for four blocks
	// of mixes: an unbounded queue made each mix scan it (whirlpool),
	// and once miners sold their income users made premix coins faster
	// than the mixes took them.
	if len(s.premix) >= 4*mixInputs*max(1, s.cfg.Scale/2) {
		return
	}
	u := s.funded()
	if s.balance(u) < 4*poolDenom {
		return
	}
	s.tx0(u, 2+s.r.IntN(3), nil)
}

// tx0 makes n premix coins for owner from ins (picked from the wallet
// when nil).
func (s *sim) tx0(owner, n int, ins []*coin) bool {
	if ins == nil {
		need := int64(n)*(poolDenom+premixFee) + coordFee
		if ins = s.pick(owner, need+s.feeFor(2, n+2), nil); ins == nil {
			return false
		}
	}
	outs := []payTo{{addr: s.coordinatorFeeAddress(), value: coordFee}}
	for range n {
		outs = append(outs, payTo{addr: s.newAddress(owner, p2wpkh, "premix", -1), value: poolDenom + premixFee})
	}
	// Whirlpool writes the coordinator's data in an OP_RETURN (46 bytes).
	outs = append(outs, payTo{script: append([]byte{0x6a, 46}, s.bytes(46)...)})
	tx, ok := s.send(ins, outs, s.feeFor(len(ins), n+3), false)
	if !ok {
		return false
	}
	// Outputs keep their order (no shuffle): the fee, then the premix coins.
	for i := 1; i <= n; i++ {
		if c := s.findPending(owner, wire.OutPoint{Hash: tx.TxHash(), Index: uint32(i)}); c != nil {
			s.premix = append(s.premix, c)
		}
	}
	return true
}

func (s *sim) findPending(owner int, op wire.OutPoint) *coin {
	for _, c := range s.wallets[owner].pending {
		if c.op == op {
			return c
		}
	}
	return nil
}

func (s *sim) coordinatorFeeAddress() string {
	wl := s.wallets[s.mixer]
	if wl.hot == "" {
		wl.hot = s.newAddress(s.mixer, p2wpkh, "coordinator-fee", -1)
		s.w.Labels = append(s.w.Labels, Label{Address: wl.hot, Label: "CoinJoin coordinator fee", Category: "mixer"})
	}
	return wl.hot
}

// whirlpool runs one mix of five premix coins of five owners, if there are.
func (s *sim) whirlpool() {
	var chosen []*coin
	owners := map[int]bool{}
	var rest []*coin
	for _, c := range s.premix {
		if len(chosen) < mixInputs && !owners[c.owner] && s.inWallet(c) {
			chosen = append(chosen, c)
			owners[c.owner] = true
			continue
		}
		if s.inWallet(c) || s.isPending(c) {
			rest = append(rest, c)
		}
	}
	if len(chosen) < mixInputs {
		return
	}
	s.premix = rest
	for _, c := range chosen {
		s.remove(c)
	}
	s.r.Shuffle(len(chosen), func(i, j int) { chosen[i], chosen[j] = chosen[j], chosen[i] })
	var outs []payTo
	for _, c := range chosen {
		outs = append(outs, payTo{addr: s.newAddress(c.owner, p2wpkh, "postmix", -1), value: poolDenom})
	}
	s.r.Shuffle(len(outs), func(i, j int) { outs[i], outs[j] = outs[j], outs[i] })
	tx := s.build(chosen, outs)
	s.w.CoinJoins = append(s.w.CoinJoins, CoinJoin{TxID: tx.TxHash(), Kind: "whirlpool"})
	for i := range tx.TxOut {
		if c := s.findPending(s.scam, wire.OutPoint{Hash: tx.TxHash(), Index: uint32(i)}); c != nil {
			s.postmixScam = append(s.postmixScam, c)
		}
	}
}

// wasabi runs a large CoinJoin: many users each put in a coin and get
// back an output of the round's denomination and their change.
func (s *sim) wasabi() {
	const denom = 5_000_000 // 0.05 BTC
	var ins []*coin
	var outs []payTo
	perFee := s.feeFor(1, 2)
	for _, u := range s.r.Perm(len(s.users))[:min(len(s.users), wasabiSize*4)] {
		if len(ins) == wasabiSize*s.cfg.Scale {
			break
		}
		owner := s.users[u]
		cs := s.pick(owner, denom+perFee+coordFee/10+546, nil)
		if cs == nil {
			continue
		}
		if len(cs) > 1 {
			s.giveBack(cs[1:])
			cs = cs[:1]
			if cs[0].value < denom+perFee+coordFee/10+546 {
				s.giveBack(cs)
				continue
			}
		}
		c := cs[0]
		ins = append(ins, c)
		outs = append(outs, payTo{addr: s.newAddress(owner, p2wpkh, "postmix", -1), value: denom},
			payTo{addr: s.newAddress(owner, s.wallets[owner].pref, "change", -1), value: c.value - denom - perFee - coordFee/10})
	}
	if len(ins) < 5 {
		s.giveBack(ins)
		return
	}
	outs = append(outs, payTo{addr: s.coordinatorFeeAddress(), value: int64(len(ins)) * (coordFee / 10)})
	s.r.Shuffle(len(outs), func(i, j int) { outs[i], outs[j] = outs[j], outs[i] })
	s.r.Shuffle(len(ins), func(i, j int) { ins[i], ins[j] = ins[j], ins[i] })
	tx := s.build(ins, outs)
	s.w.CoinJoins = append(s.w.CoinJoins, CoinJoin{TxID: tx.TxHash(), Kind: "wasabi"})
}

// wabisabiDenoms are WabiSabi's standard denominations (ten's 1-2-5
// steps; the real set adds powers of two and of three), largest first. A
// round offers some of them, so a coin splits into several outputs of
// one denomination.
var wabisabiDenoms = []int64{50_000_000, 20_000_000, 10_000_000, 5_000_000, 2_000_000, 1_000_000, 500_000, 200_000, 100_000, 50_000, 20_000, 10_000, 5_000}

// wabisabi runs a WabiSabi (Wasabi 2) round: many users each put in a
// coin and get it back split into standard denominations, greedily,
// largest first, to fresh addresses of theirs: one user often receives
// several outputs of one denomination, and the round's most common
// denomination can outnumber its inputs.
func (s *sim) wabisabi() {
	var ins []*coin
	var outs []payTo
	size := 3 * wasabiSize / 2 * s.cfg.Scale
	perFee := s.feeFor(1, 3)
	offer := s.r.IntN(2)
	for _, u := range s.r.Perm(len(s.users))[:min(len(s.users), size*4)] {
		if len(ins) == size {
			break
		}
		owner := s.users[u]
		cs := s.pick(owner, 200_000, nil)
		if cs == nil {
			continue
		}
		if len(cs) > 1 {
			s.giveBack(cs[1:])
			cs = cs[:1]
		}
		c := cs[0]
		left := c.value - perFee - coordFee/20
		if left < 100_000 {
			s.giveBack(cs)
			continue
		}
		ins = append(ins, c)
		n := 0
		for i, d := range wabisabiDenoms {
			if i%2 == offer {
				continue // not offered this round
			}
			for left >= d && n < 8 {
				outs = append(outs, payTo{addr: s.newAddress(owner, p2wpkh, "postmix", -1), value: d})
				left -= d
				n++
			}
		}
		// What the denominations leave is paid back as it is (below the
		// dust limit, to the miners).
		if left >= 5_000 {
			outs = append(outs, payTo{addr: s.newAddress(owner, p2wpkh, "change", -1), value: left})
		}
	}
	if len(ins) < 10 {
		s.giveBack(ins)
		return
	}
	outs = append(outs, payTo{addr: s.coordinatorFeeAddress(), value: int64(len(ins)) * (coordFee / 20)})
	s.r.Shuffle(len(outs), func(i, j int) { outs[i], outs[j] = outs[j], outs[i] })
	s.r.Shuffle(len(ins), func(i, j int) { ins[i], ins[j] = ins[j], ins[i] })
	tx := s.build(ins, outs)
	s.w.CoinJoins = append(s.w.CoinJoins, CoinJoin{TxID: tx.TxHash(), Kind: "wabisabi"})
}

// joinmarket runs a JoinMarket round: a taker and two to five makers
// each put in one or two coins; every one gets an output of the round's
// amount, and each maker (and the taker, unless the coins fit) its change,
// a maker's holding its fee.
func (s *sim) joinmarket() {
	makers := 2 + s.r.IntN(4)
	amount := popularAmounts[s.r.IntN(2)] + int64(s.r.IntN(1000))*1_000
	var ins []*coin
	var outs []payTo
	owners := map[int]bool{}
	fee := s.feeFor(2*(makers+1), 2*(makers+1))
	for _, u := range s.r.Perm(len(s.users)) {
		if len(owners) == makers+1 {
			break
		}
		owner := s.users[u]
		if owners[owner] {
			continue
		}
		need := amount + fee/int64(makers+1) + 1_000
		cs := s.pick(owner, need, nil)
		if cs == nil {
			continue
		}
		if len(cs) > 2 {
			s.giveBack(cs)
			continue
		}
		owners[owner] = true
		var sum int64
		for _, c := range cs {
			sum += c.value
		}
		ins = append(ins, cs...)
		outs = append(outs, payTo{addr: s.newAddress(owner, p2wpkh, "postmix", -1), value: amount})
		// The makers' fee comes out of the taker's change; the miners' fee
		// is shared.
		if change := sum - need + 1_000; change >= 546 {
			outs = append(outs, payTo{addr: s.newAddress(owner, s.wallets[owner].pref, "change", -1), value: change})
		}
	}
	if len(owners) < 3 {
		s.giveBack(ins)
		return
	}
	s.r.Shuffle(len(outs), func(i, j int) { outs[i], outs[j] = outs[j], outs[i] })
	s.r.Shuffle(len(ins), func(i, j int) { ins[i], ins[j] = ins[j], ins[i] })
	tx := s.build(ins, outs)
	s.w.CoinJoins = append(s.w.CoinJoins, CoinJoin{TxID: tx.TxHash(), Kind: "joinmarket"})
}

func (s *sim) inWallet(c *coin) bool {
	for _, x := range s.wallets[c.owner].coins {
		if x == c {
			return true
		}
	}
	return false
}

func (s *sim) isPending(c *coin) bool {
	for _, x := range s.wallets[c.owner].pending {
		if x == c {
			return true
		}
	}
	return false
}

func (s *sim) remove(c *coin) {
	wl := s.wallets[c.owner]
	for i, x := range wl.coins {
		if x == c {
			wl.coins[i] = wl.coins[len(wl.coins)-1]
			wl.coins = wl.coins[:len(wl.coins)-1]
			return
		}
	}
}
