package investigate

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/chains/tron"
	"github.com/fundtrace/fundtrace/cluster"
	"github.com/fundtrace/fundtrace/heuristics"
	"github.com/fundtrace/fundtrace/labels"
	"github.com/fundtrace/fundtrace/tracefile"
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

// clusterEvidence rewrites the evidence of account-chain deposits that
// reached an exchange through its cluster (the address has no label of
// its own): which labeled wallet's cluster, and the deposit heuristic's
// link that put it there, so that a freezing request can cite it.
func (iv *Investigation) clusterEvidence(ctx context.Context, ac *accountChain, ds []tracefile.Deposit, ps []tracefile.Poisoned) {
	if iv.attr.cs == nil {
		return
	}
	cache := map[string]string{}
	evidence := func(addr string) string {
		if ev, ok := cache[addr]; ok {
			return ev
		}
		ev := iv.evidenceOf(ctx, ac, addr)
		cache[addr] = ev
		return ev
	}
	for i := range ds {
		if ds[i].Evidence == "labeled" {
			if ev := evidence(ds[i].Address); ev != "" {
				ds[i].Evidence = ev
			}
		}
	}
	for i := range ps {
		if ps[i].Evidence == "labeled" {
			if ev := evidence(ps[i].Address); ev != "" {
				ps[i].Evidence = ev
			}
		}
	}
}

func (iv *Investigation) evidenceOf(ctx context.Context, ac *accountChain, text string) string {
	a, err := ac.parse(text)
	if err != nil {
		return ""
	}
	own, cl, err := iv.attr.Labels(ctx, ac.chain, a)
	if err != nil || len(own) > 0 {
		return ""
	}
	var wallet *labels.Label
	for i := range cl {
		if cl[i].Category == "exchange" && (wallet == nil || cl[i].Confidence > wallet.Confidence) {
			wallet = &cl[i]
		}
	}
	if wallet == nil {
		return ""
	}
	path, err := cluster.Explain(ctx, iv.attr.cs, ac.chain, a, wallet.Address)
	if err != nil || len(path) == 0 {
		return "in the cluster of the exchange's labeled wallet " + ac.format(wallet.Address)
	}
	if len(path) == 1 && path[0].Heuristic == heuristics.DepositName {
		return fmt.Sprintf("in the cluster of the exchange's labeled wallet %s: the deposit heuristic links them (forwarded in %s)", ac.format(wallet.Address), ac.tx(path[0].Tx))
	}
	return fmt.Sprintf("in the cluster of the exchange's labeled wallet %s, %d links away (fundtrace cluster explain --chain %s %s %s)",
		ac.format(wallet.Address), len(path), ac.chain, text, ac.format(wallet.Address))
}
