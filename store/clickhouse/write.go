package clickhouse

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/internal/txcodec"
	"github.com/fundtrace/fundtrace/store"
)

// Meta returns what the store knows of chain c, from its newest committed
// meta row; an empty chain has TipHeight -1.
func (s *Store) Meta(ctx context.Context, c chains.Chain) (store.Meta, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.metaLocked(ctx, c)
}

func (s *Store) metaLocked(ctx context.Context, c chains.Chain) (store.Meta, error) {
	if m, ok := s.meta[c]; ok {
		return m, nil
	}
	m := store.EmptyMeta(c)
	rows, err := s.conn.Query(ctx, fmt.Sprintf("SELECT seq, json FROM %s WHERE chain = ? ORDER BY seq DESC LIMIT 1 BY chain", s.table("meta")), string(c))
	if err != nil {
		return m, fmt.Errorf("read %s meta: %w", c, err)
	}
	defer rows.Close()
	var seq uint64
	if rows.Next() {
		var js string
		if err := rows.Scan(&seq, &js); err != nil {
			return m, fmt.Errorf("read %s meta: %w", c, err)
		}
		if err := json.Unmarshal([]byte(js), &m); err != nil {
			return m, &store.CorruptError{Key: fmt.Sprintf("meta %s seq %d", c, seq), Err: err}
		}
		if m.TipHeight >= 0 {
			if m.TipHash, err = chains.ParseHash(m.TipHex); err != nil {
				return m, &store.CorruptError{Key: fmt.Sprintf("meta %s seq %d", c, seq), Err: err}
			}
		}
	}
	if err := rows.Err(); err != nil {
		return m, err
	}
	s.meta[c], s.seq[c] = m, seq
	if _, ok := s.dirty[c]; !ok {
		s.dirty[c] = true // a write may have been interrupted before this process: check once
	}
	return m, nil
}

// writeMeta appends a meta row: the commit marker of everything before it.
func (s *Store) writeMeta(ctx context.Context, m store.Meta) error {
	if m.TipHeight >= 0 {
		m.TipHex = m.TipHash.String()
	}
	js, err := json.Marshal(m)
	if err != nil {
		return err
	}
	seq := s.seq[m.Chain] + 1
	if err := s.insertRow(ctx, "meta", "chain, seq, tip_height, json", string(m.Chain), seq, m.TipHeight, string(js)); err != nil {
		return fmt.Errorf("write %s meta: %w", m.Chain, err)
	}
	s.seq[m.Chain] = seq
	return nil
}

// SetSourceStats records what the last index run's source held that was
// not indexed, and the network.
func (s *Store) SetSourceStats(ctx context.Context, c chains.Chain, network string, stale, unconnected int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.metaLocked(ctx, c)
	if err != nil {
		return err
	}
	if m.Network != "" && m.Network != network {
		return fmt.Errorf("store %s holds %s %s, not %s", s, c, m.Network, network)
	}
	if err := s.rollback(ctx, c, m.TipHeight); err != nil {
		return err
	}
	m.Network, m.StaleSkipped, m.Unconnected = network, stale, unconnected
	if err := s.writeMeta(ctx, m); err != nil {
		return err
	}
	s.meta[c] = m
	return nil
}

// rollback deletes the rows above the tip that an interrupted write left,
// and waits until ClickHouse has applied the deletion.
func (s *Store) rollback(ctx context.Context, c chains.Chain, tip int64) error {
	if !s.dirty[c] {
		return nil
	}
	above := fmt.Sprintf("chain = '%s'", c)
	if tip >= 0 {
		above += fmt.Sprintf(" AND height > %d", tip)
	}
	for _, t := range dataTables {
		var n uint64
		q := fmt.Sprintf("SELECT count() FROM %s WHERE %s", s.table(t), above)
		if err := s.conn.QueryRow(ctx, q).Scan(&n); err != nil {
			return fmt.Errorf("check %s for rows above the tip: %w", t, err)
		}
		if n == 0 {
			continue
		}
		s.log.Warn("Removing rows of an interrupted write", "table", t, "rows", n, "above_height", tip)
		stmt := fmt.Sprintf("ALTER TABLE %s.%s%s DELETE WHERE %s", quoteIdent(s.topo.db), quoteIdent(s.topo.local(t)), s.topo.on(), above)
		if err := s.conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("remove rows above the tip from %s: %w", t, err)
		}
		if err := s.waitMutations(ctx, s.topo.local(t)); err != nil {
			return err
		}
	}
	s.dirty[c] = false
	return nil
}

func (s *Store) waitMutations(ctx context.Context, table string) error {
	q := "SELECT count() FROM system.mutations WHERE database = ? AND table = ? AND is_done = 0"
	if s.topo.cluster != "" {
		hosts, err := s.clusterHosts(ctx)
		if err != nil {
			return err
		}
		q = fmt.Sprintf("SELECT count() FROM remote('%s', system, mutations) WHERE database = ? AND table = ? AND is_done = 0", strings.Join(hosts, ","))
	}
	for {
		var n uint64
		if err := s.conn.QueryRow(ctx, q, s.topo.db, table).Scan(&n); err != nil {
			return fmt.Errorf("wait for deletion in %s: %w", table, err)
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// clusterHosts lists host:port of every server of the cluster.
func (s *Store) clusterHosts(ctx context.Context) ([]string, error) {
	rows, err := s.conn.Query(ctx, "SELECT host_address, port FROM system.clusters WHERE cluster = ?", s.topo.cluster)
	if err != nil {
		return nil, fmt.Errorf("list the servers of cluster %s: %w", s.topo.cluster, err)
	}
	defer rows.Close()
	var hosts []string
	for rows.Next() {
		var (
			host string
			port uint16
		)
		if err := rows.Scan(&host, &port); err != nil {
			return nil, err
		}
		hosts = append(hosts, fmt.Sprintf("%s:%d", host, port))
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("cluster %s is not in the server's remote_servers", s.topo.cluster)
	}
	return hosts, rows.Err()
}

// WriteBlocks appends blocks, which must continue the chain's tip in
// height order. The data rows go in first, table by table in parallel,
// then the meta row that commits them. A failed attempt is rolled back
// and retried with backoff; the error returned names what failed last.
func (s *Store) WriteBlocks(ctx context.Context, c chains.Chain, network string, blocks []store.BlockData, o store.WriteOptions) error {
	if len(blocks) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.metaLocked(ctx, c)
	if err != nil {
		return err
	}
	if m.Network != "" && m.Network != network {
		return fmt.Errorf("store %s holds %s %s, not %s", s, c, m.Network, network)
	}
	next := m
	next.Network = network
	for i := range blocks {
		b := &blocks[i].Block
		// An empty chain starts anywhere (an account chain's index may
		// begin at a recent block); after that, blocks follow the tip.
		if next.Blocks > 0 || next.TipHeight >= 0 {
			if b.Height != next.TipHeight+1 {
				return fmt.Errorf("write %s block %d: store tip is %d, blocks must follow it without gaps", c, b.Height, next.TipHeight)
			}
			if b.PrevHash != next.TipHash {
				return fmt.Errorf("write %s block %d %s: its parent %s is not the store's tip %s", c, b.Height, b.Hash, b.PrevHash, next.TipHash)
			}
		}
		next.TipHeight, next.TipHash = b.Height, b.Hash
		next.Blocks++
		next.Transfers += int64(len(blocks[i].Transfers))
		next.Txs += int64(len(blocks[i].AccountTxs))
		for t := range blocks[i].Txs {
			tx := &blocks[i].Txs[t]
			next.Txs++
			next.Outputs += int64(len(tx.Outputs))
			if !tx.Coinbase {
				next.Inputs += int64(len(tx.Inputs))
			}
		}
	}
	// Once a count is pending, the run's end counts every address anyway:
	// the batch's addresses are not even gathered.
	var paid map[chains.Address]struct{}
	pending := m.AddressesPending
	if !pending {
		paid = paidAddresses(c, blocks)
		pending = m.TipHeight >= 0 && s.countLater(m, len(paid))
	}
	err = s.retry(ctx, fmt.Sprintf("blocks %d..%d", blocks[0].Block.Height, next.TipHeight), func() error {
		if err := s.rollback(ctx, c, m.TipHeight); err != nil {
			return err
		}
		s.dirty[c] = true // until the meta row is in
		// The count reads only committed rows (at or below the tip), so it
		// runs beside the inserts.
		var newAddrs int64
		g, gctx := errgroup.WithContext(ctx)
		if !pending {
			g.Go(func() (err error) {
				newAddrs, err = s.countNewAddresses(gctx, c, m.TipHeight, paid)
				return err
			})
		}
		g.Go(func() error { return s.insertRows(gctx, c, blocks) })
		if err := g.Wait(); err != nil {
			return err
		}
		withAddrs := next
		withAddrs.Addresses = m.Addresses + newAddrs
		withAddrs.AddressesPending = pending
		if err := s.writeMeta(ctx, withAddrs); err != nil {
			return err
		}
		s.dirty[c] = false
		next = withAddrs
		return nil
	})
	if err != nil {
		return fmt.Errorf("write %s blocks %d..%d to %s: %w", c, blocks[0].Block.Height, next.TipHeight, s, err)
	}
	s.meta[c] = next
	return nil
}

// paidAddresses returns the distinct addresses the blocks pay: for an
// account chain, both ends of every transfer (the history's rows).
func paidAddresses(c chains.Chain, blocks []store.BlockData) map[chains.Address]struct{} {
	if c.IsAccount() {
		return accountAddresses(blocks)
	}
	seen := map[chains.Address]struct{}{}
	eachTx(blocks, func(tx *chains.Tx) error {
		for _, o := range tx.Outputs {
			for _, a := range o.Addresses {
				seen[a] = struct{}{}
			}
		}
		return nil
	})
	return seen
}

// historyGranule is the index granularity of the address-keyed
// histories (address_history, transfer_history): the rows a lookup of
// one address reads at least, in each part.
const historyGranule = 1024

// countLater says whether a batch paying paid addresses is better left
// to the count at the end of the index run (SettleCounts) than counted
// now. Each address looked up costs at least a granule of the history,
// and the batch's addresses are spread over the whole key range: once
// their granules add up to more than a share of the history
// (s.countShare, a quarter), the lookup reads it nearly whole. A bulk
// index doing that every batch reads the history once a batch, which is
// quadratic in the chain (84 batches read 1.4 billion rows, 270 s of
// the server's time, on a 10.56 M-transaction chain); the run's end
// reads it once. At the tip, a block's few thousand addresses against a
// long chain's history, the batch's own count is the cheaper.
func (s *Store) countLater(m store.Meta, paid int) bool {
	rows := m.Outputs
	if m.Chain.IsAccount() {
		rows = 2 * m.Transfers
	}
	return float64(paid)*historyGranule > s.countShare*float64(rows)
}

// countNewAddresses counts the addresses of paid that no committed row
// (at or below the tip) has paid before.
func (s *Store) countNewAddresses(ctx context.Context, c chains.Chain, tip int64, paid map[chains.Address]struct{}) (int64, error) {
	if len(paid) == 0 {
		return 0, nil
	}
	if tip < 0 {
		return int64(len(paid)), nil
	}
	as := make([]chains.Address, 0, len(paid))
	for a := range paid {
		as = append(as, a)
	}
	known, err := s.knownAddresses(ctx, c, historyOf(c), as, tip)
	if err != nil {
		return 0, fmt.Errorf("count known addresses: %w", err)
	}
	return int64(len(paid)) - known, nil
}

// historyOf names the table of chain c's rows by address.
func historyOf(c chains.Chain) string {
	if c.IsAccount() {
		return "transfer_history"
	}
	return "address_history"
}

// SettleCounts brings a pending address count (Meta.AddressesPending,
// left by the batches of a bulk index) up to the tip: the distinct
// addresses of the history at or below the tip, counted a range of the
// sorting key at a time (addressRanges, so that the server's set of one
// range stays bounded), which reads the history's address column once.
// The indexers call it when a run ends; it does nothing when no count
// is pending.
func (s *Store) SettleCounts(ctx context.Context, c chains.Chain) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.metaLocked(ctx, c)
	if err != nil || !m.AddressesPending {
		return err
	}
	bound := max(m.Addresses, m.Outputs, 2*m.Transfers)
	err = s.retry(ctx, fmt.Sprintf("the %s address count", c), func() error {
		if err := s.rollback(ctx, c, m.TipHeight); err != nil {
			return err
		}
		var total int64
		for _, r := range addressRanges(bound) {
			var n uint64
			q := fmt.Sprintf("SELECT uniqExact(address) FROM %s WHERE chain = ? AND %s AND height <= ?", s.table(historyOf(c)), r)
			if err := s.conn.QueryRow(ctx, q, string(c), uint64(max(m.TipHeight, 0))).Scan(&n); err != nil {
				return err
			}
			total += int64(n)
		}
		settled := m
		settled.Addresses, settled.AddressesPending = total, false
		if err := s.writeMeta(ctx, settled); err != nil {
			return err
		}
		m = settled
		return nil
	})
	if err != nil {
		return fmt.Errorf("count %s addresses in %s: %w", c, s, err)
	}
	s.meta[c] = m
	return nil
}

// knownAddresses counts how many of as the history table (address_history
// or transfer_history) has a row of at or below height upTo. The addresses
// travel as an external table (sent beside the query as data), not as
// literals in the SQL text: a batch pays tens of thousands of addresses.
func (s *Store) knownAddresses(ctx context.Context, c chains.Chain, history string, as []chains.Address, upTo int64) (int64, error) {
	tbl, err := addressTable(as...)
	if err != nil {
		return 0, err
	}
	var known uint64
	q := fmt.Sprintf("SELECT uniqExact(address) FROM %s WHERE chain = ? AND height <= ? AND address IN lookup_address", s.table(history))
	if err := s.conn.QueryRow(pointReads(ctx, tbl), q, string(c), upTo).Scan(&known); err != nil {
		return 0, err
	}
	return int64(known), nil
}

// tableRows is one table's share of a write: its columns and a function
// that appends each of its rows.
type tableRows struct {
	table, cols string
	fill        func(add func(v ...any) error) error
	// columns, when set instead of fill, hands the rows over a column at
	// a time, in chunks of at most flushRows rows: each of emit's
	// arguments is a typed slice, one per column. The driver boxes every
	// value given to fill; the narrow tables of many rows (histories,
	// spenders, places) are written this way.
	columns func(emit func(cols ...any) error) error
}

// insertRows writes the blocks' rows into every data table, a bounded
// number of tables at a time, each as one batch.
func (s *Store) insertRows(ctx context.Context, c chains.Chain, blocks []store.BlockData) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(s.opts.Writers)
	rows := utxoRows
	if c.IsAccount() {
		rows = accountRowsOf
	}
	for _, tr := range rows(c, blocks) {
		g.Go(func() error { return s.insertBatch(ctx, tr) })
	}
	return g.Wait()
}

// flushRows is how many rows insertBatch sends to the server at a time.
const flushRows = 32_768

// insertBatch sends one table's rows as one batch.
func (s *Store) insertBatch(ctx context.Context, tr tableRows) error {
	batch, err := s.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s (%s)", s.table(tr.table), tr.cols))
	if err != nil {
		return fmt.Errorf("insert into %s: %w", tr.table, err)
	}
	defer batch.Close()
	if tr.columns != nil {
		err := tr.columns(func(cols ...any) error {
			for i, col := range cols {
				if err := batch.Column(i).Append(col); err != nil {
					return err
				}
			}
			return batch.Flush()
		})
		if err == nil {
			err = batch.Send()
		}
		if err != nil {
			return fmt.Errorf("insert into %s: %w", tr.table, err)
		}
		return nil
	}
	// The rows go to the server in blocks of flushRows, one insert still:
	// the driver's column buffers, grown by copying, stay small (a whole
	// 64 MiB batch of blocks as one block spent a third of the indexer's
	// time copying them, and held them all).
	n := 0
	add := func(v ...any) error {
		if err := batch.Append(v...); err != nil {
			return err
		}
		if n++; n%flushRows == 0 {
			return batch.Flush()
		}
		return nil
	}
	if err := tr.fill(add); err != nil {
		return fmt.Errorf("insert into %s: %w", tr.table, err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert into %s: %w", tr.table, err)
	}
	return nil
}

// utxoRows maps a UTXO chain's blocks to rows: rowsOf, which a test
// swaps for an older layout's.
var utxoRows = rowsOf

// rowsOf maps blocks to the rows of every data table.
func rowsOf(c chains.Chain, blocks []store.BlockData) []tableRows {
	chain := string(c)
	txs, inputs, paid := batchCounts(blocks)
	return append(headerRows(chain, blocks), []tableRows{
		{table: "tx_records", cols: "chain, height, position, txid, record", columns: func(emit func(...any) error) error {
			txs := txs // counts down as chunks go
			var height []uint64
			var pos []uint32
			var txid, record []string
			start := func() {
				n := min(txs, flushRows)
				height, pos, txid, record = make([]uint64, 0, n), make([]uint32, 0, n), make([]string, 0, n), make([]string, 0, n)
			}
			start()
			var buf []byte
			var bad error
			err := eachChunk(blocks, func(tx *chains.Tx) int {
				for j, o := range tx.Outputs {
					if o.Index != uint32(j) && bad == nil {
						bad = fmt.Errorf("tx %s: output %d has index %d", tx.Hash, j, o.Index)
					}
				}
				buf = txcodec.AppendTx(buf[:0], tx)
				height, pos = append(height, uint64(tx.Height)), append(pos, tx.Position)
				txid, record = append(txid, hs(tx.Hash)), append(record, string(buf))
				return len(txid)
			}, func() error {
				if bad != nil {
					return bad
				}
				err := emit(repeat(chain, len(txid)), height, pos, txid, record)
				txs -= len(txid)
				start()
				return err
			})
			if err == nil {
				err = bad
			}
			return err
		}},
		{table: "txid_places", cols: "chain, txid, height, position", columns: func(emit func(...any) error) error {
			type row struct {
				txid     string
				height   uint64
				position uint32
			}
			rows := make([]row, 0, txs)
			_ = eachTx(blocks, func(tx *chains.Tx) error {
				rows = append(rows, row{hs(tx.Hash), uint64(tx.Height), tx.Position})
				return nil
			})
			return sortedChunks(rows, func(r *row) uint64 { return leKey(r.txid) }, nil, func(rows []row) error {
				txid, height, pos := make([]string, len(rows)), make([]uint64, len(rows)), make([]uint32, len(rows))
				for i, r := range rows {
					txid[i], height[i], pos[i] = r.txid, r.height, r.position
				}
				return emit(repeat(chain, len(rows)), txid, height, pos)
			})
		}},
		{table: "spenders", cols: "chain, height, entry", columns: func(emit func(...any) error) error {
			type row struct {
				height uint64
				entry  string
			}
			rows := make([]row, 0, inputs)
			var buf []byte
			if err := eachTx(blocks, func(tx *chains.Tx) error {
				if tx.Height > math.MaxUint32 {
					// An entry holds the height in four bytes.
					return fmt.Errorf("spenders: height %d of tx %s is past 2^32", tx.Height, tx.Hash)
				}
				if !tx.Coinbase {
					for _, in := range tx.Inputs {
						e := spenderEntry{chain: c, prev: in.Prev, spend: store.Spend{TxHash: tx.Hash, Vin: in.Index, Height: tx.Height, Position: tx.Position}}
						buf = e.append(buf[:0])
						rows = append(rows, row{uint64(tx.Height), string(buf)})
					}
				}
				return nil
			}); err != nil {
				return err
			}
			return sortedChunks(rows, func(r *row) uint64 { return leKey(r.entry) }, nil, func(rows []row) error {
				height, entry := make([]uint64, len(rows)), make([]string, len(rows))
				for i, r := range rows {
					height[i], entry[i] = r.height, r.entry
				}
				return emit(repeat(chain, len(rows)), height, entry)
			})
		}},
		historyRows(chain, blocks, paid),
	}...)
}

// sortedChunks hands a table's rows to emit in chunks of at most
// flushRows, sorted by the table's sorting key: by key, then by tie (nil:
// none) for rows of equal key, then in the order given. ClickHouse sorts
// the rows of each part it writes unless they arrive sorted: 365,364
// rows of address_history took 0.45-0.54 s to insert shuffled and 0.07 s
// sorted (18.16), the sort of their string keys being most of a part's
// cost. Here a row's place is sorted by an integer (all of the spenders'
// and txid_places' key; an address's first eight bytes) beside it, the
// rows staying where they are: sorting the history's rows themselves,
// compared as strings, took 2.1 s of the client's processor time on the
// 1.03 M chain.
func sortedChunks[T any](rows []T, key func(*T) uint64, tie func(a, b *T) int, emit func([]T) error) error {
	order := make([]place, len(rows))
	for i := range rows {
		order[i] = place{key(&rows[i]), uint32(i)}
	}
	order = radixSort(order, make([]place, len(order)))
	if tie != nil {
		// Rows of equal key are in the order given; where tie orders
		// them otherwise (an address's first eight bytes shared), they
		// are sorted among themselves.
		for i := 0; i < len(order); {
			j := i + 1
			for j < len(order) && order[j].key == order[i].key {
				j++
			}
			if j-i > 1 {
				slices.SortStableFunc(order[i:j], func(a, b place) int { return tie(&rows[a.i], &rows[b.i]) })
			}
			i = j
		}
	}
	chunk := make([]T, 0, min(len(rows), flushRows))
	for len(order) > 0 {
		n := min(len(order), flushRows)
		chunk = chunk[:0]
		for _, p := range order[:n] {
			chunk = append(chunk, rows[p.i])
		}
		if err := emit(chunk); err != nil {
			return err
		}
		order = order[n:]
	}
	return nil
}

// place is a row's sorting key and its index among the rows.
type place struct {
	key uint64
	i   uint32
}

// radixSort sorts places by key, stably (rows of equal key stay in the
// order given), in passes of 16 bits from the lowest, skipping a pass
// whose digit every key shares; tmp is as long as ps, and the result is
// one of the two. It replaced a comparison sort (slices.SortFunc, with
// the index as the last key), about a tenth of the client's processor
// time in an index of the 1.03 M chain into ClickHouse.
func radixSort(ps, tmp []place) []place {
	var count [1 << 16]int
	for shift := uint(0); shift < 64; shift += 16 {
		clear(count[:])
		for _, p := range ps {
			count[p.key>>shift&0xffff]++
		}
		if len(ps) == 0 || count[ps[0].key>>shift&0xffff] == len(ps) {
			continue
		}
		sum := 0
		for d, c := range count {
			count[d] = sum
			sum += c
		}
		for _, p := range ps {
			d := p.key >> shift & 0xffff
			tmp[count[d]] = p
			count[d]++
		}
		ps, tmp = tmp, ps
	}
	return ps
}

// leKey is the first eight bytes of s as a little-endian integer: what
// ClickHouse's reinterpretAsUInt64(substring(s, 1, 8)) gives, the
// sorting key of spenders (spenderKeyExpr) and of txid_places
// (txidKeyExpr).
func leKey(s string) uint64 {
	var b [8]byte
	copy(b[:], s)
	return binary.LittleEndian.Uint64(b[:])
}

// prefixKey is the first eight bytes of s as a big-endian integer, zeros
// after a shorter s: strings in that integer's order are in byte order
// but for those of equal prefix.
func prefixKey(s string) uint64 {
	var b [8]byte
	copy(b[:], s)
	return binary.BigEndian.Uint64(b[:])
}

// historyRows are the rows of address_history: an output's addresses,
// each with its transaction's place (height, position), the output's
// index, value and type, in the table's order.
func historyRows(chain string, blocks []store.BlockData, paid int) tableRows {
	return tableRows{table: "address_history", cols: "chain, address, height, position, vout, value, type", columns: func(emit func(...any) error) error {
		type row struct {
			addr   chains.Address
			height uint64
			pos    uint32
			vout   uint32
			value  int64
			typ    uint8
		}
		rows := make([]row, 0, paid)
		_ = eachTx(blocks, func(tx *chains.Tx) error {
			for _, o := range tx.Outputs {
				for _, a := range o.Addresses {
					rows = append(rows, row{a, uint64(tx.Height), tx.Position, o.Index, o.Value, uint8(o.Type)})
				}
			}
			return nil
		})
		// The rows come in chain order, (height, position, vout), which
		// orders an address's rows.
		return sortedChunks(rows, func(r *row) uint64 { return prefixKey(string(r.addr)) }, func(a, b *row) int {
			return strings.Compare(string(a.addr), string(b.addr))
		}, func(rows []row) error {
			addr, height := make([]string, len(rows)), make([]uint64, len(rows))
			pos, vout := make([]uint32, len(rows)), make([]uint32, len(rows))
			value, typ := make([]int64, len(rows)), make([]uint8, len(rows))
			for i, r := range rows {
				addr[i], height[i], pos[i], vout[i], value[i], typ[i] = string(r.addr), r.height, r.pos, r.vout, r.value, r.typ
			}
			return emit(repeat(chain, len(rows)), addr, height, pos, vout, value, typ)
		})
	}}
}

// headerRows are the rows of the blocks and block_hashes tables, the same
// for UTXO and account chains: a block's txids are its transactions' hashes.
func headerRows(chain string, blocks []store.BlockData) []tableRows {
	txids := func(bd *store.BlockData) []string {
		var ids []string
		for t := range bd.Txs {
			ids = append(ids, hs(bd.Txs[t].Hash))
		}
		for t := range bd.AccountTxs {
			ids = append(ids, hs(bd.AccountTxs[t].Hash))
		}
		if ids == nil {
			ids = []string{}
		}
		return ids
	}
	return []tableRows{
		{table: "blocks", cols: "chain, height, hash, prev_hash, merkle_root, time, bits, size, txids", fill: func(add func(...any) error) error {
			for i := range blocks {
				b := &blocks[i].Block
				if err := add(chain, uint64(b.Height), hs(b.Hash), hs(b.PrevHash), hs(b.MerkleRoot), uint64(b.Time), b.Bits, b.Size, txids(&blocks[i])); err != nil {
					return err
				}
			}
			return nil
		}},
		{table: "block_hashes", cols: "chain, hash, height", fill: func(add func(...any) error) error {
			byHash := make([]*chains.Block, len(blocks)) // the table's order (see sortedChunks)
			for i := range blocks {
				byHash[i] = &blocks[i].Block
			}
			slices.SortFunc(byHash, func(a, b *chains.Block) int { return bytes.Compare(a.Hash[:], b.Hash[:]) })
			for _, b := range byHash {
				if err := add(chain, hs(b.Hash), uint64(b.Height)); err != nil {
					return err
				}
			}
			return nil
		}},
	}
}

// eachChunk gives add every transaction of the blocks, in order; add
// returns how many rows are pending, and once that reaches flushRows (and
// at the end, when any are) flush sends them.
func eachChunk(blocks []store.BlockData, add func(tx *chains.Tx) int, flush func() error) error {
	pending := 0
	err := eachTx(blocks, func(tx *chains.Tx) error {
		if pending = add(tx); pending >= flushRows {
			pending = 0
			return flush()
		}
		return nil
	})
	if err == nil && pending > 0 {
		err = flush()
	}
	return err
}

// repeat is a column of n copies of v.
func repeat(v string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// batchCounts counts the blocks' transactions, the inputs of those that
// are not coinbases, and the addresses their outputs pay: the rows of
// txid_places, spenders and address_history, whose slices are made that
// large at once. Grown by append instead, their copying and the write
// barriers of its pointers took about 0.6 s of the client's processor
// time in an index of the 1.03 M chain.
func batchCounts(blocks []store.BlockData) (txs, inputs, paid int) {
	for i := range blocks {
		for t := range blocks[i].Txs {
			tx := &blocks[i].Txs[t]
			txs++
			if !tx.Coinbase {
				inputs += len(tx.Inputs)
			}
			for o := range tx.Outputs {
				paid += len(tx.Outputs[o].Addresses)
			}
		}
	}
	return txs, inputs, paid
}

// eachTx calls fn for every transaction of the blocks, in order.
func eachTx(blocks []store.BlockData, fn func(tx *chains.Tx) error) error {
	for i := range blocks {
		for t := range blocks[i].Txs {
			if err := fn(&blocks[i].Txs[t]); err != nil {
				return err
			}
		}
	}
	return nil
}

// hs is a hash as a FixedString(32) value.
func hs(h chains.Hash) string { return string(h[:]) }

func addrStrings(as []chains.Address) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = string(a)
	}
	return out
}
