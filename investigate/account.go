package investigate

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/chains/tron"
)

// accountChain is how an account chain's addresses, transactions and
// assets are written in cases and trace files: Ethereum's 0x forms,
// TRON's T… addresses and bare-hex transaction IDs.
type accountChain struct {
	chain    chains.Chain
	name     string // for messages: Ethereum, TRON
	native   string // the native coin's asset id: ETH, TRX
	decimals int
	index    string // the command that indexes it, for messages
	parse    func(string) (chains.Address, error)
	format   func(chains.Address) string
}

var (
	ethChain = &accountChain{chain: chains.Ethereum, name: "Ethereum", native: "ETH", decimals: 18, index: "fundtrace index eth",
		parse: ethereum.ParseAddress, format: ethereum.FormatAddress}
	tronChain = &accountChain{chain: chains.Tron, name: "TRON", native: "TRX", decimals: 6, index: "fundtrace index tron",
		parse: tron.ParseAddress, format: tron.Encode}
)

// accountChainOf is the account chain a case or trace file names
// ("eth", "ethereum", "tron", "trx"), nil for any other.
func accountChainOf(name string) *accountChain {
	switch strings.ToLower(name) {
	case "eth", "ethereum":
		return ethChain
	case "tron", "trx":
		return tronChain
	}
	return nil
}

// tx writes a transaction hash as the chain's users do: 0x-prefixed on
// Ethereum, bare on TRON.
func (ac *accountChain) tx(h chains.Hash) string {
	if ac.chain == chains.Ethereum {
		return "0x" + h.String()
	}
	return h.String()
}

// assetID names an asset in trace files: the native coin's name, a token
// contract's address, or (TRON) a TRC-10 token as trc10:ID.
func (ac *accountChain) assetID(a chains.Address) string {
	if a == "" {
		return ac.native
	}
	if id, ok := tron.TokenIDOf(a); ok {
		return "trc10:" + strconv.FormatInt(id, 10)
	}
	return ac.format(a)
}

// parseAsset reads assetID's forms back (the native coin's name, a
// contract, trc10:ID or a bare TRC-10 id on TRON); ok false when s is
// none of them (perhaps a token's symbol).
func (ac *accountChain) parseAsset(s string) (a chains.Address, ok bool, err error) {
	if strings.EqualFold(s, ac.native) {
		return "", true, nil
	}
	if ac.chain == chains.Tron {
		id := strings.TrimPrefix(strings.ToLower(s), "trc10:")
		if n, err := strconv.ParseInt(id, 10, 64); err == nil && n > 0 {
			return tron.TokenAddress(n), true, nil
		}
	}
	if a, err := ac.parse(s); err == nil {
		return a, true, nil
	}
	if strings.HasPrefix(strings.ToLower(s), "trc10:") {
		return "", false, fmt.Errorf("asset %q: not a TRC-10 id", s)
	}
	return "", false, nil
}
