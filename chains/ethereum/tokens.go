package ethereum

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"unicode/utf8"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/fundtrace/fundtrace/chains"
)

// Selectors of the ERC-20 metadata getters.
var (
	selSymbol   = hexutil.Bytes{0x95, 0xd8, 0x9b, 0x41}
	selName     = hexutil.Bytes{0x06, 0xfd, 0xde, 0x03}
	selDecimals = hexutil.Bytes{0x31, 0x3c, 0xe5, 0x67}
)

type tokenEntry struct{ tok chains.Token }

// Tokens reads the metadata of the token contracts it has not met yet
// (symbol, name, decimals at the newest block, one batch for all) and
// returns it. A call that reverts, or answers something that is neither
// an ABI string nor a bytes32 nor a small integer, leaves that field
// unknown instead of failing the block: tokens lie, and fundtrace records
// what they said only when it parses.
func (c *Client) Tokens(ctx context.Context, addrs []common.Address) ([]chains.Token, error) {
	var fresh []common.Address
	seen := map[common.Address]bool{}
	for _, a := range addrs {
		if _, ok := c.tokenCache[a]; !ok && !seen[a] {
			seen[a] = true
			fresh = append(fresh, a)
		}
	}
	if len(fresh) == 0 {
		return nil, nil
	}
	type call struct {
		sym, name, dec hexutil.Bytes
	}
	res := make([]call, len(fresh))
	var elems []rpc.BatchElem
	for i, a := range fresh {
		for _, q := range []struct {
			sel hexutil.Bytes
			out *hexutil.Bytes
		}{{selSymbol, &res[i].sym}, {selName, &res[i].name}, {selDecimals, &res[i].dec}} {
			elems = append(elems, rpc.BatchElem{Method: "eth_call",
				Args: []any{map[string]any{"to": strings.ToLower(a.Hex()), "data": q.sel}, "latest"}, Result: q.out})
		}
	}
	if err := c.batch(ctx, elems); err != nil {
		return nil, fmt.Errorf("token metadata: %w", err)
	}
	if len(c.tokenCache) > c.tokenCacheLimit {
		clear(c.tokenCache)
	}
	out := make([]chains.Token, len(fresh))
	for i, a := range fresh {
		t := chains.Token{Chain: chains.Ethereum, Address: Addr(a)}
		// A reverted call is an error on its element: the field stays unknown.
		if elems[3*i].Error == nil {
			t.Symbol, t.HasSymbol = abiString(res[i].sym)
		}
		if elems[3*i+1].Error == nil {
			t.Name, t.HasName = abiString(res[i].name)
		}
		if elems[3*i+2].Error == nil {
			t.Decimals, t.HasDecimals = abiDecimals(res[i].dec)
		}
		c.tokenCache[a] = &tokenEntry{tok: t}
		out[i] = t
	}
	return out, nil
}

// abiString reads a string return value: the ABI's dynamic string, or a
// bytes32 padded with zeros (as MKR and other early tokens return). NUL
// bytes and invalid UTF-8 are dropped.
func abiString(b []byte) (string, bool) {
	clean := func(raw []byte) string {
		s := strings.ToValidUTF8(strings.ReplaceAll(string(raw), "\x00", ""), "")
		return strings.TrimSpace(s)
	}
	if len(b) >= 64 {
		off := new(big.Int).SetBytes(b[:32])
		if off.IsUint64() && off.Uint64()+32 <= uint64(len(b)) {
			o := off.Uint64()
			n := new(big.Int).SetBytes(b[o : o+32])
			if n.IsUint64() && o+32+n.Uint64() <= uint64(len(b)) {
				s := clean(b[o+32 : o+32+n.Uint64()])
				return s, s != "" || n.Uint64() == 0
			}
		}
	}
	if len(b) == 32 {
		s := clean(b)
		if s == "" || !utf8.ValidString(s) {
			return "", false
		}
		return s, true
	}
	return "", false
}

// abiDecimals reads a uint8 (returned as a 32-byte word); anything above
// 255 is not a decimals count.
func abiDecimals(b []byte) (uint8, bool) {
	if len(b) != 32 {
		return 0, false
	}
	v := new(big.Int).SetBytes(b)
	if !v.IsUint64() || v.Uint64() > 255 {
		return 0, false
	}
	return uint8(v.Uint64()), true
}
