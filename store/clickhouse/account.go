package clickhouse

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// Account chains (Ethereum) use the blocks and block_hashes tables as
// UTXO chains do, and their own: eth_txs (one row a transaction),
// transfers (one row a transfer, in block order) and transfer_history
// (the same rows once for each end, keyed by address), and tokens.

func bigText(v *big.Int) string {
	if v == nil {
		return ""
	}
	return v.String()
}

func parseBig(s string) (*big.Int, error) {
	if s == "" {
		return nil, nil
	}
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return nil, fmt.Errorf("amount %q is not a decimal integer", s)
	}
	return v, nil
}

func flag(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// accountRowsOf maps an account chain's blocks to the rows of its tables.
func accountRowsOf(c chains.Chain, blocks []store.BlockData) []tableRows {
	chain := string(c)
	transferRow := func(t *chains.Transfer, seq int) []any {
		return []any{chain, uint64(t.Height), t.TxIndex, uint32(seq), uint64(t.Time), hs(t.TxHash), t.Position, uint8(t.Kind),
			string(t.Asset), string(t.From), string(t.To), bigText(t.Amount), bigText(t.TokenID), flag(t.Success)}
	}
	const tcols = "chain, height, tx_index, seq, time, txid, position, kind, asset, from_address, to_address, amount, token_id, success"
	return append(headerRows(chain, blocks), []tableRows{
		{table: "eth_txs", cols: "chain, txid, height, position, time, type, nonce, from_address, to_address, value, gas, gas_used, gas_price, fee, success, created, selector", fill: func(add func(...any) error) error {
			// In the table's order, txid, which spares the server a sort
			// (see sortedChunks).
			var txs []*chains.AccountTx
			for i := range blocks {
				for j := range blocks[i].AccountTxs {
					txs = append(txs, &blocks[i].AccountTxs[j])
				}
			}
			slices.SortFunc(txs, func(a, b *chains.AccountTx) int { return bytes.Compare(a.Hash[:], b.Hash[:]) })
			for _, tx := range txs {
				if err := add(chain, hs(tx.Hash), uint64(tx.Height), tx.Position, uint64(tx.Time), tx.Type, tx.Nonce, string(tx.From), string(tx.To),
					bigText(tx.Value), tx.Gas, tx.GasUsed, bigText(tx.GasPrice), bigText(tx.Fee), flag(tx.Success), string(tx.Created), string(tx.Input4)); err != nil {
					return err
				}
			}
			return nil
		}},
		{table: "transfers", cols: tcols, fill: func(add func(...any) error) error {
			for i := range blocks {
				for j := range blocks[i].Transfers {
					if err := add(transferRow(&blocks[i].Transfers[j], j)...); err != nil {
						return err
					}
				}
			}
			return nil
		}},
		{table: "transfer_history", cols: "address, " + tcols, fill: func(add func(...any) error) error {
			type row struct {
				addr chains.Address
				t    *chains.Transfer
				seq  int
			}
			var rows []row
			for i := range blocks {
				for j := range blocks[i].Transfers {
					t := &blocks[i].Transfers[j]
					// One history row for each end; one for a transfer to
					// oneself, as the embedded store keys it.
					if t.From != "" {
						rows = append(rows, row{t.From, t, j})
					}
					if t.To != t.From && t.To != "" {
						rows = append(rows, row{t.To, t, j})
					}
				}
			}
			// In the table's order (chain, address, height, tx_index, seq).
			slices.SortFunc(rows, func(a, b row) int {
				return cmp.Or(strings.Compare(string(a.addr), string(b.addr)), cmp.Compare(a.t.Height, b.t.Height),
					cmp.Compare(a.t.TxIndex, b.t.TxIndex), cmp.Compare(a.seq, b.seq))
			})
			for _, r := range rows {
				if err := add(append([]any{string(r.addr)}, transferRow(r.t, r.seq)...)...); err != nil {
					return err
				}
			}
			return nil
		}},
		{table: "tokens", cols: "chain, address, symbol, name, decimals, flags", fill: func(add func(...any) error) error {
			for i := range blocks {
				for _, t := range blocks[i].Tokens {
					flags := flag(t.HasSymbol) | flag(t.HasName)<<1 | flag(t.HasDecimals)<<2
					if err := add(chain, string(t.Address), t.Symbol, t.Name, t.Decimals, flags); err != nil {
						return err
					}
				}
			}
			return nil
		}},
	}...)
}

// accountAddresses lists the distinct addresses the blocks' transfers touch.
func accountAddresses(blocks []store.BlockData) map[chains.Address]struct{} {
	seen := map[chains.Address]struct{}{}
	for i := range blocks {
		for _, t := range blocks[i].Transfers {
			for _, a := range []chains.Address{t.From, t.To} {
				if a != "" {
					seen[a] = struct{}{}
				}
			}
		}
	}
	return seen
}

// AccountTx returns an account chain's transaction and its transfers.
func (s *Store) AccountTx(ctx context.Context, c chains.Chain, h chains.Hash) (*chains.AccountTx, []chains.Transfer, error) {
	txs, ts, err := s.AccountTxs(ctx, c, []chains.Hash{h})
	if err != nil {
		return nil, nil, err
	}
	if txs[0] == nil {
		return nil, nil, fmt.Errorf("%s tx %s: %w", c, h, store.ErrNotFound)
	}
	return txs[0], ts[0], nil
}

// accountTxsBatch is how many transactions one AccountTxs query asks for.
const accountTxsBatch = 10_000

// AccountTxs returns the transactions hs name and their transfers, nil
// for one the store does not hold: two queries a batch of up to
// accountTxsBatch (the transactions by txid; their transfers by the
// heights those give, the transfers table's key), where AccountTx one at
// a time costs three round trips each. A case of a thousand victim
// payments is read so.
func (s *Store) AccountTxs(ctx context.Context, c chains.Chain, hs []chains.Hash) ([]*chains.AccountTx, [][]chains.Transfer, error) {
	txs, tss := make([]*chains.AccountTx, len(hs)), make([][]chains.Transfer, len(hs))
	tip, err := s.tip(ctx, c)
	if err != nil || tip < 0 {
		return txs, tss, err
	}
	for lo := 0; lo < len(hs); lo += accountTxsBatch {
		part := hs[lo:min(lo+accountTxsBatch, len(hs))]
		if err := s.accountTxs(ctx, c, tip, part, txs[lo:], tss[lo:]); err != nil {
			return nil, nil, err
		}
	}
	return txs, tss, nil
}

func (s *Store) accountTxs(ctx context.Context, c chains.Chain, tip int64, hs []chains.Hash, txs []*chains.AccountTx, tss [][]chains.Transfer) error {
	at := make(map[chains.Hash][]int, len(hs))
	for i, h := range hs {
		at[h] = append(at[h], i)
	}
	ids, err := hashTable("lookup_txids", hs)
	if err != nil {
		return err
	}
	q := fmt.Sprintf(`SELECT txid, height, position, time, type, nonce, from_address, to_address, value, gas, gas_used, gas_price, fee, success, created, selector
		FROM %s WHERE chain = ? AND txid IN lookup_txids AND height <= ? LIMIT 1 BY txid`, s.table("eth_txs"))
	rows, err := s.conn.Query(pointReads(ctx, ids), q, string(c), uint64(tip))
	if err != nil {
		return fmt.Errorf("%s transactions: %w", c, err)
	}
	heights, err := ext.NewTable("lookup_heights", ext.Column("h", "UInt64"))
	if err != nil {
		rows.Close()
		return err
	}
	seen := map[uint64]bool{}
	for rows.Next() {
		var (
			height, t, nonce, gas, used                     uint64
			pos                                             uint32
			typ, ok                                         uint8
			txid, from, to, value, price, fee, created, sel string
		)
		if err := rows.Scan(&txid, &height, &pos, &t, &typ, &nonce, &from, &to, &value, &gas, &used, &price, &fee, &ok, &created, &sel); err != nil {
			rows.Close()
			return fmt.Errorf("%s transactions: %w", c, err)
		}
		h := toHash(txid)
		tx := &chains.AccountTx{Chain: c, Hash: h, Height: int64(height), Position: pos, Time: int64(t), Type: typ, Nonce: nonce,
			From: chains.Address(from), To: chains.Address(to), Gas: gas, GasUsed: used, Success: ok == 1, Created: chains.Address(created)}
		if sel != "" {
			tx.Input4 = []byte(sel)
		}
		for _, f := range []struct {
			dst **big.Int
			s   string
		}{{&tx.Value, value}, {&tx.GasPrice, price}, {&tx.Fee, fee}} {
			if *f.dst, err = parseBig(f.s); err != nil {
				rows.Close()
				return &store.CorruptError{Key: fmt.Sprintf("%s tx %s", c, h), Err: err}
			}
		}
		for _, i := range at[h] {
			txs[i] = tx
		}
		if !seen[height] {
			seen[height] = true
			if err := heights.Append(height); err != nil {
				rows.Close()
				return err
			}
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("%s transactions: %w", c, err)
	}
	if len(seen) == 0 {
		return nil
	}
	ids, err = hashTable("lookup_txids", hs) // a table is sent once
	if err != nil {
		return err
	}
	qctx := ch.Context(ctx, ch.WithSettings(ch.Settings{"max_read_buffer_size": 65536}), ch.WithExternalTable(ids, heights))
	q = fmt.Sprintf("SELECT %s FROM %s WHERE chain = ? AND height IN lookup_heights AND txid IN lookup_txids ORDER BY height, tx_index, seq",
		transferSelect, s.table("transfers"))
	return s.eachTransferRow(ctx, c, qctx, q, []any{string(c)}, func(t *chains.Transfer) error {
		for _, i := range at[t.TxHash] {
			if txs[i] != nil && txs[i].Height == t.Height {
				tss[i] = append(tss[i], *t)
			}
		}
		return nil
	})
}

const transferSelect = "height, tx_index, time, txid, position, kind, asset, from_address, to_address, amount, token_id, success"

func (s *Store) queryTransfers(ctx context.Context, c chains.Chain, qctx context.Context, q string, args ...any) ([]chains.Transfer, error) {
	var out []chains.Transfer
	err := s.eachTransferRow(ctx, c, qctx, q, args, func(t *chains.Transfer) error {
		out = append(out, *t)
		return nil
	})
	return out, err
}

// eachTransferRow runs a query of transferSelect's columns and hands each
// row to fn as it arrives.
func (s *Store) eachTransferRow(ctx context.Context, c chains.Chain, qctx context.Context, q string, args []any, fn func(*chains.Transfer) error) error {
	if qctx == nil {
		qctx = ctx
	}
	rows, err := s.conn.Query(qctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			height, t                                   uint64
			txIndex                                     uint32
			kind, ok                                    uint8
			txid, pos, asset, from, to, amount, tokenID string
		)
		if err := rows.Scan(&height, &txIndex, &t, &txid, &pos, &kind, &asset, &from, &to, &amount, &tokenID, &ok); err != nil {
			return err
		}
		tr := chains.Transfer{Chain: c, Height: int64(height), Time: int64(t), TxHash: toHash(txid), TxIndex: txIndex, Position: pos,
			Kind: chains.TransferKind(kind), Asset: chains.Address(asset), From: chains.Address(from), To: chains.Address(to), Success: ok == 1}
		if tr.Amount, err = parseBig(amount); err != nil {
			return &store.CorruptError{Key: "transfer", Err: err}
		}
		if tr.TokenID, err = parseBig(tokenID); err != nil {
			return &store.CorruptError{Key: "transfer", Err: err}
		}
		if err := fn(&tr); err != nil {
			return err
		}
	}
	return rows.Err()
}

// eachTransferBlocks is how many blocks one query of EachTransfer reads:
// the server sorts each range by the block's own transfer order, so the
// range bounds its memory.
const eachTransferBlocks = 20_000

// EachTransfer calls fn with every transfer of blocks from..to in chain
// order (each block's transactions' transfers in order, then its
// transfers outside transactions), reading the transfers table by its
// sorting key a range of blocks at a time instead of a query per
// transaction; it returns how many transactions the blocks hold.
func (s *Store) EachTransfer(ctx context.Context, c chains.Chain, from, to int64, fn func(*chains.Transfer) error) (int64, error) {
	tip, err := s.tip(ctx, c)
	if err != nil {
		return 0, err
	}
	to = min(to, tip)
	from = max(from, 0)
	if from > to {
		return 0, nil
	}
	var txs uint64
	if err := s.conn.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM %s WHERE chain = ? AND height >= ? AND height <= ?", s.table("eth_txs")),
		string(c), uint64(from), uint64(to)).Scan(&txs); err != nil {
		return 0, fmt.Errorf("%s transactions %d..%d: %w", c, from, to, err)
	}
	for lo := from; lo <= to; lo += eachTransferBlocks {
		hi := min(lo+eachTransferBlocks-1, to)
		q := fmt.Sprintf("SELECT %s FROM %s WHERE chain = ? AND height >= ? AND height <= ? ORDER BY height, seq", transferSelect, s.table("transfers"))
		if err := s.eachTransferRow(ctx, c, nil, q, []any{string(c), uint64(lo), uint64(hi)}, fn); err != nil {
			return 0, fmt.Errorf("%s transfers of blocks %d..%d: %w", c, lo, hi, err)
		}
	}
	return int64(txs), nil
}

// BlockTransfers returns the transfers of block h outside any transaction
// (block rewards, withdrawals).
func (s *Store) BlockTransfers(ctx context.Context, c chains.Chain, h int64) ([]chains.Transfer, error) {
	tip, err := s.tip(ctx, c)
	if err != nil || h > tip {
		return nil, err
	}
	return s.queryTransfers(ctx, c, nil, fmt.Sprintf("SELECT %s FROM %s WHERE chain = ? AND height = ? AND txid IN (%s) ORDER BY seq",
		transferSelect, s.table("transfers"), inHashes([]chains.Hash{{}})), string(c), uint64(h))
}

// Transfers returns up to limit transfers from or to a, oldest first
// (limit <= 0: all).
func (s *Store) Transfers(ctx context.Context, c chains.Chain, a chains.Address, limit int) ([]chains.Transfer, error) {
	tip, err := s.tip(ctx, c)
	if err != nil || tip < 0 {
		return nil, err
	}
	tbl, err := addressTable(a)
	if err != nil {
		return nil, err
	}
	lim := ""
	if limit > 0 {
		lim = fmt.Sprintf(" LIMIT %d", limit)
	}
	q := fmt.Sprintf("SELECT %s FROM %s WHERE chain = ? AND address IN lookup_address AND height <= ? ORDER BY height, tx_index, seq%s",
		transferSelect, s.table("transfer_history"), lim)
	return s.queryTransfers(ctx, c, pointReads(ctx, tbl), q, string(c), uint64(tip))
}

// TransfersOf returns, for each address, its transfers (from or to it)
// between heights from and to inclusive (to < 0: the tip), oldest first,
// in one query for all of them: what a trace over an account chain reads
// for a whole frontier at once. With limit > 0, at most limit+1 rows of
// an address come back (LIMIT BY), and one with more than limit gets none
// and true in over: the server still reads an exchange hot wallet's
// millions of transfers, but neither sends them nor has them decoded and
// held here. (A count first, reading the key's columns only, took as long
// as the read itself on the simulated chains, whose frontiers hold many
// short histories: 0.2–0.6 s a hop at 11.2 M transactions.)
func (s *Store) TransfersOf(ctx context.Context, c chains.Chain, addrs []chains.Address, from, to int64, limit int) ([][]chains.Transfer, []bool, error) {
	tip, err := s.tip(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	out := make([][]chains.Transfer, len(addrs))
	over := make([]bool, len(addrs))
	if tip < 0 || len(addrs) == 0 {
		return out, over, nil
	}
	if to < 0 || to > tip {
		to = tip
	}
	at := make(map[chains.Address][]int, len(addrs))
	var ask []chains.Address
	for i, a := range addrs {
		if _, ok := at[a]; !ok {
			ask = append(ask, a)
		}
		at[a] = append(at[a], i)
	}
	tbl, err := addressTable(ask...)
	if err != nil {
		return nil, nil, err
	}
	lim := ""
	if limit > 0 {
		lim = fmt.Sprintf(" LIMIT %d BY address", limit+1)
	}
	q := fmt.Sprintf("SELECT address, %s FROM %s WHERE chain = ? AND address IN lookup_address AND height >= ? AND height <= ? ORDER BY address, height, tx_index, seq%s",
		transferSelect, s.table("transfer_history"), lim)
	rows, err := s.conn.Query(pointReads(ctx, tbl), q, string(c), uint64(max(from, 0)), uint64(to))
	if err != nil {
		return nil, nil, fmt.Errorf("%s transfers: %w", c, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			addr                                        string
			height, t                                   uint64
			txIndex                                     uint32
			kind, ok                                    uint8
			txid, pos, asset, fromA, toA, amount, tokID string
		)
		if err := rows.Scan(&addr, &height, &txIndex, &t, &txid, &pos, &kind, &asset, &fromA, &toA, &amount, &tokID, &ok); err != nil {
			return nil, nil, fmt.Errorf("%s transfers: %w", c, err)
		}
		tr := chains.Transfer{Chain: c, Height: int64(height), Time: int64(t), TxHash: toHash(txid), TxIndex: txIndex, Position: pos,
			Kind: chains.TransferKind(kind), Asset: chains.Address(asset), From: chains.Address(fromA), To: chains.Address(toA), Success: ok == 1}
		if tr.Amount, err = parseBig(amount); err != nil {
			return nil, nil, &store.CorruptError{Key: "transfer", Err: err}
		}
		if tr.TokenID, err = parseBig(tokID); err != nil {
			return nil, nil, &store.CorruptError{Key: "transfer", Err: err}
		}
		for _, i := range at[chains.Address(addr)] {
			out[i] = append(out[i], tr)
		}
	}
	if limit > 0 {
		for i := range out {
			if len(out[i]) > limit {
				out[i], over[i] = nil, true
			}
		}
	}
	return out, over, rows.Err()
}

// Token returns what is recorded of a token contract.
func (s *Store) Token(ctx context.Context, c chains.Chain, a chains.Address) (chains.Token, error) {
	t := chains.Token{Chain: c, Address: a}
	tbl, err := addressTable(a)
	if err != nil {
		return t, err
	}
	var flags uint8
	q := fmt.Sprintf("SELECT symbol, name, decimals, flags FROM %s WHERE chain = ? AND address IN lookup_address LIMIT 1 BY address", s.table("tokens"))
	if err := s.conn.QueryRow(pointReads(ctx, tbl), q, string(c)).Scan(&t.Symbol, &t.Name, &t.Decimals, &flags); err != nil {
		if isNoRows(err) {
			return t, store.ErrNotFound
		}
		return t, err
	}
	t.HasSymbol, t.HasName, t.HasDecimals = flags&1 != 0, flags&2 != 0, flags&4 != 0
	return t, nil
}

// isNoRows is a QueryRow that found nothing.
func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
