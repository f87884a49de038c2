package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Tables, and the ORDER BY key each is read by. Hashes and txids are
// FixedString(32) in display byte order, addresses the compact binary
// form of chains.Address (a kind byte and a hash), so a lookup compares
// bytes, never text. The point-lookup tables use a small index
// granularity: the tracer asks for a thousand random outpoints at a time,
// and ClickHouse reads one granule per key, so 8,192-row granules would
// read eight million rows to answer it.
//
//	blocks           (chain, height)                   block headers and txids
//	block_hashes     (chain, hash)                     hash → height
//	tx_records       (chain, height, position)         each transaction whole (txcodec's form), in chain order; migration 9
//	txid_places      (chain, txidKeyExpr)              txid → (height, position); migration 9
//	spenders         (key of entry)                     outpoint → spender (the tracer's hop); migration 2
//	address_history  (chain, address, height, ...)     address → payments received
//	meta             (chain, seq)                      the chain's tip and counters; a batch's commit marker
//	schema_migrations (version)                        applied migrations
//
// Portable to ClickHouse 18.16 through 25.x: no UInt256, Map, DateTime64,
// LowCardinality or CTEs; plain MergeTree (ReplicatedMergeTree for
// replicas is documented in the README).

// migration is one versioned schema change. Statements use {db}, {on}
// (" ON CLUSTER name" or ""), {engine:KEY} (a MergeTree engine clause
// ordered by KEY) and {table:NAME} placeholders, expanded per topology.
type migration struct {
	version int
	tables  []tableDef
	// then runs after the tables exist: data moves between layouts.
	// It must be safe to run again after an interruption.
	then func(ctx context.Context, s *Store) error
}

type tableDef struct {
	name        string
	columns     string
	orderBy     string
	shardKey    string // Distributed sharding expression
	granularity int
}

// migrations are applied in order; never edit a released one, add a new one.
var migrations = []migration{
	{version: 1, tables: []tableDef{
		{name: "blocks", columns: `chain String, height UInt64, hash FixedString(32), prev_hash FixedString(32),
			merkle_root FixedString(32), time UInt64, bits UInt32, size UInt32, txids Array(FixedString(32))`,
			orderBy: "chain, height", shardKey: "height", granularity: 1024},
		{name: "block_hashes", columns: `chain String, hash FixedString(32), height UInt64`,
			orderBy: "chain, hash", shardKey: "cityHash64(hash)", granularity: 256},
		{name: "txs", columns: `chain String, txid FixedString(32), height UInt64, position UInt32, time UInt64,
			version Int32, lock_time UInt32, size UInt32, vsize UInt32, coinbase UInt8, output_count UInt32,
			in_sequence Array(UInt32), in_prev_txid Array(FixedString(32)), in_prev_vout Array(UInt32),
			in_value Array(Int64), in_type Array(UInt8), in_addresses Array(Array(String))`,
			orderBy: "chain, txid", shardKey: "cityHash64(txid)", granularity: 256},
		{name: "outputs", columns: `chain String, txid FixedString(32), vout UInt32, height UInt64,
			value Int64, type UInt8, addresses Array(String)`,
			orderBy: "chain, txid, vout", shardKey: "cityHash64(txid)", granularity: 256},
		{name: "spends", columns: `chain String, prev_txid FixedString(32), prev_vout UInt32,
			txid FixedString(32), vin UInt32, height UInt64`,
			orderBy: "chain, prev_txid, prev_vout", shardKey: "cityHash64(prev_txid)", granularity: 256},
		{name: "address_history", columns: `chain String, address String, height UInt64, position UInt32,
			vout UInt32, txid FixedString(32), value Int64, type UInt8`,
			orderBy: "chain, address, height, position, vout", shardKey: "cityHash64(address)", granularity: 1024},
		{name: "meta", columns: `chain String, seq UInt64, tip_height Int64, json String`,
			orderBy: "chain, seq", shardKey: "cityHash64(chain)", granularity: 8192},
	}},
	// Migration 2 replaces spends with spenders, whose one packed column
	// makes the tracer's hop query read one column instead of six: on
	// ClickHouse each column costs a seek and a decompressed block per
	// granule read, and a hop reads a granule per outpoint.
	{version: 2, tables: []tableDef{
		{name: "spenders", columns: `chain String, height UInt64, entry FixedString(81)`,
			orderBy: spenderKeyExpr, shardKey: "cityHash64(substring(entry, 1, 33))", granularity: 64},
	}, then: moveSpends},
	// Migration 3: account chains (Ethereum). Amounts are exact decimal
	// strings: wei and token units overflow every integer type that
	// ClickHouse 18 has, and UInt256 is not portable.
	{version: 3, tables: []tableDef{
		{name: "eth_txs", columns: `chain String, txid FixedString(32), height UInt64, position UInt32, time UInt64,
			type UInt8, nonce UInt64, from_address String, to_address String, value String, gas UInt64, gas_used UInt64,
			gas_price String, fee String, success UInt8, created String, selector String`,
			orderBy: "chain, txid", shardKey: "cityHash64(txid)", granularity: 256},
		{name: "transfers", columns: transferColumns,
			orderBy: "chain, height, tx_index, seq", shardKey: "height", granularity: 1024},
		{name: "transfer_history", columns: "address String, " + transferColumns,
			orderBy: "chain, address, height, tx_index, seq", shardKey: "cityHash64(address)", granularity: 1024},
		{name: "tokens", columns: `chain String, address String, symbol String, name String, decimals UInt8, flags UInt8`,
			orderBy: "chain, address", shardKey: "cityHash64(address)", granularity: 256},
	}},
	// Migration 4: clusters. Every save is a numbered run; rows are only
	// appended, and a run counts once its cluster_runs row is in (written
	// last). A recomputation starts a new base run: rows of older runs are
	// ignored.
	{version: 4, tables: []tableDef{
		{name: "cluster_rows", columns: `chain String, run UInt64, address String, idx UInt32, cluster UInt32`,
			orderBy: "chain, address, run", shardKey: "cityHash64(address)", granularity: 256},
		{name: "cluster_sizes", columns: `chain String, run UInt64, cluster UInt32, size UInt32`,
			orderBy: "chain, cluster, run", shardKey: "cluster", granularity: 256},
		{name: "cluster_links", columns: `chain String, run UInt64, address String, other String, heuristic String, txid FixedString(32)`,
			orderBy: "chain, address, run", shardKey: "cityHash64(address)", granularity: 256},
		{name: "cluster_runs", columns: `chain String, run UInt64, base UInt64, json String`,
			orderBy: "chain, run", shardKey: "cityHash64(chain)", granularity: 8192},
	}},
	// Migration 5: sanctions snapshots and labels. A snapshot counts once
	// its sanctions_snapshots row (written last) is in; a label is the
	// newest version of its key.
	{version: 5, tables: []tableDef{
		{name: "sanctions_snapshots", columns: `id UInt64, json String`,
			orderBy: "id", shardKey: "id", granularity: 8192},
		{name: "sanctioned", columns: `snapshot UInt64, chain String, address String, json String`,
			orderBy: "chain, address, snapshot", shardKey: "cityHash64(address)", granularity: 256},
		{name: "labels", columns: `chain String, address String, key String, version UInt64, json String`,
			orderBy: "chain, address, key, version", shardKey: "cityHash64(address)", granularity: 256},
	}},
	// Migration 6: transactions by height. Migration 1's txs table was
	// ordered by txid, so reading a block's transactions, or a range of
	// blocks (clustering's pass, a rollback's count), read the whole
	// table. block_txs holds each transaction whole, inputs and outputs,
	// in chain order; tx_locations finds one by txid. txs's rows move
	// into them and it goes; outputs stays, for outpoint lookups (until
	// migration 11).
	{version: 6, tables: []tableDef{
		{name: "block_txs", columns: blockTxColumns, orderBy: "chain, height, position", shardKey: "height", granularity: 256},
		{name: "tx_locations", columns: `chain String, txid FixedString(32), height UInt64, position UInt32`,
			orderBy: "chain, txid", shardKey: "cityHash64(txid)", granularity: 256},
	}, then: moveTxs},
	// Migration 7: each cluster's members, for a cluster's page
	// (ClusterMembers): cluster_rows finds an address's cluster, this its
	// cluster's addresses. Rows are appended run by run like
	// cluster_rows'; a read keeps an address only while its newest
	// assignment is still to the cluster. Clusters computed before have no
	// rows here and say so (ClusterMeta.Members): the next cluster run
	// recomputes them.
	{version: 7, tables: []tableDef{
		{name: "cluster_members", columns: `chain String, run UInt64, cluster UInt32, address String`,
			orderBy: "chain, cluster, address, run", shardKey: "cityHash64(address)", granularity: 256},
	}},
	// Migration 8: the workbench's records (cases, notes): a document by
	// kind and id; a write appends a version, and the newest counts.
	{version: 8, tables: []tableDef{
		{name: "records", columns: `kind String, id String, version UInt64, body String`,
			orderBy: "kind, id, version", shardKey: "cityHash64(id)", granularity: 256},
	}},
	// Migration 9: each transaction as one column. block_txs kept a
	// transaction's fields and its inputs' and outputs' arrays in 19
	// columns, and a lookup of one transaction cost a seek and a
	// decompression in each: 0.21 ms a transaction (489 looked up at
	// once, 0.96 M-transaction chain, ClickHouse 18.16), 0.10 ms with
	// the same rows as one string. tx_records keeps the key columns, the
	// txid and the transaction in the form the embedded store keeps it
	// (internal/txcodec). block_txs's rows move into it and it goes.
	//
	// txid_places replaces tx_locations, where a lookup read a 256-row
	// granule of every part for each txid (10.8 M rows for the 8,800
	// transactions a trace of the 2.6 M-transaction chain looks up, six
	// parts): it is ordered by an integer made of the txid's first
	// bytes, as spenders is, in granules of 64 rows, so that a key costs
	// a quarter of the rows and its primary index 16 bytes a granule,
	// not 40 (300 MB for a billion transactions).
	{version: 9, tables: []tableDef{
		{name: "tx_records", columns: `chain String, height UInt64, position UInt32, txid FixedString(32), record String`,
			orderBy: "chain, height, position", shardKey: "height", granularity: 256},
		{name: "txid_places", columns: `chain String, txid FixedString(32), height UInt64, position UInt32`,
			orderBy: "chain, " + txidKeyExpr, shardKey: "cityHash64(txid)", granularity: 64},
	}, then: moveTxRecords},
	// Migration 10: what a clustering run needs to go on from where it
	// stopped (the deposit heuristic's balances and pairs), in parts of
	// at most a few hundred kilobytes, under the run's number. The
	// deposit heuristic kept it in the run's cluster_runs row, one JSON
	// document that grew with the chain (24 MB for 86 k accounts); a run
	// that finds its state there recomputes, and writes it here.
	{version: 10, tables: []tableDef{
		{name: "cluster_state", columns: `chain String, run UInt64, part UInt32, data String`,
			orderBy: "chain, run, part", shardKey: "part", granularity: 256},
	}},
	// Migration 11 drops outputs: every output is in its transaction's
	// record (tx_records), where LookupOutputs now finds it. The table
	// was a quarter of what an index wrote (370 of 1,450 MB on the 1 M
	// chain) and a quarter of the server's time writing and merging
	// parts, for lookups that only an index resumed over an earlier
	// run's outputs makes.
	{version: 11, then: dropOutputs},
	// Migration 12 drops address_history's txid: a history row names its
	// transaction by height and position, whose txid is in tx_records
	// (AddressHistory reads it there). The column was 89 of the 213 MB
	// of the table's parts an index of the 1 M chain wrote (random bytes,
	// which do not compress), and the table the largest part of the
	// index's server time (9.3 s of parts written and 2.9 s merged, of
	// about 24 s).
	{version: 12, then: dropHistoryTxid},
}

// dropHistoryTxid drops address_history's txid column: on a cluster from
// every shard's table and from the Distributed table over them. A
// column already gone is left alone, so an interrupted run may run it
// again.
func dropHistoryTxid(ctx context.Context, s *Store) error {
	for _, table := range []string{s.topo.local("address_history"), "address_history"} {
		var n uint64
		q := "SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = 'txid'"
		if err := s.conn.QueryRow(ctx, q, s.topo.db, table).Scan(&n); err != nil {
			return fmt.Errorf("drop address_history's txid: %w", err)
		}
		if n > 0 {
			stmt := fmt.Sprintf("ALTER TABLE %s.%s%s DROP COLUMN txid", quoteIdent(s.topo.db), quoteIdent(table), s.topo.on())
			if err := s.ddl(ctx, stmt); err != nil {
				return fmt.Errorf("drop address_history's txid: %w", err)
			}
		}
		if s.topo.cluster == "" {
			break // one table
		}
	}
	return nil
}

// dropOutputs drops migration 1's outputs table (and its shards' tables
// under a cluster). Dropping a table that is gone is a no-op, so an
// interrupted run may run it again.
func dropOutputs(ctx context.Context, s *Store) error {
	for _, q := range s.dropStmts("outputs") {
		if err := s.ddl(ctx, q); err != nil {
			return fmt.Errorf("drop outputs: %w", err)
		}
	}
	return nil
}

// blockTxColumns are block_txs's columns: a transaction's fields, its
// inputs as arrays (with what each spends) and its outputs as arrays in
// output order. An input's or output's addresses are one string (see
// packAddrs), not an Array(Array(String)): ClickHouse 18 reads a granule
// of nested string arrays more than ten times slower than one of strings,
// and a trace reads a granule a transaction.
const blockTxColumns = `chain String, height UInt64, position UInt32, txid FixedString(32), time UInt64,
	version Int32, lock_time UInt32, size UInt32, vsize UInt32, coinbase UInt8,
	in_sequence Array(UInt32), in_prev_txid Array(FixedString(32)), in_prev_vout Array(UInt32),
	in_value Array(Int64), in_type Array(UInt8), in_addresses Array(String),
	out_value Array(Int64), out_type Array(UInt8), out_addresses Array(String)`

// transferColumns are the columns of a transfer: seq is its index among
// the block's transfers, which orders them.
const transferColumns = `chain String, height UInt64, tx_index UInt32, seq UInt32, time UInt64, txid FixedString(32),
	position String, kind UInt8, asset String, from_address String, to_address String, amount String, token_id String, success UInt8`

// txidKeyExpr is txid_places's sorting key after the chain: the txid's
// first eight bytes as an integer (see spenderKeyExpr).
const txidKeyExpr = "reinterpretAsUInt64(substring(txid, 1, 8))"

// spenderKeyExpr is the spenders table's sorting key: the entry's first
// eight bytes (the chain byte and seven of the spent txid) as an integer.
// The lookup asks for these integers, which ClickHouse compares far faster
// than 32-byte strings, and reads only the entry column.
const spenderKeyExpr = "reinterpretAsUInt64(substring(entry, 1, 8))"

// packSpendSQL builds a spenders entry (see spenderEntry) from the
// columns of migration 1's spends table.
const packSpendSQL = `toFixedString(concat(multiIf(chain = 'btc', 'B', chain = 'eth', 'E', '?'), prev_txid,
	toFixedString(reinterpretAsString(prev_vout), 4), txid, toFixedString(reinterpretAsString(vin), 4),
	toFixedString(reinterpretAsString(height), 8)), 81)`

// moveSpends copies the rows of migration 1's spends table into spenders
// and drops it. Run again after an interruption it starts the copy over.
func moveSpends(ctx context.Context, s *Store) error {
	var n uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = ?", s.topo.db, s.topo.local("spends")).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	db := quoteIdent(s.topo.db)
	stmts := []string{
		fmt.Sprintf("TRUNCATE TABLE %s.%s%s", db, quoteIdent(s.topo.local("spenders")), s.topo.on()),
		fmt.Sprintf("INSERT INTO %s.spenders (chain, height, entry) SELECT chain, height, %s FROM %s.spends", db, packSpendSQL, db),
	}
	for _, t := range []string{"spends", "spends_local"} {
		if t == "spends_local" && s.topo.cluster == "" {
			continue
		}
		stmts = append(stmts, fmt.Sprintf("DROP TABLE IF EXISTS %s.%s%s", db, quoteIdent(t), s.topo.on()))
	}
	for _, q := range stmts {
		if err := s.ddl(ctx, q); err != nil {
			return fmt.Errorf("move spends to spenders: %w", err)
		}
	}
	return nil
}

// schemaVersion is the newest schema this binary knows.
var schemaVersion = migrations[len(migrations)-1].version

// dataTables are the tables whose rows carry a height, and so are rolled
// back above the committed tip after an interrupted write.
var dataTables = []string{"blocks", "block_hashes", "tx_records", "txid_places", "spenders", "address_history", "eth_txs", "transfers", "transfer_history"}

// retiredDataTables are tables of earlier migrations that data tables
// replaced: created (partitioned by height, as they were) only to be
// moved out of when a database older than their replacement is opened.
var retiredDataTables = []string{"spends", "block_txs", "tx_locations", "outputs"}

// topology says where tables live: one server, or a cluster of shards.
type topology struct {
	db      string
	cluster string // "" for a single server
}

func (t topology) on() string {
	if t.cluster == "" {
		return ""
	}
	return " ON CLUSTER " + quoteIdent(t.cluster)
}

// local is the name of the table that holds rows on each server: the
// table itself on one server, NAME_local under a cluster.
func (t topology) local(name string) string {
	if t.cluster == "" {
		return name
	}
	return name + "_local"
}

// ddl returns the statements that create a table: on a cluster, a
// MergeTree table on every shard plus a Distributed table over them.
func (t topology) ddl(d tableDef) []string {
	partition := ""
	if slices.Contains(dataTables, d.name) || slices.Contains(retiredDataTables, d.name) {
		// The partition key's minmax index lets "height > tip" skip every
		// part below the tip: finding and deleting the rows of an
		// interrupted write touches only the newest parts.
		partition = " PARTITION BY intDiv(height, 1000000)"
	}
	engine := fmt.Sprintf("ENGINE = MergeTree%s ORDER BY (%s) SETTINGS index_granularity = %d", partition, d.orderBy, d.granularity)
	cols := strings.Join(strings.Fields(d.columns), " ")
	stmts := []string{fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s%s (%s) %s", quoteIdent(t.db), quoteIdent(t.local(d.name)), t.on(), cols, engine)}
	if t.cluster != "" {
		stmts = append(stmts, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s%s AS %s.%s ENGINE = Distributed(%s, %s, %s, %s)",
			quoteIdent(t.db), quoteIdent(d.name), t.on(), quoteIdent(t.db), quoteIdent(t.local(d.name)),
			quoteIdent(t.cluster), quoteIdent(t.db), quoteIdent(t.local(d.name)), d.shardKey))
	}
	return stmts
}

func quoteIdent(s string) string {
	return "`" + strings.ReplaceAll(s, "`", "\\`") + "`"
}
