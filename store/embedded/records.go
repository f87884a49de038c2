package embedded

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Records (the workbench's cases and notes), of no chain:
//
//	W len(1) kind id → body

func recordPrefix(kind string) ([]byte, error) {
	if kind == "" || len(kind) > 255 {
		return nil, fmt.Errorf("record kind %q: want 1 to 255 bytes", kind)
	}
	return append([]byte{tRecord, byte(len(kind))}, kind...), nil
}

// PutRecord stores a record, replacing one of the same kind and id, synced.
func (s *Store) PutRecord(ctx context.Context, kind, id string, body []byte) error {
	p, err := recordPrefix(kind)
	if err != nil {
		return err
	}
	if id == "" {
		return errors.New("a record needs an id")
	}
	if err := s.db.Set(append(p, id...), body, pebble.Sync); err != nil {
		return fmt.Errorf("store %s record %s: %w", kind, id, err)
	}
	return nil
}

// Record returns a record, or store.ErrNotFound.
func (s *Store) Record(ctx context.Context, kind, id string) ([]byte, error) {
	p, err := recordPrefix(kind)
	if err != nil {
		return nil, err
	}
	var out []byte
	err = s.get(append(p, id...), func(v []byte) error { out = bytes.Clone(v); return nil })
	return out, err
}

// EachRecord calls fn for every record of kind, in id order.
func (s *Store) EachRecord(ctx context.Context, kind string, fn func(id string, body []byte) error) error {
	p, err := recordPrefix(kind)
	if err != nil {
		return err
	}
	return s.scan(ctx, p, func(k, v []byte) error { return fn(string(k[len(p):]), bytes.Clone(v)) })
}
