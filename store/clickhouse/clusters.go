package clickhouse

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/ext"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// clusterRun is the newest committed cluster run of a chain.
type clusterRun struct {
	run, base uint64
	meta      store.ClusterMeta
}

func (s *Store) lastClusterRun(ctx context.Context, c chains.Chain) (clusterRun, bool, error) {
	var r clusterRun
	var js string
	err := s.conn.QueryRow(ctx, fmt.Sprintf("SELECT run, base, json FROM %s WHERE chain = ? ORDER BY run DESC LIMIT 1 BY chain", s.table("cluster_runs")), string(c)).
		Scan(&r.run, &r.base, &js)
	if isNoRows(err) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("read %s cluster runs: %w", c, err)
	}
	if err := json.Unmarshal([]byte(js), &r.meta); err != nil {
		return r, false, &store.CorruptError{Key: fmt.Sprintf("cluster run %d", r.run), Err: err}
	}
	if h, err := hex.DecodeString(r.meta.HashHex); err == nil && len(h) == 32 {
		copy(r.meta.Hash[:], h)
	}
	return r, true, nil
}

// lastRunNumbers is lastClusterRun without the metadata, for readers
// that need only which rows count: the metadata holds the incremental
// state of the chain's heuristics, 24 MB for a 1.2 M-transaction
// simulated Ethereum chain (the deposit heuristic's balance of every
// address), which a trace asking for clusters address by address read
// and decoded each time.
func (s *Store) lastRunNumbers(ctx context.Context, c chains.Chain) (clusterRun, bool, error) {
	var r clusterRun
	err := s.conn.QueryRow(ctx, fmt.Sprintf("SELECT run, base FROM %s WHERE chain = ? ORDER BY run DESC LIMIT 1 BY chain", s.table("cluster_runs")), string(c)).
		Scan(&r.run, &r.base)
	if isNoRows(err) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("read %s cluster runs: %w", c, err)
	}
	return r, true, nil
}

// ClusterMeta returns the chain's cluster metadata; ok is false when no
// clusters were computed.
func (s *Store) ClusterMeta(ctx context.Context, c chains.Chain) (store.ClusterMeta, bool, error) {
	r, ok, err := s.lastClusterRun(ctx, c)
	return r.meta, ok, err
}

// LoadClusters calls fn for every address with a cluster, in the order
// the addresses were seen.
func (s *Store) LoadClusters(ctx context.Context, c chains.Chain, fn func(store.ClusterRow) error) error {
	r, ok, err := s.lastRunNumbers(ctx, c)
	if err != nil || !ok {
		return err
	}
	// Both sides of the join are aliased: ClickHouse 20.x and later
	// refuse a joined subquery without one (joined_subquery_requires_alias),
	// which 18.16 did not ask for.
	q := fmt.Sprintf(`SELECT address, i, cluster, size FROM
		(SELECT address, argMax(idx, run) AS i, argMax(cluster, run) AS cluster FROM %s WHERE chain = ? AND run >= ? AND run <= ? GROUP BY address) AS assigned
		ANY LEFT JOIN
		(SELECT cluster, argMax(size, run) AS size FROM %s WHERE chain = ? AND run >= ? AND run <= ? GROUP BY cluster) AS sizes
		USING cluster ORDER BY i`, s.table("cluster_rows"), s.table("cluster_sizes"))
	rows, err := s.conn.Query(ctx, q, string(c), r.base, r.run, string(c), r.base, r.run)
	if err != nil {
		return fmt.Errorf("load %s clusters: %w", c, err)
	}
	defer rows.Close()
	for rows.Next() {
		var a string
		var row store.ClusterRow
		if err := rows.Scan(&a, &row.Index, &row.Cluster, &row.Size); err != nil {
			return err
		}
		row.Address = chains.Address(a)
		if err := fn(row); err != nil {
			return err
		}
	}
	return rows.Err()
}

// addressTable is the addresses as the external table lookup_address,
// sent beside a query that asks for them (address IN lookup_address).
func addressTable(as ...chains.Address) (*ext.Table, error) {
	tbl, err := ext.NewTable("lookup_address", ext.Column("a", "String"))
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		if err := tbl.Append(string(a)); err != nil {
			return nil, err
		}
	}
	return tbl, nil
}

// ClusterOf returns a's cluster id and the cluster's size, or
// store.ErrNotFound when a has none.
func (s *Store) ClusterOf(ctx context.Context, c chains.Chain, a chains.Address) (id, size uint32, err error) {
	r, ok, err := s.lastRunNumbers(ctx, c)
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		return 0, 0, store.ErrNotFound
	}
	tbl, err := addressTable(a)
	if err != nil {
		return 0, 0, err
	}
	q := fmt.Sprintf("SELECT argMax(cluster, run) FROM %s WHERE chain = ? AND address IN lookup_address AND run >= ? AND run <= ? GROUP BY address", s.table("cluster_rows"))
	if err := s.conn.QueryRow(pointReads(ctx, tbl), q, string(c), r.base, r.run).Scan(&id); err != nil {
		if isNoRows(err) {
			return 0, 0, store.ErrNotFound
		}
		return 0, 0, err
	}
	q = fmt.Sprintf("SELECT argMax(size, run) FROM %s WHERE chain = ? AND cluster = ? AND run >= ? AND run <= ? GROUP BY cluster", s.table("cluster_sizes"))
	if err := s.conn.QueryRow(ctx, q, string(c), id, r.base, r.run).Scan(&size); err != nil {
		return 0, 0, err
	}
	return id, size, nil
}

// ClusterLinks returns the links recorded from a.
func (s *Store) ClusterLinks(ctx context.Context, c chains.Chain, a chains.Address) ([]store.ClusterLink, error) {
	r, ok, err := s.lastRunNumbers(ctx, c)
	if err != nil || !ok {
		return nil, err
	}
	tbl, err := addressTable(a)
	if err != nil {
		return nil, err
	}
	q := fmt.Sprintf("SELECT other, heuristic, txid FROM %s WHERE chain = ? AND address IN lookup_address AND run >= ? AND run <= ? ORDER BY other, heuristic, txid",
		s.table("cluster_links"))
	rows, err := s.conn.Query(pointReads(ctx, tbl), q, string(c), r.base, r.run)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.ClusterLink
	for rows.Next() {
		var other, heur, tx string
		if err := rows.Scan(&other, &heur, &tx); err != nil {
			return nil, err
		}
		out = append(out, store.ClusterLink{A: a, B: chains.Address(other), Heuristic: heur, Tx: toHash(tx)})
	}
	return out, rows.Err()
}

// ClustersOf returns the cluster id and size of each of as that has a
// cluster: two queries, whatever the number of addresses (the tracer
// asks for every address of a hop at once).
func (s *Store) ClustersOf(ctx context.Context, c chains.Chain, as []chains.Address) (map[chains.Address][2]uint32, error) {
	out := map[chains.Address][2]uint32{}
	r, ok, err := s.lastRunNumbers(ctx, c)
	if err != nil || !ok || len(as) == 0 {
		return out, err
	}
	tbl, err := addressTable(as...)
	if err != nil {
		return nil, err
	}
	q := fmt.Sprintf("SELECT address, argMax(cluster, run) FROM %s WHERE chain = ? AND address IN lookup_address AND run >= ? AND run <= ? GROUP BY address", s.table("cluster_rows"))
	rows, err := s.conn.Query(pointReads(ctx, tbl), q, string(c), r.base, r.run)
	if err != nil {
		return nil, fmt.Errorf("read %s clusters: %w", c, err)
	}
	ids, err := ext.NewTable("lookup_cluster", ext.Column("id", "UInt32"))
	if err != nil {
		rows.Close()
		return nil, err
	}
	of := map[uint32][]chains.Address{}
	for rows.Next() {
		var a string
		var id uint32
		if err := rows.Scan(&a, &id); err != nil {
			rows.Close()
			return nil, err
		}
		if len(of[id]) == 0 {
			if err := ids.Append(id); err != nil {
				rows.Close()
				return nil, err
			}
		}
		of[id] = append(of[id], chains.Address(a))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s clusters: %w", c, err)
	}
	if len(of) == 0 {
		return out, nil
	}
	q = fmt.Sprintf("SELECT cluster, argMax(size, run) FROM %s WHERE chain = ? AND cluster IN lookup_cluster AND run >= ? AND run <= ? GROUP BY cluster", s.table("cluster_sizes"))
	rows, err = s.conn.Query(pointReads(ctx, ids), q, string(c), r.base, r.run)
	if err != nil {
		return nil, fmt.Errorf("read %s cluster sizes: %w", c, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, size uint32
		if err := rows.Scan(&id, &size); err != nil {
			return nil, err
		}
		for _, a := range of[id] {
			out[a] = [2]uint32{id, size}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) != sum(of) {
		return nil, &store.CorruptError{Key: fmt.Sprintf("%s cluster sizes of run %d", c, r.run), Err: fmt.Errorf("clusters without a size")}
	}
	return out, nil
}

func sum(of map[uint32][]chains.Address) int {
	n := 0
	for _, as := range of {
		n += len(as)
	}
	return n
}

// ClusterMembers returns up to limit addresses of cluster id in address
// order, after the cursor after (the hex of the last page's last
// address), and the next page's cursor. cluster_members holds every
// assignment any run of the base made, so a page read from it is checked
// against each address's newest assignment (one more query by address);
// an address a later run moved is skipped and the next ones read.
func (s *Store) ClusterMembers(ctx context.Context, c chains.Chain, id uint32, after string, limit int) ([]chains.Address, string, error) {
	r, ok, err := s.lastClusterRun(ctx, c)
	if err != nil {
		return nil, "", err
	}
	if !ok {
		return nil, "", store.ErrNotFound
	}
	if !r.meta.Members {
		return nil, "", store.ErrNoMembers
	}
	from, err := hex.DecodeString(after)
	if err != nil {
		return nil, "", fmt.Errorf("%w: cursor %q is not one of this store's", store.ErrBadCursor, after)
	}
	if limit <= 0 {
		limit = 100
	}
	var out []chains.Address
	q := fmt.Sprintf(`SELECT address FROM %s WHERE chain = ? AND cluster = ? AND run >= ? AND run <= ? AND address > ?
		GROUP BY address ORDER BY address LIMIT ?`, s.table("cluster_members"))
	for first := true; ; first = false {
		want := limit + 1 - len(out)
		rows, err := s.conn.Query(ctx, q, string(c), id, r.base, r.run, string(from), want)
		if err != nil {
			return nil, "", fmt.Errorf("read %s cluster %d: %w", c, id, err)
		}
		var page []chains.Address
		for rows.Next() {
			var a string
			if err := rows.Scan(&a); err != nil {
				rows.Close()
				return nil, "", err
			}
			page = append(page, chains.Address(a))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, "", fmt.Errorf("read %s cluster %d: %w", c, id, err)
		}
		if len(page) == 0 {
			if first && after == "" {
				return nil, "", store.ErrNotFound // no such cluster
			}
			return out, "", nil
		}
		now, err := s.ClustersOf(ctx, c, page)
		if err != nil {
			return nil, "", err
		}
		for _, a := range page {
			if v, ok := now[a]; !ok || v[0] != id {
				continue // moved to another cluster by a later run
			}
			if len(out) == limit {
				return out, hex.EncodeToString([]byte(out[len(out)-1])), nil
			}
			out = append(out, a)
		}
		if len(page) < want {
			if len(out) == 0 && first && after == "" {
				return nil, "", store.ErrNotFound
			}
			return out, "", nil
		}
		from = []byte(page[len(page)-1])
	}
}
