package ethereum

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// The JSON-RPC shapes fundtrace reads. They are our own rather than
// go-ethereum's types.Block and types.Receipt: those reject what old
// blocks, other clients and L2 forks legitimately send (a missing
// signature field, an unknown transaction type), and fundtrace needs the
// failing field named, not a whole block refused. Values are parsed with
// go-ethereum's hexutil, which rejects malformed hex.

// rpcBlock is eth_getBlockByNumber(n, true).
type rpcBlock struct {
	Number       *hexutil.Big    `json:"number"`
	Hash         *common.Hash    `json:"hash"`
	ParentHash   *common.Hash    `json:"parentHash"`
	Timestamp    *hexutil.Uint64 `json:"timestamp"`
	TxRoot       common.Hash     `json:"transactionsRoot"`
	Size         hexutil.Uint64  `json:"size"`
	Miner        common.Address  `json:"miner"`
	BaseFee      *hexutil.Big    `json:"baseFeePerGas"` // since London
	Transactions []rpcTx         `json:"transactions"`
	Withdrawals  []rpcWithdrawal `json:"withdrawals"`
}

type rpcTx struct {
	Hash     *common.Hash    `json:"hash"`
	From     *common.Address `json:"from"`
	To       *common.Address `json:"to"`
	Value    *hexutil.Big    `json:"value"`
	Nonce    hexutil.Uint64  `json:"nonce"`
	Gas      hexutil.Uint64  `json:"gas"`
	GasPrice *hexutil.Big    `json:"gasPrice"`
	Input    selector        `json:"input"`
	Type     hexutil.Uint64  `json:"type"`
	Index    *hexutil.Uint64 `json:"transactionIndex"`
}

type rpcWithdrawal struct {
	Index   hexutil.Uint64 `json:"index"`
	Address common.Address `json:"address"`
	Amount  hexutil.Big    `json:"amount"` // Gwei
}

// rpcReceipt is one transaction's receipt.
type rpcReceipt struct {
	TxHash            *common.Hash    `json:"transactionHash"`
	TxIndex           *hexutil.Uint64 `json:"transactionIndex"`
	BlockHash         *common.Hash    `json:"blockHash"`
	Status            *hexutil.Uint64 `json:"status"` // absent before Byzantium
	GasUsed           *hexutil.Uint64 `json:"gasUsed"`
	EffectiveGasPrice *hexutil.Big    `json:"effectiveGasPrice"` // absent on old nodes
	BlobGasUsed       *hexutil.Uint64 `json:"blobGasUsed"`
	BlobGasPrice      *hexutil.Big    `json:"blobGasPrice"`
	ContractAddress   *common.Address `json:"contractAddress"`
	Logs              []rpcLog        `json:"logs"`
}

type rpcLog struct {
	Address  common.Address `json:"address"`
	Topics   []common.Hash  `json:"topics"`
	Data     hexutil.Bytes  `json:"data"`
	LogIndex hexutil.Uint64 `json:"logIndex"`
	Removed  bool           `json:"removed"`
}

// callFrame is geth's callTracer output for one call and its children.
type callFrame struct {
	Type    string          `json:"type"`
	From    *common.Address `json:"from"`
	To      *common.Address `json:"to"`
	Value   *hexutil.Big    `json:"value"`
	Gas     hexutil.Uint64  `json:"gas"`
	GasUsed hexutil.Uint64  `json:"gasUsed"`
	Input   hexutil.Bytes   `json:"input"`
	Output  hexutil.Bytes   `json:"output"`
	Error   string          `json:"error"`
	Calls   []callFrame     `json:"calls"`
}

// txTraceResult is one entry of debug_traceBlockByNumber's answer.
type txTraceResult struct {
	TxHash *common.Hash `json:"txHash"`
	Result *callFrame   `json:"result"`
	Error  string       `json:"error"`
}

// parityTrace is one entry of trace_block's answer.
type parityTrace struct {
	Action struct {
		CallType      string          `json:"callType"`
		From          *common.Address `json:"from"`
		To            *common.Address `json:"to"`
		Value         *hexutil.Big    `json:"value"`
		Address       *common.Address `json:"address"`       // suicide: the contract
		RefundAddress *common.Address `json:"refundAddress"` // suicide: the beneficiary
		Balance       *hexutil.Big    `json:"balance"`       // suicide: what moved
		Author        *common.Address `json:"author"`        // reward
		RewardType    string          `json:"rewardType"`
		Init          hexutil.Bytes   `json:"init"`
	} `json:"action"`
	Result *struct {
		Address *common.Address `json:"address"` // create: the new contract
		GasUsed *hexutil.Uint64 `json:"gasUsed"`
	} `json:"result"`
	Error        string       `json:"error"`
	Subtraces    int          `json:"subtraces"`
	TraceAddress []int        `json:"traceAddress"`
	TxHash       *common.Hash `json:"transactionHash"`
	TxPosition   *int         `json:"transactionPosition"`
	Type         string       `json:"type"`
}

// Trace is one call of a transaction's execution tree, from either
// tracer, in the one form fundtrace keeps: the value it tried to move,
// whether it (and every call above it) succeeded.
type Trace struct {
	TxIndex      int // -1 for block rewards
	TxHash       common.Hash
	TraceAddress []int  // path from the top-level call; empty for it
	Type         string // call, create, suicide, reward
	CallType     string // call, delegatecall, staticcall, callcode (calls only)
	From         common.Address
	To           common.Address // for a create: the new contract (zero if it failed)
	Value        *big.Int
	Error        string // this call's own error, "" if none
	Success      bool   // false if this call or any call above it failed
	RewardType   string
	// Incomplete says why the frame cannot be read as a transfer (old
	// geth callTracer SELFDESTRUCT frames carry no to or value): it is
	// reported with its transaction, never read as a zero.
	Incomplete string
}

// AddressString is the trace address as ethereum-etl writes it: "0,1".
func (t *Trace) AddressString() string {
	parts := make([]string, len(t.TraceAddress))
	for i, n := range t.TraceAddress {
		parts[i] = fmt.Sprint(n)
	}
	return strings.Join(parts, ",")
}

// selector keeps the first four bytes of a transaction's call data (the
// method it calls), all that fundtrace stores of it: decoding the rest
// of every input, which can run to kilobytes, would be wasted.
type selector []byte

func (s *selector) UnmarshalJSON(b []byte) error {
	if len(b) < 4 || b[0] != '"' || b[len(b)-1] != '"' || b[1] != '0' || (b[2] != 'x' && b[2] != 'X') {
		return fmt.Errorf("call data %.20s...: want a 0x-prefixed hex string", b)
	}
	digits := b[3 : len(b)-1]
	if len(digits)%2 != 0 {
		return fmt.Errorf("call data of odd length %d", len(digits))
	}
	n := min(len(digits), 8)
	out := make([]byte, n/2)
	if _, err := hex.Decode(out, digits[:n]); err != nil {
		return fmt.Errorf("call data: %w", err)
	}
	*s = out
	return nil
}

// decodeField unmarshals raw into v, naming what failed.
func decodeField(raw json.RawMessage, v any, what string) error {
	if len(raw) == 0 || string(raw) == "null" {
		return fmt.Errorf("%s: missing (null result)", what)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
