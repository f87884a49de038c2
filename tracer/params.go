package tracer

import (
	"math/big"

	"github.com/fundtrace/fundtrace/chains"
)

// The defaults of every trace, on every chain, whoever runs it (the
// command line, verify re-running a bundle's trace, the library): one
// place, so that a re-run cannot drift from the run.
const (
	DefaultMaxHops    = 50      // transactions (transfers) followed from a seed
	DefaultMaxNodes   = 100_000 // coins (Bitcoin) or address visits (Ethereum) followed in all
	DefaultMaxHistory = 20_000  // an account with more transfers is taken for an unlabeled service
)

// DefaultMinAmount is the least amount of an asset a trace follows, in
// its base units: 1,000 satoshis of Bitcoin; 10^12 wei (a millionth of an
// ether) of Ethereum's ether; 1,000 sun (a thousandth) of TRON's TRX; one
// unit of a token (asset, its contract or TRC-10 id). Haircut shares under
// it are merged into the Other remainder.
func DefaultMinAmount(c chains.Chain, asset chains.Address) *big.Int {
	switch {
	case c == chains.Bitcoin:
		return big.NewInt(1000)
	case c == chains.Tron && asset == "":
		return big.NewInt(1000)
	case asset == "":
		return big.NewInt(1e12)
	default:
		return big.NewInt(1)
	}
}

// Why a forward trace stopped following money (Stop.Reason,
// AccountStop.Reason: the trace file's stops[].reason), one list for both
// walks. Backward, an origin's reason may be one of the limits too
// (StopMaxHops, StopMaxNodes, StopMaxHistory).
const (
	StopUnspent        = "unspent"          // still held
	StopAfterUntil     = "after-until"      // moved after the time window
	StopMaxHops        = "max-hops"         // more hops than MaxHops
	StopMaxNodes       = "max-nodes"        // more coins or address visits than MaxNodes
	StopMaxHistory     = "max-history"      // an account with more transfers than MaxHistory
	StopBelowMinAmount = "below-min-amount" // less than MinAmount under every model
	StopService        = "service"          // a labeled service other than an exchange
	StopMixer          = "mixer"            // a CoinJoin (Bitcoin), or a labeled mixer
	StopFee            = "fee"              // paid as gas (account chains)
	StopBurnt          = "burnt"            // paid to no address (account chains)
)

// Where a backward trace found the money came from (Origin.Reason,
// AccountOrigin.Reason), besides the limits above.
const (
	OriginLabeled     = "labeled"      // a labeled address (an exchange's withdrawal, ...)
	OriginCoinbase    = "coinbase"     // newly mined (Bitcoin)
	OriginReward      = "reward"       // a block reward (account chains)
	OriginWithdrawal  = "withdrawal"   // a beacon-chain withdrawal
	OriginMint        = "mint"         // a token minted from the zero address
	OriginPreExisting = "pre-existing" // held before the store's first block
)
