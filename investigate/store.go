package investigate

import (
	"context"
	"fmt"
	"time"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/labels"
	"github.com/fundtrace/fundtrace/store"
)

// Store is what an investigation reads of any store: where each chain
// stands, a UTXO chain's transactions, spenders and address histories.
// Account chains, labels and clusters are read when the store keeps them
// (AccountStore, LabelStore, cluster.Store; ClickHouse's batch lookups).
type Store interface {
	Meta(ctx context.Context, c chains.Chain) (store.Meta, error)
	Txs(ctx context.Context, c chains.Chain, hs []chains.Hash) ([]*chains.Tx, error)
	Spenders(ctx context.Context, c chains.Chain, ops []chains.Outpoint) ([]store.Spend, []bool, error)
	AddressHistory(ctx context.Context, c chains.Chain, a chains.Address, limit int) ([]store.HistoryEntry, error)
	Path() string
}

// AccountStore is a store that keeps account chains (Ethereum).
type AccountStore interface {
	Store
	AccountTx(ctx context.Context, c chains.Chain, h chains.Hash) (*chains.AccountTx, []chains.Transfer, error)
	TransfersOf(ctx context.Context, c chains.Chain, addrs []chains.Address, from, to int64) ([][]chains.Transfer, error)
	Token(ctx context.Context, c chains.Chain, a chains.Address) (chains.Token, error)
}

// LabelStore is a store that keeps labels.
type LabelStore interface {
	Labels(ctx context.Context, c chains.Chain, a chains.Address) ([]labels.Label, error)
	EachLabel(ctx context.Context, fn func(labels.Label) error) error
}

// BitcoinNetwork is the Bitcoin network the store holds, or an error
// saying it holds no Bitcoin yet.
func BitcoinNetwork(ctx context.Context, st Store) (*bitcoin.Network, error) {
	m, err := st.Meta(ctx, chains.Bitcoin)
	if err != nil {
		return nil, err
	}
	if m.TipHeight < 0 {
		return nil, fmt.Errorf("the store %s holds no Bitcoin blocks yet: run fundtrace index btc first", st.Path())
	}
	n := bitcoin.NetworkByName(m.Network)
	if n == nil {
		return nil, fmt.Errorf("the store's bitcoin network %q is unknown to this build", m.Network)
	}
	return n, nil
}

// formatTime writes a Unix time as the trace file does: UTC, RFC 3339.
func formatTime(unix int64) string {
	return time.Unix(unix, 0).UTC().Format(time.RFC3339)
}
