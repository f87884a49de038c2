// Package tron reads TRON's addresses. TRON accounts are 20-byte
// Ethereum-style addresses written with a 0x41 version byte: as
// Base58Check ("T…", what wallets, explorers and OFAC show), as 21 bytes
// of hex ("41…", what the java-tron HTTP API returns), or as the bare
// 20 bytes ("0x…", what its JSON-RPC returns). Every form reads to the
// same chains.Address, so a listing in one form matches a query in any.
package tron

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/btcutil/base58"

	"github.com/fundtrace/fundtrace/chains"
)

// Version is the version byte of every mainnet TRON address.
const Version = 0x41

// ParseAddress reads a TRON address in any of its three forms, checking
// the Base58Check checksum and the version byte.
func ParseAddress(s string) (chains.Address, error) {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		b, err := hex.DecodeString(s[2:])
		if err != nil || len(b) != 20 {
			return "", fmt.Errorf("%q is not a TRON address (0x and 40 hex digits)", s)
		}
		return chains.MakeAddress(chains.KindAccount, b), nil
	case len(s) == 42 && strings.HasPrefix(s, "41"):
		b, err := hex.DecodeString(s)
		if err != nil {
			return "", fmt.Errorf("%q is not a TRON address (41 and 40 hex digits)", s)
		}
		return chains.MakeAddress(chains.KindAccount, b[1:]), nil
	}
	// Base58Check: version byte, 20 bytes, 4 bytes of double SHA-256.
	raw := base58.Decode(s)
	if len(raw) != 25 || !strings.HasPrefix(s, "T") {
		return "", fmt.Errorf("%q is not a TRON address (T and 33 Base58 characters)", s)
	}
	if raw[0] != Version {
		return "", fmt.Errorf("%q has version byte %#x, TRON's is 0x41", s, raw[0])
	}
	sum := checksum(raw[:21])
	if string(sum[:]) != string(raw[21:]) {
		return "", fmt.Errorf("%q fails its Base58Check checksum", s)
	}
	return chains.MakeAddress(chains.KindAccount, raw[1:21]), nil
}

// Encode writes a as TRON's Base58Check form (T…); the empty address
// (a burn's recipient, a reward's sender) as "".
func Encode(a chains.Address) string {
	if a == "" {
		return ""
	}
	p := a.Payload()
	if a.Kind() != chains.KindAccount || len(p) != 20 {
		return fmt.Sprintf("<not a TRON address %x>", []byte(a))
	}
	raw := make([]byte, 0, 25)
	raw = append(raw, Version)
	raw = append(raw, p...)
	sum := checksum(raw)
	return base58.Encode(append(raw, sum[:]...))
}

// LooksLike reports whether s has the shape of a Base58 TRON address,
// whatever its checksum: callers use it to tell "a TRON address with a
// typo" from "not a TRON address at all".
func LooksLike(s string) bool {
	s = strings.TrimSpace(s)
	return len(s) == 34 && strings.HasPrefix(s, "T") && len(base58.Decode(s)) == 25
}

func checksum(b []byte) [4]byte {
	h1 := sha256.Sum256(b)
	h2 := sha256.Sum256(h1[:])
	var out [4]byte
	copy(out[:], h2[:4])
	return out
}
