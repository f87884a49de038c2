// Package store defines what fundtrace keeps about a chain and how callers
// ask for it: the row types, the sentinel errors, and the per-chain
// metadata that makes ingest resumable. Implementations live in
// sub-packages: store/embedded (Pebble on local disk, the zero-setup
// default) and store/clickhouse (a ClickHouse server, for scale); one
// conformance suite (store/storetest) holds both to the same answers.
//
// Consumers declare the narrow interfaces they need where they use them
// (the bitcoin indexer its Sink, the tracer its reader); this package only
// fixes the vocabulary they share.
package store

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fundtrace/fundtrace/chains"
)

// ErrNotFound is returned when a block, transaction or address is not in
// the store.
var ErrNotFound = errors.New("store: not found")

// ErrBadCursor says a page's cursor is not one the store gave.
var ErrBadCursor = errors.New("store: bad cursor")

// ErrNoMembers says a chain's clusters were computed before the store
// kept each cluster's members: the next run of fundtrace cluster
// recomputes them, members and all.
var ErrNoMembers = errors.New("store: the clusters' members are not stored (computed by an older version): run fundtrace cluster again")

// ErrSchemaTooNew is returned when the store was written by a newer
// fundtrace whose schema this binary does not know; writing would corrupt it.
var ErrSchemaTooNew = errors.New("store: schema is newer than this binary")

// BlockData is one block ready to be written (chains.BlockData: the
// decoders make it without knowing of stores).
type BlockData = chains.BlockData

// WriteOptions tunes one write of blocks.
type WriteOptions struct {
	// Sync makes the write return only once it is on stable storage.
	// Without it a crash or a killed process may drop the newest writes
	// (whole writes, never part of one), which an index then repeats.
	Sync bool
}

// Meta is what the store knows about one chain as a whole. It is written
// in the same atomic batch as the blocks it describes, so after a crash it
// always matches the content: resuming starts at Tip+1.
type Meta struct {
	Chain   chains.Chain `json:"chain"`
	Network string       `json:"network"` // e.g. "mainnet", "regtest"
	// Tip is the highest block stored; TipHeight is -1 for an empty chain.
	TipHeight int64       `json:"tip_height"`
	TipHash   chains.Hash `json:"-"`
	TipHex    string      `json:"tip_hash"`
	Blocks    int64       `json:"blocks"`
	Txs       int64       `json:"transactions"`
	Inputs    int64       `json:"inputs"`
	Outputs   int64       `json:"outputs"`
	Addresses int64       `json:"addresses"` // distinct addresses ever paid
	// AddressesPending says Addresses counts only the addresses paid up
	// to an earlier height: the rest are counted at the end of the index
	// run (ClickHouse counts a bulk run's new addresses once, not once a
	// batch). An interrupted run leaves it set until the next run ends.
	AddressesPending bool  `json:"addresses_pending,omitempty"`
	Transfers        int64 `json:"transfers,omitempty"` // account chains: transfers of value, tokens included
	// StaleSkipped counts the blocks of the last index run's source that
	// were not on the best chain (stale forks) and so were not indexed.
	StaleSkipped int64 `json:"stale_blocks_skipped"`
	// Unconnected counts blocks of the last run's source whose ancestry
	// does not reach the genesis block.
	Unconnected int64 `json:"unconnected_blocks_skipped"`
}

// EmptyMeta returns the metadata of a chain with nothing stored.
func EmptyMeta(c chains.Chain) Meta {
	return Meta{Chain: c, TipHeight: -1}
}

// HistoryEntry is one line of an address's history: an output paying the
// address, and, when spent, the input that spent it.
type HistoryEntry struct {
	Address chains.Address
	Height  int64
	Time    int64
	TxHash  chains.Hash
	TxPos   uint32
	Vout    uint32
	Value   int64
	Type    chains.ScriptType
	// Spent is set when the output has been spent, by SpentBy.
	Spent   bool
	SpentBy Spend
}

// Spend names the input that spent an outpoint.
type Spend struct {
	Outpoint chains.Outpoint
	TxHash   chains.Hash
	Vin      uint32
	Height   int64
	// Position is the spending transaction's index in its block, where
	// the store says: 0 where it does not, which no spender's place can
	// be, since a block's first transaction (its coinbase) spends nothing.
	// With it, the transaction can be read by place, without its txid's.
	Position uint32
	Time     int64
}

// CorruptError reports a stored record that does not decode: a bug or disk
// damage, never bad user input, so it names the key.
type CorruptError struct {
	Key string
	Err error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("store: corrupt record %s: %v", e.Key, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// ClusterMeta says what the persisted clusters of a chain were computed
// with and how far: a later run with the same heuristics extends them
// from Height (if the block there still has Hash); any other run
// recomputes them.
type ClusterMeta struct {
	Heuristics []string         `json:"heuristics"`
	Height     int64            `json:"height"`
	Hash       chains.Hash      `json:"-"`
	HashHex    string           `json:"hash"`
	Addresses  int64            `json:"addresses"`
	Clusters   int64            `json:"clusters"`
	Links      map[string]int64 `json:"links"`
	// State is what a heuristic needs to go on from Height (the deposit
	// heuristic's balances and forwards), opaque to the store.
	State json.RawMessage `json:"state,omitempty"`
	// The super-cluster guard (Harrigan & Fretter 2016): GuardSize is
	// the cluster size above which a change-heuristic link between two
	// clusters is held back (Suspects) and a multi-input merge of two is
	// kept but flagged (Flagged); FlaggedClusters are the clusters such
	// a merge built. At most MaxSuspects of each are kept; Dropped counts
	// the rest.
	GuardSize       int64            `json:"guard_size,omitempty"`
	Suspects        []ClusterSuspect `json:"suspects,omitempty"`
	Flagged         []ClusterSuspect `json:"flagged_merges,omitempty"`
	FlaggedClusters []uint32         `json:"flagged_clusters,omitempty"`
	Dropped         int64            `json:"suspects_not_kept,omitempty"`
	// Snapshot names the run's state file, a cache an incremental run
	// reads instead of the assignments (package cluster); "" none.
	Snapshot string `json:"snapshot,omitempty"`
	// Members says the store keeps each cluster's members by cluster
	// (ClusterMembers): set by the store on every run since a full run
	// of a version that writes them.
	Members bool `json:"members,omitempty"`
}

// MaxSuspects bounds the held-back links and the flagged merges a
// ClusterMeta keeps, each.
const MaxSuspects = 10_000

// ClusterSuspect is a link between two large clusters: held back (a
// change heuristic's) or kept and flagged (multi-input), with the sizes
// of the two clusters it joins, or would have joined, at that moment.
type ClusterSuspect struct {
	A         []byte `json:"a"` // chains.Address bytes
	B         []byte `json:"b"`
	Heuristic string `json:"heuristic"`
	Tx        string `json:"tx"`
	Height    int64  `json:"height"`
	SizeA     uint32 `json:"size_a"`
	SizeB     uint32 `json:"size_b"`
}

// IsFlagged reports whether cluster id was built through a flagged merge.
func (m *ClusterMeta) IsFlagged(id uint32) bool {
	for _, f := range m.FlaggedClusters {
		if f == id {
			return true
		}
	}
	return false
}

// ClusterRow assigns an address (the Index-th seen) to a cluster, whose
// id is the smallest Index in it: stable as clusters grow.
type ClusterRow struct {
	Index   uint32
	Address chains.Address
	Cluster uint32
	Size    uint32 // the cluster's size (filled by reads)
	// Was, when Moved, is the cluster an earlier run assigned the
	// address to. A row an incremental run writes says where it moves
	// the address from; one without Moved assigns an address no earlier
	// run did. A store keeping each cluster's members moves the entry
	// with it, without reading the old assignment back.
	Was   uint32
	Moved bool
}

// ClusterLink is one piece of clustering evidence: the heuristic that
// linked two addresses and the transaction it read. A link a clustering
// run writes carries the addresses' indexes (IA, IB) and the
// transaction's place (Height, Position) too, which a store may keep
// instead of the addresses and the txid: a link is then a few bytes.
type ClusterLink struct {
	A, B      chains.Address
	Heuristic string
	Tx        chains.Hash

	IA, IB   uint32
	Height   int64
	Position uint32
}

// FirstPaid is where an address was first paid: the height, position in
// the block and output index of the output (the smallest such triple of
// its history).
type FirstPaid struct {
	Height   int64
	Position uint32
	Vout     uint32
}

// ClusterWriter writes one clustering run as a stream, so that a run
// keeps none of it in memory: links as they are found, then the new or
// changed assignments and the sizes of their clusters, then Commit.
// Until Commit the chain has no clusters for its readers (never stale
// or half-written ones), and a run that stops before it (Close without
// Commit, a crash) leaves the next run to recompute from scratch.
type ClusterWriter interface {
	Link(l ClusterLink) error
	Row(r ClusterRow) error
	Size(cluster, size uint32) error
	// State adds the next part of what the run needs to go on from where
	// it stops (the deposit heuristic's balances and pairs): opaque
	// bytes, kept with the run in place of the state of the run before,
	// and read back in order by ClusterState. The caller may reuse part.
	State(part []byte) error
	Commit(m ClusterMeta) error
	// Close releases the writer; after Commit it does nothing else.
	Close() error
}

// SanctionsSnapshot describes one imported sanctions list.
type SanctionsSnapshot struct {
	ID       int64  `json:"id"`
	Imported string `json:"imported"` // RFC 3339
	Date     string `json:"list_date"`
	// Sources are the base names of the files read; Files adds each
	// one's SHA-256. A list is named by these, never by where it was
	// read from (a server's temporary folder says nothing to a reader).
	Sources   []string   `json:"sources"`
	Files     []ListFile `json:"files,omitempty"`
	Entries   int        `json:"entries"`
	Addresses int        `json:"addresses"`
	// Unindexed counts the addresses of currencies whose chain fundtrace
	// does not index, by OFAC code: they are kept and answer direct hits,
	// but have no cluster or exposure. Invalid lists the listed strings
	// that are not addresses.
	Unindexed map[string]int `json:"unindexed"`
	Invalid   []string       `json:"invalid"`
	// Truncated counts the entries whose remarks OFAC cut short and that
	// were imported without their continuation (--allow-truncated).
	Truncated int `json:"truncated_entries,omitempty"`
}

// ListFile is one file a sanctions list was read from.
type ListFile struct {
	Name   string `json:"name"` // base name
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
}

// ListDay is the day a snapshot's list is dated: its list date, or for a
// snapshot imported without one (before dates were required), the day
// it was imported.
func (s *SanctionsSnapshot) ListDay() string {
	if s.Date != "" {
		return s.Date
	}
	if len(s.Imported) >= 10 {
		return s.Imported[:10]
	}
	return ""
}

// InForce returns the id of the snapshot in force on day (YYYY-MM-DD; ""
// for the latest): the one with the latest list date on or before it, of
// two with the same date the one imported last. Import order does not
// matter otherwise: importing an older list adds history and leaves the
// newer one in force. 0 when none.
func InForce(sns []SanctionsSnapshot, day string) int64 {
	var best *SanctionsSnapshot
	for i := range sns {
		sn := &sns[i]
		d := sn.ListDay()
		if day != "" && d > day {
			continue
		}
		if best == nil || d > best.ListDay() || d == best.ListDay() && sn.ID > best.ID {
			best = sn
		}
	}
	if best == nil {
		return 0
	}
	return best.ID
}

// SanctionedAddress is one listed address of a snapshot.
type SanctionedAddress struct {
	Chain    chains.Chain   `json:"chain"`
	Address  chains.Address `json:"-"`
	Text     string         `json:"address"`
	Code     string         `json:"currency"`
	Entity   string         `json:"entity"`
	Ref      string         `json:"ofac_ref"`
	Type     string         `json:"type,omitempty"`
	Programs []string       `json:"programs"`
	Listed   string         `json:"listed,omitempty"`
}

// Label attributes an address, with where the attribution came from
// (package labels reads and writes them).
type Label struct {
	Chain      chains.Chain   `json:"chain"`
	Address    chains.Address `json:"-"`
	Text       string         `json:"address"` // as written in the source
	Label      string         `json:"label"`
	Category   string         `json:"category"`
	Actor      string         `json:"actor,omitempty"` // who the address belongs to, when the source says (TagPack actor)
	Source     string         `json:"source"`
	SourceDate string         `json:"source_date,omitempty"`
	Imported   string         `json:"imported,omitempty"`
	Confidence int            `json:"confidence"` // 0..100
}
