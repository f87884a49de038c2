package ethreplay

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// FakeChain serves a synthetic chain over JSON-RPC: one payment per block
// from FakePayer to FakePayee of (height + 1 + fork*1000) wei, so that
// blocks of two forks differ in hash and content. Blocks at or above
// ForkAt belong to Fork; below it to fork 0. Its chain id is 1337 (dev).
type FakeChain struct {
	mu     sync.Mutex
	Head   int64
	ForkAt int64
	Fork   int
	// Break, when set, may change an answer (resp["result"]) or replace
	// it with raw text (resp["raw"]) before it is sent.
	Break func(method string, n int64, resp map[string]any)
}

var (
	// FakePayer pays FakePayee in every block of a FakeChain.
	FakePayer = common.HexToAddress("0x00000000000000000000000000000000000000aa")
	FakePayee = common.HexToAddress("0x00000000000000000000000000000000000000bb")
)

func (f *FakeChain) forkOf(n int64) int {
	if n >= f.ForkAt {
		return f.Fork
	}
	return 0
}

// Hash is block n's hash (not synchronised: call it while nothing else
// changes the chain).
func (f *FakeChain) Hash(n int64) common.Hash {
	if n < 0 {
		return common.Hash{}
	}
	return crypto.Keccak256Hash([]byte(fmt.Sprintf("block %d fork %d", n, f.forkOf(n))))
}

func (f *FakeChain) txHash(n int64) common.Hash {
	return crypto.Keccak256Hash([]byte(fmt.Sprintf("tx %d fork %d", n, f.forkOf(n))))
}

func (f *FakeChain) value(n int64) string { return fmt.Sprintf("%#x", n+1+int64(f.forkOf(n))*1000) }

// Answer answers one call as the chain would (a Server Hook).
func (f *FakeChain) Answer(method string, params []any) (json.RawMessage, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	num := func() int64 {
		var n int64
		fmt.Sscanf(fmt.Sprint(params[0]), "0x%x", &n)
		return n
	}
	var result any
	n := int64(-1)
	switch method {
	case "eth_chainId":
		result = "0x539"
	case "eth_blockNumber":
		result = fmt.Sprintf("%#x", f.Head)
	case "eth_getBlockByNumber":
		n = num()
		if n > f.Head {
			result = nil
			break
		}
		tx := map[string]any{"hash": f.txHash(n), "from": FakePayer, "to": FakePayee, "value": f.value(n), "nonce": fmt.Sprintf("%#x", n),
			"gas": "0x5208", "gasPrice": "0x3b9aca00", "input": "0x", "type": "0x0", "transactionIndex": "0x0"}
		result = map[string]any{"number": fmt.Sprintf("%#x", n), "hash": f.Hash(n), "parentHash": f.Hash(n - 1),
			"timestamp": fmt.Sprintf("%#x", 1700000000+n*12), "transactionsRoot": common.Hash{}, "size": "0x100",
			"miner": common.Address{}, "transactions": []any{tx}}
	case "eth_getBlockReceipts":
		n = num()
		result = []any{map[string]any{"transactionHash": f.txHash(n), "transactionIndex": "0x0", "blockHash": f.Hash(n),
			"status": "0x1", "gasUsed": "0x5208", "effectiveGasPrice": "0x3b9aca00", "logs": []any{}}}
	case "debug_traceBlockByNumber":
		n = num()
		result = []any{map[string]any{"txHash": f.txHash(n), "result": map[string]any{"type": "CALL", "from": FakePayer, "to": FakePayee,
			"value": f.value(n), "gas": "0x0", "gasUsed": "0x0", "input": "0x"}}}
	default:
		return nil, false
	}
	resp := map[string]any{"result": result}
	if f.Break != nil {
		f.Break(method, n, resp)
	}
	if raw, ok := resp["raw"].(string); ok {
		return json.RawMessage(raw), true
	}
	b, _ := json.Marshal(resp)
	return b, true
}

// Serve starts a server for the chain, closed when the test ends.
func (f *FakeChain) Serve(t testing.TB) string {
	srv := New()
	srv.Hook = f.Answer
	t.Cleanup(srv.Close)
	return srv.URL
}

// Switch moves the chain to fork from height at, with a new head.
func (f *FakeChain) Switch(at int64, fork int, head int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ForkAt, f.Fork, f.Head = at, fork, head
}

// TxHash is the hash of block n's payment.
func (f *FakeChain) TxHash(n int64) common.Hash {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.txHash(n)
}
