package clickhouse

import (
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
//	txs              (chain, txid)                     tx header fields and its inputs (nested arrays)
//	outputs          (chain, txid, vout)               tx → outputs; outpoint → output (input resolution)
//	spends           (chain, prev_txid, prev_vout)     outpoint → spender (the tracer's hop)
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
}

// schemaVersion is the newest schema this binary knows.
var schemaVersion = migrations[len(migrations)-1].version

// dataTables are the tables whose rows carry a height, and so are rolled
// back above the committed tip after an interrupted write.
var dataTables = []string{"blocks", "block_hashes", "txs", "outputs", "spends", "address_history"}

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
	if slices.Contains(dataTables, d.name) {
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
