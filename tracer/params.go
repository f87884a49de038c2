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
// ether) of an account chain's native coin; one unit of a token (asset,
// its contract). Haircut shares under it are merged into the Other
// remainder.
func DefaultMinAmount(c chains.Chain, asset chains.Address) *big.Int {
	switch {
	case c == chains.Bitcoin:
		return big.NewInt(1000)
	case asset == "":
		return big.NewInt(1e12)
	default:
		return big.NewInt(1)
	}
}
