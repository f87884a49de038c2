package investigate

import (
	"context"
	"fmt"
	"time"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/store"
)

// Store is what an investigation reads of any store (the roles are
// store's; store.Store has them all): where each chain stands, a UTXO
// chain's transactions, spenders and address histories. Account chains,
// labels and clusters are read when the store keeps them (AccountStore,
// store.LabelStore, cluster.Store; ClickHouse's batch lookups, BatchStore).
type Store interface {
	store.ChainReader
	store.UTXOReader
	Path() string
}

// AccountStore is a Store that keeps account chains (Ethereum).
type AccountStore interface {
	Store
	store.AccountReader
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
