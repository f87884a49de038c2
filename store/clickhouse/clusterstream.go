package clickhouse

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// The passes clustering at chain scale reads (see package cluster), and
// its writer: the store's answers stream through one query per pass,
// and a run's rows go out in batches of a bounded size.

// firstPaidKey is the first payment of an address packed as the
// clustering's firstKey packs it: height, then position and output index
// capped at their fields' widths.
const firstPaidKey = `min(bitShiftLeft(height, 36) + bitShiftLeft(least(position, 1048575), 16) + least(vout, 65535))`

// EachAddress calls fn for every address chain c paid, once, with where
// it was first paid: one aggregation over the history table.
func (s *Store) EachAddress(ctx context.Context, c chains.Chain, fn func(a chains.Address, first store.FirstPaid) error) error {
	tip, err := s.tip(ctx, c)
	if err != nil || tip < 0 {
		return err
	}
	q := fmt.Sprintf("SELECT address, %s FROM %s WHERE chain = ? AND height <= ? GROUP BY address", firstPaidKey, s.table("address_history"))
	rows, err := s.conn.Query(ctx, q, string(c), uint64(tip))
	if err != nil {
		return fmt.Errorf("read %s addresses: %w", c, err)
	}
	defer rows.Close()
	for rows.Next() {
		var a string
		var k uint64
		if err := rows.Scan(&a, &k); err != nil {
			return err
		}
		f := store.FirstPaid{Height: int64(k >> 36), Position: uint32(k>>16) & (1<<20 - 1), Vout: uint32(k) & (1<<16 - 1)}
		if err := fn(chains.Address(a), f); err != nil {
			return err
		}
	}
	return rows.Err()
}

// EachAssignment calls fn for every stored assignment of the chain's
// addresses to clusters, as of the newest committed run.
func (s *Store) EachAssignment(ctx context.Context, c chains.Chain, fn func(a chains.Address, index, cluster uint32) error) error {
	r, ok, err := s.lastClusterRun(ctx, c)
	if err != nil || !ok {
		return err
	}
	q := fmt.Sprintf(`SELECT address, argMax(idx, run), argMax(cluster, run) FROM %s
		WHERE chain = ? AND run >= ? AND run <= ? GROUP BY address`, s.table("cluster_rows"))
	rows, err := s.conn.Query(ctx, q, string(c), r.base, r.run)
	if err != nil {
		return fmt.Errorf("read %s clusters: %w", c, err)
	}
	defer rows.Close()
	for rows.Next() {
		var a string
		var i, id uint32
		if err := rows.Scan(&a, &i, &id); err != nil {
			return err
		}
		if err := fn(chains.Address(a), i, id); err != nil {
			return err
		}
	}
	return rows.Err()
}

// EachTx calls fn for every transaction of UTXO chain c in blocks
// from..to, in chain order: two streaming reads, of txs and of outputs,
// both in (height, txid) order, merged here, each block's transactions
// put in their order in it. A row stored twice (a batch written again
// after an interruption, before its commit marker) is read once. The
// server sorts the rows (spilling to disk past a gigabyte): txs is
// ordered by txid, and a table ordered by height is the ClickHouse
// scale issue's to add.
func (s *Store) EachTx(ctx context.Context, c chains.Chain, from, to int64, fn func(tx *chains.Tx) error) error {
	tip, err := s.tip(ctx, c)
	if err != nil {
		return err
	}
	to, from = min(to, tip), max(from, 0)
	if from > to {
		return nil
	}
	qctx := ch.Context(ctx, ch.WithSettings(ch.Settings{"max_bytes_before_external_sort": 1 << 30}))
	txs, err := s.conn.Query(qctx, fmt.Sprintf("SELECT %s FROM %s WHERE chain = ? AND height >= ? AND height <= ? ORDER BY height, txid",
		txColumns, s.table("txs")), string(c), uint64(from), uint64(to))
	if err != nil {
		return fmt.Errorf("%s txs: %w", c, err)
	}
	defer txs.Close()
	outs, err := s.conn.Query(qctx, fmt.Sprintf(`SELECT height, txid, vout, value, type, addresses FROM %s
		WHERE chain = ? AND height >= ? AND height <= ? ORDER BY height, txid, vout`, s.table("outputs")), string(c), uint64(from), uint64(to))
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
		tx, nout, err := scanTx(c, txs)
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

// clusterWriter appends a run's rows in batches; the run counts once its
// cluster_runs row is in.
type clusterWriter struct {
	s          *Store
	c          chains.Chain
	ctx        context.Context
	run, base  uint64
	rows       [][]any
	sizes      [][]any
	links      [][]any
	maxPending int
}

// NewClusterWriter starts a run: rows an interrupted save left under its
// number are removed first. Readers see the last committed run until
// this one commits.
func (s *Store) NewClusterWriter(ctx context.Context, c chains.Chain, reset bool) (store.ClusterWriter, error) {
	last, ok, err := s.lastClusterRun(ctx, c)
	if err != nil {
		return nil, err
	}
	run, base := uint64(1), uint64(1)
	if ok {
		run, base = last.run+1, last.base
	}
	if reset {
		base = run
	}
	if err := s.removeInterruptedRun(ctx, c, run); err != nil {
		return nil, err
	}
	return &clusterWriter{s: s, c: c, ctx: ctx, run: run, base: base, maxPending: 100_000}, nil
}

// removeInterruptedRun deletes the rows of runs from run on: a save that
// stopped before its cluster_runs row.
func (s *Store) removeInterruptedRun(ctx context.Context, c chains.Chain, run uint64) error {
	for _, t := range []string{"cluster_rows", "cluster_sizes", "cluster_links"} {
		var n uint64
		if err := s.conn.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM %s WHERE chain = ? AND run >= ?", s.table(t)), string(c), run).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			stmt := fmt.Sprintf("ALTER TABLE %s.%s%s DELETE WHERE chain = '%s' AND run >= %d", quoteIdent(s.topo.db), quoteIdent(s.topo.local(t)), s.topo.on(), c, run)
			if err := s.conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("remove an interrupted cluster save: %w", err)
			}
			if err := s.waitMutations(ctx, s.topo.local(t)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *clusterWriter) send(table, cols string, pending *[][]any, force bool) error {
	if len(*pending) < w.maxPending && !(force && len(*pending) > 0) {
		return nil
	}
	rows := *pending
	err := w.s.insertBatch(w.ctx, tableRows{table, cols, func(add func(...any) error) error {
		for _, r := range rows {
			if err := add(r...); err != nil {
				return err
			}
		}
		return nil
	}})
	*pending = (*pending)[:0]
	if err != nil {
		return fmt.Errorf("save clusters: %w", err)
	}
	return nil
}

const (
	clusterRowCols  = "chain, run, address, idx, cluster"
	clusterSizeCols = "chain, run, cluster, size"
	clusterLinkCols = "chain, run, address, other, heuristic, txid"
)

func (w *clusterWriter) Link(l store.ClusterLink) error {
	for _, e := range [][2]chains.Address{{l.A, l.B}, {l.B, l.A}} {
		w.links = append(w.links, []any{string(w.c), w.run, string(e[0]), string(e[1]), l.Heuristic, hs(l.Tx)})
	}
	return w.send("cluster_links", clusterLinkCols, &w.links, false)
}

func (w *clusterWriter) Row(r store.ClusterRow) error {
	w.rows = append(w.rows, []any{string(w.c), w.run, string(r.Address), r.Index, r.Cluster})
	return w.send("cluster_rows", clusterRowCols, &w.rows, false)
}

func (w *clusterWriter) Size(cluster, size uint32) error {
	w.sizes = append(w.sizes, []any{string(w.c), w.run, cluster, size})
	return w.send("cluster_sizes", clusterSizeCols, &w.sizes, false)
}

// Commit sends what is pending, then the run's row.
func (w *clusterWriter) Commit(m store.ClusterMeta) error {
	for _, p := range []struct {
		table, cols string
		rows        *[][]any
	}{{"cluster_links", clusterLinkCols, &w.links}, {"cluster_rows", clusterRowCols, &w.rows}, {"cluster_sizes", clusterSizeCols, &w.sizes}} {
		if err := w.send(p.table, p.cols, p.rows, true); err != nil {
			return err
		}
	}
	m.HashHex = m.Hash.String()
	js, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return w.s.insertRow(w.ctx, "cluster_runs", "chain, run, base, json", string(w.c), w.run, w.base, string(js))
}

func (w *clusterWriter) Close() error { return nil }
