package clickhouse

import (
	"context"
	"encoding/json"
	"fmt"

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

// streamBlocks is how many blocks EachTx reads the txids of at once.
const streamBlocks = 200

// EachTx calls fn for every transaction of UTXO chain c in blocks
// from..to, in chain order: the blocks' txids a range at a time, and the
// transactions by txid in chunks (Txs), each a keyed read of the
// granules that hold them, never a scan of the table.
func (s *Store) EachTx(ctx context.Context, c chains.Chain, from, to int64, fn func(tx *chains.Tx) error) error {
	tip, err := s.tip(ctx, c)
	if err != nil {
		return err
	}
	to = min(to, tip)
	for lo := max(from, 0); lo <= to; lo += streamBlocks {
		hi := min(lo+streamBlocks-1, to)
		rows, err := s.conn.Query(ctx, fmt.Sprintf(`SELECT height, txids FROM %s WHERE chain = ? AND height >= ? AND height <= ?
			ORDER BY height LIMIT 1 BY height`, s.table("blocks")), string(c), uint64(lo), uint64(hi))
		if err != nil {
			return fmt.Errorf("%s blocks %d-%d: %w", c, lo, hi, err)
		}
		var ids []chains.Hash
		for rows.Next() {
			var h uint64
			var txids []string
			if err := rows.Scan(&h, &txids); err != nil {
				rows.Close()
				return err
			}
			for _, t := range txids {
				ids = append(ids, toHash(t))
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return err
		}
		for i := 0; i < len(ids); i += lookupChunk {
			txs, err := s.Txs(ctx, c, ids[i:min(i+lookupChunk, len(ids))])
			if err != nil {
				return err
			}
			for _, tx := range txs {
				if err := fn(tx); err != nil {
					return err
				}
			}
		}
	}
	return nil
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
