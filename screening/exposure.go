package screening

import (
	"context"
	"fmt"
	"strconv"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/ethereum"
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

// bitcoinSource is what Bitcoin exposure reads.
type bitcoinSource interface {
	tracer.Source
	AddressHistory(ctx context.Context, c chains.Chain, a chains.Address, limit int) ([]store.HistoryEntry, error)
}

// accountSource is what account-chain exposure reads.
type accountSource interface {
	tracer.AccountSource
	Token(ctx context.Context, c chains.Chain, a chains.Address) (chains.Token, error)
}

// Exposures computes a's exposure within hops from the store st (which
// must keep the chain's transactions), attributing by l's labels.
func (s *Screener) Exposures(ctx context.Context, st any, l *List, c chains.Chain, a chains.Address, hops int) ([]Exposure, error) {
	labeler := s.Labeler(ctx, l)(c)
	out := []Exposure{}
	switch c {
	case chains.Bitcoin:
		src, ok := st.(bitcoinSource)
		if !ok {
			return nil, fmt.Errorf("the store does not keep Bitcoin transactions")
		}
		hist, err := src.AddressHistory(ctx, c, a, 0)
		if err != nil {
			return nil, err
		}
		var seeds []chains.Outpoint
		for _, h := range hist {
			seeds = append(seeds, chains.Outpoint{Hash: h.TxHash, Index: h.Vout})
		}
		es, err := tracer.Exposures(ctx, src, c, seeds, hops, labeler)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			out = append(out, Exposure{Category: e.Category, Name: e.Name, Asset: "BTC", Decimals: 8, Sent: strconv.FormatInt(e.Sent, 10),
				Received: strconv.FormatInt(e.Received, 10), SentSats: e.Sent, ReceivedSats: e.Received, MinHops: e.MinHops})
		}
	case chains.Ethereum:
		src, ok := st.(accountSource)
		if !ok {
			return nil, fmt.Errorf("the store does not keep Ethereum transfers")
		}
		es, err := tracer.AccountExposures(ctx, src, c, a, hops, labeler)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			x := Exposure{Category: e.Category, Name: e.Name, Asset: "ETH", Decimals: 18, Sent: e.Sent.String(), Received: e.Received.String(), MinHops: e.MinHops}
			if e.Asset != "" {
				x.Asset, x.Decimals = ethereum.FormatAddress(e.Asset), 0
				if t, err := src.Token(ctx, c, e.Asset); err == nil {
					if t.HasSymbol {
						x.Asset = t.Symbol
					}
					x.Decimals = int(t.Decimals)
				}
			}
			out = append(out, x)
		}
	default:
		return nil, fmt.Errorf("exposure on %s is not supported", c)
	}
	return out, nil
}
