package clickhouse

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/internal/txcodec"
	"github.com/fundtrace/fundtrace/store"
)

// blockTxCols lists block_txs's columns for an insert, in blockTxRow's order.
const blockTxCols = `chain, height, position, txid, time, version, lock_time, size, vsize, coinbase,
	in_sequence, in_prev_txid, in_prev_vout, in_value, in_type, in_addresses, out_value, out_type, out_addresses`

// blockTxRow is tx as a row of block_txs. Outputs are stored by their
// place in the array: a transaction whose outputs are not numbered
// 0..n-1 in order is refused rather than stored wrong.
func blockTxRow(chain string, tx *chains.Tx) ([]any, error) {
	n := len(tx.Inputs)
	seq, prev, vout, val, typ, addrs := make([]uint32, n), make([]string, n), make([]uint32, n), make([]int64, n), make([]uint8, n), make([]string, n)
	for j, in := range tx.Inputs {
		seq[j], prev[j], vout[j] = in.Sequence, hs(in.Prev.Hash), in.Prev.Index
		val[j], typ[j], addrs[j] = in.Prevout.Value, uint8(in.Prevout.Type), packAddrs(in.Prevout.Addresses)
	}
	m := len(tx.Outputs)
	oval, otyp, oaddrs := make([]int64, m), make([]uint8, m), make([]string, m)
	for j, o := range tx.Outputs {
		if o.Index != uint32(j) {
			return nil, fmt.Errorf("tx %s: output %d has index %d", tx.Hash, j, o.Index)
		}
		oval[j], otyp[j], oaddrs[j] = o.Value, uint8(o.Type), packAddrs(o.Addresses)
	}
	var cb uint8
	if tx.Coinbase {
		cb = 1
	}
	return []any{chain, uint64(tx.Height), tx.Position, hs(tx.Hash), uint64(tx.Time), tx.Version, tx.LockTime, tx.Size, tx.VSize, cb,
		seq, prev, vout, val, typ, addrs, oval, otyp, oaddrs}, nil
}

// packAddrs packs the addresses of an input or output into one string:
// none is "", one is the address itself (so that SQL can compare it), and
// more are multiPacked then each address after its length in a byte. No
// address starts with multiPacked: an address's first byte is its kind.
func packAddrs(as []chains.Address) string {
	switch len(as) {
	case 0:
		return ""
	case 1:
		return string(as[0])
	}
	b := []byte{multiPacked}
	for _, a := range as {
		b = append(b, byte(len(a)))
		b = append(b, a...)
	}
	return string(b)
}

const multiPacked = 0xff

// unpackAddrs reverses packAddrs.
func unpackAddrs(s string) ([]chains.Address, error) {
	switch {
	case s == "":
		return nil, nil
	case s[0] != multiPacked:
		return []chains.Address{chains.Address(s)}, nil
	}
	var out []chains.Address
	for i := 1; i < len(s); {
		n := int(s[i])
		if n == 0 || i+1+n > len(s) {
			return nil, fmt.Errorf("packed addresses: a length of %d at byte %d of %d", n, i, len(s))
		}
		out = append(out, chains.Address(s[i+1:i+1+n]))
		i += 1 + n
	}
	return out, nil
}

// moveTxs is migration 6's move: every transaction of migration 1's txs
// table (with its outputs) into block_txs, its location into
// tx_locations, then txs goes. It reads txs and outputs once each, both
// sorted by height on the server (spilling to disk past a gigabyte), and
// writes in batches. Run again after an interruption it starts over;
// txs is dropped only once every row is in.
func moveTxs(ctx context.Context, s *Store) error {
	var n uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = ?", s.topo.db, s.topo.local("txs")).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	db := quoteIdent(s.topo.db)
	for _, t := range []string{"block_txs", "tx_locations"} {
		if err := s.ddl(ctx, fmt.Sprintf("TRUNCATE TABLE %s.%s%s", db, quoteIdent(s.topo.local(t)), s.topo.on())); err != nil {
			return fmt.Errorf("move txs: %w", err)
		}
	}
	if err := s.conn.Exec(ctx, fmt.Sprintf("INSERT INTO %s (chain, txid, height, position) SELECT chain, txid, height, position FROM %s",
		s.table("tx_locations"), s.table("txs"))); err != nil {
		return fmt.Errorf("move txs: locations: %w", err)
	}
	rows, err := s.conn.Query(ctx, fmt.Sprintf("SELECT DISTINCT chain FROM %s", s.table("txs")))
	if err != nil {
		return fmt.Errorf("move txs: %w", err)
	}
	var cs []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return err
		}
		cs = append(cs, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	const batchTxs = 20_000
	for _, c := range cs {
		var pending [][]any
		send := func() error {
			if len(pending) == 0 {
				return nil
			}
			b, err := s.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s (%s)", s.table("block_txs"), blockTxCols))
			if err != nil {
				return err
			}
			defer b.Close()
			for _, r := range pending {
				if err := b.Append(r...); err != nil {
					return err
				}
			}
			pending = pending[:0]
			return b.Send()
		}
		moved := 0
		err := s.eachTxV5(ctx, chains.Chain(c), func(tx *chains.Tx) error {
			r, err := blockTxRow(c, tx)
			if err != nil {
				return err
			}
			if pending = append(pending, r); len(pending) == batchTxs {
				moved += batchTxs
				if moved%1_000_000 == 0 {
					s.log.Info("Migration 6: moving transactions", "chain", c, "moved", moved)
				}
				return send()
			}
			return nil
		})
		if err == nil {
			err = send()
		}
		if err != nil {
			return fmt.Errorf("move %s txs into block_txs: %w", c, err)
		}
	}
	for _, t := range []string{"txs", "txs_local"} {
		if t == "txs_local" && s.topo.cluster == "" {
			continue
		}
		if err := s.ddl(ctx, fmt.Sprintf("DROP TABLE IF EXISTS %s.%s%s", db, quoteIdent(t), s.topo.on())); err != nil {
			return fmt.Errorf("move txs: %w", err)
		}
	}
	return nil
}

// eachTxV5 calls fn for every transaction of chain c stored in migration
// 1's layout (txs by txid, outputs by outpoint), in chain order: both
// tables read once in (height, txid) order and merged here, each block's
// transactions put in their order in it. A row stored twice (a batch
// written again after an interruption) is read once.
func (s *Store) eachTxV5(ctx context.Context, c chains.Chain, fn func(tx *chains.Tx) error) error {
	qctx := ch.Context(ctx, ch.WithSettings(ch.Settings{"max_bytes_before_external_sort": 1 << 30}))
	txs, err := s.conn.Query(qctx, fmt.Sprintf(`SELECT txid, height, position, time, version, lock_time, size, vsize, coinbase, output_count,
		in_sequence, in_prev_txid, in_prev_vout, in_value, in_type, in_addresses FROM %s WHERE chain = ? ORDER BY height, txid`,
		s.table("txs")), string(c))
	if err != nil {
		return fmt.Errorf("%s txs: %w", c, err)
	}
	defer txs.Close()
	outs, err := s.conn.Query(qctx, fmt.Sprintf(`SELECT height, txid, vout, value, type, addresses FROM %s
		WHERE chain = ? ORDER BY height, txid, vout`, s.table("outputs")), string(c))
	if err != nil {
		return fmt.Errorf("%s outputs: %w", c, err)
	}
	defer outs.Close()
	// The next output row, read ahead.
	type outRow struct {
		height uint64
		txid   string
		out    chains.Output
	}
	var next *outRow
	readOut := func() error {
		next = nil
		if !outs.Next() {
			return outs.Err()
		}
		var r outRow
		var typ uint8
		var addrs []string
		if err := outs.Scan(&r.height, &r.txid, &r.out.Index, &r.out.Value, &typ, &addrs); err != nil {
			return fmt.Errorf("%s outputs: %w", c, err)
		}
		r.out.Type, r.out.Addresses = chains.ScriptType(typ), fromStrings(addrs)
		next = &r
		return nil
	}
	if err := readOut(); err != nil {
		return err
	}
	var block []*chains.Tx
	flush := func() error {
		slices.SortFunc(block, func(a, b *chains.Tx) int { return cmp.Compare(a.Position, b.Position) })
		for i, tx := range block {
			if tx.Position != uint32(i) {
				return &store.CorruptError{Key: fmt.Sprintf("%s block %d", c, tx.Height), Err: fmt.Errorf("transaction %s at position %d where %d was expected", tx.Hash, tx.Position, i)}
			}
			if err := fn(tx); err != nil {
				return err
			}
		}
		block = block[:0]
		return nil
	}
	var last string
	var lastHeight int64 = -1
	for txs.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		tx, nout, err := scanTxV5(c, txs)
		if err != nil {
			return err
		}
		id := hs(tx.Hash)
		if tx.Height == lastHeight && id == last {
			continue // a row stored twice
		}
		if tx.Height != lastHeight && len(block) > 0 {
			if err := flush(); err != nil {
				return err
			}
		}
		last, lastHeight = id, tx.Height
		// Outputs before this transaction's belong to none read: skip.
		for next != nil && (next.height < uint64(tx.Height) || next.height == uint64(tx.Height) && next.txid < id) {
			if err := readOut(); err != nil {
				return err
			}
		}
		for next != nil && next.height == uint64(tx.Height) && next.txid == id {
			if n := len(tx.Outputs); n == 0 || tx.Outputs[n-1].Index != next.out.Index {
				tx.Outputs = append(tx.Outputs, next.out)
			}
			if err := readOut(); err != nil {
				return err
			}
		}
		if len(tx.Outputs) != int(nout) {
			return &store.CorruptError{Key: "tx " + tx.Hash.String(), Err: fmt.Errorf("%d outputs stored, %d expected", len(tx.Outputs), nout)}
		}
		block = append(block, tx)
	}
	if err := txs.Err(); err != nil {
		return err
	}
	return flush()
}

// moveTxRecords is migration 9's move: every row of block_txs into
// tx_records, the transaction as txcodec's form, and every row of
// tx_locations into txid_places; then the old tables go. Each move is
// its own step, run only while its old table is there, and starts over
// when run again after an interruption: an old table is dropped only
// once every row is in its replacement.
func moveTxRecords(ctx context.Context, s *Store) error {
	if err := moveBlockTxs(ctx, s); err != nil {
		return err
	}
	if ok, err := s.hasTable(ctx, "tx_locations"); err != nil || !ok {
		return err
	}
	db := quoteIdent(s.topo.db)
	stmts := []string{
		fmt.Sprintf("TRUNCATE TABLE %s.%s%s", db, quoteIdent(s.topo.local("txid_places")), s.topo.on()),
		fmt.Sprintf("INSERT INTO %s (chain, txid, height, position) SELECT chain, txid, height, position FROM %s", s.table("txid_places"), s.table("tx_locations")),
	}
	stmts = append(stmts, s.dropStmts("tx_locations")...)
	for _, q := range stmts {
		if err := s.ddl(ctx, q); err != nil {
			return fmt.Errorf("move tx_locations to txid_places: %w", err)
		}
	}
	return nil
}

// hasTable says whether the database holds table (its local table, on a
// cluster).
func (s *Store) hasTable(ctx context.Context, table string) (bool, error) {
	var n uint64
	err := s.conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = ?", s.topo.db, s.topo.local(table)).Scan(&n)
	return n > 0, err
}

// dropStmts are the statements that drop table (and its local tables, on
// a cluster).
func (s *Store) dropStmts(table string) []string {
	db := quoteIdent(s.topo.db)
	stmts := []string{fmt.Sprintf("DROP TABLE IF EXISTS %s.%s%s", db, quoteIdent(table), s.topo.on())}
	if s.topo.cluster != "" {
		stmts = append(stmts, fmt.Sprintf("DROP TABLE IF EXISTS %s.%s%s", db, quoteIdent(s.topo.local(table)), s.topo.on()))
	}
	return stmts
}

// moveBlockTxs moves block_txs's rows into tx_records, reading block_txs
// chain by chain in ranges of heights (its key) and writing in batches.
// Rows are copied as they are: a row stored twice, or above the tip, too
// (the next write removes those, as before).
func moveBlockTxs(ctx context.Context, s *Store) error {
	if ok, err := s.hasTable(ctx, "block_txs"); err != nil || !ok {
		return err
	}
	db := quoteIdent(s.topo.db)
	if err := s.ddl(ctx, fmt.Sprintf("TRUNCATE TABLE %s.%s%s", db, quoteIdent(s.topo.local("tx_records")), s.topo.on())); err != nil {
		return fmt.Errorf("move block_txs: %w", err)
	}
	rows, err := s.conn.Query(ctx, fmt.Sprintf("SELECT chain, max(height) FROM %s GROUP BY chain ORDER BY chain", s.table("block_txs")))
	if err != nil {
		return fmt.Errorf("move block_txs: %w", err)
	}
	type top struct {
		chain string
		max   uint64
	}
	var tops []top
	for rows.Next() {
		var t top
		if err := rows.Scan(&t.chain, &t.max); err != nil {
			rows.Close()
			return err
		}
		tops = append(tops, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	const (
		spanBlocks = 1000
		batchTxs   = 20_000
	)
	q := fmt.Sprintf("SELECT %s FROM %s WHERE chain = ? AND height >= ? AND height <= ?", blockTxSelect, s.table("block_txs"))
	for _, t := range tops {
		var pending []*chains.Tx
		var buf []byte
		send := func() error {
			if len(pending) == 0 {
				return nil
			}
			b, err := s.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s (chain, height, position, txid, record)", s.table("tx_records")))
			if err != nil {
				return err
			}
			defer b.Close()
			for _, tx := range pending {
				buf = txcodec.AppendTx(buf[:0], tx)
				if err := b.Append(t.chain, uint64(tx.Height), tx.Position, hs(tx.Hash), string(buf)); err != nil {
					return err
				}
			}
			pending = pending[:0]
			return b.Send()
		}
		moved := 0
		for from := uint64(0); from <= t.max; from += spanBlocks {
			err := s.eachTxRow(ctx, chains.Chain(t.chain), q, scanBlockTx, func(tx *chains.Tx) error {
				if pending = append(pending, tx); len(pending) == batchTxs {
					if moved += batchTxs; moved%1_000_000 == 0 {
						s.log.Info("Migration 9: moving transactions", "chain", t.chain, "moved", moved)
					}
					return send()
				}
				return nil
			}, t.chain, from, from+spanBlocks-1)
			if err == nil {
				err = send()
			}
			if err != nil {
				return fmt.Errorf("move %s block_txs into tx_records: %w", t.chain, err)
			}
		}
	}
	for _, q := range s.dropStmts("block_txs") {
		if err := s.ddl(ctx, q); err != nil {
			return fmt.Errorf("move block_txs: %w", err)
		}
	}
	return nil
}
