package clickhouse

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// Snapshots lists the imported sanctions snapshots, oldest first.
func (s *Store) Snapshots(ctx context.Context) ([]store.SanctionsSnapshot, error) {
	rows, err := s.conn.Query(ctx, fmt.Sprintf("SELECT json FROM %s ORDER BY id", s.table("sanctions_snapshots")))
	if err != nil {
		return nil, fmt.Errorf("read sanctions snapshots: %w", err)
	}
	defer rows.Close()
	var out []store.SanctionsSnapshot
	for rows.Next() {
		var js string
		if err := rows.Scan(&js); err != nil {
			return nil, err
		}
		var sn store.SanctionsSnapshot
		if err := json.Unmarshal([]byte(js), &sn); err != nil {
			return nil, &store.CorruptError{Key: "sanctions snapshot", Err: err}
		}
		out = append(out, sn)
	}
	return out, rows.Err()
}

// AddSnapshot stores a new snapshot: its addresses first, then the
// snapshot row that makes it count (and current). Rows an interrupted
// import left under the same id are deleted first.
func (s *Store) AddSnapshot(ctx context.Context, sn store.SanctionsSnapshot, addrs []store.SanctionedAddress) (store.SanctionsSnapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	all, err := s.Snapshots(ctx)
	if err != nil {
		return sn, err
	}
	sn.ID = 1
	if len(all) > 0 {
		sn.ID = all[len(all)-1].ID + 1
	}
	var n uint64
	if err := s.conn.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM %s WHERE snapshot >= ?", s.table("sanctioned")), uint64(sn.ID)).Scan(&n); err != nil {
		return sn, err
	}
	if n > 0 {
		stmt := fmt.Sprintf("ALTER TABLE %s.%s%s DELETE WHERE snapshot >= %d", quoteIdent(s.topo.db), quoteIdent(s.topo.local("sanctioned")), s.topo.on(), sn.ID)
		if err := s.conn.Exec(ctx, stmt); err != nil {
			return sn, err
		}
		if err := s.waitMutations(ctx, s.topo.local("sanctioned")); err != nil {
			return sn, err
		}
	}
	err = s.insertBatch(ctx, tableRows{table: "sanctioned", cols: "snapshot, chain, address, json", fill: func(add func(...any) error) error {
		for _, a := range addrs {
			js, err := json.Marshal(a)
			if err != nil {
				return err
			}
			if err := add(uint64(sn.ID), string(a.Chain), string(a.Address), string(js)); err != nil {
				return err
			}
		}
		return nil
	}})
	if err != nil {
		return sn, err
	}
	js, err := json.Marshal(sn)
	if err != nil {
		return sn, err
	}
	return sn, s.insertRow(ctx, "sanctions_snapshots", "id, json", uint64(sn.ID), string(js))
}

func decodeSanctionedRow(addr, js string) (store.SanctionedAddress, error) {
	var a store.SanctionedAddress
	if err := json.Unmarshal([]byte(js), &a); err != nil {
		return a, &store.CorruptError{Key: "sanctioned address", Err: err}
	}
	a.Address = chains.Address(addr)
	return a, nil
}

// SnapshotAddresses returns every address of snapshot id.
func (s *Store) SnapshotAddresses(ctx context.Context, id int64) ([]store.SanctionedAddress, error) {
	rows, err := s.conn.Query(ctx, fmt.Sprintf("SELECT address, json FROM %s WHERE snapshot = ? ORDER BY chain, address", s.table("sanctioned")), uint64(id))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.SanctionedAddress
	for rows.Next() {
		var addr, js string
		if err := rows.Scan(&addr, &js); err != nil {
			return nil, err
		}
		a, err := decodeSanctionedRow(addr, js)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Sanctioned looks a up in snapshot id.
func (s *Store) Sanctioned(ctx context.Context, id int64, c chains.Chain, a chains.Address) (store.SanctionedAddress, bool, error) {
	tbl, err := addressTable(a)
	if err != nil {
		return store.SanctionedAddress{}, false, err
	}
	var addr, js string
	q := fmt.Sprintf("SELECT address, json FROM %s WHERE chain = ? AND address IN lookup_address AND snapshot = ? LIMIT 1 BY address", s.table("sanctioned"))
	err = s.conn.QueryRow(pointReads(ctx, tbl), q, string(c), uint64(id)).Scan(&addr, &js)
	if isNoRows(err) {
		return store.SanctionedAddress{}, false, nil
	}
	if err != nil {
		return store.SanctionedAddress{}, false, err
	}
	out, err := decodeSanctionedRow(addr, js)
	return out, err == nil, err
}

// CurrentSnapshot is the snapshot in force: the latest-dated list
// (store.InForce), 0 when none.
func (s *Store) CurrentSnapshot(ctx context.Context) (int64, error) {
	sns, err := s.Snapshots(ctx)
	if err != nil {
		return 0, err
	}
	return store.InForce(sns, ""), nil
}

// labelKey names a label among its address's: its text, category, source
// and actor, so that importing a source again replaces its labels.
func labelKey(l *store.Label) string {
	d := sha256.Sum256([]byte(l.Label + "\x00" + l.Category + "\x00" + l.Source + "\x00" + l.Actor))
	return hex.EncodeToString(d[:8])
}

// AddLabels stores labels as new versions of their keys. Of two labels
// with one key in the same call the later wins, as in the embedded store.
func (s *Store) AddLabels(ctx context.Context, ls []store.Label) error {
	version := uint64(time.Now().UnixNano())
	last := map[string]int{}
	for i := range ls {
		last[string(ls[i].Chain)+string(ls[i].Address)+labelKey(&ls[i])] = i
	}
	return s.insertBatch(ctx, tableRows{table: "labels", cols: "chain, address, key, version, json", fill: func(add func(...any) error) error {
		for i := range ls {
			if last[string(ls[i].Chain)+string(ls[i].Address)+labelKey(&ls[i])] != i {
				continue
			}
			js, err := json.Marshal(ls[i])
			if err != nil {
				return err
			}
			if err := add(string(ls[i].Chain), string(ls[i].Address), labelKey(&ls[i]), version, string(js)); err != nil {
				return err
			}
		}
		return nil
	}})
}

func (s *Store) queryLabels(ctx context.Context, where string, qctx context.Context, args ...any) ([]store.Label, error) {
	q := fmt.Sprintf(`SELECT chain, address, argMax(json, version) FROM %s %s GROUP BY chain, address, key ORDER BY chain, address, key`, s.table("labels"), where)
	rows, err := s.conn.Query(qctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read labels: %w", err)
	}
	defer rows.Close()
	var out []store.Label
	for rows.Next() {
		var c, addr, js string
		if err := rows.Scan(&c, &addr, &js); err != nil {
			return nil, err
		}
		var l store.Label
		if err := json.Unmarshal([]byte(js), &l); err != nil {
			return nil, &store.CorruptError{Key: "label", Err: err}
		}
		l.Chain, l.Address = chains.Chain(c), chains.Address(addr)
		out = append(out, l)
	}
	return out, rows.Err()
}

// Labels returns the labels of a.
func (s *Store) Labels(ctx context.Context, c chains.Chain, a chains.Address) ([]store.Label, error) {
	tbl, err := addressTable(a)
	if err != nil {
		return nil, err
	}
	return s.queryLabels(ctx, "WHERE chain = ? AND address IN lookup_address", pointReads(ctx, tbl), string(c))
}

// EachLabel calls fn for every label of every chain.
func (s *Store) EachLabel(ctx context.Context, fn func(store.Label) error) error {
	ls, err := s.queryLabels(ctx, "", ctx)
	if err != nil {
		return err
	}
	for _, l := range ls {
		if err := fn(l); err != nil {
			return err
		}
	}
	return nil
}

// LabelsOf returns the labels of each of as that has any, in one query.
func (s *Store) LabelsOf(ctx context.Context, c chains.Chain, as []chains.Address) (map[chains.Address][]store.Label, error) {
	out := map[chains.Address][]store.Label{}
	if len(as) == 0 {
		return out, nil
	}
	tbl, err := addressTable(as...)
	if err != nil {
		return nil, err
	}
	ls, err := s.queryLabels(ctx, "WHERE chain = ? AND address IN lookup_address", pointReads(ctx, tbl), string(c))
	if err != nil {
		return nil, err
	}
	for _, l := range ls {
		out[l.Address] = append(out[l.Address], l)
	}
	return out, nil
}
