package trx_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/tron"
	"github.com/fundtrace/fundtrace/ingest/trx"
	"github.com/fundtrace/fundtrace/sim"
	"github.com/fundtrace/fundtrace/store/embedded"
	"github.com/fundtrace/fundtrace/store/storetest"
)

// node serves a simulated chain that a test can switch, with faults.
type node struct {
	mu       sync.Mutex
	h        http.Handler
	reqs     atomic.Int64
	failOnce bool // every distinct request answers 503 the first time
	seen     sync.Map
	failAll  bool
	tamper   int64 // a block whose first transaction's raw data is altered (0: none)
	keys     sync.Map
	srv      *httptest.Server
}

func newNode(t *testing.T, w *sim.TronWorld) *node {
	n := &node{h: sim.NewTronHandler(w)}
	n.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		n.keys.Store(r.Header.Get("TRON-PRO-API-KEY"), true)
		n.reqs.Add(1)
		n.mu.Lock()
		h, failOnce, failAll, tamper := n.h, n.failOnce, n.failAll, n.tamper
		n.mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		_, seen := n.seen.LoadOrStore(r.URL.Path+string(body), true)
		if failAll || (failOnce && !seen) {
			http.Error(rw, "upstream busy", http.StatusServiceUnavailable)
			return
		}
		if tamper > 0 && r.URL.Path == "/wallet/getblockbynum" {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			body := rec.Body.String()
			if strings.Contains(body, fmt.Sprintf(`"number":%d,`, tamper)) {
				i := strings.Index(body, `"raw_data_hex":"`) + len(`"raw_data_hex":"`)
				c := "0"
				if body[i+10] == '0' {
					c = "1"
				}
				body = body[:i+10] + c + body[i+11:]
			}
			rw.Write([]byte(body))
			return
		}
		h.ServeHTTP(rw, r)
	}))
	t.Cleanup(n.srv.Close)
	return n
}

// set changes the node's faults while it serves.
func (n *node) set(f func()) {
	n.mu.Lock()
	f()
	n.mu.Unlock()
}

func (n *node) serve(w *sim.TronWorld) {
	n.mu.Lock()
	n.h = sim.NewTronHandler(w)
	n.mu.Unlock()
}

func (n *node) client(t *testing.T, o tron.ClientOptions) *tron.Client {
	o.Retries = max(o.Retries, 1)
	cl, err := tron.Dial(n.srv.URL, o)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func openStore(t *testing.T) *embedded.Store {
	st, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// dump renders everything the store says of the TRON chain.
func dump(t *testing.T, st *embedded.Store) string {
	ctx := context.Background()
	m, err := st.Meta(ctx, chains.Tron)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "tip %d %s blocks %d txs %d transfers %d addresses %d network %s\n", m.TipHeight, m.TipHash, m.Blocks, m.Txs, m.Transfers, m.Addresses, m.Network)
	addrs := map[chains.Address]bool{}
	for h := m.TipHeight - m.Blocks + 1; h <= m.TipHeight; h++ {
		blk, ids, err := st.BlockByHeight(ctx, chains.Tron, h)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "block %d %s parent %s\n", h, blk.Hash, blk.PrevHash)
		for _, id := range ids {
			tx, ts, err := st.AccountTx(ctx, chains.Tron, id)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "tx %s fee %v ok %v\n%s", id, tx.Fee, tx.Success, storetest.TransfersText(ts))
			for _, tr := range ts {
				addrs[tr.From], addrs[tr.To] = true, true
			}
		}
	}
	var n int
	for a := range addrs {
		ts, err := st.Transfers(ctx, chains.Tron, a, 0)
		if err != nil {
			t.Fatal(err)
		}
		n += len(ts)
	}
	fmt.Fprintf(&b, "%d address history entries\n", n)
	return b.String()
}

func index(t *testing.T, st *embedded.Store, n *node, cfg trx.IndexConfig) (*trx.Result, error) {
	t.Helper()
	return trx.Index(context.Background(), st, n.client(t, tron.ClientOptions{Retries: 5}), cfg)
}

// TestResumeAndReorg: a run stopped part way and resumed gives the store
// one run gives; when the node's chain reorganises below the stored tip,
// the orphaned blocks are rolled back and the store then answers as a
// fresh index of the new chain does.
func TestResumeAndReorg(t *testing.T) {
	w := sim.GenerateTron(sim.TronConfig{Seed: 5, Days: 1})
	n := newNode(t, w)
	once := openStore(t)
	if _, err := index(t, once, n, trx.IndexConfig{BatchBlocks: 64}); err != nil {
		t.Fatal(err)
	}
	parts := openStore(t)
	if res, err := index(t, parts, n, trx.IndexConfig{BatchBlocks: 50, To: 201}); err != nil || res.To != 201 {
		t.Fatalf("%+v %v", res, err)
	}
	res, err := index(t, parts, n, trx.IndexConfig{BatchBlocks: 33})
	if err != nil || res.From != 202 || res.To != int64(len(w.Blocks)-1) {
		t.Fatalf("resumed %+v %v", res, err)
	}
	if a, b := dump(t, once), dump(t, parts); a != b || len(a) < 10_000 {
		t.Fatalf("resumed run differs from one run (%d and %d bytes)", len(a), len(b))
	}
	again, err := index(t, parts, n, trx.IndexConfig{})
	if err != nil || again.Blocks != 0 {
		t.Fatalf("a run on an up-to-date store wrote %+v, %v", again, err)
	}

	fork := sim.ForkTron(w, int64(len(w.Blocks)-10), 3)
	n.serve(fork)
	res, err = index(t, parts, n, trx.IndexConfig{})
	if err != nil || res.ReorgFrom != int64(len(w.Blocks)-10) {
		t.Fatalf("after the fork: %+v %v", res, err)
	}
	fresh := openStore(t)
	if _, err := index(t, fresh, n, trx.IndexConfig{}); err != nil {
		t.Fatal(err)
	}
	if a, b := dump(t, parts), dump(t, fresh); a != b {
		t.Fatalf("after the reorg the store differs from a fresh index of the new chain")
	}
	// A reorganisation deeper than MaxReorg is refused, not guessed.
	n.serve(sim.ForkTron(fork, 100, 400))
	if _, err := index(t, parts, n, trx.IndexConfig{MaxReorg: 20}); err == nil || !strings.Contains(err.Error(), "deeper than 20") {
		t.Fatalf("deep reorg: %v", err)
	}
}

// TestFaults: transient failures (every request failing once) are
// retried to the same result; a node
// that keeps failing stops the run with an error naming it, and what was
// written is whole batches; an altered block is refused, naming it; the
// API key goes in TRON-PRO-API-KEY.
func TestFaults(t *testing.T) {
	w := sim.GenerateTron(sim.TronConfig{Seed: 6, Days: 1})
	n := newNode(t, w)
	ref := openStore(t)
	if _, err := index(t, ref, n, trx.IndexConfig{BatchBlocks: 40}); err != nil {
		t.Fatal(err)
	}
	n.set(func() { n.failOnce = true })
	flaky := openStore(t)
	if _, err := index(t, flaky, n, trx.IndexConfig{BatchBlocks: 40}); err != nil {
		t.Fatalf("with every request failing once: %v", err)
	}
	if a, b := dump(t, ref), dump(t, flaky); a != b {
		t.Fatal("retried run differs")
	}
	n.set(func() { n.failOnce = false })

	// The node fails for good after the first batches.
	broken := openStore(t)
	if _, err := index(t, broken, n, trx.IndexConfig{BatchBlocks: 40, To: 120}); err != nil {
		t.Fatal(err)
	}
	n.set(func() { n.failAll = true })
	_, err := trx.Index(context.Background(), broken, n.client(t, tron.ClientOptions{Retries: 2}), trx.IndexConfig{BatchBlocks: 40})
	if err == nil || !strings.Contains(err.Error(), n.srv.URL) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("dead node: %v", err)
	}
	n.set(func() { n.failAll = false })
	if m, _ := broken.Meta(context.Background(), chains.Tron); m.TipHeight != 120 || m.Blocks != 120 {
		t.Fatalf("after the failure: tip %d, %d blocks", m.TipHeight, m.Blocks)
	}

	n.set(func() { n.tamper = 150 })
	tampered := openStore(t)
	_, err = index(t, tampered, n, trx.IndexConfig{BatchBlocks: 100})
	if err == nil || !strings.Contains(err.Error(), "tron block 150") || !strings.Contains(err.Error(), "SHA-256") {
		t.Fatalf("altered block: %v", err)
	}
	if m, _ := tampered.Meta(context.Background(), chains.Tron); m.TipHeight != 100 {
		t.Fatalf("tip %d after refusing block 150: want 100, the last whole batch", m.TipHeight)
	}
	n.set(func() { n.tamper = 0 })

	keyed := openStore(t)
	if _, err := trx.Index(context.Background(), keyed, n.client(t, tron.ClientOptions{APIKey: "k-123", RateLimit: 500}), trx.IndexConfig{To: 30}); err != nil {
		t.Fatal(err)
	}
	if _, ok := n.keys.Load("k-123"); !ok {
		t.Fatal("the API key was not sent as TRON-PRO-API-KEY")
	}
}

// TestFollow: with Follow the indexer keeps up as the node's chain grows,
// keeping Confirmations blocks back, until its context ends.
func TestFollow(t *testing.T) {
	w := sim.GenerateTron(sim.TronConfig{Seed: 8, Days: 1})
	short := *w
	short.Blocks = w.Blocks[:300]
	n := newNode(t, &short)
	st := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := trx.Index(ctx, st, n.client(t, tron.ClientOptions{Retries: 5}), trx.IndexConfig{Follow: true, Poll: 10 * time.Millisecond, Confirmations: 5})
		done <- err
	}()
	wait := func(tip int64) {
		for range 500 {
			if m, _ := st.Meta(context.Background(), chains.Tron); m.TipHeight == tip {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		m, _ := st.Meta(context.Background(), chains.Tron)
		t.Fatalf("tip %d, want %d", m.TipHeight, tip)
	}
	wait(299 - 5)
	n.serve(w)
	wait(int64(len(w.Blocks)) - 1 - 5)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("follow ended with %v", err)
	}
}

// TestTokens: the tokens a run meets get their metadata from the node
// once: USDT's from its contract (triggerconstantcontract), the TRC-10
// token's from its issue (getassetissuebyid).
func TestTokens(t *testing.T) {
	w := sim.GenerateTron(sim.TronConfig{Seed: 9, Days: 1})
	n := newNode(t, w)
	st := openStore(t)
	if _, err := index(t, st, n, trx.IndexConfig{BatchBlocks: 100}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	usdt, err := st.Token(ctx, chains.Tron, tron.USDT)
	if err != nil || usdt.Symbol != "USDT" || usdt.Name != "Tether USD" || usdt.Decimals != 6 || !usdt.HasDecimals {
		t.Fatalf("USDT: %+v, %v", usdt, err)
	}
	trc10, err := st.Token(ctx, chains.Tron, tron.TokenAddress(sim.TRC10ID))
	if err != nil || trc10.Symbol != sim.TRC10Symbol || trc10.Name != sim.TRC10Name || trc10.Decimals != sim.TRC10Decimals || !trc10.HasDecimals {
		t.Fatalf("TRC-10 %d: %+v, %v", sim.TRC10ID, trc10, err)
	}
}
