package tracer

import (
	"math/big"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
)

// TestPeelChainsManySeeds: when the money of two victims runs down one
// peel chain, each step's outputs appear as a flow per victim; the chain
// is still found, step by step, as it is with one.
func TestPeelChainsManySeeds(t *testing.T) {
	op := func(tx byte, i uint32) chains.Outpoint { return chains.Outpoint{Hash: chains.Hash{tx}, Index: i} }
	step := func(tx byte, in chains.Outpoint, rest, paid int64) []Flow {
		return []Flow{
			{Transfer: chains.Transfer{TxHash: chains.Hash{tx}, Amount: big.NewInt(rest)}, Peel: true, Inputs: []chains.Outpoint{in}, Output: op(tx, 0)},
			{Transfer: chains.Transfer{TxHash: chains.Hash{tx}, Amount: big.NewInt(paid)}, Peel: true, Inputs: []chains.Outpoint{in}, Output: op(tx, 1)},
		}
	}
	var one []Flow
	one = append(one, step(1, op(0, 0), 900, 100)...)
	one = append(one, step(2, op(1, 0), 800, 100)...)
	one = append(one, step(3, op(2, 0), 700, 100)...)
	two := append(append([]Flow{}, one...), one...) // the second victim's flows of the same outputs
	for name, flows := range map[string][]Flow{"one victim": one, "two victims": two} {
		pcs := PeelChains(flows)
		if len(pcs) != 1 || len(pcs[0].Txs) != 3 || pcs[0].Rest[2].Transfer.Amount.Int64() != 700 || pcs[0].Peeled[0].Transfer.Amount.Int64() != 100 {
			t.Errorf("%s: %+v", name, pcs)
		}
	}
}
