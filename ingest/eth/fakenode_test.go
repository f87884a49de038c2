package eth

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/internal/ethreplay"
	"github.com/fundtrace/fundtrace/store/embedded"
)

func indexFake(t *testing.T, url string, st *embedded.Store, cfg IndexConfig) (*Result, error) {
	t.Helper()
	return Index(context.Background(), st, dialTest(t, url, ethereum.ClientOptions{Retries: 1}), cfg)
}

// dialTest connects to a test node, closing the client when the test ends.
func dialTest(t *testing.T, url string, o ethereum.ClientOptions) *ethereum.Client {
	t.Helper()
	cl, err := ethereum.Dial(context.Background(), url, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func dump(t *testing.T, st *embedded.Store) string {
	t.Helper()
	var b bytes.Buffer
	if err := st.Dump(context.Background(), func(k, v []byte) error {
		fmt.Fprintf(&b, "%x=%x\n", k, v)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func openStore(t *testing.T) *embedded.Store {
	t.Helper()
	st, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestReorg: the node switches to another fork below the store's tip;
// the next run rolls the orphaned blocks back and indexes the new ones,
// ending key for key where an index of the new chain alone ends.
func TestReorg(t *testing.T) {
	f := &ethreplay.FakeChain{Head: 19, ForkAt: 1 << 40}
	url := f.Serve(t)
	st := openStore(t)
	if _, err := indexFake(t, url, st, IndexConfig{Confirmations: 0, BatchBlocks: 4}); err != nil {
		t.Fatal(err)
	}
	f.Switch(15, 1, 22)
	res, err := indexFake(t, url, st, IndexConfig{Confirmations: 0, BatchBlocks: 4})
	if err != nil {
		t.Fatal(err)
	}
	if res.ReorgFrom != 15 {
		t.Fatalf("reorg from %d, want 15", res.ReorgFrom)
	}
	fresh := openStore(t)
	if _, err := indexFake(t, url, fresh, IndexConfig{Confirmations: 0, BatchBlocks: 7}); err != nil {
		t.Fatal(err)
	}
	if a, b := dump(t, st), dump(t, fresh); a != b {
		t.Fatalf("after the reorg the store differs from a fresh index of the new chain:\n%s\nvs\n%s", a, b)
	}
	ctx := context.Background()
	m, _ := st.Meta(ctx, chains.Ethereum)
	if m.TipHeight != 22 || m.Blocks != 23 || m.Txs != 23 || m.Transfers != 23+23 || m.TipHash != chains.Hash(f.Hash(22)) {
		t.Fatalf("meta after reorg: %+v", m)
	}
	// The orphaned payment of block 17 is gone; the new one is there.
	old := crypto.Keccak256Hash([]byte("tx 17 fork 0"))
	if _, _, err := st.AccountTx(ctx, chains.Ethereum, chains.Hash(old)); err == nil {
		t.Fatal("orphaned transaction still in the store")
	}
}

// TestConfirmationsAndResume: only blocks Confirmations below the head
// are indexed; a later run continues without gaps or duplicates and ends
// where one run over everything ends.
func TestConfirmationsAndResume(t *testing.T) {
	f := &ethreplay.FakeChain{Head: 30, ForkAt: 1 << 40}
	url := f.Serve(t)
	st := openStore(t)
	res, err := indexFake(t, url, st, IndexConfig{Confirmations: 12, BatchBlocks: 5})
	if err != nil {
		t.Fatal(err)
	}
	if res.To != 18 {
		t.Fatalf("indexed up to %d, want 30-12 = 18", res.To)
	}
	f.Switch(1<<40, 0, 45)
	if _, err := indexFake(t, url, st, IndexConfig{Confirmations: 12, BatchBlocks: 5}); err != nil {
		t.Fatal(err)
	}
	once := openStore(t)
	if _, err := indexFake(t, url, once, IndexConfig{Confirmations: 12, To: 33}); err != nil {
		t.Fatal(err)
	}
	if a, b := dump(t, st), dump(t, once); a != b {
		t.Fatal("two runs differ from one run over the same blocks")
	}
}

// TestBadAnswers: malformed or inconsistent answers stop the index with
// an error naming the block and the method, and leave every batch before
// it committed and nothing of the failing one.
func TestBadAnswers(t *testing.T) {
	for _, c := range []struct {
		name   string
		break_ func(method string, n int64, resp map[string]any)
		want   []string
	}{
		{"hex that does not parse", func(m string, n int64, r map[string]any) {
			if m == "eth_getBlockByNumber" && n == 7 {
				r["result"].(map[string]any)["timestamp"] = "0xZZ"
			}
		}, []string{"block 7", "eth_getBlockByNumber", "timestamp"}},
		{"missing field", func(m string, n int64, r map[string]any) {
			if m == "eth_getBlockByNumber" && n == 7 {
				delete(r["result"].(map[string]any), "hash")
			}
		}, []string{"block 7", "eth_getBlockByNumber", "hash"}},
		{"malformed JSON", func(m string, n int64, r map[string]any) {
			if m == "eth_getBlockReceipts" && n == 7 {
				r["raw"] = `{"result": [ {"transactionHash": }`
			}
		}, []string{"block 7", "eth_getBlockReceipts"}},
		{"receipt of another transaction", func(m string, n int64, r map[string]any) {
			if m == "eth_getBlockReceipts" && n == 7 {
				r["result"].([]any)[0].(map[string]any)["transactionHash"] = common.Hash{1}
			}
		}, []string{"block 7", "receipt 0"}},
		{"a different block for the same height", func(m string, n int64, r map[string]any) {
			if m == "eth_getBlockByNumber" && n == 7 {
				r["result"].(map[string]any)["parentHash"] = common.Hash{2}
			}
		}, []string{"block 7", "eth_getBlockByNumber", "parent"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &ethreplay.FakeChain{Head: 12, ForkAt: 1 << 40, Break: c.break_}
			url := f.Serve(t)
			st := openStore(t)
			_, err := indexFake(t, url, st, IndexConfig{Confirmations: 0, BatchBlocks: 5})
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			m, _ := st.Meta(context.Background(), chains.Ethereum)
			if m.TipHeight != 4 || m.Blocks != 5 {
				t.Fatalf("store tip %d with %d blocks; want the batch 0..4 and nothing of 5..9", m.TipHeight, m.Blocks)
			}
		})
	}
}

// TestFollow: with Follow the indexer keeps up with a growing chain,
// indexing each block once it has Confirmations blocks above it, until
// its context ends.
func TestFollow(t *testing.T) {
	f := &ethreplay.FakeChain{Head: 10, ForkAt: 1 << 40}
	url := f.Serve(t)
	st := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Index(ctx, st, dialTest(t, url, ethereum.ClientOptions{}), IndexConfig{Confirmations: 3, Follow: true, Poll: 20 * time.Millisecond})
		done <- err
	}()
	waitTip := func(want int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			m, _ := st.Meta(ctx, chains.Ethereum)
			if m.TipHeight == want {
				return
			}
			if m.TipHeight > want {
				t.Fatalf("tip %d is past %d: a block with too few confirmations was indexed", m.TipHeight, want)
			}
			if time.Now().After(deadline) {
				t.Fatalf("tip %d, want %d", m.TipHeight, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitTip(7)
	f.Switch(1<<40, 0, 25)
	waitTip(22)
	time.Sleep(100 * time.Millisecond) // a few more polls: nothing past 22
	if m, _ := st.Meta(ctx, chains.Ethereum); m.TipHeight != 22 {
		t.Fatalf("tip %d, want 22", m.TipHeight)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("follow ended with %v", err)
	}
}

// TestRetriesTransientFailures: a node that answers 503 a few times is
// asked again, with backoff, and the index completes.
func TestRetriesTransientFailures(t *testing.T) {
	f := &ethreplay.FakeChain{Head: 6, ForkAt: 1 << 40}
	srv := ethreplay.New()
	defer srv.Close()
	srv.Hook = f.Answer
	srv.FailNext = 3
	st := openStore(t)
	res, err := Index(context.Background(), st, dialTest(t, srv.URL, ethereum.ClientOptions{Retries: 5}), IndexConfig{Confirmations: 0})
	if err != nil {
		t.Fatal(err)
	}
	if res.Blocks != 7 || srv.FailNext != 0 {
		t.Fatalf("indexed %d blocks; %d failures left unserved", res.Blocks, srv.FailNext)
	}
	// With fewer attempts than failures, the error names the node.
	srv.FailNext = 10
	_, err = Index(context.Background(), openStore(t), dialTest(t, srv.URL, ethereum.ClientOptions{Retries: 2}), IndexConfig{Confirmations: 0})
	if err == nil || !strings.Contains(err.Error(), srv.URL) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("got %v, want an error naming the node and its 503", err)
	}
}
