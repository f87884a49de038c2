package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"
	"golang.org/x/sync/singleflight"
)

// The simulated chain over standard Ethereum JSON-RPC, as a node answers
// it: eth_chainId, eth_blockNumber, eth_getBlockByNumber,
// eth_getBlockReceipts, eth_getTransactionReceipt, eth_call (the token's
// symbol, name and decimals) and debug_traceBlockByNumber with
// callTracer. go-ethereum's own rpc server speaks the protocol (batches,
// errors, "method not found").

// Token metadata the simulated token answers.
const (
	TokenSymbol   = "sUSDT"
	TokenName     = "Simulated Tether USD"
	TokenDecimals = 6
)

var transferTopic = crypto.Keccak256Hash([]byte("Transfer(address,address,uint256)"))

func weiHex(g int64) *hexutil.Big {
	return (*hexutil.Big)(new(big.Int).Mul(big.NewInt(g), big.NewInt(gwei)))
}

type rendered struct {
	block, blockHashes, receipts, traces json.RawMessage
	receipt                              map[common.Hash]json.RawMessage
}

// ethSource is a chain to serve: a world in memory, or an ETHChain read
// from its file block by block.
type ethSource interface {
	chainID() int64
	token() common.Address
	count() int // blocks, genesis included
	block(n int) (*ETHBlock, error)
	txBlocks(h common.Hash) []int // the blocks that may hold transaction h
}

type worldSource struct {
	w    *ETHWorld
	byTx map[common.Hash]int
}

func (s *worldSource) chainID() int64                 { return s.w.ChainID }
func (s *worldSource) token() common.Address          { return s.w.Token }
func (s *worldSource) count() int                     { return len(s.w.Blocks) }
func (s *worldSource) block(n int) (*ETHBlock, error) { return s.w.Blocks[n], nil }
func (s *worldSource) txBlocks(h common.Hash) []int {
	if n, ok := s.byTx[h]; ok {
		return []int{n}
	}
	return nil
}

func (c *ETHChain) chainID() int64                 { return c.World.ChainID }
func (c *ETHChain) token() common.Address          { return c.World.Token }
func (c *ETHChain) count() int                     { return c.Len() }
func (c *ETHChain) block(n int) (*ETHBlock, error) { return c.Block(n) }

// NewETHHandler serves w, held in memory, over JSON-RPC (HTTP POST).
func NewETHHandler(w *ETHWorld) (http.Handler, error) {
	s := &worldSource{w: w, byTx: map[common.Hash]int{}}
	for n, b := range w.Blocks {
		for _, t := range b.Txs {
			s.byTx[t.Hash] = n
		}
	}
	return newETHServer(s)
}

// NewETHChainHandler serves a chain read from its file over JSON-RPC,
// rendering each block's answers when they are first asked for and
// keeping the last renderedCap blocks' (an indexer asks for a block's
// body, receipts and traces in turn, a few blocks at once).
func NewETHChainHandler(c *ETHChain) (http.Handler, error) { return newETHServer(c) }

func newETHServer(src ethSource) (http.Handler, error) {
	api := &ethAPI{src: src, cache: map[int]*rendered{}}
	srv := rpc.NewServer()
	if err := srv.RegisterName("eth", api); err != nil {
		return nil, err
	}
	if err := srv.RegisterName("debug", &debugAPI{api}); err != nil {
		return nil, err
	}
	return srv, nil
}

// renderedCap is how many blocks' answers are kept rendered.
const renderedCap = 16

// rendered renders block n's answers, or finds them rendered; concurrent
// asks for one block render it once.
func (a *ethAPI) rendered(n int) (*rendered, error) {
	a.mu.Lock()
	r := a.cache[n]
	a.mu.Unlock()
	if r != nil {
		return r, nil
	}
	v, err, _ := a.flight.Do(strconv.Itoa(n), func() (any, error) {
		b, err := a.src.block(n)
		if err != nil {
			return nil, err
		}
		r, err := renderBlock(b)
		if err != nil {
			return nil, fmt.Errorf("block %d: %w", n, err)
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		if _, ok := a.cache[n]; !ok {
			a.cache[n] = &r
			a.order = append(a.order, n)
			if len(a.order) > renderedCap {
				delete(a.cache, a.order[0])
				a.order = a.order[1:]
			}
		}
		return &r, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*rendered), nil
}

// The answers' objects, their fields in the order of their JSON names
// (as encoding/json writes a map's). Structs, not maps: rendering on
// demand competes with the indexer for the cores.
type (
	rpcTx struct {
		BlockHash        common.Hash     `json:"blockHash"`
		BlockNumber      hexutil.Uint64  `json:"blockNumber"`
		From             common.Address  `json:"from"`
		Gas              hexutil.Uint64  `json:"gas"`
		GasPrice         *hexutil.Big    `json:"gasPrice"`
		Hash             common.Hash     `json:"hash"`
		Input            hexutil.Bytes   `json:"input"`
		Nonce            hexutil.Uint64  `json:"nonce"`
		To               *common.Address `json:"to"`
		TransactionIndex hexutil.Uint64  `json:"transactionIndex"`
		Type             string          `json:"type"`
		Value            *hexutil.Big    `json:"value"`
	}
	rpcLog struct {
		Address          common.Address `json:"address"`
		BlockHash        common.Hash    `json:"blockHash"`
		BlockNumber      hexutil.Uint64 `json:"blockNumber"`
		Data             hexutil.Bytes  `json:"data"`
		LogIndex         hexutil.Uint64 `json:"logIndex"`
		Removed          bool           `json:"removed"`
		Topics           []common.Hash  `json:"topics"`
		TransactionHash  common.Hash    `json:"transactionHash"`
		TransactionIndex hexutil.Uint64 `json:"transactionIndex"`
	}
	rpcReceipt struct {
		BlockHash         common.Hash     `json:"blockHash"`
		BlockNumber       hexutil.Uint64  `json:"blockNumber"`
		ContractAddress   *common.Address `json:"contractAddress"`
		CumulativeGasUsed hexutil.Uint64  `json:"cumulativeGasUsed"`
		EffectiveGasPrice *hexutil.Big    `json:"effectiveGasPrice"`
		From              common.Address  `json:"from"`
		GasUsed           hexutil.Uint64  `json:"gasUsed"`
		Logs              []rpcLog        `json:"logs"`
		Status            hexutil.Uint64  `json:"status"`
		To                *common.Address `json:"to"`
		TransactionHash   common.Hash     `json:"transactionHash"`
		TransactionIndex  hexutil.Uint64  `json:"transactionIndex"`
		Type              string          `json:"type"`
	}
	rpcCall struct {
		From    common.Address `json:"from"`
		Gas     string         `json:"gas"`
		GasUsed string         `json:"gasUsed"`
		Input   string         `json:"input"`
		To      common.Address `json:"to"`
		Type    string         `json:"type"`
		Value   *hexutil.Big   `json:"value"`
	}
	rpcFrame struct {
		Calls   []rpcCall       `json:"calls,omitempty"`
		Error   string          `json:"error,omitempty"`
		From    common.Address  `json:"from"`
		Gas     hexutil.Uint64  `json:"gas"`
		GasUsed hexutil.Uint64  `json:"gasUsed"`
		Input   hexutil.Bytes   `json:"input"`
		Output  string          `json:"output"`
		To      *common.Address `json:"to"`
		Type    string          `json:"type"`
		Value   *hexutil.Big    `json:"value"`
	}
	rpcTrace struct {
		Result rpcFrame    `json:"result"`
		TxHash common.Hash `json:"txHash"`
	}
	rpcWithdrawal struct {
		Address        common.Address `json:"address"`
		Amount         hexutil.Uint64 `json:"amount"`
		Index          hexutil.Uint64 `json:"index"`
		ValidatorIndex string         `json:"validatorIndex"`
	}
	rpcHead struct {
		GasLimit         string          `json:"gasLimit"`
		GasUsed          hexutil.Uint64  `json:"gasUsed"`
		Hash             common.Hash     `json:"hash"`
		Miner            common.Address  `json:"miner"`
		Number           hexutil.Uint64  `json:"number"`
		ParentHash       common.Hash     `json:"parentHash"`
		Size             hexutil.Uint64  `json:"size"`
		Timestamp        hexutil.Uint64  `json:"timestamp"`
		Transactions     any             `json:"transactions"`
		TransactionsRoot common.Hash     `json:"transactionsRoot"`
		Withdrawals      []rpcWithdrawal `json:"withdrawals"`
	}
)

func renderBlock(b *ETHBlock) (rendered, error) {
	r := rendered{receipt: make(map[common.Hash]json.RawMessage, len(b.Txs))}
	txs, hashes, traces := make([]rpcTx, 0, len(b.Txs)), make([]common.Hash, 0, len(b.Txs)), make([]rpcTrace, 0, len(b.Txs))
	receipts := []byte{'['}
	logIndex := 0
	var cum int64
	var root []byte
	num := hexutil.Uint64(b.Number)
	for i, t := range b.Txs {
		root = append(root, t.Hash[:]...)
		ix := hexutil.Uint64(i)
		txs = append(txs, rpcTx{Hash: t.Hash, From: t.From, To: t.To, Value: weiHex(t.Value), Nonce: hexutil.Uint64(t.Nonce),
			Gas: hexutil.Uint64(t.Gas), GasPrice: weiHex(t.GasPrice), Input: hexutil.Bytes(t.Input), Type: "0x0",
			TransactionIndex: ix, BlockNumber: num, BlockHash: b.Hash})
		hashes = append(hashes, t.Hash)
		cum += t.GasUsed
		status := hexutil.Uint64(0)
		if t.Success {
			status = 1
		}
		logs := make([]rpcLog, 0, len(t.Logs))
		for _, l := range t.Logs {
			logs = append(logs, rpcLog{Address: l.Token, Topics: []common.Hash{transferTopic, common.BytesToHash(l.From[:]), common.BytesToHash(l.To[:])},
				Data: hexutil.Bytes(common.LeftPadBytes(big.NewInt(l.Amount).Bytes(), 32)), LogIndex: hexutil.Uint64(logIndex),
				TransactionHash: t.Hash, TransactionIndex: ix, BlockNumber: num, BlockHash: b.Hash})
			logIndex++
		}
		raw, err := json.Marshal(rpcReceipt{TransactionHash: t.Hash, TransactionIndex: ix, BlockHash: b.Hash, BlockNumber: num,
			From: t.From, To: t.To, Status: status, GasUsed: hexutil.Uint64(t.GasUsed), CumulativeGasUsed: hexutil.Uint64(cum),
			EffectiveGasPrice: weiHex(t.GasPrice), ContractAddress: t.Created, Logs: logs, Type: "0x0"})
		if err != nil {
			return r, err
		}
		r.receipt[t.Hash] = raw
		if i > 0 {
			receipts = append(receipts, ',')
		}
		receipts = append(receipts, raw...)
		// callTracer's tree: the transaction's call, and under it the
		// forwarded calls.
		frame := rpcFrame{Type: "CALL", From: t.From, To: t.To, Value: weiHex(t.Value), Gas: hexutil.Uint64(t.Gas),
			GasUsed: hexutil.Uint64(t.GasUsed), Input: hexutil.Bytes(t.Input), Output: "0x"}
		if t.To == nil {
			frame.Type, frame.To = "CREATE", t.Created
		}
		if !t.Success {
			frame.Error = "execution reverted"
		}
		for _, c := range t.Calls {
			frame.Calls = append(frame.Calls, rpcCall{Type: "CALL", From: c.From, To: c.To, Value: weiHex(c.Value), Gas: "0x2328",
				GasUsed: "0x2328", Input: "0x"})
		}
		traces = append(traces, rpcTrace{TxHash: t.Hash, Result: frame})
	}
	r.receipts = append(receipts, ']')
	wds := make([]rpcWithdrawal, 0, len(b.Withdrawals))
	for _, wd := range b.Withdrawals {
		wds = append(wds, rpcWithdrawal{Index: hexutil.Uint64(wd.Index), ValidatorIndex: "0x1", Address: wd.Address, Amount: hexutil.Uint64(wd.Gwei)})
	}
	head := rpcHead{Number: num, Hash: b.Hash, ParentHash: b.Parent, Timestamp: hexutil.Uint64(b.Time),
		TransactionsRoot: crypto.Keccak256Hash(root), Size: hexutil.Uint64(500 + 120*len(b.Txs)),
		GasLimit: "0x1c9c380", GasUsed: hexutil.Uint64(cum), Withdrawals: wds, Transactions: txs}
	var err error
	if r.block, err = json.Marshal(head); err != nil {
		return r, err
	}
	head.Transactions = hashes
	if r.blockHashes, err = json.Marshal(head); err != nil {
		return r, err
	}
	r.traces, err = json.Marshal(traces)
	return r, err
}

type ethAPI struct {
	src    ethSource
	mu     sync.Mutex
	cache  map[int]*rendered
	order  []int // cached blocks, oldest first
	flight singleflight.Group
}

func (a *ethAPI) ChainId() *hexutil.Big { return (*hexutil.Big)(big.NewInt(a.src.chainID())) }

func (a *ethAPI) BlockNumber() hexutil.Uint64 { return hexutil.Uint64(a.src.count() - 1) }

func (a *ethAPI) number(n rpc.BlockNumber) (int, bool) {
	switch {
	case n == rpc.EarliestBlockNumber:
		return 0, true
	case n < 0: // latest, pending, safe, finalized: the head
		return a.src.count() - 1, true
	case int64(n) < int64(a.src.count()):
		return int(n), true
	}
	return 0, false
}

func (a *ethAPI) GetBlockByNumber(ctx context.Context, n rpc.BlockNumber, full bool) (json.RawMessage, error) {
	i, ok := a.number(n)
	if !ok {
		return json.RawMessage("null"), nil
	}
	r, err := a.rendered(i)
	if err != nil {
		return nil, err
	}
	if full {
		return r.block, nil
	}
	return r.blockHashes, nil
}

func (a *ethAPI) GetBlockReceipts(ctx context.Context, n rpc.BlockNumberOrHash) (json.RawMessage, error) {
	bn, ok := n.Number()
	if !ok {
		return nil, errors.New("by block hash: not supported by the simulator")
	}
	i, ok := a.number(bn)
	if !ok {
		return json.RawMessage("null"), nil
	}
	r, err := a.rendered(i)
	if err != nil {
		return nil, err
	}
	return r.receipts, nil
}

func (a *ethAPI) GetTransactionReceipt(ctx context.Context, h common.Hash) (json.RawMessage, error) {
	for _, i := range a.src.txBlocks(h) {
		r, err := a.rendered(i)
		if err != nil {
			return nil, err
		}
		if rc, ok := r.receipt[h]; ok {
			return rc, nil
		}
	}
	return json.RawMessage("null"), nil
}

// Call answers the token's metadata getters; any other call reverts.
func (a *ethAPI) Call(ctx context.Context, args map[string]any, block *rpc.BlockNumberOrHash) (hexutil.Bytes, error) {
	to, _ := args["to"].(string)
	data, _ := args["data"].(string)
	if data == "" {
		data, _ = args["input"].(string)
	}
	if common.HexToAddress(to) != a.src.token() {
		return nil, errors.New("execution reverted")
	}
	str := func(s string) hexutil.Bytes {
		out := common.LeftPadBytes([]byte{0x20}, 32)
		out = append(out, common.LeftPadBytes(big.NewInt(int64(len(s))).Bytes(), 32)...)
		return append(out, common.RightPadBytes([]byte(s), (len(s)+31)/32*32)...)
	}
	switch data {
	case "0x95d89b41":
		return str(TokenSymbol), nil
	case "0x06fdde03":
		return str(TokenName), nil
	case "0x313ce567":
		return common.LeftPadBytes([]byte{TokenDecimals}, 32), nil
	}
	return nil, fmt.Errorf("execution reverted")
}

type debugAPI struct{ a *ethAPI }

func (d *debugAPI) TraceBlockByNumber(ctx context.Context, n rpc.BlockNumber, cfg map[string]any) (json.RawMessage, error) {
	if tr, _ := cfg["tracer"].(string); tr != "callTracer" {
		return nil, fmt.Errorf("the simulator traces with callTracer only, not %q", tr)
	}
	i, ok := d.a.number(n)
	if !ok {
		return nil, fmt.Errorf("block %d not found", n)
	}
	if i == 0 {
		return nil, errors.New("genesis is not traceable")
	}
	r, err := d.a.rendered(i)
	if err != nil {
		return nil, err
	}
	return r.traces, nil
}
