package embedded

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fundtrace/fundtrace/chains"
)

// CheckReport says what Check read.
type CheckReport struct {
	Keys      int64    // entries of every table
	TxRecords int64    // transaction records read from the transaction files
	Files     []string // the store's files, by name
	Bytes     int64    // their size
}

// Check reads every entry of the store, which makes Pebble verify the
// checksum of every block of every table, every transaction record an
// entry points at against its CRC, and each block's records together
// against its layout's. The first damage found is an
// error naming the file (and, for a transaction record, the offset).
func (s *Store) Check(ctx context.Context) (CheckReport, error) {
	var r CheckReport
	if err := s.settleStaged(ctx); err != nil {
		return r, err
	}
	ents, err := os.ReadDir(s.path)
	if err != nil {
		return r, err
	}
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			r.Files = append(r.Files, e.Name())
			r.Bytes += fi.Size()
		}
	}
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{})
	if err != nil {
		return r, s.damage(err)
	}
	defer it.Close()
	var buf []byte
	for ok := it.First(); ok; ok = it.Next() {
		r.Keys++
		if r.Keys%(1<<16) == 0 {
			if err := ctx.Err(); err != nil {
				return r, err
			}
		}
		k := it.Key()
		if len(k) < 2 || (k[0] != tTxPtr && k[0] != tLayout) {
			continue
		}
		c, ok := chains.ChainByTag(k[1])
		if !ok {
			return r, fmt.Errorf("store %s: a transaction pointer of unknown chain tag %q", s.path, k[1])
		}
		tf, err := s.txFileOf(c)
		if err != nil {
			return r, err
		}
		if k[0] == tLayout {
			// The block's records together, against the layout's checksum.
			if buf, err = tf.layoutRecords(it.Value(), buf); err != nil {
				return r, fmt.Errorf("store file %s is damaged (block %d): %w", filepath.Base(tf.path), layoutHeight(k), err)
			}
			continue
		}
		if _, err := tf.recordOf(it.Value(), nil); err != nil {
			return r, fmt.Errorf("store file %s is damaged: %w", filepath.Base(tf.path), err)
		}
		r.TxRecords++
	}
	if err := it.Error(); err != nil {
		return r, s.damage(err)
	}
	return r, nil
}

// damage names the file a Pebble error found damaged.
func (s *Store) damage(err error) error {
	if f, ok := Damaged(err); ok {
		msg := err.Error()
		if i := strings.Index(msg, "\n"); i >= 0 {
			msg = msg[:i]
		}
		return fmt.Errorf("store file %s is damaged: %s", f, msg)
	}
	return err
}
