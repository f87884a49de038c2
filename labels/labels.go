// Package labels reads attributions — fundtrace's own CSV, GraphSense
// TagPacks (YAML), Etherscan label exports — into labels that keep their
// provenance, validates every address on the way in, and writes TagPacks
// back out so that agencies can share attributions in a format others
// already read.
package labels

import (
	"fmt"
	"sort"
	"strings"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/chains/tron"
	"github.com/fundtrace/fundtrace/store"
)

// Categories is the fixed vocabulary of label categories.
var Categories = []string{
	"exchange", "mixer", "scam", "sanctioned", "blocked", "bridge", "gambling", "darknet-market", "ransomware",
	"hack", "phishing", "ponzi", "service", "wallet-service", "miner", "defi", "individual", "token", "other",
}

// IsCategory tells whether c is in the vocabulary.
func IsCategory(c string) bool {
	for _, x := range Categories {
		if x == c {
			return true
		}
	}
	return false
}

// Label attributes an address, with where it came from (store.Label,
// which the stores keep).
type Label = store.Label

// Problem is an input line that was not imported, and why.
type Problem struct {
	Line int
	Text string
	Err  string
}

func (p Problem) String() string { return fmt.Sprintf("line %d: %s: %s", p.Line, p.Text, p.Err) }

// Network is the network Bitcoin addresses are read for: mainnet, unless
// a command working on another network's store says otherwise.
var Network = bitcoin.NetworkByName("mainnet")

// ParseAddress reads an address of chain ("btc", "eth", "tron", or "" to
// tell by its form): Base58Check or bech32/bech32m for Bitcoin mainnet,
// 0x and 40 hex digits for Ethereum (EIP-55 checked when mixed-case),
// TRON's T… Base58Check (checksum checked) or 41… hex.
func ParseAddress(chain, s string) (chains.Chain, chains.Address, error) {
	s = strings.TrimSpace(s)
	c := chains.Chain(strings.ToLower(chain))
	switch c {
	case "bitcoin", "btc", "xbt":
		c = chains.Bitcoin
	case "ethereum", "eth":
		c = chains.Ethereum
	case "tron", "trx":
		c = chains.Tron
	case "":
		switch {
		case strings.HasPrefix(s, "0x"):
			c = chains.Ethereum
		case tron.LooksLike(s) || len(s) == 42 && strings.HasPrefix(s, "41"):
			c = chains.Tron
		default:
			c = chains.Bitcoin
		}
	default:
		return "", "", fmt.Errorf("chain %q is not indexed by fundtrace (btc, eth, tron)", chain)
	}
	var (
		a   chains.Address
		err error
	)
	switch c {
	case chains.Ethereum:
		a, err = ethereum.ParseAddress(s)
	case chains.Tron:
		a, err = tron.ParseAddress(s)
	default:
		a, err = Network.ParseAddress(s)
	}
	return c, a, err
}

// Conflict is a cluster that labels attribute to more than one actor.
type Conflict struct {
	Cluster uint32
	Chain   chains.Chain
	Actors  map[string][]Label // actor → its labels in the cluster
}

// ActorName is whom a label attributes the address to: its actor when
// the source names one, else its label text, lower-cased.
func ActorName(l Label) string {
	if l.Actor != "" {
		return strings.ToLower(l.Actor)
	}
	return strings.ToLower(l.Label)
}

// Owning categories say who controls an address (an exchange, a mixer);
// the others (scam, hack, sanctioned ...) say what it did, and may
// coexist with an owner.
var owning = map[string]bool{"exchange": true, "mixer": true, "gambling": true, "darknet-market": true, "service": true,
	"wallet-service": true, "miner": true, "bridge": true, "defi": true}

// Conflicts groups labels by cluster (clusterOf returns a label's cluster,
// ok false when it has none) and returns the clusters whose owning labels
// name more than one actor.
func Conflicts(ls []Label, clusterOf func(Label) (uint32, bool)) []Conflict {
	byCluster := map[string]*Conflict{}
	for _, l := range ls {
		if !owning[l.Category] {
			continue
		}
		id, ok := clusterOf(l)
		if !ok {
			continue
		}
		k := fmt.Sprintf("%s/%d", l.Chain, id)
		c := byCluster[k]
		if c == nil {
			c = &Conflict{Cluster: id, Chain: l.Chain, Actors: map[string][]Label{}}
			byCluster[k] = c
		}
		c.Actors[ActorName(l)] = append(c.Actors[ActorName(l)], l)
	}
	var out []Conflict
	for _, c := range byCluster {
		if len(c.Actors) > 1 {
			out = append(out, *c)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Chain != out[j].Chain {
			return out[i].Chain < out[j].Chain
		}
		return out[i].Cluster < out[j].Cluster
	})
	return out
}
