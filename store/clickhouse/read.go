package clickhouse

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"iter"
	"maps"
	"slices"
	"sort"
	"strings"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"golang.org/x/sync/errgroup"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/internal/txcodec"
	"github.com/fundtrace/fundtrace/store"
)

// lookupChunk bounds the keys of one IN list, keeping a query well under
// ClickHouse's default max_query_size (256 KiB) at ~80 bytes a key.
const lookupChunk = 2000

// inHashes renders hashes as an IN list of FixedString literals. Hashes
// are bytes, so they travel as hex and unhex() on the server: text-safe,
// and a constant set that the primary key index can use.
func inHashes(hs []chains.Hash) string {
	var b strings.Builder
	b.Grow(len(hs) * 76)
	for i, h := range hs {
		writeUnhex(&b, i, h[:])
	}
	return b.String()
}

func writeUnhex(b *strings.Builder, i int, v []byte) {
	if i > 0 {
		b.WriteByte(',')
	}
	b.WriteString("unhex('")
	b.WriteString(hex.EncodeToString(v))
	b.WriteString("')")
}

// hashTable makes an external table of one FixedString(32) column.
func hashTable(name string, hashes []chains.Hash) (*ext.Table, error) {
	tbl, err := ext.NewTable(name, ext.Column("h", "FixedString(32)"))
	if err != nil {
		return nil, err
	}
	for _, h := range hashes {
		if err := tbl.Append(string(h[:])); err != nil {
			return nil, err
		}
	}
	return tbl, nil
}

func toHash(s string) (h chains.Hash) {
	copy(h[:], s)
	return h
}

// tip returns the committed tip, above which readers never look.
func (s *Store) tip(ctx context.Context, c chains.Chain) (int64, error) {
	m, err := s.Meta(ctx, c)
	return m.TipHeight, err
}

func decodeBlockRow(c chains.Chain, height uint64, hash, prev, merkle string, t uint64, bits, size uint32, txids []string) (chains.Block, []chains.Hash) {
	b := chains.Block{Chain: c, Height: int64(height), Hash: toHash(hash), PrevHash: toHash(prev), MerkleRoot: toHash(merkle),
		Time: int64(t), Bits: bits, Size: size, TxCount: uint32(len(txids))}
	ids := make([]chains.Hash, len(txids))
	for i, id := range txids {
		ids[i] = toHash(id)
	}
	return b, ids
}

// BlockByHeight returns the block at height h and its txids.
func (s *Store) BlockByHeight(ctx context.Context, c chains.Chain, h int64) (chains.Block, []chains.Hash, error) {
	tip, err := s.tip(ctx, c)
	if err != nil {
		return chains.Block{}, nil, err
	}
	if h < 0 || h > tip {
		return chains.Block{}, nil, fmt.Errorf("%s block %d: %w", c, h, store.ErrNotFound)
	}
	rows, err := s.conn.Query(ctx, fmt.Sprintf(`SELECT height, hash, prev_hash, merkle_root, time, bits, size, txids
		FROM %s WHERE chain = ? AND height = ? LIMIT 1 BY height`, s.table("blocks")), string(c), uint64(h))
	if err != nil {
		return chains.Block{}, nil, fmt.Errorf("%s block %d: %w", c, h, err)
	}
	defer rows.Close()
	if !rows.Next() {
		return chains.Block{}, nil, fmt.Errorf("%s block %d: %w", c, h, store.ErrNotFound)
	}
	var (
		height           uint64
		hash, prev, root string
		t                uint64
		bits, size       uint32
		txids            []string
	)
	if err := rows.Scan(&height, &hash, &prev, &root, &t, &bits, &size, &txids); err != nil {
		return chains.Block{}, nil, err
	}
	b, ids := decodeBlockRow(c, height, hash, prev, root, t, bits, size, txids)
	return b, ids, rows.Err()
}

// BlockByHash returns the block with hash h and its txids.
func (s *Store) BlockByHash(ctx context.Context, c chains.Chain, h chains.Hash) (chains.Block, []chains.Hash, error) {
	tip, err := s.tip(ctx, c)
	if err != nil {
		return chains.Block{}, nil, err
	}
	var height uint64
	q := fmt.Sprintf("SELECT height FROM %s WHERE chain = ? AND hash IN (%s) AND height <= ? LIMIT 1 BY hash", s.table("block_hashes"), inHashes([]chains.Hash{h}))
	rows, err := s.conn.Query(ctx, q, string(c), uint64(max(tip, 0)))
	if err != nil {
		return chains.Block{}, nil, fmt.Errorf("%s block %s: %w", c, h, err)
	}
	defer rows.Close()
	if tip < 0 || !rows.Next() {
		return chains.Block{}, nil, fmt.Errorf("%s block %s: %w", c, h, store.ErrNotFound)
	}
	if err := rows.Scan(&height); err != nil {
		return chains.Block{}, nil, err
	}
	return s.BlockByHeight(ctx, c, int64(height))
}

// Tx returns the transaction with hash h, inputs resolved and outputs
// included.
func (s *Store) Tx(ctx context.Context, c chains.Chain, h chains.Hash) (*chains.Tx, error) {
	txs, err := s.Txs(ctx, c, []chains.Hash{h})
	if err != nil {
		return nil, err
	}
	return txs[0], nil
}

// Txs returns the transactions named, in order: their places from
// txid_places, then the transactions whole from tx_records by (height,
// position), one query to each table however many hashes (readTxs); what
// a trace asks for at every hop. A hash that is not stored is an error
// wrapping store.ErrNotFound that names it.
func (s *Store) Txs(ctx context.Context, c chains.Chain, hs []chains.Hash) ([]*chains.Tx, error) {
	return s.txs(ctx, c, hs, nil)
}

// SpendingTxs returns the transactions that made spends, in order. A
// spend that says where its transaction is (Position, which entries have
// held since the place was packed into them) is read from tx_records by
// that place alone; the rest by txid, as Txs reads them. The tracer asks
// this at every hop, and the place saves the hop's txid_places query: a
// fifth of a trace's time. A spend whose place holds another transaction
// (which a consistent store never has) is looked for by txid.
func (s *Store) SpendingTxs(ctx context.Context, c chains.Chain, spends []store.Spend) ([]*chains.Tx, error) {
	hs := make([]chains.Hash, len(spends))
	var at []txPlace
	for i, sp := range spends {
		hs[i] = sp.TxHash
		if sp.Position > 0 {
			at = append(at, txPlace{uint64(sp.Height), sp.Position})
		}
	}
	return s.txs(ctx, c, hs, at)
}

// txs returns the transactions hs, in order: first those at the places
// at (read by place alone, each under its record's own txid), then the
// rest by txid.
func (s *Store) txs(ctx context.Context, c chains.Chain, hs []chains.Hash, at []txPlace) ([]*chains.Tx, error) {
	tip, err := s.tip(ctx, c)
	if err != nil {
		return nil, err
	}
	if len(hs) == 0 {
		return nil, nil
	}
	if tip < 0 {
		return nil, fmt.Errorf("%s tx %s: %w", c, hs[0], store.ErrNotFound)
	}
	got := make(map[chains.Hash]*chains.Tx, len(hs))
	if len(at) > 0 {
		if err := s.txsAt(ctx, c, slices.Values(at), tip, got); err != nil {
			return nil, err
		}
	}
	rest := hs
	if len(got) > 0 {
		rest = nil
		for _, h := range hs {
			if got[h] == nil {
				rest = append(rest, h)
			}
		}
	}
	if len(rest) > 0 {
		if err := s.readTxs(ctx, c, rest, tip, got); err != nil {
			return nil, err
		}
	}
	return inOrder(c, hs, got)
}

// inOrder returns got's transactions in the order of hs; a hash got has
// no transaction for is an error wrapping store.ErrNotFound that names it.
func inOrder(c chains.Chain, hs []chains.Hash, got map[chains.Hash]*chains.Tx) ([]*chains.Tx, error) {
	out := make([]*chains.Tx, len(hs))
	for i, h := range hs {
		if out[i] = got[h]; out[i] == nil {
			return nil, fmt.Errorf("%s tx %s: %w", c, h, store.ErrNotFound)
		}
	}
	return out, nil
}

// readTxs reads the transactions hs names, up to the tip, into got:
// their places (txPlaces), then the transactions from tx_records.
func (s *Store) readTxs(ctx context.Context, c chains.Chain, hs []chains.Hash, tip int64, got map[chains.Hash]*chains.Tx) error {
	places, err := s.txPlaces(ctx, c, hs, tip)
	if err != nil || len(places) == 0 {
		return err
	}
	return s.txsAt(ctx, c, maps.Values(places), tip, got)
}

// txsAt reads the transactions at places (at or below the tip) from
// tx_records, one query, into got, each under its record's own txid: a
// place that holds another transaction than the one a caller expects
// there answers nothing for that one.
func (s *Store) txsAt(ctx context.Context, c chains.Chain, places iter.Seq[txPlace], tip int64, got map[chains.Hash]*chains.Tx) error {
	rows, err := s.atPlaces(ctx, c, txRecordSelect, places, tip)
	if err != nil {
		return fmt.Errorf("%s txs: %w", c, err)
	}
	return eachRowTx(c, rows, scanTxRecord, func(tx *chains.Tx) error { got[tx.Hash] = tx; return nil })
}

// txPlace is where a transaction's record is: its key in tx_records.
type txPlace struct {
	height uint64
	pos    uint32
}

// txPlaces returns where the transactions hs names are, up to the tip,
// from txid_places, asked for by the keys of their txids (an external
// table: ClickHouse parses a literal list of thousands of keys slower
// than it reads their rows). A row whose key matches but whose txid was
// not asked for (eight bytes in common) is dropped here; a hash not
// stored has no place.
func (s *Store) txPlaces(ctx context.Context, c chains.Chain, hs []chains.Hash, tip int64) (map[chains.Hash]txPlace, error) {
	keys, err := ext.NewTable("lookup_keys", ext.Column("k", "UInt64"))
	if err != nil {
		return nil, err
	}
	want := make(map[chains.Hash]bool, len(hs))
	for _, h := range hs {
		if !want[h] {
			want[h] = true
			if err := keys.Append(binary.LittleEndian.Uint64(h[:8])); err != nil {
				return nil, err
			}
		}
	}
	// A txid stored twice (BIP 30's duplicate coinbases) answers with
	// its newest copy, as the single lookup always did.
	q := fmt.Sprintf(`SELECT txid, height, position FROM %s WHERE chain = ? AND %s IN lookup_keys AND height <= ?
		ORDER BY txid, height DESC LIMIT 1 BY txid`, s.table("txid_places"), txidKeyExpr)
	rows, err := s.conn.Query(pointReads(ctx, keys), q, string(c), uint64(tip))
	if err != nil {
		return nil, fmt.Errorf("%s tx places: %w", c, err)
	}
	defer rows.Close()
	places := make(map[chains.Hash]txPlace, len(want))
	for rows.Next() {
		var txid string
		var p txPlace
		if err := rows.Scan(&txid, &p.height, &p.pos); err != nil {
			return nil, fmt.Errorf("%s tx places: %w", c, err)
		}
		if h := toHash(txid); want[h] {
			places[h] = p
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s tx places: %w", c, err)
	}
	return places, nil
}

// pointReads is ctx for a query that reads a granule here and there
// (with the external table keys, when not nil): a small read buffer,
// since the default 1 MiB one would read, and copy, a megabyte for each.
func pointReads(ctx context.Context, keys *ext.Table) context.Context {
	opts := []ch.QueryOption{ch.WithSettings(ch.Settings{"max_read_buffer_size": 65536})}
	if keys != nil {
		opts = append(opts, ch.WithExternalTable(keys))
	}
	return ch.Context(ctx, opts...)
}

// eachTxRecord runs query q, which selects txRecordSelect from
// tx_records, and calls fn with each transaction read.
func (s *Store) eachTxRecord(ctx context.Context, c chains.Chain, q string, fn func(tx *chains.Tx) error, args ...any) error {
	return s.eachTxRow(ctx, c, q, scanTxRecord, fn, args...)
}

// eachTxRow runs query q and calls fn with each transaction scan reads
// from its rows.
func (s *Store) eachTxRow(ctx context.Context, c chains.Chain, q string, scan func(chains.Chain, driver.Rows) (*chains.Tx, error), fn func(tx *chains.Tx) error, args ...any) error {
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s txs: %w", c, err)
	}
	return eachRowTx(c, rows, scan, fn)
}

// eachRowTx calls fn with each transaction scan reads from rows, then
// closes them.
func eachRowTx(c chains.Chain, rows driver.Rows, scan func(chains.Chain, driver.Rows) (*chains.Tx, error), fn func(tx *chains.Tx) error) error {
	defer rows.Close()
	for rows.Next() {
		tx, err := scan(c, rows)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s txs: %w", c, err)
	}
	return nil
}

// txRecordSelect are the columns of tx_records scanTxRecord reads.
const txRecordSelect = "txid, height, position, record"

// scanTxRecord reads a row of txRecordSelect: a transaction whole. Its
// place is the row's key, which orders the table and which every read
// asks by, not the copy in the record.
func scanTxRecord(c chains.Chain, rows driver.Rows) (*chains.Tx, error) {
	var (
		txid, record string
		height       uint64
		pos          uint32
	)
	if err := rows.Scan(&txid, &height, &pos, &record); err != nil {
		return nil, fmt.Errorf("%s txs: %w", c, err)
	}
	h := toHash(txid)
	tx, err := txcodec.DecodeTx(c, h, []byte(record))
	if err != nil {
		return nil, &store.CorruptError{Key: fmt.Sprintf("%s tx %s", c, h), Err: err}
	}
	tx.Height, tx.Position = int64(height), pos
	return tx, nil
}

// blockTxSelect are the columns of migration 6's block_txs scanBlockTx
// reads, in its order. Only migration 9 reads them.
const blockTxSelect = `txid, height, position, time, version, lock_time, size, vsize, coinbase,
	in_sequence, in_prev_txid, in_prev_vout, in_value, in_type, in_addresses, out_value, out_type, out_addresses`

// scanBlockTx reads a row of blockTxSelect: a transaction whole.
func scanBlockTx(c chains.Chain, rows driver.Rows) (*chains.Tx, error) {
	var (
		txid               string
		height, t          uint64
		pos, lock, sz, vsz uint32
		version            int32
		cb                 uint8
		seq, prevVout      []uint32
		prev               []string
		val, oval          []int64
		typ, otyp          []uint8
		addrs, oaddrs      []string
	)
	if err := rows.Scan(&txid, &height, &pos, &t, &version, &lock, &sz, &vsz, &cb, &seq, &prev, &prevVout, &val, &typ, &addrs, &oval, &otyp, &oaddrs); err != nil {
		return nil, fmt.Errorf("%s txs: %w", c, err)
	}
	h := toHash(txid)
	if len(prev) != len(seq) || len(prevVout) != len(seq) || len(val) != len(seq) || len(typ) != len(seq) || len(addrs) != len(seq) ||
		len(otyp) != len(oval) || len(oaddrs) != len(oval) {
		return nil, &store.CorruptError{Key: "tx " + h.String(), Err: fmt.Errorf("input or output arrays of different lengths")}
	}
	tx := &chains.Tx{Chain: c, Hash: h, Height: int64(height), Position: pos, Time: int64(t), Version: version, LockTime: lock,
		Size: sz, VSize: vsz, Coinbase: cb == 1, Inputs: make([]chains.Input, len(seq)), Outputs: make([]chains.Output, len(oval))}
	for i := range seq {
		in := &tx.Inputs[i]
		in.Index, in.Sequence, in.Coinbase = uint32(i), seq[i], tx.Coinbase
		if !tx.Coinbase {
			as, err := unpackAddrs(addrs[i])
			if err != nil {
				return nil, &store.CorruptError{Key: fmt.Sprintf("tx %s input %d", h, i), Err: err}
			}
			in.Prev = chains.Outpoint{Hash: toHash(prev[i]), Index: prevVout[i]}
			in.Prevout = chains.Output{Index: prevVout[i], Value: val[i], Type: chains.ScriptType(typ[i]), Addresses: as}
		}
	}
	for i := range oval {
		as, err := unpackAddrs(oaddrs[i])
		if err != nil {
			return nil, &store.CorruptError{Key: fmt.Sprintf("tx %s output %d", h, i), Err: err}
		}
		tx.Outputs[i] = chains.Output{Index: uint32(i), Value: oval[i], Type: chains.ScriptType(otyp[i]), Addresses: as}
	}
	return tx, nil
}

// scanTxV5 reads a row of migration 1's txs table: the transaction
// without its outputs, and how many it has. Only migration 6 reads it.
func scanTxV5(c chains.Chain, rows driver.Rows) (*chains.Tx, uint32, error) {
	var (
		txid               string
		height, t          uint64
		pos, lock, sz, vsz uint32
		version            int32
		cb                 uint8
		nout               uint32
		seq, prevVout      []uint32
		prev               []string
		val                []int64
		typ                []uint8
		addrs              [][]string
	)
	if err := rows.Scan(&txid, &height, &pos, &t, &version, &lock, &sz, &vsz, &cb, &nout, &seq, &prev, &prevVout, &val, &typ, &addrs); err != nil {
		return nil, 0, fmt.Errorf("%s txs: %w", c, err)
	}
	h := toHash(txid)
	if len(prev) != len(seq) || len(prevVout) != len(seq) || len(val) != len(seq) || len(typ) != len(seq) || len(addrs) != len(seq) {
		return nil, 0, &store.CorruptError{Key: "tx " + h.String(), Err: fmt.Errorf("input arrays of different lengths")}
	}
	tx := &chains.Tx{Chain: c, Hash: h, Height: int64(height), Position: pos, Time: int64(t), Version: version, LockTime: lock,
		Size: sz, VSize: vsz, Coinbase: cb == 1, Inputs: make([]chains.Input, len(seq))}
	for i := range seq {
		in := &tx.Inputs[i]
		in.Index, in.Sequence, in.Coinbase = uint32(i), seq[i], tx.Coinbase
		if !tx.Coinbase {
			in.Prev = chains.Outpoint{Hash: toHash(prev[i]), Index: prevVout[i]}
			in.Prevout = chains.Output{Index: prevVout[i], Value: val[i], Type: chains.ScriptType(typ[i]), Addresses: fromStrings(addrs[i])}
		}
	}
	return tx, nout, nil
}

func fromStrings(ss []string) []chains.Address {
	if len(ss) == 0 {
		return nil
	}
	out := make([]chains.Address, len(ss))
	for i, s := range ss {
		out[i] = chains.Address(s)
	}
	return out
}

// LookupOutputs returns, for each outpoint, the output it names, or nil
// where the store has no such output. The outputs come from their
// transactions' records, which hold every output: schemas 1 to 10 kept
// them a second time, in an outputs table ordered by txid, which the
// indexer wrote for every output and read only for those an earlier run
// had indexed (the outputs it drops from its cache within a run it keeps
// beside it): a quarter of what an index sent the server (370 of 1,450
// MB on the 1 M chain). Two queries, however many outpoints: the places
// of their transactions (txPlaces), then their records, asked for by
// place as an external table, of which only the outputs asked for are
// decoded. A txid stored twice (BIP 30's duplicate coinbases) names its
// newest copy's outputs, which replaced the older's.
func (s *Store) LookupOutputs(ctx context.Context, c chains.Chain, ops []chains.Outpoint) ([]*chains.Output, error) {
	tip, err := s.tip(ctx, c)
	if err != nil {
		return nil, err
	}
	res := make([]*chains.Output, len(ops))
	if tip < 0 || len(ops) == 0 {
		return res, nil
	}
	asked := make(map[chains.Hash][]int, len(ops)) // a txid's outpoints, by their index in ops
	var hs []chains.Hash
	for i, op := range ops {
		if asked[op.Hash] == nil {
			hs = append(hs, op.Hash)
		}
		asked[op.Hash] = append(asked[op.Hash], i)
	}
	places, err := s.txPlaces(ctx, c, hs, tip)
	if err != nil || len(places) == 0 {
		return res, err
	}
	rows, err := s.atPlaces(ctx, c, txRecordSelect, maps.Values(places), tip)
	if err != nil {
		return nil, fmt.Errorf("%s outputs: %w", c, err)
	}
	defer rows.Close()
	outs := make([]chains.Output, len(ops))
	var arena txcodec.AddrArena
	for rows.Next() {
		var (
			txid, record string
			p            txPlace
		)
		if err := rows.Scan(&txid, &p.height, &p.pos, &record); err != nil {
			return nil, fmt.Errorf("%s outputs: %w", c, err)
		}
		h := toHash(txid)
		if places[h] != p {
			continue // an older copy of a txid stored twice
		}
		rec := []byte(record)
		for _, i := range asked[h] {
			ok, err := txcodec.DecodeOutput(rec, ops[i].Index, &outs[i], &arena)
			if err != nil {
				return nil, &store.CorruptError{Key: fmt.Sprintf("%s tx %s", c, h), Err: err}
			}
			if ok {
				res[i] = &outs[i]
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s outputs: %w", c, err)
	}
	arena.Fill()
	return res, nil
}

// atPlaces selects cols from tx_records of the transactions at places (at
// or below the tip), each once: one query whatever their number, the
// places sent beside it as an external table (lookup_places), which
// "(height, position) IN lookup_places" matches through the primary key,
// a granule a place.
func (s *Store) atPlaces(ctx context.Context, c chains.Chain, cols string, places iter.Seq[txPlace], tip int64) (driver.Rows, error) {
	at, err := ext.NewTable("lookup_places", ext.Column("height", "UInt64"), ext.Column("position", "UInt32"))
	if err != nil {
		return nil, err
	}
	for p := range places {
		if err := at.Append(p.height, p.pos); err != nil {
			return nil, err
		}
	}
	q := fmt.Sprintf("SELECT %s FROM %s WHERE chain = ? AND (height, position) IN lookup_places AND height <= ? LIMIT 1 BY height, position",
		cols, s.table("tx_records"))
	return s.conn.Query(pointReads(ctx, at), q, string(c), uint64(tip))
}

// txidsAt sets each of places' values to the txid of the transaction at
// that place (at or below the tip), leaving a place with none as it is.
func (s *Store) txidsAt(ctx context.Context, c chains.Chain, places map[txPlace]chains.Hash, tip int64) error {
	if len(places) == 0 {
		return nil
	}
	rows, err := s.atPlaces(ctx, c, "height, position, txid", maps.Keys(places), tip)
	if err != nil {
		return fmt.Errorf("%s txids by place: %w", c, err)
	}
	defer rows.Close()
	for rows.Next() {
		var p txPlace
		var txid string
		if err := rows.Scan(&p.height, &p.pos, &txid); err != nil {
			return fmt.Errorf("%s txids by place: %w", c, err)
		}
		places[p] = toHash(txid)
	}
	return rows.Err()
}

// Spenders returns, for each outpoint, the input that spent it; found is
// false where it is unspent (or unknown). One query for the whole hop: the
// outpoints' keys travel as an external table (no SQL text to parse,
// however many there are), the server reads one column of one granule per
// key, and the rows are matched to the outpoints here.
func (s *Store) Spenders(ctx context.Context, c chains.Chain, ops []chains.Outpoint) ([]store.Spend, []bool, error) {
	res := make([]store.Spend, len(ops))
	found := make([]bool, len(ops))
	if len(ops) == 0 {
		return res, found, nil
	}
	want := make(map[chains.Outpoint][]int, len(ops))
	seen := make(map[uint64]bool, len(ops))
	var keys []uint64
	for i, op := range ops {
		want[op] = append(want[op], i)
		if k := spenderKey(c, op.Hash); !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	// The keys in order, in as many parts as the server has cores to read
	// them with: each part is one query reading its own stretch of the
	// table, and the parts run at once. The tip is read alongside; rows
	// above it (an interrupted write) are dropped afterwards.
	slices.Sort(keys)
	parts := spenderParallelism
	if len(keys) < 2*spenderPartMin {
		parts = 1
	}
	entries := make([][]spenderEntry, parts)
	var tip int64
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var err error
		tip, err = s.tip(gctx, c)
		return err
	})
	for p := range parts {
		part := keys[p*len(keys)/parts : (p+1)*len(keys)/parts]
		g.Go(func() error {
			var err error
			entries[p], err = s.readSpenders(gctx, c, part)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	if tip < 0 {
		return res, found, nil
	}
	for _, es := range entries {
		for _, e := range es {
			if e.chain != c || e.spend.Height > tip {
				continue
			}
			for _, k := range want[e.prev] {
				res[k] = e.spend
				found[k] = true
			}
		}
	}
	return res, found, nil
}

// spenderParallelism is how many queries one spender lookup is split
// into; spenderPartMin the fewest keys worth a query of their own.
// Measured on a 2-core server (1,000 keys, 10 M rows, ClickHouse 18.16):
// one query 50–61 ms, two 29–33 ms, four 34 ms.
const (
	spenderParallelism = 2
	spenderPartMin     = 64
)

// readSpenders reads the packed spender rows of keys.
func (s *Store) readSpenders(ctx context.Context, c chains.Chain, keys []uint64) ([]spenderEntry, error) {
	tbl, err := ext.NewTable("lookup_keys", ext.Column("k", "UInt64"))
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if err := tbl.Append(k); err != nil {
			return nil, err
		}
	}
	q := fmt.Sprintf("SELECT entry FROM %s WHERE %s IN lookup_keys", s.table("spenders"), spenderKeyExpr)
	rows, err := s.conn.Query(pointReads(ctx, tbl), q)
	if err != nil {
		return nil, fmt.Errorf("%s spenders: %w", c, err)
	}
	defer rows.Close()
	var out []spenderEntry
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		e, err := parseSpenderEntry([]byte(raw))
		if err != nil {
			return nil, fmt.Errorf("%s spenders: %w", c, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// FirstSeen returns the height at which a was first paid.
func (s *Store) FirstSeen(ctx context.Context, c chains.Chain, a chains.Address) (int64, error) {
	tip, err := s.tip(ctx, c)
	if err != nil {
		return 0, err
	}
	var n, h uint64
	q := fmt.Sprintf("SELECT count(), min(height) FROM %s WHERE chain = ? AND address = unhex(?) AND height <= ?", s.table("address_history"))
	if err := s.conn.QueryRow(ctx, q, string(c), hex.EncodeToString([]byte(a)), uint64(max(tip, 0))).Scan(&n, &h); err != nil {
		return 0, err
	}
	if n == 0 || tip < 0 {
		return 0, store.ErrNotFound
	}
	return int64(h), nil
}

// AddressHistory returns every output paying a, oldest first, each with
// the input that spent it (if any) and block times filled in. limit > 0
// caps the number of entries.
func (s *Store) AddressHistory(ctx context.Context, c chains.Chain, a chains.Address, limit int) ([]store.HistoryEntry, error) {
	tip, err := s.tip(ctx, c)
	if err != nil || tip < 0 {
		return nil, err
	}
	q := fmt.Sprintf(`SELECT height, position, vout, value, type FROM %s
		WHERE chain = ? AND address = unhex(?) AND height <= ? ORDER BY height, position, vout`, s.table("address_history"))
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := s.conn.Query(ctx, q, string(c), hex.EncodeToString([]byte(a)), uint64(tip))
	if err != nil {
		return nil, fmt.Errorf("%s address history: %w", c, err)
	}
	var hist []store.HistoryEntry
	for rows.Next() {
		var (
			height    uint64
			pos, vout uint32
			value     int64
			typ       uint8
		)
		if err := rows.Scan(&height, &pos, &vout, &value, &typ); err != nil {
			rows.Close()
			return nil, err
		}
		hist = append(hist, store.HistoryEntry{Address: a, Height: int64(height), TxPos: pos, Vout: vout, Value: value, Type: chains.ScriptType(typ)})
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, err
	}
	// The rows name their transactions by place (migration 12).
	txids := make(map[txPlace]chains.Hash, len(hist))
	for _, e := range hist {
		txids[txPlace{uint64(e.Height), e.TxPos}] = chains.Hash{}
	}
	if err := s.txidsAt(ctx, c, txids, tip); err != nil {
		return nil, err
	}
	ops := make([]chains.Outpoint, len(hist))
	for i := range hist {
		h := txids[txPlace{uint64(hist[i].Height), hist[i].TxPos}]
		if h == (chains.Hash{}) {
			return nil, &store.CorruptError{Key: fmt.Sprintf("%s address %x history", c, []byte(a)), Err: fmt.Errorf("no transaction at height %d position %d", hist[i].Height, hist[i].TxPos)}
		}
		hist[i].TxHash = h
		ops[i] = chains.Outpoint{Hash: h, Index: hist[i].Vout}
	}
	spends, found, err := s.Spenders(ctx, c, ops)
	if err != nil {
		return nil, err
	}
	heights := map[int64]int64{}
	for i := range hist {
		heights[hist[i].Height] = 0
		if found[i] {
			hist[i].Spent, hist[i].SpentBy = true, spends[i]
			heights[spends[i].Height] = 0
		}
	}
	if err := s.blockTimes(ctx, c, heights); err != nil {
		return nil, err
	}
	for i := range hist {
		hist[i].Time = heights[hist[i].Height]
		if hist[i].Spent {
			hist[i].SpentBy.Time = heights[hist[i].SpentBy.Height]
		}
	}
	return hist, nil
}

// blockTimes fills in the time of each block height in hs.
func (s *Store) blockTimes(ctx context.Context, c chains.Chain, hs map[int64]int64) error {
	if len(hs) == 0 {
		return nil
	}
	list := make([]int64, 0, len(hs))
	for h := range hs {
		list = append(list, h)
	}
	sort.Slice(list, func(i, j int) bool { return list[i] < list[j] })
	for i := 0; i < len(list); i += lookupChunk {
		part := list[i:min(i+lookupChunk, len(list))]
		strs := make([]string, len(part))
		for j, h := range part {
			strs[j] = fmt.Sprint(h)
		}
		rows, err := s.conn.Query(ctx, fmt.Sprintf("SELECT height, time FROM %s WHERE chain = ? AND height IN (%s)", s.table("blocks"), strings.Join(strs, ",")), string(c))
		if err != nil {
			return err
		}
		for rows.Next() {
			var h, t uint64
			if err := rows.Scan(&h, &t); err != nil {
				rows.Close()
				return err
			}
			hs[int64(h)] = int64(t)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
