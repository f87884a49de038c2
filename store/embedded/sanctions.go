package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// Sanctions snapshots (chain-independent tables, chain byte '-'):
//
//	Z - id(8)                 → snapshot description (JSON)
//	z - id(8) chain len addr  → the listing (JSON)
//
// Which snapshot is in force follows from their list dates
// (store.InForce); stores of schema 4 and before also kept an
// m-sanctions-current record, which is no longer read.

func sanctionsPrefix(table byte) []byte { return []byte{table, '-'} }

func snapshotKey(id int64) []byte {
	return binary.BigEndian.AppendUint64(sanctionsPrefix(tSanctionsSnapshot), uint64(id))
}

func sanctionedKey(id int64, c chains.Chain, a chains.Address) []byte {
	k := binary.BigEndian.AppendUint64(sanctionsPrefix(tSanctioned), uint64(id))
	k = append(k, c.Tag(), byte(len(a)))
	return append(k, a...)
}

// Snapshots lists the imported sanctions snapshots, oldest first.
func (s *Store) Snapshots(ctx context.Context) ([]store.SanctionsSnapshot, error) {
	lo := sanctionsPrefix(tSanctionsSnapshot)
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []store.SanctionsSnapshot
	for ok := it.First(); ok; ok = it.Next() {
		var sn store.SanctionsSnapshot
		if err := json.Unmarshal(it.Value(), &sn); err != nil {
			return nil, &store.CorruptError{Key: fmt.Sprintf("sanctions snapshot %x", it.Key()), Err: err}
		}
		out = append(out, sn)
	}
	return out, it.Error()
}

// AddSnapshot stores a new snapshot with its addresses in one atomic
// batch; earlier snapshots stay. It is in force if its list date is the
// latest.
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
	b := s.db.NewBatch()
	defer b.Close()
	for _, a := range addrs {
		v, err := json.Marshal(a)
		if err != nil {
			return sn, err
		}
		if err := b.Set(sanctionedKey(sn.ID, a.Chain, a.Address), v, nil); err != nil {
			return sn, err
		}
	}
	v, err := json.Marshal(sn)
	if err != nil {
		return sn, err
	}
	if err := b.Set(snapshotKey(sn.ID), v, nil); err != nil {
		return sn, err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return sn, fmt.Errorf("store sanctions snapshot: %w", err)
	}
	return sn, nil
}

// SnapshotAddresses returns every address of snapshot id, ordered by
// chain and address (as ClickHouse orders them).
func (s *Store) SnapshotAddresses(ctx context.Context, id int64) ([]store.SanctionedAddress, error) {
	lo := binary.BigEndian.AppendUint64(sanctionsPrefix(tSanctioned), uint64(id))
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []store.SanctionedAddress
	for ok := it.First(); ok; ok = it.Next() {
		a, err := decodeSanctioned(it.Key()[len(lo):], it.Value())
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Chain != out[j].Chain {
			return out[i].Chain < out[j].Chain
		}
		return out[i].Address < out[j].Address
	})
	return out, it.Error()
}

func decodeSanctioned(k, v []byte) (store.SanctionedAddress, error) {
	var a store.SanctionedAddress
	if err := json.Unmarshal(v, &a); err != nil {
		return a, &store.CorruptError{Key: "sanctioned address", Err: err}
	}
	if len(k) < 2 || len(k) != 2+int(k[1]) {
		return a, &store.CorruptError{Key: "sanctioned address", Err: errShort}
	}
	a.Address = chains.Address(bytes.Clone(k[2:]))
	return a, nil
}

// Sanctioned looks a up in snapshot id.
func (s *Store) Sanctioned(ctx context.Context, id int64, c chains.Chain, a chains.Address) (store.SanctionedAddress, bool, error) {
	var out store.SanctionedAddress
	k := sanctionedKey(id, c, a)
	err := s.get(k, func(v []byte) error {
		var err error
		out, err = decodeSanctioned(k[len(k)-2-len(a):], v)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return out, false, nil
	}
	return out, err == nil, err
}

// CurrentSnapshot is the id of the snapshot screening uses by default:
// the latest-dated list (store.InForce), 0 when none was imported.
func (s *Store) CurrentSnapshot(ctx context.Context) (int64, error) {
	sns, err := s.Snapshots(ctx)
	if err != nil {
		return 0, err
	}
	return store.InForce(sns, ""), nil
}
