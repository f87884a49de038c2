package clickhouse

import (
	"encoding/binary"
	"fmt"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// spenderEntry is one row of the spenders table, packed into the entry
// column so that the hop query reads a single column:
//
//	[0]      chain byte ('B' bitcoin, 'E' ethereum)
//	[1:33]   spent txid (display byte order, as in every table)
//	[33:37]  spent output index, little-endian
//	[37:69]  spending txid
//	[69:73]  input index in the spending transaction, little-endian
//	[73:77]  height of the spending block, little-endian
//	[77:81]  the spending transaction's position in its block, little-endian
//
// Integers are little-endian because that is what ClickHouse's
// reinterpretAsString writes, so SQL can build and read entries too (see
// moveSpends and the README).
//
// Entries written before the position (schemas 2 to 12) held the height in
// all of [73:81]: eight bytes of which the upper four were zero, as every
// height is below 2^32. They read as position 0, which no spender has (a
// block's first transaction, its coinbase, spends nothing) and which
// store.Spend takes for "not known": the tracer then finds the spending
// transaction by its txid (txid_places), as it always did, and by its
// place (tx_records alone) where the entry gives one.
type spenderEntry struct {
	chain chains.Chain
	prev  chains.Outpoint
	spend store.Spend
}

const spenderEntrySize = 81

func (e spenderEntry) append(dst []byte) []byte {
	dst = append(dst, e.chain.Tag())
	dst = append(dst, e.prev.Hash[:]...)
	dst = binary.LittleEndian.AppendUint32(dst, e.prev.Index)
	dst = append(dst, e.spend.TxHash[:]...)
	dst = binary.LittleEndian.AppendUint32(dst, e.spend.Vin)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(e.spend.Height))
	return binary.LittleEndian.AppendUint32(dst, e.spend.Position)
}

func parseSpenderEntry(b []byte) (spenderEntry, error) {
	var e spenderEntry
	if len(b) != spenderEntrySize {
		return e, fmt.Errorf("spenders entry of %d bytes, want %d", len(b), spenderEntrySize)
	}
	var ok bool
	if e.chain, ok = chains.ChainByTag(b[0]); !ok {
		return e, fmt.Errorf("spenders entry for unknown chain byte %q", b[0])
	}
	copy(e.prev.Hash[:], b[1:33])
	e.prev.Index = binary.LittleEndian.Uint32(b[33:37])
	copy(e.spend.TxHash[:], b[37:69])
	e.spend.Vin = binary.LittleEndian.Uint32(b[69:73])
	e.spend.Height = int64(binary.LittleEndian.Uint32(b[73:77]))
	e.spend.Position = binary.LittleEndian.Uint32(b[77:81])
	e.spend.Outpoint = e.prev
	return e, nil
}

// spenderKey is the sorting key of the entries that spend outputs of
// txid: spenderKeyExpr computed on the client.
func spenderKey(c chains.Chain, txid chains.Hash) uint64 {
	var b [8]byte
	b[0] = c.Tag()
	copy(b[1:], txid[:7])
	return binary.LittleEndian.Uint64(b[:])
}
