// Package chains holds the chain-neutral model that every indexer produces
// and every consumer (store, heuristics, tracer, reports) reads.
//
// The model is deliberately small: what tracing needs and nothing a single
// chain would add on its own. UTXO chains produce transactions with inputs
// that name the outpoint they spend and carry the address and value they
// resolved to; account chains (Ethereum) produce transfers of one asset
// between two addresses. Amounts are exact integers: satoshis in an int64
// (21e14 fits with room to spare), wei and token units in *big.Int. Floats
// never appear, so every figure a report prints is exact.
package chains

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
)

// Chain names a blockchain as the store and the command line spell it.
type Chain string

// The chains fundtrace indexes.
const (
	Bitcoin  Chain = "btc"
	Ethereum Chain = "eth"
	// Tron is an account chain like Ethereum: TRX, TRC-10 tokens and
	// TRC-20 contracts (USDT-TRC20 above all).
	Tron Chain = "tron"
)

// Hash is a transaction or block hash in display byte order: the order in
// which explorers, nodes' RPC and users write it. (Bitcoin's wire format
// stores hashes reversed; the bitcoin package converts at the boundary.)
type Hash [32]byte

// String returns the lowercase hex form.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is all zeros.
func (h Hash) IsZero() bool { return h == Hash{} }

// ParseHash parses 64 hex digits (an optional 0x prefix is accepted).
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X") {
		s = s[2:]
	}
	if len(s) != 64 {
		return h, fmt.Errorf("hash %q: want 64 hex digits, got %d", s, len(s))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("hash %q: %w", s, err)
	}
	return h, nil
}

// Address is an address in compact binary form: one kind byte followed by
// the kind's payload (a 20- or 32-byte hash or program, an Ethereum
// account). It is a string so that it can key maps and compare cheaply; it
// is not text. Chain packages turn it into the text users know (Base58Check,
// bech32, EIP-55) only on the way out, because encoding costs more than
// decoding the transaction that carries it.
type Address string

// Kind returns the address kind, or KindNone for the empty address.
func (a Address) Kind() AddrKind {
	if a == "" {
		return KindNone
	}
	return AddrKind(a[0])
}

// Payload returns the bytes after the kind byte.
func (a Address) Payload() []byte {
	if len(a) < 2 {
		return nil
	}
	return []byte(a[1:])
}

// AddrKind says how an Address payload is to be read and encoded.
type AddrKind uint8

// Address kinds. The values are stored on disk: never renumber them.
const (
	KindNone         AddrKind = 0
	KindPubKeyHash   AddrKind = 1 // 20-byte HASH160; P2PKH, and P2PK and bare-multisig keys hashed to it
	KindScriptHash   AddrKind = 2 // 20-byte HASH160 of a redeem script (P2SH)
	KindWitnessV0KH  AddrKind = 3 // 20-byte witness v0 key hash (P2WPKH)
	KindWitnessV0SH  AddrKind = 4 // 32-byte witness v0 script hash (P2WSH)
	KindTaproot      AddrKind = 5 // 32-byte witness v1 output key (P2TR)
	KindWitnessOther AddrKind = 6 // witness version byte then 2..40-byte program (future segwit)
	KindScriptID     AddrKind = 7 // 20-byte id of a non-standard script: first 20 bytes of its SHA-256
	KindAccount      AddrKind = 8 // 20-byte account-chain address (Ethereum, TRON)
	// KindTokenID is a token named by number rather than by a contract
	// (TRON's TRC-10 tokens): the id as 8 big-endian bytes. It appears
	// only as a Transfer's Asset.
	KindTokenID AddrKind = 9
)

// MakeAddress builds an Address from a kind and its payload.
func MakeAddress(k AddrKind, payload []byte) Address {
	b := make([]byte, 1+len(payload))
	b[0] = byte(k)
	copy(b[1:], payload)
	return Address(b)
}

// ScriptType classifies a UTXO output's locking script. The values are
// stored on disk: never renumber them.
type ScriptType uint8

// Script types, named as Bitcoin Core's decodescript names them.
const (
	ScriptNonStandard    ScriptType = 0
	ScriptPubKey         ScriptType = 1 // P2PK
	ScriptPubKeyHash     ScriptType = 2 // P2PKH
	ScriptScriptHash     ScriptType = 3 // P2SH
	ScriptWitnessV0KH    ScriptType = 4 // P2WPKH
	ScriptWitnessV0SH    ScriptType = 5 // P2WSH
	ScriptTaproot        ScriptType = 6 // P2TR
	ScriptWitnessUnknown ScriptType = 7 // segwit version 1..16 other than P2TR
	ScriptMultisig       ScriptType = 8 // bare multisig
	ScriptNullData       ScriptType = 9 // OP_RETURN
	ScriptAccount        ScriptType = 10
	ScriptAnchor         ScriptType = 11 // pay-to-anchor (P2A): OP_1 <0x4e73>
)

var scriptTypeNames = [...]string{
	ScriptNonStandard:    "nonstandard",
	ScriptPubKey:         "pubkey",
	ScriptPubKeyHash:     "pubkeyhash",
	ScriptScriptHash:     "scripthash",
	ScriptWitnessV0KH:    "witness_v0_keyhash",
	ScriptWitnessV0SH:    "witness_v0_scripthash",
	ScriptTaproot:        "witness_v1_taproot",
	ScriptWitnessUnknown: "witness_unknown",
	ScriptMultisig:       "multisig",
	ScriptNullData:       "nulldata",
	ScriptAccount:        "account",
	ScriptAnchor:         "anchor",
}

// String returns Bitcoin Core's name for the script type.
func (t ScriptType) String() string {
	if int(t) < len(scriptTypeNames) {
		return scriptTypeNames[t]
	}
	return fmt.Sprintf("scripttype(%d)", uint8(t))
}

// Outpoint names one output of one transaction.
type Outpoint struct {
	Hash  Hash
	Index uint32
}

// String returns the txid:vout form.
func (o Outpoint) String() string { return fmt.Sprintf("%s:%d", o.Hash, o.Index) }

// Output is one output of a UTXO transaction.
type Output struct {
	Index uint32
	Value int64 // satoshis
	Type  ScriptType
	// Addresses holds the address the output pays: exactly one for every
	// spendable type, one per key for bare multisig, none for OP_RETURN.
	Addresses []Address
}

// Address returns the first address, or "" for an output without one.
func (o *Output) Address() Address {
	if len(o.Addresses) == 0 {
		return ""
	}
	return o.Addresses[0]
}

// Input is one input of a UTXO transaction, with the output it spends
// resolved (Prevout) unless it is a coinbase input.
type Input struct {
	Index    uint32
	Coinbase bool
	Prev     Outpoint // zero for coinbase inputs
	Prevout  Output   // the spent output; zero value for coinbase inputs
	Sequence uint32
}

// Tx is a transaction of a UTXO chain as stored and traced.
type Tx struct {
	Chain    Chain
	Hash     Hash
	Height   int64
	Position uint32 // index of the transaction in its block
	Time     int64  // block time, Unix seconds
	Version  int32
	LockTime uint32
	Size     uint32 // serialized size with witness, bytes
	VSize    uint32 // virtual size (BIP141), vbytes
	Coinbase bool
	Inputs   []Input
	Outputs  []Output
}

// Fee returns inputs minus outputs in satoshis; 0 for a coinbase.
func (tx *Tx) Fee() int64 {
	if tx.Coinbase {
		return 0
	}
	var in, out int64
	for i := range tx.Inputs {
		in += tx.Inputs[i].Prevout.Value
	}
	for i := range tx.Outputs {
		out += tx.Outputs[i].Value
	}
	return in - out
}

// Block is a block header as the store keeps it.
type Block struct {
	Chain      Chain
	Height     int64
	Hash       Hash
	PrevHash   Hash
	MerkleRoot Hash
	Time       int64 // Unix seconds
	Bits       uint32
	Size       uint32
	TxCount    uint32
}

// TransferKind says what moved value in a Transfer.
type TransferKind uint8

const (
	TransferNative     TransferKind = 1 // a transaction's own value (ETH)
	TransferInternal   TransferKind = 2 // a value-carrying CALL inside a transaction (ETH)
	TransferCreate     TransferKind = 3 // a contract creation, with the value it was endowed with
	TransferDestruct   TransferKind = 4 // SELFDESTRUCT: a contract's balance to its beneficiary
	TransferERC20      TransferKind = 5 // an ERC-20 Transfer log
	TransferERC721     TransferKind = 6 // an ERC-721 Transfer log (Amount 1, TokenID set)
	TransferERC1155    TransferKind = 7 // an ERC-1155 TransferSingle/TransferBatch entry
	TransferReward     TransferKind = 8 // a block or uncle reward (no From)
	TransferWithdrawal TransferKind = 9 // a beacon-chain withdrawal credited to an address (no From)
	// TransferFee is what a transaction's sender paid for gas: the tip to
	// the block's miner (Position "fee") and the burnt base and blob fees
	// (Position "fee:burnt", no To). Recorded so that an address's history
	// accounts for its whole balance, as tracing needs.
	TransferFee TransferKind = 10
	// TransferTRC10 moves a TRON TRC-10 token (Asset a KindTokenID
	// address): a TransferAssetContract, or a call's or internal
	// transaction's token value.
	TransferTRC10 TransferKind = 11
)

var transferKindNames = map[TransferKind]string{
	TransferNative: "native", TransferInternal: "internal", TransferCreate: "create",
	TransferDestruct: "selfdestruct", TransferERC20: "erc20", TransferERC721: "erc721",
	TransferERC1155: "erc1155", TransferReward: "reward", TransferWithdrawal: "withdrawal",
	TransferFee: "fee", TransferTRC10: "trc10",
}

func (k TransferKind) String() string {
	if n, ok := transferKindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("kind%d", uint8(k))
}

// Transfer moves an amount of one asset between two addresses on an
// account chain. A zero Asset is the chain's native coin. A Transfer that
// did not happen (its call or transaction reverted) is kept with Success
// false: it is evidence of an attempt, never a flow.
type Transfer struct {
	Chain   Chain
	Height  int64
	Time    int64
	TxHash  Hash // zero for block rewards
	TxIndex uint32
	// Position locates the transfer inside its transaction: "" for the
	// transaction's own value, "log:N" for a log (N its index in the
	// block), "call:0.1" for an internal call at that trace address,
	// "reward:N" for the Nth reward of a block.
	Position string
	Kind     TransferKind
	Asset    Address // "" for the native coin, else the token contract
	From     Address
	To       Address
	Amount   *big.Int
	TokenID  *big.Int // ERC-721 and ERC-1155 only
	Success  bool
}

// AccountTx is a transaction of an account chain, with what its receipt
// says happened.
type AccountTx struct {
	Chain    Chain
	Hash     Hash
	Height   int64
	Position uint32 // index in the block
	Time     int64
	Type     uint8
	Nonce    uint64
	From     Address
	To       Address // "" for a contract creation
	Value    *big.Int
	Gas      uint64
	GasUsed  uint64
	GasPrice *big.Int // effective price per gas paid
	Fee      *big.Int // what the sender paid for gas (gas used × price, plus blob gas)
	Success  bool
	Created  Address // the contract a creation made
	Input4   []byte  // the first four bytes of the call data (the method selector)
}

// Token is what a token contract says about itself. A contract that
// reverts or answers nonsense keeps the zero value of that field, and the
// Has fields say which answers were usable.
type Token struct {
	Chain       Chain
	Address     Address
	Symbol      string
	Name        string
	Decimals    uint8
	HasDecimals bool
	HasSymbol   bool
	HasName     bool
}

// Indexed are the chains fundtrace indexes, in the order it lists them.
var Indexed = []Chain{Bitcoin, Ethereum, Tron}

// ErrUnknownChain is returned for a chain name fundtrace does not index.
var ErrUnknownChain = errors.New("unknown chain")

// ParseChain maps a user-supplied chain name to a Chain.
func ParseChain(s string) (Chain, error) {
	switch s {
	case "btc", "bitcoin", "BTC":
		return Bitcoin, nil
	case "eth", "ethereum", "ETH":
		return Ethereum, nil
	case "tron", "trx", "TRON", "TRX":
		return Tron, nil
	}
	return "", fmt.Errorf("%w %q (want btc, eth or tron)", ErrUnknownChain, s)
}

// Tag is the chain's one-byte tag in stores' binary keys and rows: 'B'
// for bitcoin, 'E' for ethereum, 'T' for tron, '?' for anything else.
func (c Chain) Tag() byte {
	switch c {
	case Bitcoin:
		return 'B'
	case Ethereum:
		return 'E'
	case Tron:
		return 'T'
	}
	return '?'
}

// ChainByTag is the inverse of Tag.
func ChainByTag(b byte) (Chain, bool) {
	switch b {
	case 'B':
		return Bitcoin, true
	case 'E':
		return Ethereum, true
	case 'T':
		return Tron, true
	}
	return "", false
}

// IsAccount reports whether the chain keeps balances per account
// (Ethereum, TRON) rather than unspent outputs (Bitcoin).
func (c Chain) IsAccount() bool { return c == Ethereum || c == Tron }

// BlockData is one decoded block, as an indexer writes it to a store:
// its header and its transactions in block order (on a UTXO chain, every
// non-coinbase input resolved before it is written).
type BlockData struct {
	Block Block
	Txs   []Tx // UTXO chains
	// Account chains: the transactions with their outcome, every transfer
	// of value in the block in order, and the tokens first met in it.
	AccountTxs []AccountTx
	Transfers  []Transfer
	Tokens     []Token
}
