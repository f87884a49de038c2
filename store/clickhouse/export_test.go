package clickhouse

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// InsertRowsUncommitted inserts the blocks' data rows without the meta
// row that commits them: what a write interrupted between the two leaves.
func (s *Store) InsertRowsUncommitted(ctx context.Context, c chains.Chain, blocks []store.BlockData) error {
	return s.insertRows(ctx, c, blocks)
}

// InsertBare inserts the blocks' rows table by table with nothing of the
// writer around it: no meta row, no rollback check, no address count, no
// parallelism. The benchmark's baseline.
func (s *Store) InsertBare(ctx context.Context, c chains.Chain, blocks []store.BlockData) (rows int, err error) {
	for _, tr := range rowsOf(c, blocks) {
		if count := tr.columns; count != nil {
			tr.columns = func(emit func(cols ...any) error) error {
				return count(func(cols ...any) error { rows += reflect.ValueOf(cols[0]).Len(); return emit(cols...) })
			}
		} else {
			count := tr.fill
			tr.fill = func(add func(v ...any) error) error {
				return count(func(v ...any) error { rows++; return add(v...) })
			}
		}
		if err := s.insertBatch(ctx, tr); err != nil {
			return rows, err
		}
	}
	return rows, nil
}

// Event reads one of the server's counters (system.events); 0 if it
// has not happened since the server started.
func (s *Store) Event(ctx context.Context, name string) (uint64, error) {
	var n uint64
	err := s.conn.QueryRow(ctx, "SELECT sum(value) FROM system.events WHERE event = ?", name).Scan(&n)
	return n, err
}

// Exec runs a statement on the store's connection.
func (s *Store) Exec(ctx context.Context, stmt string) error { return s.conn.Exec(ctx, stmt) }

// SetTip commits a bare meta row saying the chain's tip is h.
func (s *Store) SetTip(ctx context.Context, c chains.Chain, h int64) error {
	m := store.EmptyMeta(c)
	m.TipHeight = h
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.meta, c)
	return s.writeMeta(ctx, m)
}

// PackSpendSQL is the expression that builds a spenders entry from the
// columns of migration 1's spends table.
const PackSpendSQL = packSpendSQL

// ReadSpendsTable runs migration 1's spender lookup (the outpoints' txids
// as an external table) on table, which has migration 1's spends layout.
func (s *Store) ReadSpendsTable(ctx context.Context, table string, ops []chains.Outpoint) error {
	tbl, err := hashTable("lookup_txids", uniqueHashes(ops))
	if err != nil {
		return err
	}
	rows, err := s.conn.Query(ch.Context(ctx, ch.WithExternalTable(tbl)), "SELECT prev_txid, prev_vout, txid, vin, height FROM "+s.table(table)+
		" WHERE chain = 'btc' AND prev_txid IN lookup_txids")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
	}
	return rows.Err()
}

// OpenAtSchema opens the store as a fundtrace that knows only the
// migrations up to version v would.
func OpenAtSchema(ctx context.Context, uri string, v int) (*Store, error) {
	openSchema = v
	defer func() { openSchema = 0 }()
	return Open(ctx, uri, Options{})
}

// OptimizeToOnePart merges table into a single part, as a table at rest
// ends up: OPTIMIZE FINAL silently does nothing while a background merge
// holds the parts, so it is repeated until one part is left.
func (s *Store) OptimizeToOnePart(ctx context.Context, table string) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		if err := s.conn.Exec(ctx, "OPTIMIZE TABLE "+s.table(table)+" FINAL"); err != nil {
			return err
		}
		var n uint64
		if err := s.conn.QueryRow(ctx, "SELECT count() FROM system.parts WHERE database = ? AND table = ? AND active", s.topo.db, table).Scan(&n); err != nil {
			return err
		}
		if n <= 1 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still has %d parts", table, n)
		}
		time.Sleep(time.Second)
	}
}

// outputsRows are the rows of the outputs table that schemas 1 to 10
// kept (an outpoint's output, by txid) and migration 11 dropped: what a
// database an older fundtrace left holds, for the migrations' tests.
func outputsRows(c chains.Chain, blocks []store.BlockData) tableRows {
	chain := string(c)
	return tableRows{table: "outputs", cols: "chain, txid, vout, height, value, type, addresses", columns: func(emit func(...any) error) error {
		var txid []string
		var vout []uint32
		var height []uint64
		var value []int64
		var typ []uint8
		var addrs [][]string
		return eachChunk(blocks, func(tx *chains.Tx) int {
			for _, o := range tx.Outputs {
				txid, vout, height = append(txid, hs(tx.Hash)), append(vout, o.Index), append(height, uint64(tx.Height))
				value, typ, addrs = append(value, o.Value), append(typ, uint8(o.Type)), append(addrs, addrStrings(o.Addresses))
			}
			return len(txid)
		}, func() error {
			err := emit(repeat(chain, len(txid)), txid, vout, height, value, typ, addrs)
			txid, vout, height, value, typ, addrs = nil, nil, nil, nil, nil, nil
			return err
		})
	}}
}

// rowsV11 are the rows schemas up to 11 wrote: address_history with each
// row's txid, the txid of the transaction at the row's place.
func rowsV11(c chains.Chain, blocks []store.BlockData) []tableRows {
	txids := map[txPlace]string{}
	for i := range blocks {
		for _, tx := range blocks[i].Txs {
			txids[txPlace{uint64(tx.Height), tx.Position}] = hs(tx.Hash)
		}
	}
	rows := rowsOf(c, blocks)
	for i, r := range rows {
		if r.table != "address_history" {
			continue
		}
		rows[i].cols = "chain, address, height, position, vout, txid, value, type"
		rows[i].columns = func(emit func(...any) error) error {
			return r.columns(func(cols ...any) error {
				height, pos := cols[2].([]uint64), cols[3].([]uint32)
				txid := make([]string, len(height))
				for k := range txid {
					var ok bool
					if txid[k], ok = txids[txPlace{height[k], pos[k]}]; !ok {
						return fmt.Errorf("no transaction at height %d position %d", height[k], pos[k])
					}
				}
				return emit(cols[0], cols[1], cols[2], cols[3], cols[4], txid, cols[5], cols[6])
			})
		}
	}
	return rows
}

// WriteLayoutV11 makes the store's writer write UTXO blocks as schema 11
// did (address_history with each row's txid) until the returned function
// is called: a database an older fundtrace left, for migration 12's test.
func WriteLayoutV11() (restore func()) {
	old := utxoRows
	utxoRows = rowsV11
	return func() { utxoRows = old }
}

// WriteLayoutV10 makes the store's writer write UTXO blocks as schemas 9
// and 10 did (every output a second time, in outputs) until the returned
// function is called: a database an older fundtrace left, for migration
// 11's test.
func WriteLayoutV10() (restore func()) {
	oldRows, oldTables := utxoRows, dataTables
	utxoRows = func(c chains.Chain, blocks []store.BlockData) []tableRows {
		return append(rowsV11(c, blocks), outputsRows(c, blocks))
	}
	dataTables = append(slices.Clone(dataTables), "outputs")
	return func() { utxoRows, dataTables = oldRows, oldTables }
}

// WriteLayoutV8 makes the store's writer write UTXO blocks as schema 8
// did (transactions in block_txs, a column per field, and tx_locations)
// until the returned
// function is called: a database an older fundtrace left, for migration
// 9's test.
func WriteLayoutV8() (restore func()) {
	oldRows, oldTables := utxoRows, dataTables
	utxoRows = func(c chains.Chain, blocks []store.BlockData) []tableRows {
		chain := string(c)
		var out []tableRows
		for _, tr := range rowsV11(c, blocks) {
			switch tr.table {
			case "tx_records":
			case "txid_places":
				tr.table = "tx_locations" // the same columns
				out = append(out, tr)
			default:
				out = append(out, tr)
			}
		}
		out = append(out, outputsRows(c, blocks))
		return append(out, tableRows{table: "block_txs", cols: blockTxCols, fill: func(add func(...any) error) error {
			return eachTx(blocks, func(tx *chains.Tx) error {
				r, err := blockTxRow(chain, tx)
				if err != nil {
					return err
				}
				return add(r...)
			})
		}})
	}
	dataTables = slices.Clone(dataTables)
	dataTables[slices.Index(dataTables, "tx_records")] = "block_txs"
	dataTables[slices.Index(dataTables, "txid_places")] = "tx_locations"
	dataTables = append(dataTables, "outputs")
	return func() { utxoRows, dataTables = oldRows, oldTables }
}

// WriteLayoutV5 makes the store's writer write UTXO blocks as schema 5
// did (transactions in txs by txid, without tx_records and txid_places)
// until the returned function is called: a database an older fundtrace
// left, for the migration's test. The txs rows are built as that
// version's writer built them.
func WriteLayoutV5() (restore func()) {
	oldRows, oldTables := utxoRows, dataTables
	utxoRows = func(c chains.Chain, blocks []store.BlockData) []tableRows {
		chain := string(c)
		var out []tableRows
		for _, tr := range rowsV11(c, blocks) {
			if tr.table != "tx_records" && tr.table != "txid_places" {
				out = append(out, tr)
			}
		}
		out = append(out, outputsRows(c, blocks))
		return append(out, tableRows{table: "txs", cols: "chain, txid, height, position, time, version, lock_time, size, vsize, coinbase, output_count, in_sequence, in_prev_txid, in_prev_vout, in_value, in_type, in_addresses", fill: func(add func(...any) error) error {
			return eachTx(blocks, func(tx *chains.Tx) error {
				n := len(tx.Inputs)
				seq, prev, vout, val, typ, addrs := make([]uint32, n), make([]string, n), make([]uint32, n), make([]int64, n), make([]uint8, n), make([][]string, n)
				for j, in := range tx.Inputs {
					seq[j], prev[j], vout[j] = in.Sequence, hs(in.Prev.Hash), in.Prev.Index
					val[j], typ[j], addrs[j] = in.Prevout.Value, uint8(in.Prevout.Type), addrStrings(in.Prevout.Addresses)
				}
				var cb uint8
				if tx.Coinbase {
					cb = 1
				}
				return add(chain, hs(tx.Hash), uint64(tx.Height), tx.Position, uint64(tx.Time), tx.Version, tx.LockTime, tx.Size, tx.VSize, cb,
					uint32(len(tx.Outputs)), seq, prev, vout, val, typ, addrs)
			})
		}})
	}
	dataTables = []string{"blocks", "block_hashes", "txs", "outputs", "spenders", "address_history", "eth_txs", "transfers", "transfer_history"}
	return func() { utxoRows, dataTables = oldRows, oldTables }
}

// SetCountShare sets the share of the history a batch's count of its new
// addresses may read before it is left to the run's end: 0 leaves every
// count after the first write pending, a huge share counts every batch.
func (s *Store) SetCountShare(f float64) { s.countShare = f }

// uniqueHashes is each txid of ops once, in their order.
func uniqueHashes(ops []chains.Outpoint) []chains.Hash {
	seen := make(map[chains.Hash]struct{}, len(ops))
	var hs []chains.Hash
	for _, op := range ops {
		if _, ok := seen[op.Hash]; !ok {
			seen[op.Hash] = struct{}{}
			hs = append(hs, op.Hash)
		}
	}
	return hs
}

// QueryRowForTest scans the one row of q into dest.
func (s *Store) QueryRowForTest(ctx context.Context, q string, dest ...any) error {
	return s.conn.QueryRow(ctx, q).Scan(dest...)
}
