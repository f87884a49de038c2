package tron

// TRON's transactions and block headers are protocol buffers (java-tron's
// core/Tron.proto and core/contract/*.proto). Their hashes are taken over
// the serialized bytes, so fundtrace reads the bytes the node gives
// (raw_data_hex) rather than the JSON rendering beside them: the bytes are
// what the transaction ID proves. Only the few messages and fields a flow
// needs are read, with protowire (the protobuf module's wire-format
// reader) instead of generated code for java-tron's hundreds of messages.

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// ContractType is Transaction.Contract.ContractType: what a transaction does.
type ContractType int32

// The contract types fundtrace reads or names. The values are java-tron's.
const (
	AccountCreate          ContractType = 0
	Transfer               ContractType = 1 // TRX
	TransferAsset          ContractType = 2 // a TRC-10 token
	VoteWitness            ContractType = 4
	AssetIssue             ContractType = 6
	FreezeBalance          ContractType = 11
	UnfreezeBalance        ContractType = 12
	WithdrawBalance        ContractType = 13
	CreateSmartContract    ContractType = 30
	TriggerSmartContract   ContractType = 31
	FreezeBalanceV2        ContractType = 54
	UnfreezeBalanceV2      ContractType = 55
	WithdrawExpireUnfreeze ContractType = 56
	DelegateResource       ContractType = 57
	UnDelegateResource     ContractType = 58
	CancelAllUnfreezeV2    ContractType = 59
)

var contractNames = map[ContractType]string{
	AccountCreate: "AccountCreateContract", Transfer: "TransferContract", TransferAsset: "TransferAssetContract",
	VoteWitness: "VoteWitnessContract", AssetIssue: "AssetIssueContract", FreezeBalance: "FreezeBalanceContract",
	UnfreezeBalance: "UnfreezeBalanceContract", WithdrawBalance: "WithdrawBalanceContract",
	CreateSmartContract: "CreateSmartContract", TriggerSmartContract: "TriggerSmartContract",
	FreezeBalanceV2: "FreezeBalanceV2Contract", UnfreezeBalanceV2: "UnfreezeBalanceV2Contract",
	WithdrawExpireUnfreeze: "WithdrawExpireUnfreezeContract", DelegateResource: "DelegateResourceContract",
	UnDelegateResource: "UnDelegateResourceContract", CancelAllUnfreezeV2: "CancelAllUnfreezeV2Contract",
}

func (t ContractType) String() string {
	if n, ok := contractNames[t]; ok {
		return n
	}
	return fmt.Sprintf("contract type %d", int32(t))
}

// Staking reports whether t freezes, unfreezes or delegates TRX for
// resources or votes: recorded, but not a movement of money between
// owners.
func (t ContractType) Staking() bool {
	switch t {
	case FreezeBalance, UnfreezeBalance, FreezeBalanceV2, UnfreezeBalanceV2, WithdrawExpireUnfreeze,
		DelegateResource, UnDelegateResource, CancelAllUnfreezeV2, VoteWitness:
		return true
	}
	return false
}

// Contract is the one contract of a transaction's raw data, with the
// fields of its parameter that move value. Addresses are 21 bytes
// (0x41 first) as the protobuf holds them.
type Contract struct {
	Type       ContractType
	TypeURL    string
	Owner      []byte // owner_address: who signs and pays
	To         []byte // to_address (Transfer, TransferAsset) or contract_address (TriggerSmartContract)
	Amount     int64  // amount (Transfer, TransferAsset) or call_value (TriggerSmartContract, CreateSmartContract)
	AssetName  string // TransferAsset's TRC-10 id (ASCII digits)
	TokenValue int64  // call_token_value (TriggerSmartContract, CreateSmartContract)
	TokenID    int64  // token_id of call_token_value
	Data       []byte // TriggerSmartContract's call data
}

// RawTx is the part of Transaction.raw fundtrace reads.
type RawTx struct {
	RefBlockBytes []byte
	RefBlockHash  []byte
	Expiration    int64 // ms
	Timestamp     int64 // ms
	FeeLimit      int64 // sun
	Memo          []byte
	Contracts     []Contract
}

// fields walks the fields of one message, calling fn with each field's
// number, wire type and value bytes (for varints, the decoded value in v).
func fields(b []byte, fn func(num protowire.Number, typ protowire.Type, v uint64, val []byte) error) error {
	for off := 0; off < len(b); {
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			return fmt.Errorf("byte %d: %w", off, protowire.ParseError(n))
		}
		off += n
		var (
			v   uint64
			val []byte
		)
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b[off:])
		case protowire.BytesType:
			val, n = protowire.ConsumeBytes(b[off:])
		default:
			n = protowire.ConsumeFieldValue(num, typ, b[off:])
		}
		if n < 0 {
			return fmt.Errorf("byte %d, field %d: %w", off, num, protowire.ParseError(n))
		}
		off += n
		if err := fn(num, typ, v, val); err != nil {
			return err
		}
	}
	return nil
}

// DecodeRawTx reads a serialized Transaction.raw (a transaction's
// raw_data_hex, whose SHA-256 is its ID).
func DecodeRawTx(b []byte) (*RawTx, error) {
	var r RawTx
	err := fields(b, func(num protowire.Number, typ protowire.Type, v uint64, val []byte) error {
		switch num {
		case 1:
			r.RefBlockBytes = val
		case 4:
			r.RefBlockHash = val
		case 8:
			r.Expiration = int64(v)
		case 10:
			r.Memo = val
		case 11:
			c, err := decodeContract(val)
			if err != nil {
				return fmt.Errorf("contract %d: %w", len(r.Contracts), err)
			}
			r.Contracts = append(r.Contracts, c)
		case 14:
			r.Timestamp = int64(v)
		case 18:
			r.FeeLimit = int64(v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("transaction raw data: %w", err)
	}
	return &r, nil
}

// slot is where a contract message's field goes in Contract.
type slot int

const (
	none slot = iota
	owner
	to
	amount
	assetName
	data
	tokenValue
	tokenID
	newContract // CreateSmartContract's SmartContract, whose call_value is the amount
)

// contractLayouts are the field numbers of the contract messages that
// move value (java-tron's core/contract/*.proto).
var contractLayouts = map[ContractType]map[protowire.Number]slot{
	Transfer:             {1: owner, 2: to, 3: amount},
	TransferAsset:        {1: assetName, 2: owner, 3: to, 4: amount},
	TriggerSmartContract: {1: owner, 2: to, 3: amount, 4: data, 5: tokenValue, 6: tokenID},
	CreateSmartContract:  {1: owner, 2: newContract, 3: tokenValue, 4: tokenID},
}

// decodeContract reads Transaction.Contract: its type and the parameter
// (a google.protobuf.Any holding the contract message).
func decodeContract(b []byte) (Contract, error) {
	var (
		c     Contract
		value []byte
	)
	err := fields(b, func(num protowire.Number, typ protowire.Type, v uint64, val []byte) error {
		switch num {
		case 1:
			c.Type = ContractType(v)
		case 2:
			return fields(val, func(num protowire.Number, typ protowire.Type, v uint64, val []byte) error {
				switch num {
				case 1:
					c.TypeURL = string(val)
				case 2:
					value = val
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return c, err
	}
	layout, ok := contractLayouts[c.Type]
	if !ok {
		layout = map[protowire.Number]slot{1: owner} // every other contract names its owner in field 1
	}
	err = fields(value, func(num protowire.Number, typ protowire.Type, v uint64, val []byte) error {
		switch layout[num] {
		case owner:
			if typ == protowire.BytesType {
				c.Owner = val
			}
		case to:
			c.To = val
		case amount:
			c.Amount = int64(v)
		case assetName:
			c.AssetName = string(val)
		case data:
			c.Data = val
		case tokenValue:
			c.TokenValue = int64(v)
		case tokenID:
			c.TokenID = int64(v)
		case newContract:
			// SmartContract: 5 call_value.
			return fields(val, func(num protowire.Number, _ protowire.Type, v uint64, _ []byte) error {
				if num == 5 {
					c.Amount = int64(v)
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return c, fmt.Errorf("%s parameter: %w", c.Type, err)
	}
	return c, nil
}

// Tx is a complete serialized Transaction's parts: its raw data, its
// signatures and its results.
type Tx struct {
	Raw        []byte
	Signatures [][]byte
	Results    [][]byte
}

// DecodeTx splits a serialized Transaction (1 raw_data, 2 signature,
// 5 ret).
func DecodeTx(b []byte) (*Tx, error) {
	var t Tx
	err := fields(b, func(num protowire.Number, typ protowire.Type, v uint64, val []byte) error {
		switch num {
		case 1:
			t.Raw = val
		case 2:
			t.Signatures = append(t.Signatures, val)
		case 5:
			t.Results = append(t.Results, val)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("transaction: %w", err)
	}
	return &t, nil
}

// EncodeTx serializes a Transaction from its parts, in field order, as
// java-tron does: the bytes whose SHA-256 are the leaves of a block's
// transaction Merkle tree.
func EncodeTx(t *Tx) []byte {
	b := protowire.AppendTag(nil, 1, protowire.BytesType)
	b = protowire.AppendBytes(b, t.Raw)
	for _, s := range t.Signatures {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, s)
	}
	for _, r := range t.Results {
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendBytes(b, r)
	}
	return b
}

// Header is BlockHeader.raw: what a block ID hashes.
type Header struct {
	Timestamp        int64 // ms
	TxTrieRoot       []byte
	ParentHash       []byte
	Number           int64
	WitnessID        int64
	WitnessAddress   []byte
	Version          int32
	AccountStateRoot []byte
}

// EncodeHeader serializes h as java-tron does (fields in number order,
// zero values left out).
func EncodeHeader(h *Header) []byte {
	var b []byte
	varint := func(n protowire.Number, v uint64) {
		if v != 0 {
			b = protowire.AppendTag(b, n, protowire.VarintType)
			b = protowire.AppendVarint(b, v)
		}
	}
	bytes := func(n protowire.Number, v []byte) {
		if len(v) != 0 {
			b = protowire.AppendTag(b, n, protowire.BytesType)
			b = protowire.AppendBytes(b, v)
		}
	}
	varint(1, uint64(h.Timestamp))
	bytes(2, h.TxTrieRoot)
	bytes(3, h.ParentHash)
	varint(7, uint64(h.Number))
	varint(8, uint64(h.WitnessID))
	bytes(9, h.WitnessAddress)
	varint(10, uint64(int64(h.Version)))
	bytes(11, h.AccountStateRoot)
	return b
}

// DecodeHeader reads a serialized BlockHeader.raw.
func DecodeHeader(b []byte) (*Header, error) {
	var h Header
	err := fields(b, func(num protowire.Number, typ protowire.Type, v uint64, val []byte) error {
		switch num {
		case 1:
			h.Timestamp = int64(v)
		case 2:
			h.TxTrieRoot = val
		case 3:
			h.ParentHash = val
		case 7:
			h.Number = int64(v)
		case 8:
			h.WitnessID = int64(v)
		case 9:
			h.WitnessAddress = val
		case 10:
			h.Version = int32(v)
		case 11:
			h.AccountStateRoot = val
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("block header: %w", err)
	}
	return &h, nil
}

// DecodeBlockHeader reads a serialized BlockHeader (1 raw_data,
// 2 witness_signature): the header, its raw bytes (what the block ID
// hashes) and the producer's signature.
func DecodeBlockHeader(b []byte) (h *Header, raw, sig []byte, err error) {
	err = fields(b, func(num protowire.Number, typ protowire.Type, v uint64, val []byte) error {
		switch num {
		case 1:
			raw = val
		case 2:
			sig = val
		}
		return nil
	})
	if err == nil {
		h, err = DecodeHeader(raw)
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("block header: %w", err)
	}
	return h, raw, sig, nil
}
