package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// Account chains (Ethereum, TRON) keep, beside the block records:
//
//	y c height(8) pos(4)                       → transaction, receipt outcome, its transfers
//	t c txid                                   → its height(8) and pos(4) (schema 5; before,
//	                                             the record itself, still read)
//	w c height(8)                              → the block's transfers outside transactions (rewards, withdrawals)
//	x c len(1) addr height(8) txpos(4) seq(4)  → a transfer from or to addr (seq: its index in the block)
//	k c token                                  → token metadata
//	f c addr                                   → first-seen height (shared with UTXO chains)

// The transactions' records are kept in chain order, so that a pass over
// a chain's transfers (clustering) reads one key range from start to
// end: keyed by txid, the records of a chain of billions of transactions
// were read in random order, one point read each. A lookup by txid reads
// the 12-byte pointer, then the record.

func accountTxKey(dst []byte, c chains.Chain, h int64, pos uint32) []byte {
	dst = binary.BigEndian.AppendUint64(keyPrefix(dst, tAccountTx, c), uint64(h))
	return binary.BigEndian.AppendUint32(dst, pos)
}

// txPointerLen is the length of a t record that points at a y record. A
// whole transaction record, which schema 4 kept in table t, is longer:
// its sender's address alone takes 21 bytes.
const txPointerLen = 12

func appendTxPointer(dst []byte, h int64, pos uint32) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(h))
	return binary.BigEndian.AppendUint32(dst, pos)
}

func blockTransfersKey(dst []byte, c chains.Chain, h int64) []byte {
	return binary.BigEndian.AppendUint64(keyPrefix(dst, tBlockTransfers, c), uint64(h))
}

func transferPrefix(dst []byte, c chains.Chain, a chains.Address) []byte {
	dst = append(keyPrefix(dst, tTransfer, c), byte(len(a)))
	return append(dst, a...)
}

func transferKey(dst []byte, c chains.Chain, a chains.Address, h int64, txpos, seq uint32) []byte {
	dst = transferPrefix(dst, c, a)
	dst = binary.BigEndian.AppendUint64(dst, uint64(h))
	dst = binary.BigEndian.AppendUint32(dst, txpos)
	return binary.BigEndian.AppendUint32(dst, seq)
}

func tokenKey(c chains.Chain, a chains.Address) []byte {
	return append(keyPrefix(nil, tToken, c), a...)
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func appendBig(dst []byte, v *big.Int) []byte {
	if v == nil {
		return append(dst, 0)
	}
	dst = append(dst, 1+byte(v.Sign()+1)) // 1 negative, 2 zero, 3 positive
	return appendBytes(dst, v.Bytes())
}

func (d *decoder) lenBytes() []byte {
	n := d.Uvarint()
	if d.Err == nil && n > uint64(len(d.B)) {
		d.Err = errShort
	}
	return d.Bytes(int(n))
}

func (d *decoder) big() *big.Int {
	tag := d.Byte()
	if tag == 0 || d.Err != nil {
		return nil
	}
	v := new(big.Int).SetBytes(d.lenBytes())
	if tag == 1 {
		v.Neg(v)
	}
	return v
}

func appendTransfer(dst []byte, t *chains.Transfer) []byte {
	dst = append(dst, byte(t.Kind))
	dst = append(dst, t.TxHash[:]...)
	dst = binary.AppendUvarint(dst, uint64(t.TxIndex))
	dst = binary.AppendVarint(dst, t.Height)
	dst = binary.AppendVarint(dst, t.Time)
	dst = appendBytes(dst, []byte(t.Position))
	dst = appendBytes(dst, []byte(t.Asset))
	dst = appendBytes(dst, []byte(t.From))
	dst = appendBytes(dst, []byte(t.To))
	dst = appendBig(dst, t.Amount)
	dst = appendBig(dst, t.TokenID)
	if t.Success {
		return append(dst, 1)
	}
	return append(dst, 0)
}

func (d *decoder) transfer(c chains.Chain) chains.Transfer {
	t := chains.Transfer{Chain: c}
	t.Kind = chains.TransferKind(d.Byte())
	t.TxHash = d.Hash()
	t.TxIndex = uint32(d.Uvarint())
	t.Height = d.Varint()
	t.Time = d.Varint()
	t.Position = string(d.lenBytes())
	t.Asset = chains.Address(d.lenBytes())
	t.From = chains.Address(d.lenBytes())
	t.To = chains.Address(d.lenBytes())
	t.Amount = d.big()
	t.TokenID = d.big()
	t.Success = d.Byte() == 1
	return t
}

func appendTransfers(dst []byte, ts []chains.Transfer) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ts)))
	for i := range ts {
		dst = appendTransfer(dst, &ts[i])
	}
	return dst
}

func (d *decoder) transfers(c chains.Chain) []chains.Transfer {
	n := d.Uvarint()
	if d.Err != nil || n > uint64(len(d.B)) {
		d.Err = errShort
		return nil
	}
	out := make([]chains.Transfer, n)
	for i := range out {
		out[i] = d.transfer(c)
	}
	return out
}

// Account-transaction value: the transaction, then its transfers.
func appendAccountTx(dst []byte, tx *chains.AccountTx, ts []chains.Transfer) []byte {
	dst = binary.AppendVarint(dst, tx.Height)
	dst = binary.AppendUvarint(dst, uint64(tx.Position))
	dst = binary.AppendVarint(dst, tx.Time)
	dst = append(dst, tx.Type)
	dst = binary.AppendUvarint(dst, tx.Nonce)
	dst = appendBytes(dst, []byte(tx.From))
	dst = appendBytes(dst, []byte(tx.To))
	dst = appendBig(dst, tx.Value)
	dst = binary.AppendUvarint(dst, tx.Gas)
	dst = binary.AppendUvarint(dst, tx.GasUsed)
	dst = appendBig(dst, tx.GasPrice)
	dst = appendBig(dst, tx.Fee)
	if tx.Success {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	dst = appendBytes(dst, []byte(tx.Created))
	dst = appendBytes(dst, tx.Input4)
	return appendTransfers(dst, ts)
}

func decodeAccountTx(c chains.Chain, h chains.Hash, v []byte) (*chains.AccountTx, []chains.Transfer, error) {
	d := newDecoder(v)
	tx := &chains.AccountTx{Chain: c, Hash: h}
	tx.Height = d.Varint()
	tx.Position = uint32(d.Uvarint())
	tx.Time = d.Varint()
	tx.Type = d.Byte()
	tx.Nonce = d.Uvarint()
	tx.From = chains.Address(d.lenBytes())
	tx.To = chains.Address(d.lenBytes())
	tx.Value = d.big()
	tx.Gas = d.Uvarint()
	tx.GasUsed = d.Uvarint()
	tx.GasPrice = d.big()
	tx.Fee = d.big()
	tx.Success = d.Byte() == 1
	tx.Created = chains.Address(d.lenBytes())
	if in := d.lenBytes(); len(in) > 0 {
		tx.Input4 = append([]byte(nil), in...)
	}
	ts := d.transfers(c)
	if d.Err == nil && len(d.B) != 0 {
		d.Err = fmt.Errorf("%d bytes left over", len(d.B))
	}
	return tx, ts, d.Err
}

func appendToken(dst []byte, t *chains.Token) []byte {
	var flags byte
	if t.HasSymbol {
		flags |= 1
	}
	if t.HasName {
		flags |= 2
	}
	if t.HasDecimals {
		flags |= 4
	}
	dst = append(dst, flags, t.Decimals)
	dst = appendBytes(dst, []byte(t.Symbol))
	return appendBytes(dst, []byte(t.Name))
}

// writeAccountBlock adds an account chain's block to b: the block, each
// transaction with its transfers, the transfers outside transactions, a
// history entry for both ends of every transfer, and token metadata.
func (s *Store) writeAccountBlock(b *kvBuf, c chains.Chain, m *store.Meta, bd *store.BlockData) error {
	blk := &bd.Block
	txids := make([]chains.Hash, len(bd.AccountTxs))
	byTx := make([][]chains.Transfer, len(bd.AccountTxs))
	var outside []chains.Transfer
	for i := range bd.AccountTxs {
		txids[i] = bd.AccountTxs[i].Hash
		if bd.AccountTxs[i].Position != uint32(i) {
			return fmt.Errorf("block %d: transaction %s is at position %d, listed %d", blk.Height, txids[i], bd.AccountTxs[i].Position, i)
		}
	}
	for i := range bd.Transfers {
		t := &bd.Transfers[i]
		if t.TxHash == (chains.Hash{}) {
			outside = append(outside, *t)
			continue
		}
		if int(t.TxIndex) >= len(txids) || txids[t.TxIndex] != t.TxHash {
			return fmt.Errorf("block %d: transfer %d names transaction %s at %d, which the block does not have", blk.Height, i, t.TxHash, t.TxIndex)
		}
		byTx[t.TxIndex] = append(byTx[t.TxIndex], *t)
	}
	var v []byte
	b.set(blockKey(nil, c, blk.Height), appendBlock(nil, blk, txids))
	b.set(blockHashKey(nil, c, blk.Hash), binary.AppendUvarint(nil, uint64(blk.Height)))
	for i := range bd.AccountTxs {
		v = appendAccountTx(v[:0], &bd.AccountTxs[i], byTx[i])
		b.set(accountTxKey(nil, c, blk.Height, uint32(i)), v)
		b.set(txKey(nil, c, txids[i]), appendTxPointer(nil, blk.Height, uint32(i)))
		m.Txs++
	}
	if len(outside) > 0 {
		b.set(blockTransfersKey(nil, c, blk.Height), appendTransfers(nil, outside))
	}
	var k []byte
	for i := range bd.Transfers {
		t := &bd.Transfers[i]
		v = appendTransfer(v[:0], t)
		for _, a := range []chains.Address{t.From, t.To} {
			if a == "" {
				continue
			}
			k = transferKey(k[:0], c, a, blk.Height, t.TxIndex, uint32(i))
			b.set(k, v)
			s.candidate(c, a, blk.Height)
		}
		m.Transfers++
	}
	for i := range bd.Tokens {
		b.set(tokenKey(c, bd.Tokens[i].Address), appendToken(nil, &bd.Tokens[i]))
	}
	extendTip(m, blk)
	return nil
}

// AccountTx returns an account chain's transaction and its transfers.
func (s *Store) AccountTx(ctx context.Context, c chains.Chain, h chains.Hash) (*chains.AccountTx, []chains.Transfer, error) {
	tx, ts, err := s.accountTx(c, h)
	if err != nil {
		return nil, nil, err
	}
	if m, err := s.Meta(ctx, c); err != nil || tx.Height > m.TipHeight {
		return nil, nil, errors.Join(err, store.ErrNotFound)
	}
	return tx, ts, nil
}

// AccountTxs returns the transactions hs name and their transfers, nil
// for one the store does not hold (AccountTx for each: local reads cost
// no round trip).
func (s *Store) AccountTxs(ctx context.Context, c chains.Chain, hs []chains.Hash) ([]*chains.AccountTx, [][]chains.Transfer, error) {
	txs, tss := make([]*chains.AccountTx, len(hs)), make([][]chains.Transfer, len(hs))
	for i, h := range hs {
		tx, ts, err := s.AccountTx(ctx, c, h)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		txs[i], tss[i] = tx, ts
	}
	return txs, tss, nil
}

// accountTx reads a transaction record, committed or not: no lock.
func (s *Store) accountTx(c chains.Chain, h chains.Hash) (*chains.AccountTx, []chains.Transfer, error) {
	var tx *chains.AccountTx
	var ts []chains.Transfer
	var at []byte // the record's key in table y, when t points there
	decode := func(v []byte) error {
		var err error
		tx, ts, err = decodeAccountTx(c, h, v)
		if err != nil {
			return &store.CorruptError{Key: fmt.Sprintf("%s tx %s", c, h), Err: err}
		}
		return nil
	}
	err := s.get(txKey(nil, c, h), func(v []byte) error {
		if len(v) == txPointerLen {
			at = accountTxKey(nil, c, int64(binary.BigEndian.Uint64(v)), binary.BigEndian.Uint32(v[8:]))
			return nil
		}
		return decode(v) // schema 4 and below
	})
	if err == nil && at != nil {
		err = s.get(at, decode)
		if errors.Is(err, store.ErrNotFound) {
			err = &store.CorruptError{Key: fmt.Sprintf("%s tx %s", c, h), Err: fmt.Errorf("its record %x is missing", at)}
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s tx %s: %w", c, h, err)
	}
	return tx, ts, nil
}

// EachTransfer hands fn every transfer of blocks from..to (up to the
// tip) in chain order, each block's transactions' transfers and then
// its transfers outside transactions, reading the two tables each in
// one key-ordered pass; it returns how many transactions those blocks
// hold. The Transfer passed to fn is valid only during the call.
func (s *Store) EachTransfer(ctx context.Context, c chains.Chain, from, to int64, fn func(*chains.Transfer) error) (int64, error) {
	if s.schema < 5 {
		return 0, fmt.Errorf("store %s has schema %d, whose %s transactions are not kept in chain order: open it for writing once (any command that writes) to upgrade it", s.path, s.schema, c)
	}
	m, err := s.Meta(ctx, c)
	if err != nil {
		return 0, err
	}
	to = min(to, m.TipHeight)
	from = max(from, 0)
	if from > to {
		return 0, nil
	}
	span := func(table byte) (*pebble.Iterator, error) {
		lo := binary.BigEndian.AppendUint64(keyPrefix(nil, table, c), uint64(from))
		hi := binary.BigEndian.AppendUint64(keyPrefix(nil, table, c), uint64(to)+1)
		return s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	}
	txs, err := span(tAccountTx)
	if err != nil {
		return 0, err
	}
	defer txs.Close()
	outs, err := span(tBlockTransfers)
	if err != nil {
		return 0, err
	}
	defer outs.Close()
	heightOf := func(key []byte) int64 { return int64(binary.BigEndian.Uint64(key[2:10])) }
	okOut := outs.First()
	// outside hands on the transfers outside transactions of the blocks
	// below h.
	outside := func(h int64) error {
		for ; okOut && heightOf(outs.Key()) < h; okOut = outs.Next() {
			d := newDecoder(outs.Value())
			ts := d.transfers(c)
			if d.Err != nil {
				return &store.CorruptError{Key: fmt.Sprintf("%s block %d transfers", c, heightOf(outs.Key())), Err: d.Err}
			}
			for i := range ts {
				if err := fn(&ts[i]); err != nil {
					return err
				}
			}
		}
		return nil
	}
	var n int64
	for ok := txs.First(); ok; ok = txs.Next() {
		key := txs.Key()
		if len(key) != 14 {
			return n, &store.CorruptError{Key: fmt.Sprintf("%x", key), Err: errors.New("not a transaction's key")}
		}
		h := heightOf(key)
		if err := outside(h); err != nil {
			return n, err
		}
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return n, err
			}
		}
		_, ts, err := decodeAccountTx(c, chains.Hash{}, txs.Value())
		if err != nil {
			return n, &store.CorruptError{Key: fmt.Sprintf("%s transaction %d of block %d", c, binary.BigEndian.Uint32(key[10:]), h), Err: err}
		}
		n++
		for i := range ts {
			if err := fn(&ts[i]); err != nil {
				return n, err
			}
		}
	}
	if err := txs.Error(); err != nil {
		return n, err
	}
	if err := outside(to + 1); err != nil {
		return n, err
	}
	return n, outs.Error()
}

// BlockTransfers returns the transfers of block h outside any transaction
// (block rewards, withdrawals).
func (s *Store) BlockTransfers(ctx context.Context, c chains.Chain, h int64) ([]chains.Transfer, error) {
	var ts []chains.Transfer
	err := s.get(blockTransfersKey(nil, c, h), func(v []byte) error {
		d := newDecoder(v)
		ts = d.transfers(c)
		return d.Err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return ts, err
}

// Transfers returns up to limit transfers from or to a, oldest first
// (limit <= 0: all).
func (s *Store) Transfers(ctx context.Context, c chains.Chain, a chains.Address, limit int) ([]chains.Transfer, error) {
	m, err := s.Meta(ctx, c)
	if err != nil {
		return nil, err
	}
	lo := transferPrefix(nil, c, a)
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []chains.Transfer
	for ok := it.First(); ok; ok = it.Next() {
		key := it.Key()
		if len(key) < len(lo)+8 || !bytes.HasPrefix(key, lo) {
			continue
		}
		if int64(binary.BigEndian.Uint64(key[len(lo):])) > m.TipHeight {
			break
		}
		d := newDecoder(it.Value())
		t := d.transfer(c)
		if d.Err != nil {
			return nil, &store.CorruptError{Key: fmt.Sprintf("%s transfer of %x", c, []byte(a)), Err: d.Err}
		}
		out = append(out, t)
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out, it.Error()
}

// TransfersOf returns, for each address, its transfers (from or to it)
// between heights from and to inclusive (to < 0: the tip), oldest first:
// what a trace over an account chain reads for a whole frontier at once.
// With limit > 0, an address with more than limit transfers there gets
// none and true in over: its history is read no further than the
// transfer past the limit.
func (s *Store) TransfersOf(ctx context.Context, c chains.Chain, addrs []chains.Address, from, to int64, limit int) ([][]chains.Transfer, []bool, error) {
	m, err := s.Meta(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	if to < 0 || to > m.TipHeight {
		to = m.TipHeight
	}
	out := make([][]chains.Transfer, len(addrs))
	over := make([]bool, len(addrs))
	for i, a := range addrs {
		lo := transferPrefix(nil, c, a)
		end := prefixEnd(lo)
		start := binary.BigEndian.AppendUint64(append([]byte(nil), lo...), uint64(max(from, 0)))
		it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: start, UpperBound: end})
		if err != nil {
			return nil, nil, err
		}
		for ok := it.First(); ok; ok = it.Next() {
			key := it.Key()
			if len(key) < len(lo)+8 {
				continue
			}
			if int64(binary.BigEndian.Uint64(key[len(lo):])) > to {
				break
			}
			if limit > 0 && len(out[i]) == limit {
				out[i], over[i] = nil, true
				break
			}
			d := newDecoder(it.Value())
			t := d.transfer(c)
			if d.Err != nil {
				it.Close()
				return nil, nil, &store.CorruptError{Key: fmt.Sprintf("%s transfer of %x", c, []byte(a)), Err: d.Err}
			}
			out[i] = append(out[i], t)
		}
		if err := errors.Join(it.Error(), it.Close()); err != nil {
			return nil, nil, err
		}
	}
	return out, over, nil
}

// Token returns what is recorded of a token contract.
func (s *Store) Token(ctx context.Context, c chains.Chain, a chains.Address) (chains.Token, error) {
	t := chains.Token{Chain: c, Address: a}
	err := s.get(tokenKey(c, a), func(v []byte) error {
		d := newDecoder(v)
		flags := d.Byte()
		t.Decimals = d.Byte()
		t.Symbol = string(d.lenBytes())
		t.Name = string(d.lenBytes())
		t.HasSymbol, t.HasName, t.HasDecimals = flags&1 != 0, flags&2 != 0, flags&4 != 0
		return d.Err
	})
	return t, err
}

// rollbackAccountBlock deletes what writeAccountBlock wrote for block h
// (token metadata stays: it does not depend on the block), and returns
// the addresses whose first-seen record it removed.
func (s *Store) rollbackAccountBlock(ctx context.Context, del func([]byte) error, c chains.Chain, m *store.Meta, h int64, txids []chains.Hash) ([]chains.Address, error) {
	var all []chains.Transfer
	for _, id := range txids {
		tx, ts, err := s.accountTx(c, id)
		if err != nil {
			return nil, fmt.Errorf("roll back block %d: %w", h, err)
		}
		if tx.Height != h {
			continue
		}
		if err := del(txKey(nil, c, id)); err != nil {
			return nil, err
		}
		if err := del(accountTxKey(nil, c, h, tx.Position)); err != nil {
			return nil, err
		}
		m.Txs--
		all = append(all, ts...)
	}
	outside, err := s.BlockTransfers(ctx, c, h)
	if err != nil {
		return nil, err
	}
	all = append(all, outside...)
	if err := del(blockTransfersKey(nil, c, h)); err != nil {
		return nil, err
	}
	// Transfers were keyed by their index in the block; that index is
	// their order, which per-transaction lists lose, so the history keys
	// are found by scanning each address's entries at height h.
	var removed []chains.Address
	seen := map[chains.Address]bool{}
	for _, t := range all {
		m.Transfers--
		for _, a := range []chains.Address{t.From, t.To} {
			if a == "" || seen[a] {
				continue
			}
			seen[a] = true
			lo := binary.BigEndian.AppendUint64(transferPrefix(nil, c, a), uint64(h))
			it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
			if err != nil {
				return nil, err
			}
			for ok := it.First(); ok; ok = it.Next() {
				if err := del(bytes.Clone(it.Key())); err != nil {
					it.Close()
					return nil, err
				}
			}
			if err := errors.Join(it.Error(), it.Close()); err != nil {
				return nil, err
			}
			first, err := s.FirstSeen(ctx, c, a)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
			if err == nil && first == h {
				if err := del(firstSeenKey(nil, c, a)); err != nil {
					return nil, err
				}
				removed = append(removed, a)
			}
		}
	}
	return removed, nil
}
