package clickhouse

import (
	"slices"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
)

// TestPackAddrs: block_txs's one-string form of an input's or output's
// addresses gives back what went in, keeps a single address as itself
// (SQL compares it), and refuses a packing cut short.
func TestPackAddrs(t *testing.T) {
	pkh := chains.MakeAddress(chains.KindPubKeyHash, make([]byte, 20))
	tr := chains.MakeAddress(chains.KindTaproot, []byte("0123456789abcdef0123456789abcdef"))
	for _, as := range [][]chains.Address{nil, {pkh}, {tr}, {pkh, tr}, {tr, pkh, pkh}} {
		p := packAddrs(as)
		if len(as) == 1 && p != string(as[0]) {
			t.Errorf("one address packed as %x, not itself", p)
		}
		got, err := unpackAddrs(p)
		if err != nil || !slices.Equal(got, as) {
			t.Errorf("%x: unpacked %x, %v; want %x", p, got, err, as)
		}
	}
	p := packAddrs([]chains.Address{pkh, tr})
	for _, bad := range []string{p[:len(p)-1], p[:2], string([]byte{multiPacked, 0})} {
		if got, err := unpackAddrs(bad); err == nil {
			t.Errorf("%x unpacked as %x, want an error", bad, got)
		}
	}
}
