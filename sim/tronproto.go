package sim

import (
	"crypto/sha256"
	"strconv"

	"github.com/ethereum/go-ethereum/common"
	"google.golang.org/protobuf/encoding/protowire"
)

// The simulated TRON chain's transactions and headers are written as
// java-tron writes them (core/Tron.proto and core/contract/*.proto), so
// that their IDs, the Merkle roots and the block IDs are what a node's
// would be. This is the simulator's own writer, apart from the reader in
// chains/tron: the indexer's checks then test one against the other.

// Contract types (Transaction.Contract.ContractType).
const (
	tronTransfer      int32 = 1
	tronTransferAsset int32 = 2
	tronWithdraw      int32 = 13
	tronCreate        int32 = 30
	tronTrigger       int32 = 31
	tronDelegate      int32 = 57
)

var tronTypeNames = map[int32]string{
	tronTransfer: "TransferContract", tronTransferAsset: "TransferAssetContract", tronWithdraw: "WithdrawBalanceContract",
	tronCreate: "CreateSmartContract", tronTrigger: "TriggerSmartContract", tronDelegate: "DelegateResourceContract",
}

// pb builds one protobuf message.
type pb []byte

func (b pb) varint(n protowire.Number, v int64) pb {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, n, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

func (b pb) bytes(n protowire.Number, v []byte) pb {
	if len(v) == 0 {
		return b
	}
	b = protowire.AppendTag(b, n, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// addr41 is an account as TRON's protobufs hold it: 0x41 and 20 bytes.
func addr41(a common.Address) []byte { return append([]byte{0x41}, a[:]...) }

// tronRaw serializes a transaction's raw data, referring to the parent
// block (TAPoS) and stamped at ms.
func tronRaw(t *TronTx, parent *TronBlock, ms, seq int64) []byte {
	var param pb
	switch t.Type {
	case tronTransfer:
		param = param.bytes(1, addr41(t.Owner)).bytes(2, addr41(t.To)).varint(3, t.Amount)
	case tronTransferAsset:
		param = param.bytes(1, []byte(strconv.FormatInt(t.TokenID, 10))).bytes(2, addr41(t.Owner)).bytes(3, addr41(t.To)).varint(4, t.Amount)
	case tronTrigger:
		param = param.bytes(1, addr41(t.Owner)).bytes(2, addr41(t.To)).varint(3, t.Amount).bytes(4, t.Data)
	case tronCreate:
		contract := pb(nil).bytes(1, addr41(t.Owner)).bytes(4, []byte{0x60, 0x80, 0x60, 0x40})
		param = param.bytes(1, addr41(t.Owner)).bytes(2, contract)
	case tronDelegate:
		param = param.bytes(1, addr41(t.Owner)).varint(2, 1).varint(3, t.Amount).bytes(4, addr41(t.To))
	case tronWithdraw:
		param = param.bytes(1, addr41(t.Owner))
	}
	anyMsg := pb(nil).bytes(1, []byte("type.googleapis.com/protocol."+tronTypeNames[t.Type])).bytes(2, param)
	contract := pb(nil).varint(1, int64(t.Type)).bytes(2, anyMsg)
	raw := pb(nil).bytes(1, parent.ID[6:8]).bytes(4, parent.ID[8:16]).varint(8, ms+60_000)
	raw = raw.bytes(11, contract).varint(14, ms)
	if t.Type == tronTrigger || t.Type == tronCreate {
		raw = raw.varint(18, feeLimit)
	}
	return raw
}

// tronSignature is a stand-in for the owner's 65-byte signature:
// nothing checks it, but a transaction has one.
func tronSignature(id common.Hash) []byte {
	a := sha256.Sum256(id[:])
	b := sha256.Sum256(a[:])
	return append(append(a[:], b[:]...), 0x1b)
}

// contractRet values (Transaction.Result.contractResult).
var tronContractRet = map[string]int64{"SUCCESS": 1, "REVERT": 2}

// tronFullTx serializes the whole transaction: raw data, signature and
// result, the bytes a block's Merkle leaves hash.
func tronFullTx(t *TronTx) []byte {
	ret := pb(nil).varint(3, tronContractRet[t.Result])
	return pb(nil).bytes(1, t.Raw).bytes(2, tronSignature(t.ID)).bytes(5, ret)
}

// tronMerkle is the transaction trie root: pairs hashed level by level,
// an odd last node carried up; 32 zero bytes for no transactions.
func tronMerkle(leaves [][32]byte) [32]byte {
	if len(leaves) == 0 {
		return [32]byte{}
	}
	for len(leaves) > 1 {
		var next [][32]byte
		for i := 0; i < len(leaves); i += 2 {
			if i+1 < len(leaves) {
				next = append(next, sha256.Sum256(append(leaves[i][:], leaves[i+1][:]...)))
			} else {
				next = append(next, leaves[i])
			}
		}
		leaves = next
	}
	return leaves[0]
}

// tronHeader serializes BlockHeader.raw.
func tronHeader(b *TronBlock, root [32]byte) []byte {
	return pb(nil).varint(1, b.Time).bytes(2, root[:]).bytes(3, b.Parent[:]).varint(7, b.Number).
		bytes(9, addr41(b.Witness)).varint(10, 30)
}
