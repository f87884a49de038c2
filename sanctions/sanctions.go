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

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/chains/tron"
	"github.com/fundtrace/fundtrace/store"
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
	Code  string       // OFAC's currency code: XBT, ETH, USDT, TRX, ...
	Text  string       // as listed
	Chain chains.Chain // btc, eth or tron when fundtrace reads its addresses, else ""
	// Address is the chain's binary form; for a currency whose addresses
	// fundtrace does not read (Chain ""), OtherAddress of code and text,
	// so that direct hits are still answered.
	Address chains.Address
	Problem string // why it could not be read (e.g. cut short in sdn.csv), else ""
}

// List is one published list.
type List struct {
	Source  string // file(s) it was read from
	Files   []store.ListFile
	Date    string // publication date when the file says, else ""
	Entries []Entry
	// Truncated names the entries (by ent_num) whose remarks OFAC cut
	// short in sdn.csv and that have no continuation in the
	// sdn_comments.csv read with it: addresses may be missing from them.
	Truncated []string
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

// resolve maps a listed address to the chain it lives on and checks it.
// XBT is Bitcoin, and so is USDT listed with a Bitcoin address (Omni
// USDT lives in Bitcoin transactions); ETH and tokens on 0x addresses are
// Ethereum; TRX and tokens on T addresses are TRON. Every other currency
// is kept by its text, for direct hits.
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
		addr, err := ethereum.ParseAddress(text)
		if err != nil {
			a.Problem = err.Error()
			return a
		}
		a.Chain, a.Address = chains.Ethereum, addr
	case code == "TRX" || (strings.HasPrefix(text, "T") && tron.LooksLike(text)):
		addr, err := tron.ParseAddress(text)
		if err != nil {
			a.Problem = err.Error()
			return a
		}
		a.Chain, a.Address = chains.Tron, addr
	case code == "USDT" && bitcoinAddress(text) != "":
		a.Chain, a.Address = chains.Bitcoin, bitcoinAddress(text)
	default:
		a.Address = OtherAddress(code, text)
	}
	return a
}

// bitcoinAddress reads a mainnet Bitcoin address, "" when text is not one.
func bitcoinAddress(text string) chains.Address {
	a, err := btcMainnet.ParseAddress(text)
	if err != nil {
		return ""
	}
	return a
}

// OtherAddress is how a listed address of a currency whose addresses
// fundtrace does not read (LTC, XMR, BCH, ...) is kept: its code and its
// text, exactly as listed. Stores key it under the chain "".
func OtherAddress(code, text string) chains.Address {
	return chains.Address(code + ":" + text)
}

// MatchText is the form in which a listed address's text and a screened
// string are compared for direct hits on any currency: trimmed, and
// lower-cased where the address is hexadecimal or bech32 (whose case
// carries no meaning). Base58 forms keep their case.
func MatchText(s string) string {
	s = strings.TrimSpace(s)
	l := strings.ToLower(s)
	if strings.HasPrefix(l, "0x") || strings.HasPrefix(l, "bc1") || strings.HasPrefix(l, "ltc1") ||
		strings.HasPrefix(l, "bitcoincash:") || strings.HasPrefix(l, "q") && len(l) == 42 {
		return l
	}
	return s
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
