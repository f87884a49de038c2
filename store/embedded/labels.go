package embedded

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// Labels: l c len(1) addr digest(8) → label (JSON). The digest is of the
// label's text, category and source, so importing a source again updates
// its labels instead of doubling them, and one address keeps any number
// of labels from different sources.

func labelPrefix(c chains.Chain, a chains.Address) []byte {
	k := append(keyPrefix(nil, tLabel, c), byte(len(a)))
	return append(k, a...)
}

func labelKey(l *store.Label) []byte {
	d := sha256.Sum256([]byte(l.Label + "\x00" + l.Category + "\x00" + l.Source + "\x00" + l.Actor))
	return append(labelPrefix(l.Chain, l.Address), d[:8]...)
}

// AddLabels stores labels in one atomic batch.
func (s *Store) AddLabels(ctx context.Context, ls []store.Label) error {
	b := s.db.NewBatch()
	defer b.Close()
	for i := range ls {
		v, err := json.Marshal(ls[i])
		if err != nil {
			return err
		}
		if err := b.Set(labelKey(&ls[i]), v, nil); err != nil {
			return err
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("store labels: %w", err)
	}
	return nil
}

// Labels returns the labels of a.
func (s *Store) Labels(ctx context.Context, c chains.Chain, a chains.Address) ([]store.Label, error) {
	var out []store.Label
	return out, s.scanLabels(ctx, labelPrefix(c, a), func(l store.Label) error { out = append(out, l); return nil })
}

// EachLabel calls fn for every label of every chain.
func (s *Store) EachLabel(ctx context.Context, fn func(store.Label) error) error {
	for _, c := range chains.Indexed {
		if err := s.scanLabels(ctx, keyPrefix(nil, tLabel, c), fn); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) scanLabels(ctx context.Context, lo []byte, fn func(store.Label) error) error {
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		var l store.Label
		if err := json.Unmarshal(it.Value(), &l); err != nil {
			return fmt.Errorf("label %x: %w", it.Key(), err)
		}
		k := it.Key()
		c, _ := chains.ChainByTag(k[1])
		n := int(k[2])
		if len(k) < 3+n {
			return fmt.Errorf("label key %x too short", k)
		}
		l.Chain, l.Address = c, chains.Address(bytes.Clone(k[3:3+n]))
		if err := fn(l); err != nil {
			return err
		}
	}
	return it.Error()
}
