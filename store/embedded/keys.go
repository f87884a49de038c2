package embedded

import (
	"encoding/binary"

	"github.com/fundtrace/fundtrace/chains"
)

// Key layout. Every key starts with a table byte and a chain byte, so one
// store holds several chains and a table is one contiguous key range.
//
//	m c name                      → meta (JSON)
//	b c height(8)                 → block header and its txids
//	d c height(8)                 → where the block's transaction records are in
//	                                the transaction file: offset, CRC-32C of them
//	                                all, each one's length (UTXO chains, schema 6)
//	h c hash(32)                  → height
//	t c txid(32)                  → where an account chain's transaction is in table y
//	                                (account.go; its record in schema 4 and below); a
//	                                UTXO chain's transaction in schema 3 and below
//	m c "txs-end"                 → committed length of a UTXO chain's transaction file
//	p c txid(32)                  → where the transaction's record is in that file:
//	                                offset, length, CRC-32C (see txfile.go)
//	s c txid(32) vout(4)          → spender: height, position, vin
//	a c len(1) addr height(8) pos(4) vout(4) → received: value, type
//	f c addr                      → first-seen height (account chains; a UTXO
//	                                chain's is its first entry in table a)
//
// Integers in keys are big-endian so that byte order is numeric order:
// an address's history comes out of one range scan sorted by height.
// Spender and history records name a transaction by height and position,
// its txid being in the block record (b): 32 bytes fewer per record.
//
// Every table of the store has its byte here, in one block, so that no
// two tables share one; the layouts of the other tables are described
// where they are used (account.go, clusters.go, labels.go, sanctions.go).
const (
	tMeta      = 'm'
	tBlock     = 'b'
	tLayout    = 'd'
	tBlockHash = 'h'
	tTx        = 't'
	tTxPtr     = 'p'
	tSpender   = 's'
	tAddr      = 'a'
	tFirstSeen = 'f'

	tAccountTx      = 'y' // account.go
	tBlockTransfers = 'w'
	tTransfer       = 'x'
	tToken          = 'k'

	tClusterOf          = 'q'
	tClusterIndex       = 'Q'
	tClusterSize        = 'S'
	tClusterLink        = 'e'
	tClusterLinkByIndex = 'E' // clusterstream.go
	tClusterByIndex     = 'I'
	tClusterMember      = 'M' // members.go
	tClusterState       = 'J' // clusterstream.go

	tLabel = 'l'

	tRecord = 'W' // records.go

	tSanctionsSnapshot = 'Z'
	tSanctioned        = 'z'
)

// schemaKey holds the schema version of the whole store.
var schemaKey = []byte("~schema")

// schemaVersion is bumped whenever the key layout or a value encoding
// changes incompatibly. Version 2 dropped the first-seen records of UTXO
// chains (their history answers the same question); a version 1 store is
// upgraded in place when opened for writing. Version 3 names the
// transaction of a spender or history record by height and position
// instead of txid; the records version 2 wrote are still read (they are
// told apart by length), so a version 2 store needs only its version
// raised, which keeps older binaries from misreading the new records.
// Version 4 keeps a UTXO chain's transaction records in a file of their
// own, pointed at from table p; the records that version 3 and below
// kept in table t are still read from there, so a version 3 store too
// needs only its version raised. Version 5 keeps an account chain's
// transaction records in chain order (table y), table t pointing at
// them; the upgrade moves a version 4 store's records (upgradeAccountTxs).
// Version 6 records, per block of a UTXO chain, where its transactions'
// records lie in the file (table d), so that a pass over the chain reads
// the file in order without a pointer lookup per transaction; a block
// written before has no such record and is read through its pointers, so
// a version 5 store needs only its version raised.
const schemaVersion = 6

func keyPrefix(dst []byte, table byte, c chains.Chain) []byte {
	return append(dst, table, c.Tag())
}

func metaKey(c chains.Chain) []byte {
	return append(keyPrefix(nil, tMeta, c), "meta"...)
}

func blockKey(dst []byte, c chains.Chain, height int64) []byte {
	return binary.BigEndian.AppendUint64(keyPrefix(dst, tBlock, c), uint64(height))
}

func layoutKey(dst []byte, c chains.Chain, height int64) []byte {
	return binary.BigEndian.AppendUint64(keyPrefix(dst, tLayout, c), uint64(height))
}

func blockHashKey(dst []byte, c chains.Chain, h chains.Hash) []byte {
	return append(keyPrefix(dst, tBlockHash, c), h[:]...)
}

func txKey(dst []byte, c chains.Chain, h chains.Hash) []byte {
	return append(keyPrefix(dst, tTx, c), h[:]...)
}

func txPtrKey(dst []byte, c chains.Chain, h chains.Hash) []byte {
	return append(keyPrefix(dst, tTxPtr, c), h[:]...)
}

func txEndKey(c chains.Chain) []byte {
	return append(keyPrefix(nil, tMeta, c), "txs-end"...)
}

func outpointKey(dst []byte, table byte, c chains.Chain, op chains.Outpoint) []byte {
	dst = append(keyPrefix(dst, table, c), op.Hash[:]...)
	return binary.BigEndian.AppendUint32(dst, op.Index)
}

func addrPrefix(dst []byte, c chains.Chain, a chains.Address) []byte {
	dst = append(keyPrefix(dst, tAddr, c), byte(len(a)))
	return append(dst, a...)
}

func addrKey(dst []byte, c chains.Chain, a chains.Address, height int64, pos, vout uint32) []byte {
	dst = addrPrefix(dst, c, a)
	dst = binary.BigEndian.AppendUint64(dst, uint64(height))
	dst = binary.BigEndian.AppendUint32(dst, pos)
	return binary.BigEndian.AppendUint32(dst, vout)
}

func firstSeenKey(dst []byte, c chains.Chain, a chains.Address) []byte {
	return append(keyPrefix(dst, tFirstSeen, c), a...)
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
