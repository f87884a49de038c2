package store

import (
	"context"

	"github.com/fundtrace/fundtrace/chains"
)

// The store's contract, declared once, by role. Both stores
// (store/embedded and store/clickhouse) implement Store, and each says so
// at compile time (var _ store.Store = (*Store)(nil)), so that a method
// one of them lacks or spells differently fails the build rather than a
// command at run time. Consumers name the roles they read (the tracer a
// UTXOReader, screening a SanctionsStore and a LabelStore); what only one
// store offers (ClickHouse's batch lookups, the embedded store's address
// index) is asked for by type assertion where it is used, as an
// optimisation with a fallback.

// ChainReader reads where each chain stands and its blocks.
type ChainReader interface {
	Meta(ctx context.Context, c chains.Chain) (Meta, error)
	BlockByHeight(ctx context.Context, c chains.Chain, h int64) (chains.Block, []chains.Hash, error)
	BlockByHash(ctx context.Context, c chains.Chain, h chains.Hash) (chains.Block, []chains.Hash, error)
}

// UTXOReader reads a UTXO chain (Bitcoin): transactions, the spenders
// of outputs, addresses' histories, and the passes in chain order that
// clustering makes.
type UTXOReader interface {
	Tx(ctx context.Context, c chains.Chain, h chains.Hash) (*chains.Tx, error)
	Txs(ctx context.Context, c chains.Chain, hs []chains.Hash) ([]*chains.Tx, error)
	Spenders(ctx context.Context, c chains.Chain, ops []chains.Outpoint) ([]Spend, []bool, error)
	LookupOutputs(ctx context.Context, c chains.Chain, ops []chains.Outpoint) ([]*chains.Output, error)
	AddressHistory(ctx context.Context, c chains.Chain, a chains.Address, limit int) ([]HistoryEntry, error)
	FirstSeen(ctx context.Context, c chains.Chain, a chains.Address) (int64, error)
	EachTx(ctx context.Context, c chains.Chain, from, to int64, fn func(tx *chains.Tx) error) error
	EachAddress(ctx context.Context, c chains.Chain, fn func(a chains.Address, first FirstPaid) error) error
}

// AccountReader reads an account chain (Ethereum): transactions with
// their transfers, addresses' transfers, a block's transfers outside
// transactions, tokens.
type AccountReader interface {
	AccountTx(ctx context.Context, c chains.Chain, h chains.Hash) (*chains.AccountTx, []chains.Transfer, error)
	// AccountTxs reads many transactions at once, nil for one not held.
	AccountTxs(ctx context.Context, c chains.Chain, hs []chains.Hash) ([]*chains.AccountTx, [][]chains.Transfer, error)
	Transfers(ctx context.Context, c chains.Chain, a chains.Address, limit int) ([]chains.Transfer, error)
	// TransfersOf reads the transfers of many addresses at once, each
	// address's between heights from and to (to < 0: the tip), oldest
	// first; with limit > 0, an address with more than limit transfers
	// there gets none and true in over, so that a caller that stops at
	// such an address never holds its millions of transfers.
	TransfersOf(ctx context.Context, c chains.Chain, addrs []chains.Address, from, to int64, limit int) (hist [][]chains.Transfer, over []bool, err error)
	BlockTransfers(ctx context.Context, c chains.Chain, h int64) ([]chains.Transfer, error)
	Token(ctx context.Context, c chains.Chain, a chains.Address) (chains.Token, error)
}

// Writer is what indexing writes: blocks, atomically a batch at a time,
// a rollback to a height, and where the blocks came from.
type Writer interface {
	WriteBlocks(ctx context.Context, c chains.Chain, network string, blocks []BlockData, o WriteOptions) error
	Rollback(ctx context.Context, c chains.Chain, to int64) error
	SetSourceStats(ctx context.Context, c chains.Chain, network string, stale, unconnected int64) error
}

// ClusterStore keeps clusters: each address's cluster, the links that
// made them, and what a run needs to go on from where it stopped.
type ClusterStore interface {
	ClusterOf(ctx context.Context, c chains.Chain, a chains.Address) (id, size uint32, err error)
	ClusterMeta(ctx context.Context, c chains.Chain) (ClusterMeta, bool, error)
	ClusterLinks(ctx context.Context, c chains.Chain, a chains.Address) ([]ClusterLink, error)
	EachAssignment(ctx context.Context, c chains.Chain, fn func(a chains.Address, index, cluster uint32) error) error
	LoadClusters(ctx context.Context, c chains.Chain, fn func(r ClusterRow) error) error
	NewClusterWriter(ctx context.Context, c chains.Chain, reset bool) (ClusterWriter, error)
	// ClusterState calls fn with each part of the state the last
	// committed run kept (ClusterWriter.State), in order; none when it
	// kept none. fn must not keep part.
	ClusterState(ctx context.Context, c chains.Chain, fn func(part []byte) error) error
	// ClusterMembers returns up to limit addresses of cluster id, in the
	// store's order, from after the cursor after ("" the first page), and
	// the cursor of the next page ("" when there is none). Clusters
	// written before the store kept members by cluster give
	// ErrNoMembers.
	ClusterMembers(ctx context.Context, c chains.Chain, id uint32, after string, limit int) ([]chains.Address, string, error)
}

// LabelStore keeps labels with their provenance.
type LabelStore interface {
	AddLabels(ctx context.Context, ls []Label) error
	Labels(ctx context.Context, c chains.Chain, a chains.Address) ([]Label, error)
	EachLabel(ctx context.Context, fn func(Label) error) error
}

// SanctionsStore keeps sanctions lists as dated snapshots.
type SanctionsStore interface {
	AddSnapshot(ctx context.Context, sn SanctionsSnapshot, addrs []SanctionedAddress) (SanctionsSnapshot, error)
	CurrentSnapshot(ctx context.Context) (int64, error)
	Snapshots(ctx context.Context) ([]SanctionsSnapshot, error)
	SnapshotAddresses(ctx context.Context, id int64) ([]SanctionedAddress, error)
	Sanctioned(ctx context.Context, id int64, c chains.Chain, a chains.Address) (SanctionedAddress, bool, error)
}

// RecordStore keeps the workbench's records (cases, notes): small JSON
// documents by kind and id. A write replaces the record of that kind and
// id whole.
type RecordStore interface {
	PutRecord(ctx context.Context, kind, id string, body []byte) error
	// Record returns the record, or ErrNotFound.
	Record(ctx context.Context, kind, id string) ([]byte, error)
	// EachRecord calls fn for every record of kind, in id order.
	EachRecord(ctx context.Context, kind string, fn func(id string, body []byte) error) error
}

// Store is a whole store: every role, and the store itself.
type Store interface {
	ChainReader
	UTXOReader
	AccountReader
	Writer
	ClusterStore
	LabelStore
	SanctionsStore
	RecordStore
	// SchemaVersion is the version of the store's layout.
	SchemaVersion(ctx context.Context) (int, error)
	// Path names the store (a folder, or clickhouse://host/database).
	Path() string
	Close() error
}
