package tracer

import (
	"fmt"
	"math/big"
	"sort"

	"github.com/fundtrace/fundtrace/chains"
)

// The core every walk shares: the models, the labeler, the parameters of
// a trace with their defaults, the seeds and one result. The walks beside
// it (utxo.go: coins; account.go: balances per address and asset; each
// forward and backward) differ in how money moves, not in what a trace
// asks or answers, so a caller handles every chain the same way and
// reads UTXO-only fields (outpoints, peel steps, CoinJoins) where the
// chain has them.

// Models.
const (
	Poison  = "poison"
	Haircut = "haircut"
	FIFO    = "fifo"
)

// Labeler tells which addresses are known services (exchange hot
// wallets, mixers...): the label sets and clusters.
type Labeler func(a chains.Address) (category, name string, ok bool)

// Seed is a victim payment to follow (or, backward, to follow back).
type Seed struct {
	// Outpoint is the output paid, on a UTXO chain.
	Outpoint chains.Outpoint
	// Transfer is the successful transfer into the address the money is
	// followed from, on an account chain.
	Transfer chains.Transfer
	Ref      string // the case's reference (victim, payment id)
}

// Config bounds a trace; its zero values are the defaults (check).
type Config struct {
	// Models to run (default haircut and FIFO). Poison taints all money a
	// tainted coin or balance ever touched; it is bounded by MaxNodes and
	// MaxHops.
	Models []string
	// MaxHops bounds the transactions (transfers) followed from a seed
	// (default DefaultMaxHops). On a UTXO chain a peel chain counts as
	// one: its steps (a one-input, two-output transaction spending the
	// like) do not use up hops.
	MaxHops int
	// MinAmount per asset in base units ("" the chain's own coin): money
	// carrying less under every model is not followed, and haircut shares
	// under it are merged into the Other remainder (default
	// DefaultMinAmount).
	MinAmount map[chains.Address]*big.Int
	// MaxNodes bounds the coins (UTXO) or address-and-asset visits
	// (account) followed in all (default DefaultMaxNodes).
	MaxNodes int
	// MaxHistory (account chains): an address with more transfers than
	// this is taken to be a service nobody has labeled (an exchange's hot
	// wallet) and the trace stops there, saying so (default
	// DefaultMaxHistory).
	MaxHistory int
	// ThroughMixers (UTXO chains): follow money through CoinJoins
	// (haircut and FIFO carry on); else stop there.
	ThroughMixers bool
	// Until: money moved after this time (Unix seconds; 0 none) is not
	// followed.
	Until int64
	// StopAtLabeledSeeds: a seed paid to a labeled address is not followed
	// (an exchange's: a deposit at hop 0; another service's: a stop), as a
	// trace of victims' payments wants; exposure leaves it off.
	StopAtLabeledSeeds bool
	// Together (account chains) follows all seeds as one (the amounts of
	// each deposit, flow and stop are then all seeds' together, under Seed
	// 0): what exposure needs, at the cost of one seed's bookkeeping.
	Together bool
	Labels   Labeler
	// SweepTargets labels the wallets a sweep pays: those labeled in their
	// own right (a hot wallet). A labeler that also attributes by cluster
	// (Labels, usually) makes every payer of a deposit address look like
	// one, since the deposit address is in its exchange's cluster. Nil:
	// Labels.
	SweepTargets Labeler
	// Prefetch, when set, is given the addresses the trace is about to
	// label (the seeds', then each hop's payees) before it labels them: a
	// labeler backed by a remote store reads them in one query instead of
	// one each. Its error ends the trace: a label not read is not the
	// absence of one.
	Prefetch func(as []chains.Address) error
	// OnService, when set, is told of money reaching a labeled service
	// other than an exchange (which Deposits list): its category, name,
	// the hop, and what the money carries of all seeds together.
	OnService func(category, name string, hop int, a Amounts)
	// OnHop, when set, is told as each hop starts: its number, the coins
	// (or addresses and assets) in its frontier and those followed so far
	// (for progress).
	OnHop func(hop, frontier, followed int)
}

// check fills in the defaults for chain c and checks the models.
func (cfg *Config) check(c chains.Chain) (map[string]bool, error) {
	if cfg.SweepTargets == nil {
		cfg.SweepTargets = cfg.Labels
	}
	if cfg.MaxHops <= 0 {
		cfg.MaxHops = DefaultMaxHops
	}
	if cfg.MaxNodes <= 0 {
		cfg.MaxNodes = DefaultMaxNodes
	}
	if cfg.MaxHistory <= 0 {
		cfg.MaxHistory = DefaultMaxHistory
	}
	for asset, m := range cfg.MinAmount {
		if m == nil || m.Sign() < 0 {
			return nil, fmt.Errorf("the least amount followed of %s is negative", assetName(asset))
		}
		if !c.IsAccount() && !m.IsInt64() {
			return nil, fmt.Errorf("the least amount followed (%s) is more %s than exist", m, c)
		}
	}
	if len(cfg.Models) == 0 {
		cfg.Models = []string{Haircut, FIFO}
	}
	on := map[string]bool{}
	for _, m := range cfg.Models {
		if m != Poison && m != Haircut && m != FIFO {
			return nil, fmt.Errorf("unknown taint model %q (poison, haircut, fifo)", m)
		}
		on[m] = true
	}
	return on, nil
}

// minFor is the least amount of an asset followed.
func (cfg *Config) minFor(c chains.Chain, asset chains.Address) *big.Int {
	return MinAmount(c, asset, cfg.MinAmount[asset])
}

// MinAmount is the least amount of an asset a trace follows when given
// is asked for: given, at least one base unit; nil, the asset's default.
func MinAmount(c chains.Chain, asset chains.Address, given *big.Int) *big.Int {
	switch {
	case given == nil:
		return DefaultMinAmount(c, asset)
	case given.Sign() <= 0:
		return big.NewInt(1)
	}
	return given
}

func assetName(a chains.Address) string {
	if a == "" {
		return "the native coin"
	}
	return string(a)
}

// Amounts is what money carries of a seed (or of all seeds together), in
// the asset's base units, per model; haircut exact, as a rational.
type Amounts struct {
	Poison  *big.Int
	Haircut *big.Rat
	FIFO    *big.Int
}

// HaircutUnits is the haircut amount rounded down to a base unit.
func (a Amounts) HaircutUnits() *big.Int {
	if a.Haircut == nil {
		return new(big.Int)
	}
	return new(big.Int).Quo(a.Haircut.Num(), a.Haircut.Denom())
}

// add adds o to a, poison the larger (it is the whole value either way).
func (a *Amounts) add(o Amounts) {
	a.FIFO = addInt(a.FIFO, o.FIFO)
	if o.Haircut != nil {
		if a.Haircut == nil {
			a.Haircut = new(big.Rat)
		}
		a.Haircut = new(big.Rat).Add(a.Haircut, o.Haircut)
	}
	if o.Poison != nil && (a.Poison == nil || o.Poison.Cmp(a.Poison) > 0) {
		a.Poison = o.Poison
	}
}

func addInt(a, b *big.Int) *big.Int {
	switch {
	case b == nil:
		return a
	case a == nil:
		return b
	}
	return new(big.Int).Add(a, b)
}

// Deposit is tainted money of one seed reaching an exchange.
type Deposit struct {
	Seed int // index into the seeds; Other for the merged remainder
	// Transfer is the payment into the deposit address: on a UTXO chain
	// the output (its transaction, height, time, address and value).
	Transfer chains.Transfer
	Outpoint chains.Outpoint // the output, on a UTXO chain
	Address  chains.Address  // the deposit address
	Hop      int             // transactions (transfers) between the seed and the deposit
	Exchange string          // the exchange's name from its label
	Evidence string          // why this address is the exchange's: "labeled" or "swept into its labeled wallet in <txid>"
	Amounts  Amounts
}

// Poisoned is a deposit that poison reached: the payment into an
// exchange's deposit address and the set of seeds whose money touched it
// on the way, whether or not any of it is still there under haircut or
// FIFO (Deposit lists those, per seed).
type Poisoned struct {
	Transfer chains.Transfer // as Deposit.Transfer
	Outpoint chains.Outpoint // the output, on a UTXO chain
	Address  chains.Address
	Hop      int
	Exchange string
	Evidence string
	Seeds    *SeedSet
}

// Stop records where the trace stopped following money, and why (one of
// the Stop* reasons).
type Stop struct {
	Outpoint chains.Outpoint // the coin, on a UTXO chain
	Address  chains.Address  // the address holding the money, on an account chain
	Asset    chains.Address
	Tx       chains.Hash // the transfer that took it there or away, when there is one
	Reason   string
	Detail   string
	// Amounts is what the money stopped carries of all seeds together
	// (account chains; zero on a UTXO chain, whose stops name the coin).
	Amounts Amounts
}

// Flow is one step of the flow graph: tainted money moved by a
// transaction, with what it carries (of all seeds together) per model.
type Flow struct {
	// Transfer is the payment: on an account chain the transfer; on a
	// UTXO chain the output made (Transfer.To its address, Amount its
	// value) by the transaction spending the tainted coins.
	Transfer chains.Transfer
	Hop      int // transactions from the seed (UTXO: a peel chain counting as one)
	Amounts  Amounts
	// On a UTXO chain:
	Output   chains.Outpoint   // the output
	Inputs   []chains.Outpoint // the tainted inputs
	From     []chains.Address  // their addresses
	Peel     bool              // the transaction is a peel-chain step (one input, two outputs)
	CoinJoin bool              // the transaction is a CoinJoin (followed through with ThroughMixers)
}

// Origin is where a backward trace stopped: money of a seed that came
// from there, for one of the Origin* reasons or a limit (StopMaxHops,
// StopMaxNodes, StopMaxHistory).
type Origin struct {
	Seed int
	// Transfer is the payment the money came in by: on a UTXO chain the
	// coin it was in (Outpoint).
	Transfer chains.Transfer
	Outpoint chains.Outpoint // the coin, on a UTXO chain
	// Address is where the money came from: the coin's address (UTXO), the
	// payer (account; empty for rewards, withdrawals, mints).
	Address  chains.Address
	Hop      int // transactions back from the seed
	Reason   string
	Category string // of a labeled origin
	Name     string
	Detail   string
	Amounts  Amounts
}

// Result is a trace, forward or backward.
type Result struct {
	Seeds []Seed
	// Deposits (forward): one per seed and deposit payment where haircut
	// or FIFO carry that seed's money (Seed is Other for the merged
	// remainder), by exchange, height and seed.
	Deposits []Deposit
	// Poisoned (forward): one per deposit payment poison reached (poison
	// model only).
	Poisoned []Poisoned
	Stops    []Stop   // forward
	Origins  []Origin // backward: by seed and hop
	// Flows: every step money was followed through, in hop order
	// (backward: each payment a seed's money came through).
	Flows []Flow
	// What haircut merged into the Other remainder (forward).
	Remainder
	Hops    int // rounds of store queries
	Lookups int // store queries
	Visited int // coins (UTXO) or address-and-asset visits (account) followed
}

// Exposure is an address's exposure to one labeled service, in one
// asset, under the haircut model: how much of its money went there and
// came from there within a number of hops, in base units.
type Exposure struct {
	Category string
	Name     string
	Asset    chains.Address // "" the chain's own coin
	Sent     *big.Int       // of the address's money, what reached it
	Received *big.Int       // of the address's receipts, what came from it
	MinHops  int            // the fewest hops at which it was met
}

// paymentKey names a payment within the chain: an output (UTXO), a
// transfer (account; its height when it is outside any transaction).
type paymentKey struct {
	tx    chains.Hash
	pos   string
	index uint32
	to    chains.Address
	blk   int64
}

func keyOf(t *chains.Transfer, op chains.Outpoint) paymentKey {
	k := paymentKey{tx: t.TxHash, pos: t.Position, index: op.Index, to: t.To}
	if t.TxHash == (chains.Hash{}) {
		k.blk = t.Height
	}
	return k
}

// mergeDeposits adds up the deposits of one seed by one payment, reached
// by several paths or at several hops (a transaction whose inputs became
// tainted at different hops is followed once per hop, each time with the
// newly tainted inputs: the models are linear, so the parts add up to the
// whole), and orders them by exchange, time and seed.
func mergeDeposits(ds []Deposit) []Deposit {
	type key struct {
		seed int
		p    paymentKey
	}
	at := map[key]int{}
	var out []Deposit
	for _, d := range ds {
		k := key{d.Seed, keyOf(&d.Transfer, d.Outpoint)}
		if i, ok := at[k]; ok {
			out[i].Amounts.add(d.Amounts)
			continue
		}
		at[k] = len(out)
		out = append(out, d)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Exchange != out[j].Exchange {
			return out[i].Exchange < out[j].Exchange
		}
		if out[i].Transfer.Height != out[j].Transfer.Height {
			return out[i].Transfer.Height < out[j].Transfer.Height
		}
		return out[i].Seed < out[j].Seed
	})
	return out
}

// mergePoisoned joins the poison sets of one deposit payment (reached by
// several paths or at several hops) and orders them by exchange and time.
func mergePoisoned(ps []Poisoned) []Poisoned {
	at := map[paymentKey]int{}
	var out []Poisoned
	for _, p := range ps {
		k := keyOf(&p.Transfer, p.Outpoint)
		if i, ok := at[k]; ok {
			out[i].Seeds = union(out[i].Seeds, p.Seeds)
			out[i].Hop = min(out[i].Hop, p.Hop)
			continue
		}
		at[k] = len(out)
		out = append(out, p)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Exchange != out[j].Exchange {
			return out[i].Exchange < out[j].Exchange
		}
		return before(&out[i].Transfer, &out[j].Transfer)
	})
	return out
}

func labelOf(l Labeler, a chains.Address) (string, string, bool) {
	if l == nil || a == "" {
		return "", "", false
	}
	return l(a)
}
