package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fundtrace/fundtrace/store"
)

// Records (the workbench's cases and notes): every write appends a row
// with a larger version; a read takes each id's newest.

var (
	versionMu   sync.Mutex
	lastVersion uint64
)

// nextVersion is the time in nanoseconds, made to grow within this
// process even when the clock does not.
func nextVersion() uint64 {
	versionMu.Lock()
	defer versionMu.Unlock()
	v := uint64(time.Now().UnixNano())
	if v <= lastVersion {
		v = lastVersion + 1
	}
	lastVersion = v
	return v
}

// PutRecord appends a record's new version.
func (s *Store) PutRecord(ctx context.Context, kind, id string, body []byte) error {
	if kind == "" || id == "" {
		return errors.New("a record needs a kind and an id")
	}
	if err := s.insertRow(ctx, "records", "kind, id, version, body", kind, id, nextVersion(), string(body)); err != nil {
		return fmt.Errorf("store %s record %s: %w", kind, id, err)
	}
	return nil
}

// Record returns a record's newest version, or store.ErrNotFound.
func (s *Store) Record(ctx context.Context, kind, id string) ([]byte, error) {
	var body string
	err := s.conn.QueryRow(ctx, fmt.Sprintf("SELECT argMax(body, version) FROM %s WHERE kind = ? AND id = ? GROUP BY id", s.table("records")), kind, id).Scan(&body)
	if isNoRows(err) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read %s record %s: %w", kind, id, err)
	}
	return []byte(body), nil
}

// EachRecord calls fn for every record of kind, in id order.
func (s *Store) EachRecord(ctx context.Context, kind string, fn func(id string, body []byte) error) error {
	rows, err := s.conn.Query(ctx, fmt.Sprintf("SELECT id, argMax(body, version) FROM %s WHERE kind = ? GROUP BY id ORDER BY id", s.table("records")), kind)
	if err != nil {
		return fmt.Errorf("read %s records: %w", kind, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, body string
		if err := rows.Scan(&id, &body); err != nil {
			return err
		}
		if err := fn(id, []byte(body)); err != nil {
			return err
		}
	}
	return rows.Err()
}
