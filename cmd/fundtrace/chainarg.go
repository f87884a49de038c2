package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/tron"
	"github.com/fundtrace/fundtrace/store"
)

// codec reads and writes one chain's addresses as its users do.
type codec struct {
	chain  chains.Chain
	parse  func(string) (chains.Address, error)
	format func(chains.Address) string
}

// codecOf is chain ch's codec; Bitcoin's needs the network of the
// store's Bitcoin blocks.
func codecOf(c *cli.Context, st store.Store, ch chains.Chain) (*codec, error) {
	for _, v := range []*accountView{ethView, tronView} {
		if v.Chain == ch {
			return &codec{ch, v.Parse, v.Format}, nil
		}
	}
	net, err := btcNetwork(c, st)
	if err != nil {
		return nil, err
	}
	return &codec{ch, net.ParseAddress, net.MustEncode}, nil
}

// chainOfAddress is the chain an address's form names: 0x Ethereum,
// T… or 41… TRON; "" for anything else (Bitcoin, whose form depends on
// the network).
func chainOfAddress(s string) chains.Chain {
	switch {
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		return chains.Ethereum
	case tron.LooksLike(s) || len(s) == 42 && strings.HasPrefix(s, "41"):
		return chains.Tron
	}
	return ""
}

// clusteredChain is the chain a cluster subcommand reads: --chain; else
// the chain of the address given, by its form; else the one chain the
// store has clusters of (Bitcoin's, when it has several and Bitcoin's
// among them, as before there were others).
func clusteredChain(c *cli.Context, st store.Store, addr string) (chains.Chain, error) {
	if s := c.String("chain"); s != "" {
		return chains.ParseChain(s)
	}
	if ch := chainOfAddress(addr); ch != "" {
		return ch, nil
	}
	var have []chains.Chain
	for _, ch := range chains.Indexed {
		_, ok, err := st.ClusterMeta(c.Context, ch)
		if err != nil {
			return "", err
		}
		if ok {
			have = append(have, ch)
		}
	}
	switch {
	case len(have) == 1:
		return have[0], nil
	case len(have) > 1 && have[0] == chains.Bitcoin:
		return chains.Bitcoin, nil
	case len(have) > 1:
		return "", fmt.Errorf("the store %s holds clusters of %s and %s: say which with --chain", st.Path(), have[0], have[1])
	}
	return "", fmt.Errorf("the store %s holds no clusters yet: run fundtrace cluster --chain btc|eth|tron first", st.Path())
}

// indexedChain is the chain a command reads when the user names none:
// --chain, else the one chain the store has blocks of (Bitcoin, then
// Ethereum, when it has several).
func indexedChain(c *cli.Context, st store.Store) (chains.Chain, error) {
	if s := c.String("chain"); s != "" {
		return chains.ParseChain(s)
	}
	for _, ch := range chains.Indexed {
		m, err := st.Meta(c.Context, ch)
		if err != nil {
			return "", err
		}
		if m.TipHeight >= 0 {
			return ch, nil
		}
	}
	return "", fmt.Errorf("the store %s holds no blocks yet: index a chain first (fundtrace index btc|eth|tron)", st.Path())
}
