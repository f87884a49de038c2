package screening

import (
	"context"
	"fmt"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/chains/tron"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/tracer"
)

// Exposure is an address's exposure to one labeled service within some
// hops, under the haircut model: what it sent there and received from
// there, in the asset's base units.
type Exposure struct {
	Category string `json:"category"`
	Name     string `json:"name"`
	Asset    string `json:"asset"` // BTC, ETH or a token's symbol (its contract when it has none)
	Decimals int    `json:"decimals"`
	Sent     string `json:"sent"`
	Received string `json:"received"`
	// On Bitcoin, the same as integers (kept for scripts of earlier versions).
	SentSats     int64 `json:"sent_sats,omitempty"`
	ReceivedSats int64 `json:"received_sats,omitempty"`
	MinHops      int   `json:"nearest_hop"`
}

// ChainData is what exposure reads: a UTXO chain's transactions and
// address histories, an account chain's transfers and tokens (both
// stores keep them: store.Store).
type ChainData interface {
	tracer.UTXOSource
	tracer.AccountSource
	AddressHistory(ctx context.Context, c chains.Chain, a chains.Address, limit int) ([]store.HistoryEntry, error)
	Token(ctx context.Context, c chains.Chain, a chains.Address) (chains.Token, error)
}

// Exposures computes a's exposure within hops from the store st (which
// must keep the chain's transactions), attributing by l's labels.
func (s *Screener) Exposures(ctx context.Context, st ChainData, l *List, c chains.Chain, a chains.Address, hops int) ([]Exposure, error) {
	labeler := s.Labeler(ctx, l)(c)
	var es []tracer.Exposure
	var err error
	native, decimals, format := "BTC", 8, func(a chains.Address) string { return string(a) }
	switch c {
	case chains.Bitcoin:
		hist, err := st.AddressHistory(ctx, c, a, 0)
		if err != nil {
			return nil, err
		}
		var seeds []chains.Outpoint
		for _, h := range hist {
			seeds = append(seeds, chains.Outpoint{Hash: h.TxHash, Index: h.Vout})
		}
		es, err = tracer.UTXOExposures(ctx, st, c, seeds, hops, labeler)
		if err != nil {
			return nil, err
		}
	case chains.Ethereum, chains.Tron:
		es, err = tracer.AccountExposures(ctx, st, c, a, hops, labeler)
		if err != nil {
			return nil, err
		}
		native, decimals, format = "ETH", 18, ethereum.FormatAddress
		if c == chains.Tron {
			native, decimals, format = "TRX", 6, tron.FormatAsset
		}
	default:
		return nil, fmt.Errorf("exposure on %s is not supported", c)
	}
	out := []Exposure{}
	for _, e := range es {
		x := Exposure{Category: e.Category, Name: e.Name, Asset: native, Decimals: decimals, Sent: e.Sent.String(), Received: e.Received.String(), MinHops: e.MinHops}
		if c == chains.Bitcoin {
			x.SentSats, x.ReceivedSats = e.Sent.Int64(), e.Received.Int64()
		}
		if e.Asset != "" {
			x.Asset, x.Decimals = format(e.Asset), 0
			if t, err := st.Token(ctx, c, e.Asset); err == nil {
				if t.HasSymbol {
					x.Asset = t.Symbol
				}
				x.Decimals = int(t.Decimals)
			}
		}
		out = append(out, x)
	}
	return out, nil
}
