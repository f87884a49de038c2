// Package sanctions reads the sanctions lists OFAC publishes — the
// advanced XML (sdn_advanced.xml and the consolidated list in the same
// schema) and the legacy CSV set (sdn.csv with sdn_comments.csv) — and
// extracts every digital currency address with its entity, programs and
// listing date, mapped to the chains fundtrace indexes.
package sanctions

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/ethereum/go-ethereum/common"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
)

// Entry is one listed party.
type Entry struct {
	Ref       string // OFAC's ent_num (legacy) or FixedRef (advanced)
	Name      string
	Type      string   // individual, entity, vessel, aircraft ("" when not given)
	Programs  []string // e.g. CYBER2, DPRK3
	Listed    string   // YYYY-MM-DD when the list gives it, else ""
	Addresses []Address
}

// Address is a digital currency address of an entry.
type Address struct {
	Code    string       // OFAC's currency code: XBT, ETH, USDT, TRX, ...
	Text    string       // as listed
	Chain   chains.Chain // btc or eth when fundtrace indexes it, else ""
	Address chains.Address
	Problem string // why it could not be read (e.g. cut short in sdn.csv), else ""
}

// List is one published list.
type List struct {
	Source  string // file(s) it was read from
	Date    string // publication date when the file says, else ""
	Entries []Entry
}

// Addresses returns every address of every entry, with its entry.
func (l *List) Addresses() []struct {
	Entry   *Entry
	Address Address
} {
	var out []struct {
		Entry   *Entry
		Address Address
	}
	for i := range l.Entries {
		for _, a := range l.Entries[i].Addresses {
			out = append(out, struct {
				Entry   *Entry
				Address Address
			}{&l.Entries[i], a})
		}
	}
	return out
}

// addressPattern finds "Digital Currency Address - XBT <address>" in
// legacy remarks (and feature names in the XML).
var addressPattern = regexp.MustCompile(`Digital Currency Address - ([A-Z0-9]+) ([^;\s]+)`)

var btcMainnet = bitcoin.NetworkByName("mainnet")

// resolve maps a listed address to a chain fundtrace indexes and checks it.
func resolve(code, text string) Address {
	a := Address{Code: code, Text: text}
	switch {
	case code == "XBT":
		addr, err := btcMainnet.ParseAddress(text)
		if err != nil {
			a.Problem = fmt.Sprintf("not a valid Bitcoin address: %v", err)
			return a
		}
		a.Chain, a.Address = chains.Bitcoin, addr
	case code == "ETH" || strings.HasPrefix(text, "0x"):
		// ETH, and ERC-20 tokens (USDT, USDC, ...) listed with an Ethereum address.
		addr, err := ParseEthereum(text)
		if err != nil {
			a.Problem = err.Error()
			return a
		}
		a.Chain, a.Address = chains.Ethereum, addr
	}
	return a
}

// ParseEthereum reads an Ethereum address, checking its EIP-55 checksum
// when it is written in mixed case.
func ParseEthereum(s string) (chains.Address, error) {
	if !strings.HasPrefix(s, "0x") || !common.IsHexAddress(s) {
		return "", fmt.Errorf("%q is not an Ethereum address (0x and 40 hex digits)", s)
	}
	body := s[2:]
	if body != strings.ToLower(body) && body != strings.ToUpper(body) {
		if common.HexToAddress(s).Hex() != s {
			return "", fmt.Errorf("%q fails its EIP-55 checksum", s)
		}
	}
	a := common.HexToAddress(s)
	return chains.MakeAddress(chains.KindAccount, a[:]), nil
}

// Codes counts a list's addresses by currency code.
func (l *List) Codes() map[string]int {
	m := map[string]int{}
	for _, e := range l.Entries {
		for _, a := range e.Addresses {
			m[a.Code]++
		}
	}
	return m
}
