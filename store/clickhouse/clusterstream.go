package clickhouse

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

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
	m, err := s.Meta(ctx, c)
	if err != nil {
		return err
	}
	for _, r := range addressRanges(m.Addresses) {
		q := fmt.Sprintf("SELECT address, %s FROM %s WHERE chain = ? AND %s AND height <= ? GROUP BY address", firstPaidKey, s.table("address_history"), r)
		if err := s.eachFirstPaid(ctx, c, q, tip, fn); err != nil {
			return err
		}
	}
	return nil
}

// addressesPerQuery bounds the addresses one query of EachAddress
// aggregates: ClickHouse 18 sends an aggregation's result as one block,
// which the driver holds whole (about 50 bytes an address).
const addressesPerQuery = 1 << 20

// addressRanges splits the address key space into ranges of the
// history's sorting key (SQL conditions on address), each holding at
// most about addressesPerQuery of n addresses: per kind (an address's
// first byte), split evenly on the next two bytes, which are a hash's.
func addressRanges(n int64) []string {
	splits := 1
	for int64(splits)*addressesPerQuery < n && splits < 1<<16 {
		splits *= 2
	}
	var out []string
	for k := range int(chains.KindAccount) + 1 {
		for i := range splits {
			lo := fmt.Sprintf("%02x%04x", k, i*(1<<16)/splits)
			hi := fmt.Sprintf("%02x%04x", k, (i+1)*(1<<16)/splits)
			if i == 0 {
				lo = fmt.Sprintf("%02x", k)
			}
			if i == splits-1 {
				hi = fmt.Sprintf("%02x", k+1)
			}
			out = append(out, fmt.Sprintf("address >= unhex('%s') AND address < unhex('%s')", lo, hi))
		}
	}
	return append(out, fmt.Sprintf("address >= unhex('%02x')", int(chains.KindAccount)+1))
}

func (s *Store) eachFirstPaid(ctx context.Context, c chains.Chain, q string, tip int64, fn func(a chains.Address, first store.FirstPaid) error) error {
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
// from..to, in chain order: tx_records read in ranges of blocks, each one
// query on the table's key that reads about eachTxRows transactions. A
// row stored twice (a batch written again after an interruption, before
// its commit marker) is read once.
func (s *Store) EachTx(ctx context.Context, c chains.Chain, from, to int64, fn func(tx *chains.Tx) error) error {
	tip, err := s.tip(ctx, c)
	if err != nil {
		return err
	}
	to, from = min(to, tip), max(from, 0)
	q := fmt.Sprintf("SELECT %s FROM %s WHERE chain = ? AND height >= ? AND height <= ? ORDER BY height, position", txRecordSelect, s.table("tx_records"))
	lastHeight, next := int64(-1), uint32(0)
	for span := int64(16); from <= to; {
		end := min(to, from+span-1)
		n := 0
		err := s.eachTxRecord(ctx, c, q, func(tx *chains.Tx) error {
			if tx.Height == lastHeight && tx.Position+1 == next {
				return nil // a row stored twice
			}
			if tx.Height != lastHeight {
				lastHeight, next = tx.Height, 0
			}
			if tx.Position != next {
				return &store.CorruptError{Key: fmt.Sprintf("%s block %d", c, tx.Height), Err: fmt.Errorf("transaction %s at position %d where %d was expected", tx.Hash, tx.Position, next)}
			}
			next++
			n++
			return fn(tx)
		}, string(c), uint64(from), uint64(end))
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		// The next range holds about eachTxRows transactions if the
		// blocks ahead are like these.
		if n == 0 {
			span *= 2
		} else {
			span = max(1, min(span*eachTxRows/int64(n), 2*span, 1<<20))
		}
		from = end + 1
	}
	return nil
}

// eachTxRows is about how many transactions one query of EachTx reads:
// enough that a query's overhead does not count, few enough that the
// server's sort of them stays in memory.
const eachTxRows = 100_000

// clusterWriter appends a run's rows in batches, column by column (a
// row of boxed values costs the driver an allocation per value), each
// sent while the next fills; the run counts once its cluster_runs row is
// in.
type clusterWriter struct {
	s          *Store
	c          chains.Chain
	ctx        context.Context
	run, base  uint64
	maxPending int
	members    bool // the run leaves every cluster's members (cluster_members)

	linkAddr, linkOther, linkHeur, linkTx []string
	rowAddr                               []string
	rowIdx, rowCluster                    []uint32
	sizeCluster, sizeSize                 []uint32

	sends  chan func() error // batches for the sender, one waiting at most
	done   chan struct{}     // closed when the sender has stopped
	err    error             // the sender's first error, read after done
	closed bool
	parts  uint32 // parts of state sent
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
	w := &clusterWriter{s: s, c: c, ctx: ctx, run: run, base: base, maxPending: 100_000, members: reset || ok && last.meta.Members,
		sends: make(chan func() error, 1), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for send := range w.sends {
			if w.err == nil {
				w.err = send()
			}
		}
	}()
	return w, nil
}

// removeInterruptedRun deletes the rows of runs from run on: a save that
// stopped before its cluster_runs row.
func (s *Store) removeInterruptedRun(ctx context.Context, c chains.Chain, run uint64) error {
	for _, t := range []string{"cluster_rows", "cluster_sizes", "cluster_links", "cluster_members", "cluster_state"} {
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

// send hands the sender an insert into table of n rows whose columns
// after chain and run are cols, in the order of names. It fails with
// the sender's error once one has failed.
func (w *clusterWriter) send(table, names string, n int, cols ...any) error {
	select {
	case <-w.done:
		return w.failed()
	default:
	}
	chain, run := make([]string, n), make([]uint64, n)
	for i := range n {
		chain[i], run[i] = string(w.c), w.run
	}
	cols = append([]any{chain, run}, cols...)
	w.sends <- func() error {
		b, err := w.s.conn.PrepareBatch(w.ctx, fmt.Sprintf("INSERT INTO %s (chain, run, %s)", w.s.table(table), names))
		if err != nil {
			return fmt.Errorf("save clusters: insert into %s: %w", table, err)
		}
		defer b.Close()
		for i, col := range cols {
			if err := b.Column(i).Append(col); err != nil {
				return fmt.Errorf("save clusters: insert into %s: %w", table, err)
			}
		}
		if err := b.Send(); err != nil {
			return fmt.Errorf("save clusters: insert into %s: %w", table, err)
		}
		return nil
	}
	return nil
}

// failed stops the sender and returns its error.
func (w *clusterWriter) failed() error {
	w.Close()
	if w.err == nil {
		return fmt.Errorf("save clusters: the writer is closed")
	}
	return w.err
}

func (w *clusterWriter) flushLinks(force bool) error {
	if n := len(w.linkAddr); n >= w.maxPending || force && n > 0 {
		err := w.send("cluster_links", "address, other, heuristic, txid", n, w.linkAddr, w.linkOther, w.linkHeur, w.linkTx)
		w.linkAddr, w.linkOther, w.linkHeur, w.linkTx = nil, nil, nil, nil
		return err
	}
	return nil
}

func (w *clusterWriter) flushRows(force bool) error {
	if n := len(w.rowAddr); n >= w.maxPending || force && n > 0 {
		err := w.send("cluster_rows", "address, idx, cluster", n, w.rowAddr, w.rowIdx, w.rowCluster)
		if err == nil {
			err = w.send("cluster_members", "cluster, address", n, w.rowCluster, w.rowAddr)
		}
		w.rowAddr, w.rowIdx, w.rowCluster = nil, nil, nil
		return err
	}
	return nil
}

func (w *clusterWriter) flushSizes(force bool) error {
	if n := len(w.sizeCluster); n >= w.maxPending || force && n > 0 {
		err := w.send("cluster_sizes", "cluster, size", n, w.sizeCluster, w.sizeSize)
		w.sizeCluster, w.sizeSize = nil, nil
		return err
	}
	return nil
}

// Link records a link both ways, so that either address finds it.
func (w *clusterWriter) Link(l store.ClusterLink) error {
	tx := hs(l.Tx)
	w.linkAddr = append(w.linkAddr, string(l.A), string(l.B))
	w.linkOther = append(w.linkOther, string(l.B), string(l.A))
	w.linkHeur = append(w.linkHeur, l.Heuristic, l.Heuristic)
	w.linkTx = append(w.linkTx, tx, tx)
	return w.flushLinks(false)
}

func (w *clusterWriter) Row(r store.ClusterRow) error {
	if r.Address == "" {
		return fmt.Errorf("save %s clusters: an assignment without its address (index %d)", w.c, r.Index)
	}
	w.rowAddr = append(w.rowAddr, string(r.Address))
	w.rowIdx = append(w.rowIdx, r.Index)
	w.rowCluster = append(w.rowCluster, r.Cluster)
	return w.flushRows(false)
}

func (w *clusterWriter) Size(cluster, size uint32) error {
	w.sizeCluster = append(w.sizeCluster, cluster)
	w.sizeSize = append(w.sizeSize, size)
	return w.flushSizes(false)
}

// State sends the next part of the run's state.
func (w *clusterWriter) State(part []byte) error {
	err := w.send("cluster_state", "part, data", 1, []uint32{w.parts}, []string{string(part)})
	w.parts++
	return err
}

// Commit sends what is pending, waits until every batch is in, then
// writes the run's row.
func (w *clusterWriter) Commit(m store.ClusterMeta) error {
	for _, flush := range []func(bool) error{w.flushLinks, w.flushRows, w.flushSizes} {
		if err := flush(true); err != nil {
			return err
		}
	}
	w.Close()
	if w.err != nil {
		return w.err
	}
	m.Members = w.members
	m.HashHex = m.Hash.String()
	js, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := w.s.insertRow(w.ctx, "cluster_runs", "chain, run, base, json", string(w.c), w.run, w.base, string(js)); err != nil {
		return err
	}
	// The runs before keep no state anyone reads: drop it, without
	// waiting for the mutation (a failure leaves rows no read selects).
	var older uint64
	q := fmt.Sprintf("SELECT count() FROM %s WHERE chain = ? AND run < ?", w.s.table("cluster_state"))
	if err := w.s.conn.QueryRow(w.ctx, q, string(w.c), w.run).Scan(&older); err != nil || older == 0 {
		return nil
	}
	stmt := fmt.Sprintf("ALTER TABLE %s.%s%s DELETE WHERE chain = '%s' AND run < %d", quoteIdent(w.s.topo.db), quoteIdent(w.s.topo.local("cluster_state")), w.s.topo.on(), w.c, w.run)
	if err := w.s.conn.Exec(w.ctx, stmt); err != nil {
		slog.Warn("clickhouse: could not drop older clustering runs' state", "chain", w.c, "err", err)
	}
	return nil
}

// ClusterState calls fn with each part of the state of chain c's last
// committed run, in order: one query, by the table's key.
func (s *Store) ClusterState(ctx context.Context, c chains.Chain, fn func(part []byte) error) error {
	r, ok, err := s.lastRunNumbers(ctx, c)
	if err != nil || !ok {
		return err
	}
	q := fmt.Sprintf("SELECT part, data FROM %s WHERE chain = ? AND run = ? ORDER BY part", s.table("cluster_state"))
	rows, err := s.conn.Query(ctx, q, string(c), r.run)
	if err != nil {
		return fmt.Errorf("read %s cluster state: %w", c, err)
	}
	defer rows.Close()
	next := uint32(0)
	var data string
	for rows.Next() {
		var part uint32
		if err := rows.Scan(&part, &data); err != nil {
			return err
		}
		if part != next {
			return &store.CorruptError{Key: fmt.Sprintf("cluster_state %s run %d", c, r.run), Err: fmt.Errorf("part %d missing", next)}
		}
		next++
		if err := fn([]byte(data)); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Close stops the sender once it has sent what it was given; a run not
// committed does not count.
func (w *clusterWriter) Close() error {
	if !w.closed {
		w.closed = true
		close(w.sends)
	}
	<-w.done
	return nil
}
