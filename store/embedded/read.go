package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/internal/txcodec"
	"github.com/fundtrace/fundtrace/store"
)

func (s *Store) get(k []byte, fn func(v []byte) error) error {
	v, closer, err := s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return store.ErrNotFound
	}
	if err != nil {
		return err
	}
	defer closer.Close()
	if err := fn(v); err != nil {
		return &store.CorruptError{Key: fmt.Sprintf("%x", k), Err: err}
	}
	return nil
}

// BlockByHeight returns the block at height h and its txids.
func (s *Store) BlockByHeight(ctx context.Context, c chains.Chain, h int64) (chains.Block, []chains.Hash, error) {
	var (
		b     chains.Block
		txids []chains.Hash
	)
	err := s.get(blockKey(nil, c, h), func(v []byte) (err error) {
		b, txids, err = decodeBlock(c, h, v)
		return err
	})
	if err != nil {
		return b, nil, fmt.Errorf("%s block %d: %w", c, h, err)
	}
	return b, txids, nil
}

// BlockByHash returns the block with hash h and its txids.
func (s *Store) BlockByHash(ctx context.Context, c chains.Chain, h chains.Hash) (chains.Block, []chains.Hash, error) {
	var height int64
	err := s.get(blockHashKey(nil, c, h), func(v []byte) error {
		x, n := binary.Uvarint(v)
		if n <= 0 {
			return errShort
		}
		height = int64(x)
		return nil
	})
	if err != nil {
		return chains.Block{}, nil, fmt.Errorf("%s block %s: %w", c, h, err)
	}
	return s.BlockByHeight(ctx, c, height)
}

// Tx returns the transaction with hash h, inputs resolved and outputs
// included.
func (s *Store) Tx(ctx context.Context, c chains.Chain, h chains.Hash) (*chains.Tx, error) {
	v, k, _, err := s.txRecord(c, h)
	if err != nil {
		return nil, fmt.Errorf("%s tx %s: %w", c, h, err)
	}
	tx, err := txcodec.DecodeTx(c, h, v)
	if err != nil {
		return nil, fmt.Errorf("%s tx %s: %w", c, h, &store.CorruptError{Key: fmt.Sprintf("%x", k), Err: err})
	}
	return tx, nil
}

// LookupOutputs returns, for each outpoint, the output it names, or nil
// where the store has no such output.
//
// The outpoints are looked up in key order through one iterator, each
// transaction once however many of its outputs are asked for: an indexer
// resolves thousands of inputs per batch, and Pebble serves a sorted run
// of seeks much faster than as many independent point reads.
func (s *Store) LookupOutputs(ctx context.Context, c chains.Chain, ops []chains.Outpoint) ([]*chains.Output, error) {
	res := make([]*chains.Output, len(ops))
	if len(ops) == 0 {
		return res, nil
	}
	l := outputLookup{ops: ops, res: res, outs: make([]chains.Output, len(ops))}
	missed, err := s.lookupOutputs(ctx, c, tTxPtr, &l, seekOrder(ops))
	if err == nil && len(missed) > 0 && s.hasLegacyTxs(c) {
		_, err = s.lookupOutputs(ctx, c, tTx, &l, missed)
	}
	if err != nil {
		return nil, fmt.Errorf("%s outputs: %w", c, err)
	}
	l.addrs.Fill()
	return res, nil
}

// outputLookup is what LookupOutputs fills.
type outputLookup struct {
	ops   []chains.Outpoint
	res   []*chains.Output
	outs  []chains.Output
	addrs addrArena
	rec   []byte // a record read from a transaction file
}

// lookupOutputs looks up, in the given order, the outpoints of l in table
// p (whose entries point at records in the chain's transaction file) or
// in table t (which holds the records of what schema 3 and below
// indexed), and returns those whose transaction it does not hold, in the
// same order.
func (s *Store) lookupOutputs(ctx context.Context, c chains.Chain, table byte, l *outputLookup, order []uint64) (missed []uint64, err error) {
	var tf *txFile // opened at the first pointer found
	lo := keyPrefix(nil, table, c)
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	k := lo
	for n := 0; n < len(order); {
		h := l.ops[uint32(order[n])].Hash
		end := n + 1
		for end < len(order) && l.ops[uint32(order[end])].Hash == h {
			end++
		}
		k = append(k[:len(lo)], h[:]...)
		// A key of table p or t is its own prefix (splitKey): a prefix
		// seek skips every table whose filter says the txid is not
		// there. A plain seek read a data block of every level and of
		// every sublevel of level 0: at 10.56 M transactions these
		// lookups, of outputs the indexer's cache had dropped, took 20 s
		// of processor time, 16 s of it seeking.
		if !it.SeekPrefixGE(k) || !bytes.Equal(it.Key(), k) {
			missed = append(missed, order[n:end]...)
			n = end
			continue
		}
		v := it.Value()
		if table == tTxPtr {
			if tf == nil {
				if tf, err = s.txFileOf(c); err != nil {
					return nil, err
				}
			}
			if l.rec, err = tf.copyOf(v, l.rec); err != nil {
				return nil, &store.CorruptError{Key: fmt.Sprintf("%x", k), Err: err}
			}
			v = l.rec
		}
		for _, e := range order[n:end] {
			i := uint32(e)
			ok, err := txcodec.DecodeOutput(v, l.ops[i].Index, &l.outs[i], &l.addrs)
			if err != nil {
				return nil, fmt.Errorf("output %s: %w", l.ops[i], &store.CorruptError{Key: fmt.Sprintf("%x", k), Err: err})
			}
			if ok {
				l.res[i] = &l.outs[i]
			}
		}
		n = end
	}
	return missed, it.Error()
}

// seekOrder returns the places of ops ordered by their hashes' first
// three bytes (in the low 32 bits of each element), stably: seeks in that
// order go forward through the table, and the outpoints of one
// transaction come together, but for the rare hashes that share those
// bytes (which then cost a seek more, never a wrong answer). Three
// counting passes cost less than a full sort of the hashes.
func seekOrder(ops []chains.Outpoint) []uint64 {
	a, b := make([]uint64, len(ops)), make([]uint64, len(ops))
	for i := range ops {
		h := &ops[i].Hash
		a[i] = uint64(h[0])<<48 | uint64(h[1])<<40 | uint64(h[2])<<32 | uint64(i)
	}
	for shift := 32; shift <= 48; shift += 8 {
		var start [256]int
		for _, x := range a {
			start[byte(x>>shift)]++
		}
		n := 0
		for d, c := range start {
			start[d], n = n, n+c
		}
		for _, x := range a {
			d := byte(x >> shift)
			b[start[d]] = x
			start[d]++
		}
		a, b = b, a
	}
	return a
}

// Spenders returns, for each outpoint, the input that spent it; Spent is
// false in the result where it is unspent (or unknown).
func (s *Store) Spenders(ctx context.Context, c chains.Chain, ops []chains.Outpoint) ([]store.Spend, []bool, error) {
	if err := s.settleStaged(ctx); err != nil {
		return nil, nil, err
	}
	res := make([]store.Spend, len(ops))
	found := make([]bool, len(ops))
	var k []byte
	for i, op := range ops {
		k = outpointKey(k[:0], tSpender, c, op)
		var sp spend
		err := s.get(k, func(v []byte) (err error) {
			sp, err = decodeSpend(v)
			return err
		})
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err == nil && !sp.hasTxid {
			sp.txid, _, err = s.txAt(c, sp.height, sp.pos)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s spender of %s: %w", c, op, err)
		}
		res[i] = store.Spend{Outpoint: op, TxHash: sp.txid, Vin: sp.vin, Height: sp.height, Position: sp.pos}
		found[i] = true
	}
	return res, found, nil
}

// txAt returns the txid at position pos of block h and the block's time,
// read from the block record. A record that names a block or position the
// store does not hold is corrupt.
func (s *Store) txAt(c chains.Chain, h int64, pos uint32) (txid chains.Hash, time int64, err error) {
	k := blockKey(nil, c, h)
	err = s.get(k, func(v []byte) (err error) {
		time, txid, err = blockTxid(v, pos)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		err = &store.CorruptError{Key: fmt.Sprintf("%x", k), Err: fmt.Errorf("a record names block %d, which is not stored", h)}
	}
	if err != nil {
		return txid, 0, fmt.Errorf("%s tx %d:%d: %w", c, h, pos, err)
	}
	return txid, time, nil
}

// FirstSeen returns the height at which a was first paid: on a UTXO
// chain the height of its first history entry, on an account chain its
// first-seen record.
func (s *Store) FirstSeen(ctx context.Context, c chains.Chain, a chains.Address) (int64, error) {
	if err := s.settleStaged(ctx); err != nil {
		return 0, err
	}
	var h int64
	if !c.IsAccount() {
		lo := addrPrefix(nil, c, a)
		it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
		if err != nil {
			return 0, err
		}
		defer it.Close()
		if !it.First() {
			return 0, errors.Join(it.Error(), store.ErrNotFound)
		}
		k := it.Key()
		if len(k) < len(lo)+8 {
			return 0, &store.CorruptError{Key: fmt.Sprintf("%x", k), Err: errShort}
		}
		return int64(binary.BigEndian.Uint64(k[len(lo):])), nil
	}
	err := s.get(firstSeenKey(nil, c, a), func(v []byte) error {
		x, n := binary.Uvarint(v)
		if n <= 0 {
			return errShort
		}
		h = int64(x)
		return nil
	})
	return h, err
}

// AddressHistory returns every output paying a, oldest first, each with
// the input that spent it (if any) and block times filled in. limit > 0
// caps the number of entries.
func (s *Store) AddressHistory(ctx context.Context, c chains.Chain, a chains.Address, limit int) ([]store.HistoryEntry, error) {
	if err := s.settleStaged(ctx); err != nil {
		return nil, err
	}
	lo := addrPrefix(nil, c, a)
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return nil, err
	}
	var hist []store.HistoryEntry
	var unnamed []int // entries whose txid is in their block's record
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		rest := k[len(lo):]
		if len(rest) != 16 {
			it.Close()
			return nil, &store.CorruptError{Key: fmt.Sprintf("%x", k), Err: errShort}
		}
		value, typ, txid, hasTxid, err := decodeReceived(it.Value())
		if err != nil {
			it.Close()
			return nil, &store.CorruptError{Key: fmt.Sprintf("%x", k), Err: err}
		}
		e := store.HistoryEntry{
			Address: a,
			Height:  int64(binary.BigEndian.Uint64(rest)),
			TxPos:   binary.BigEndian.Uint32(rest[8:]),
			Vout:    binary.BigEndian.Uint32(rest[12:]),
			TxHash:  txid,
			Value:   value,
			Type:    typ,
		}
		if !hasTxid {
			unnamed = append(unnamed, len(hist))
		}
		hist = append(hist, e)
		if limit > 0 && len(hist) >= limit {
			break
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, fmt.Errorf("%s address history: %w", c, err)
	}
	times := map[int64]int64{}
	for _, i := range unnamed {
		e := &hist[i]
		if e.TxHash, times[e.Height], err = s.txAt(c, e.Height, e.TxPos); err != nil {
			return nil, fmt.Errorf("%s address history: %w", c, err)
		}
	}
	ops := make([]chains.Outpoint, len(hist))
	for i := range hist {
		ops[i] = chains.Outpoint{Hash: hist[i].TxHash, Index: hist[i].Vout}
	}
	spends, found, err := s.Spenders(ctx, c, ops)
	if err != nil {
		return nil, err
	}
	blockTime := func(h int64) (int64, error) {
		if t, ok := times[h]; ok {
			return t, nil
		}
		var b chains.Block
		err := s.get(blockKey(nil, c, h), func(v []byte) error {
			d := newDecoder(v)
			d.blockHeader(&b) // not the txids, which BlockByHeight would copy out
			return d.Err
		})
		if err != nil {
			return 0, fmt.Errorf("%s block %d: %w", c, h, err)
		}
		times[h] = b.Time
		return b.Time, nil
	}
	for i := range hist {
		if hist[i].Time, err = blockTime(hist[i].Height); err != nil {
			return nil, err
		}
		if found[i] {
			hist[i].Spent, hist[i].SpentBy = true, spends[i]
			if hist[i].SpentBy.Time, err = blockTime(spends[i].Height); err != nil {
				return nil, err
			}
		}
	}
	return hist, nil
}

// Dump calls fn for every key and value in the store in key order. Tests
// use it to compare two stores for exact equality (e.g. an interrupted and
// an uninterrupted ingest). An entry of table p comes with the record it
// points at in the transaction file, not with the pointer: two stores
// are equal when they hold the same transactions, wherever the records
// sit in the file; so does an entry of table d, with its block's records
// (checked against the layout's checksum) in place of the layout.
func (s *Store) Dump(ctx context.Context, fn func(k, v []byte) error) error {
	if err := s.settleStaged(ctx); err != nil {
		return err
	}
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{})
	if err != nil {
		return err
	}
	defer it.Close()
	var rec []byte
	for it.First(); it.Valid(); it.Next() {
		k, v := it.Key(), it.Value()
		if bytes.Equal(k, schemaKey) {
			continue
		}
		if len(k) > 2 && (k[0] == tTxPtr || k[0] == tLayout) {
			if rec, err = s.dumpRecords(k, v, rec); err != nil {
				return &store.CorruptError{Key: fmt.Sprintf("%x", k), Err: err}
			}
			v = rec
		}
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return it.Error()
}

// dumpRecords returns what v, an entry of table p or d (k's table) of
// the chain k names, says where it is in the transaction file: a
// transaction's record, or a block's records together.
func (s *Store) dumpRecords(k, v, buf []byte) ([]byte, error) {
	c, ok := chains.ChainByTag(k[1])
	if !ok {
		return nil, fmt.Errorf("unknown chain tag %q", k[1])
	}
	tf, err := s.txFileOf(c)
	if err != nil {
		return nil, err
	}
	if k[0] == tLayout {
		return tf.layoutRecords(v, buf)
	}
	return tf.recordOf(v, buf)
}

// Txs returns the transactions named, in order; a hash that is not
// stored is an error wrapping store.ErrNotFound that names it.
func (s *Store) Txs(ctx context.Context, c chains.Chain, hs []chains.Hash) ([]*chains.Tx, error) {
	out := make([]*chains.Tx, len(hs))
	for i, h := range hs {
		tx, err := s.Tx(ctx, c, h)
		if err != nil {
			return nil, err
		}
		out[i] = tx
	}
	return out, nil
}
