package eth

// Benchmarks of the whole Ethereum pipeline (fetch, decode, extract,
// write to the embedded store) against a local replay server, next to a
// bare fetch of the same answers with no decoding: the floor any indexer
// pays for the node round trips. "make bench" runs them and prints the
// ratio.
//
// The chain is mainnet block 18,000,000 (94 transactions, 200 transfers
// with 16 withdrawals, from Erigon's recorded answers) served at heights
// 1..benchBlocks, each with its own hash linking to the one before. No
// traces were recorded for that block, so tracing is off.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/internal/ethreplay"
	"github.com/fundtrace/fundtrace/internal/shareddata"
	"github.com/fundtrace/fundtrace/store/embedded"
)

const benchBlocks = 40

// replayChain serves block 18,000,000's content at heights 1..n.
func replayChain(b *testing.B, n int) string {
	dir := shareddata.Path(b, "ethereum", "erigon-rpc-tests", "mainnet")
	read := func(rel string) json.RawMessage {
		raw, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			b.Fatal(err)
		}
		var cases []struct {
			Response struct {
				Result json.RawMessage `json:"result"`
			} `json:"response"`
		}
		if err := json.Unmarshal(raw, &cases); err != nil {
			b.Fatal(err)
		}
		return cases[0].Response.Result
	}
	var block map[string]any
	if err := json.Unmarshal(read("eth_getBlockByNumber/test_08.json"), &block); err != nil {
		b.Fatal(err)
	}
	receipts := read("eth_getBlockReceipts/test_02.json")
	hash := func(h int) string { return crypto.Keccak256Hash([]byte(fmt.Sprint("bench block ", h))).Hex() }
	blocks := make([]json.RawMessage, n+1)
	for h := 1; h <= n; h++ {
		block["number"], block["hash"], block["parentHash"] = hexutil.EncodeUint64(uint64(h)), hash(h), hash(h-1)
		raw, err := json.Marshal(map[string]any{"result": block})
		if err != nil {
			b.Fatal(err)
		}
		blocks[h] = raw
	}
	rcpt, _ := json.Marshal(map[string]any{"result": receipts})
	srv := ethreplay.New()
	b.Cleanup(srv.Close)
	srv.Hook = func(method string, params []any) (json.RawMessage, bool) {
		num := func() int {
			var h int
			fmt.Sscanf(fmt.Sprint(params[0]), "0x%x", &h)
			return h
		}
		switch method {
		case "eth_chainId":
			return json.RawMessage(`{"result":"0x1"}`), true
		case "eth_blockNumber":
			return json.RawMessage(fmt.Sprintf(`{"result":"%#x"}`, n)), true
		case "eth_getBlockByNumber":
			if h := num(); h >= 1 && h <= n {
				return blocks[h], true
			}
		case "eth_getBlockReceipts":
			return rcpt, true
		case "eth_call":
			return json.RawMessage(`{"error":{"code":3,"message":"execution reverted"}}`), true
		}
		return json.RawMessage(`{"result":null}`), true
	}
	return srv.URL
}

// BenchmarkPipeline indexes the replayed chain into a fresh embedded store.
func BenchmarkPipeline(b *testing.B) {
	url := replayChain(b, benchBlocks)
	ctx := context.Background()
	var transfers, txs int64
	for b.Loop() {
		b.StopTimer()
		st, err := embedded.Open(b.TempDir(), embedded.Options{})
		if err != nil {
			b.Fatal(err)
		}
		cl, err := ethereum.Dial(ctx, url, ethereum.ClientOptions{Traces: ethereum.TraceNone})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err := Index(ctx, st, cl, IndexConfig{From: 1, Confirmations: 0})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if res.Blocks != benchBlocks {
			b.Fatalf("indexed %d blocks", res.Blocks)
		}
		transfers, txs = res.Transfers, res.Txs
		cl.Close()
		st.Close()
		b.StartTimer()
	}
	secs := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(benchBlocks/secs, "blocks/s")
	b.ReportMetric(float64(txs)/secs, "tx/s")
	b.ReportMetric(float64(transfers)/secs, "transfers/s")
}

// BenchmarkFetchBare fetches the same answers (block and receipts, one
// batch a block, the pipeline's parallelism) into raw bytes: no decoding,
// no store.
func BenchmarkFetchBare(b *testing.B) {
	url := replayChain(b, benchBlocks)
	ctx := context.Background()
	rc, err := rpc.DialContext(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer rc.Close()
	for b.Loop() {
		sem := make(chan struct{}, 4)
		errs := make(chan error, benchBlocks)
		for h := 1; h <= benchBlocks; h++ {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				var blk, rcpt json.RawMessage
				num := hexutil.EncodeUint64(uint64(h))
				errs <- rc.BatchCallContext(ctx, []rpc.BatchElem{
					{Method: "eth_getBlockByNumber", Args: []any{num, true}, Result: &blk},
					{Method: "eth_getBlockReceipts", Args: []any{num}, Result: &rcpt},
				})
			}()
		}
		for range benchBlocks {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
	}
	secs := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(benchBlocks/secs, "blocks/s")
}
