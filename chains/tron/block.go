package tron

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"

	"google.golang.org/protobuf/encoding/protowire"
)

// Block is a block as the java-tron HTTP API's /wallet/getblockbynum
// (and /wallet/getblockbylimitnext, /wallet/getnowblock) render it,
// without visible=true: addresses and byte fields as hex.
type Block struct {
	BlockID string `json:"blockID"`
	Header  struct {
		Raw struct {
			Number           int64  `json:"number"`
			TxTrieRoot       string `json:"txTrieRoot"`
			WitnessAddress   string `json:"witness_address"`
			WitnessID        int64  `json:"witness_id"`
			ParentHash       string `json:"parentHash"`
			Version          int32  `json:"version"`
			Timestamp        int64  `json:"timestamp"` // ms
			AccountStateRoot string `json:"accountStateRoot"`
		} `json:"raw_data"`
		WitnessSignature string `json:"witness_signature"`
	} `json:"block_header"`
	Transactions []Transaction `json:"transactions"`
}

// Transaction is a transaction as the HTTP API renders it. Only the
// serialized raw data (raw_data_hex), the signatures and the results are
// read: the JSON raw_data beside them is a rendering of the same bytes.
type Transaction struct {
	TxID       string   `json:"txID"`
	RawDataHex string   `json:"raw_data_hex"`
	Signature  []string `json:"signature"`
	Ret        []Result `json:"ret"`
}

// Result is Transaction.Result as rendered in a block.
type Result struct {
	Fee                           int64            `json:"fee"`
	Ret                           string           `json:"ret"`         // SUCESS (sic; the default, left out) or FAILED
	ContractRet                   string           `json:"contractRet"` // SUCCESS, REVERT, OUT_OF_ENERGY, ...
	AssetIssueID                  string           `json:"assetIssueID"`
	WithdrawAmount                int64            `json:"withdraw_amount"`
	UnfreezeAmount                int64            `json:"unfreeze_amount"`
	ExchangeReceivedAmount        int64            `json:"exchange_received_amount"`
	ExchangeInjectAnotherAmount   int64            `json:"exchange_inject_another_amount"`
	ExchangeWithdrawAnotherAmount int64            `json:"exchange_withdraw_another_amount"`
	ExchangeID                    int64            `json:"exchange_id"`
	ShieldedTransactionFee        int64            `json:"shielded_transaction_fee"`
	OrderID                       string           `json:"orderId"`
	WithdrawExpireAmount          int64            `json:"withdraw_expire_amount"`
	CancelUnfreezeV2Amount        map[string]int64 `json:"cancel_unfreezeV2_amount"`
}

// contractResults are Transaction.Result.contractResult's values.
var contractResults = map[string]uint64{
	"DEFAULT": 0, "SUCCESS": 1, "REVERT": 2, "BAD_JUMP_DESTINATION": 3, "OUT_OF_MEMORY": 4,
	"PRECOMPILED_CONTRACT": 5, "STACK_TOO_SMALL": 6, "STACK_TOO_LARGE": 7, "ILLEGAL_OPERATION": 8,
	"STACK_OVERFLOW": 9, "OUT_OF_ENERGY": 10, "OUT_OF_TIME": 11, "JVM_STACK_OVER_FLOW": 12,
	"UNKNOWN": 13, "TRANSFER_FAILED": 14, "INVALID_CODE": 15,
}

// encode serializes r as java-tron does (fields in number order, zero
// values left out), so that a block's transaction Merkle root can be
// recomputed from its JSON.
func (r *Result) encode() ([]byte, error) {
	var b []byte
	varint := func(n protowire.Number, v int64) {
		if v != 0 {
			b = protowire.AppendTag(b, n, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(v))
		}
	}
	varint(1, r.Fee)
	switch r.Ret {
	case "", "SUCESS", "SUCCESS":
	case "FAILED":
		varint(2, 1)
	default:
		return nil, fmt.Errorf("ret %q: want SUCESS or FAILED", r.Ret)
	}
	cr, ok := contractResults[r.ContractRet]
	if !ok && r.ContractRet != "" {
		return nil, fmt.Errorf("contractRet %q is not a contract result java-tron knows", r.ContractRet)
	}
	varint(3, int64(cr))
	if r.AssetIssueID != "" {
		b = protowire.AppendTag(b, 14, protowire.BytesType)
		b = protowire.AppendString(b, r.AssetIssueID)
	}
	varint(15, r.WithdrawAmount)
	varint(16, r.UnfreezeAmount)
	varint(18, r.ExchangeReceivedAmount)
	varint(19, r.ExchangeInjectAnotherAmount)
	varint(20, r.ExchangeWithdrawAnotherAmount)
	varint(21, r.ExchangeID)
	varint(22, r.ShieldedTransactionFee)
	if r.OrderID != "" {
		id, err := hex.DecodeString(r.OrderID)
		if err != nil {
			return nil, fmt.Errorf("orderId: %w", err)
		}
		b = protowire.AppendTag(b, 25, protowire.BytesType)
		b = protowire.AppendBytes(b, id)
	}
	varint(27, r.WithdrawExpireAmount)
	// A map's entries, in the order java-tron's HashMap gives these three
	// keys; any other key after them, sorted.
	keys := make([]string, 0, len(r.CancelUnfreezeV2Amount))
	for k := range r.CancelUnfreezeV2Amount {
		keys = append(keys, k)
	}
	rank := map[string]int{"ENERGY": 0, "TRON_POWER": 1, "BANDWIDTH": 2}
	sort.Slice(keys, func(i, j int) bool {
		ri, oki := rank[keys[i]]
		rj, okj := rank[keys[j]]
		if oki != okj {
			return oki
		}
		if oki {
			return ri < rj
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		var e []byte
		e = protowire.AppendTag(e, 1, protowire.BytesType)
		e = protowire.AppendString(e, k)
		if v := r.CancelUnfreezeV2Amount[k]; v != 0 {
			e = protowire.AppendTag(e, 2, protowire.VarintType)
			e = protowire.AppendVarint(e, uint64(v))
		}
		b = protowire.AppendTag(b, 28, protowire.BytesType)
		b = protowire.AppendBytes(b, e)
	}
	return b, nil
}

// Succeeded reports whether the transaction's contract ran: ret not
// FAILED and contractRet SUCCESS (or DEFAULT, which transactions outside
// the virtual machine may carry).
func (r *Result) Succeeded() bool {
	return r.Ret != "FAILED" && (r.ContractRet == "SUCCESS" || r.ContractRet == "" || r.ContractRet == "DEFAULT")
}

// DecodedTx is a block's transaction read from its bytes and checked
// against its ID.
type DecodedTx struct {
	ID     [32]byte
	Raw    *RawTx
	Result Result // the first ret entry (a transaction has one contract, so one result)
	Leaf   [32]byte
}

// Contract returns the transaction's contract (java-tron runs only the
// first; a transaction has one).
func (t *DecodedTx) Contract() *Contract {
	if len(t.Raw.Contracts) == 0 {
		return &Contract{Type: -1}
	}
	return &t.Raw.Contracts[0]
}

// DecodeBlock reads and checks a block: every txID is the SHA-256 of its
// raw data, the transactions' Merkle root is the header's txTrieRoot, and
// the blockID is the height followed by the SHA-256 of the header. A
// failed check is an error naming the block and what failed: a node (or
// a proxy) that serves altered or partial blocks is caught here, not in
// a trace.
func DecodeBlock(b *Block) ([]DecodedTx, error) {
	h := b.Header.Raw
	where := func(format string, a ...any) error {
		return fmt.Errorf("tron block %d: %s", h.Number, fmt.Sprintf(format, a...))
	}
	txs := make([]DecodedTx, len(b.Transactions))
	leaves := make([][32]byte, len(b.Transactions))
	for i := range b.Transactions {
		t := &b.Transactions[i]
		raw, err := hex.DecodeString(t.RawDataHex)
		if err != nil || len(raw) == 0 {
			return nil, where("transaction %d (%s): raw_data_hex is not hex", i, t.TxID)
		}
		id := sha256.Sum256(raw)
		if hex.EncodeToString(id[:]) != t.TxID {
			return nil, where("transaction %d: txID %s is not the SHA-256 of its raw data (%x)", i, t.TxID, id)
		}
		d := &txs[i]
		d.ID = id
		if d.Raw, err = DecodeRawTx(raw); err != nil {
			return nil, where("transaction %s: %v", t.TxID, err)
		}
		full := Tx{Raw: raw}
		for _, s := range t.Signature {
			sig, err := hex.DecodeString(s)
			if err != nil {
				return nil, where("transaction %s: signature is not hex", t.TxID)
			}
			full.Signatures = append(full.Signatures, sig)
		}
		for j := range t.Ret {
			enc, err := t.Ret[j].encode()
			if err != nil {
				return nil, where("transaction %s: ret %d: %v", t.TxID, j, err)
			}
			full.Results = append(full.Results, enc)
		}
		if len(t.Ret) > 0 {
			d.Result = t.Ret[0]
		}
		d.Leaf = sha256.Sum256(EncodeTx(&full))
		leaves[i] = d.Leaf
	}
	root := MerkleRoot(leaves)
	if len(b.Transactions) > 0 && hex.EncodeToString(root[:]) != h.TxTrieRoot {
		return nil, where("the Merkle root of its %d transactions is %x, its header's txTrieRoot %s: transactions are missing or altered", len(b.Transactions), root, h.TxTrieRoot)
	}
	hdr, err := b.header()
	if err != nil {
		return nil, where("%v", err)
	}
	if id := BlockID(hdr); hex.EncodeToString(id[:]) != b.BlockID {
		return nil, where("blockID %s is not its height and header hash (%x)", b.BlockID, id)
	}
	return txs, nil
}

// header rebuilds BlockHeader.raw from the JSON.
func (b *Block) header() ([]byte, error) {
	r := &b.Header.Raw
	h := Header{Timestamp: r.Timestamp, Number: r.Number, WitnessID: r.WitnessID, Version: r.Version}
	for _, f := range []struct {
		name string
		s    string
		dst  *[]byte
	}{{"txTrieRoot", r.TxTrieRoot, &h.TxTrieRoot}, {"parentHash", r.ParentHash, &h.ParentHash},
		{"witness_address", r.WitnessAddress, &h.WitnessAddress}, {"accountStateRoot", r.AccountStateRoot, &h.AccountStateRoot}} {
		v, err := hex.DecodeString(f.s)
		if err != nil {
			return nil, fmt.Errorf("%s %q is not hex", f.name, f.s)
		}
		*f.dst = v
	}
	return EncodeHeader(&h), nil
}

// BlockID is a TRON block's ID: its height as 8 big-endian bytes, then
// bytes 8..31 of the SHA-256 of its serialized header.
func BlockID(rawHeader []byte) [32]byte {
	id := sha256.Sum256(rawHeader)
	h, err := DecodeHeader(rawHeader)
	if err == nil {
		binary.BigEndian.PutUint64(id[:8], uint64(h.Number))
	}
	return id
}

// MerkleRoot is java-tron's transaction trie root over leaves (SHA-256
// of each complete transaction): pairs hashed level by level, an odd last
// node carried up unchanged. No transactions give the zero hash.
func MerkleRoot(leaves [][32]byte) [32]byte {
	if len(leaves) == 0 {
		return [32]byte{}
	}
	level := append([][32]byte(nil), leaves...)
	for len(level) > 1 {
		next := level[:0:0]
		for i := 0; i < len(level); i += 2 {
			if i+1 == len(level) {
				next = append(next, level[i])
				continue
			}
			next = append(next, sha256.Sum256(bytes.Join([][]byte{level[i][:], level[i+1][:]}, nil)))
		}
		level = next
	}
	return level[0]
}

// ParseBlock reads one /wallet/getblockbynum answer. An empty object is
// the node's answer for a block it does not have: ok false.
func ParseBlock(body []byte) (b *Block, ok bool, err error) {
	if err := nodeError(body); err != nil {
		return nil, false, err
	}
	b = new(Block)
	if err := json.Unmarshal(body, b); err != nil {
		return nil, false, fmt.Errorf("block: %w", err)
	}
	if b.BlockID == "" {
		return nil, false, nil
	}
	return b, true, nil
}

// nodeError reads java-tron's error answer, {"Error": "..."}, which it
// gives with HTTP status 200.
func nodeError(body []byte) error {
	var e struct {
		Error string `json:"Error"`
	}
	if bytes.Contains(body[:min(len(body), 64)], []byte(`"Error"`)) && json.Unmarshal(body, &e) == nil && e.Error != "" {
		return fmt.Errorf("node error: %s", e.Error)
	}
	return nil
}
