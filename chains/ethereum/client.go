package ethereum

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/fundtrace/fundtrace/chains"
	"golang.org/x/time/rate"
)

// TraceMode picks where internal transfers come from.
type TraceMode string

const (
	TraceAuto   TraceMode = "auto"   // geth's callTracer if the node has it, else Parity-style trace_block
	TraceGeth   TraceMode = "geth"   // debug_traceBlockByNumber with callTracer (geth, Erigon, Reth, Nethermind)
	TraceParity TraceMode = "parity" // trace_block (Erigon, Reth, Nethermind, OpenEthereum)
	TraceNone   TraceMode = "none"   // no internal transfers
)

// ParseTraceMode reads a --traces flag value.
func ParseTraceMode(s string) (TraceMode, error) {
	switch m := TraceMode(s); m {
	case TraceAuto, TraceGeth, TraceParity, TraceNone:
		return m, nil
	}
	return "", fmt.Errorf("traces %q: want auto, geth, parity or none", s)
}

// ClientOptions tunes a Client.
type ClientOptions struct {
	Traces TraceMode
	// RateLimit caps requests per second to the node (a batch counts as
	// its number of calls); 0 means no limit.
	RateLimit float64
	// Retries bounds the attempts of a call that failed for a transient
	// reason (connection, timeout, 429 or 5xx); default 5, backing off
	// from 250 ms.
	Retries int
	Logger  *slog.Logger
}

// Client fetches blocks, receipts and traces from one node over JSON-RPC.
type Client struct {
	rpc     *rpc.Client
	url     string
	opts    ClientOptions
	limiter *rate.Limiter
	log     *slog.Logger
	// Found out about the node on first use.
	traces          TraceMode
	receiptsPerTx   bool
	detected        bool
	tokenCache      map[common.Address]*tokenEntry
	tokenCacheLimit int
}

// Dial connects to a node (http(s)://, ws(s):// or an IPC path).
func Dial(ctx context.Context, url string, o ClientOptions) (*Client, error) {
	if o.Traces == "" {
		o.Traces = TraceAuto
	}
	if o.Retries <= 0 {
		o.Retries = 5
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	rc, err := rpc.DialContext(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", url, err)
	}
	c := &Client{rpc: rc, url: url, opts: o, log: o.Logger, traces: o.Traces, tokenCache: map[common.Address]*tokenEntry{}, tokenCacheLimit: 100_000}
	if o.RateLimit > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(o.RateLimit), max(1, int(o.RateLimit)))
	}
	return c, nil
}

// Close closes the connection.
func (c *Client) Close() { c.rpc.Close() }

// URL is the node's address, for messages.
func (c *Client) URL() string { return c.url }

// MissingMethodError says the node lacks a method fundtrace needs, and
// what to do about it.
type MissingMethodError struct {
	URL, Method, Hint string
	Err               error
}

func (e *MissingMethodError) Error() string {
	return fmt.Sprintf("node %s does not offer %s (%v): %s", e.URL, e.Method, e.Err, e.Hint)
}

func (e *MissingMethodError) Unwrap() error { return e.Err }

// isMissingMethod tells a node's "no such method" (or namespace) apart
// from every other failure.
func isMissingMethod(err error) bool {
	var re rpc.Error
	if errors.As(err, &re) && re.ErrorCode() == -32601 {
		return true
	}
	msg := strings.ToLower(fmt.Sprint(err))
	return strings.Contains(msg, "method not found") || strings.Contains(msg, "does not exist/is not available") ||
		strings.Contains(msg, "not supported") || strings.Contains(msg, "unknown method")
}

// isTransient is a failure that may pass if the call is made again.
func isTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var he rpc.HTTPError
	if errors.As(err, &he) {
		return he.StatusCode == 429 || he.StatusCode >= 500
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "connection reset") || strings.Contains(msg, "connection refused") ||
		strings.Contains(msg, "eof") || strings.Contains(msg, "timeout") || strings.Contains(msg, "too many requests") ||
		strings.Contains(msg, "indexing is in progress") // geth, just after start
}

// batch sends calls as one JSON-RPC batch, retrying transient failures of
// the whole batch and of single calls. Each call's raw result lands in
// results; a call's own non-transient error is returned with its method.
func (c *Client) batch(ctx context.Context, elems []rpc.BatchElem) error {
	delay := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		if c.limiter != nil {
			if err := c.limiter.WaitN(ctx, min(len(elems), c.limiter.Burst())); err != nil {
				return err
			}
		}
		err := c.rpc.BatchCallContext(ctx, elems)
		if err == nil {
			for i := range elems {
				if elems[i].Error != nil && isTransient(elems[i].Error) {
					err = elems[i].Error
					break
				}
			}
		}
		if err == nil || !isTransient(err) || attempt >= c.opts.Retries {
			if err != nil {
				return fmt.Errorf("node %s, %s: %w", c.url, methods(elems), err)
			}
			return nil
		}
		c.log.Warn("Node call failed; retrying", "node", c.url, "attempt", attempt, "err", err)
		for i := range elems {
			elems[i].Error = nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 8*time.Second)
	}
}

// methods names a batch's calls for messages: "eth_getBlockByNumber,
// eth_getBlockReceipts".
func methods(elems []rpc.BatchElem) string {
	var names []string
	seen := map[string]bool{}
	for _, e := range elems {
		if !seen[e.Method] {
			seen[e.Method] = true
			names = append(names, e.Method)
		}
	}
	return strings.Join(names, ", ")
}

// call is one method call with the batch's retries.
func (c *Client) call(ctx context.Context, result any, method string, args ...any) error {
	e := []rpc.BatchElem{{Method: method, Args: args, Result: result}}
	if err := c.batch(ctx, e); err != nil {
		return err
	}
	return e[0].Error
}

// Head returns the node's newest block number.
func (c *Client) Head(ctx context.Context) (uint64, error) {
	var n hexutil.Uint64
	if err := c.call(ctx, &n, "eth_blockNumber"); err != nil {
		return 0, fmt.Errorf("eth_blockNumber at %s: %w", c.url, err)
	}
	return uint64(n), nil
}

// ChainID returns the node's chain id (1 for mainnet).
func (c *Client) ChainID(ctx context.Context) (*big.Int, error) {
	var id hexutil.Big
	if err := c.call(ctx, &id, "eth_chainId"); err != nil {
		return nil, fmt.Errorf("eth_chainId at %s: %w", c.url, err)
	}
	return id.ToInt(), nil
}

func traceArgs(mode TraceMode, n uint64) (string, []any) {
	if mode == TraceParity {
		return "trace_block", []any{hexutil.EncodeUint64(n)}
	}
	return "debug_traceBlockByNumber", []any{hexutil.EncodeUint64(n), map[string]any{"tracer": "callTracer"}}
}

// Detect finds out, on block n, which receipts and trace methods the node
// offers, so that a node lacking one fails at once with what to enable.
// Fetch calls it; a caller fetching blocks in parallel calls it first,
// once, as it is not safe for concurrent use until it has succeeded.
func (c *Client) Detect(ctx context.Context, n uint64) error {
	if c.detected {
		return nil
	}
	var raw json.RawMessage
	err := c.call(ctx, &raw, "eth_getBlockReceipts", hexutil.EncodeUint64(n))
	switch {
	case err == nil:
	case isMissingMethod(err):
		c.log.Info("Node has no eth_getBlockReceipts; fetching receipts one transaction at a time", "node", c.url)
		c.receiptsPerTx = true
	default:
		return fmt.Errorf("eth_getBlockReceipts block %d: %w", n, err)
	}
	try := func(mode TraceMode) error {
		m, args := traceArgs(mode, n)
		err := c.call(ctx, &raw, m, args...)
		if err != nil && n == 0 && strings.Contains(err.Error(), "genesis is not traceable") {
			return nil // geth: the method is there; the genesis block just has nothing to trace
		}
		return err
	}
	switch c.traces {
	case TraceAuto:
		err := try(TraceGeth)
		if err == nil {
			c.traces = TraceGeth
			break
		}
		if !isMissingMethod(err) {
			return fmt.Errorf("debug_traceBlockByNumber block %d: %w", n, err)
		}
		if err2 := try(TraceParity); err2 == nil {
			c.traces = TraceParity
		} else if isMissingMethod(err2) {
			return &MissingMethodError{URL: c.url, Method: "debug_traceBlockByNumber or trace_block", Err: err,
				Hint: "internal transfers need traces: start the node with the debug namespace (geth: --http.api eth,debug; Erigon/Reth: add debug or trace to --http.api), or pass --traces none to index without internal transfers"}
		} else {
			return fmt.Errorf("trace_block block %d: %w", n, err2)
		}
	case TraceGeth, TraceParity:
		if err := try(c.traces); err != nil {
			if isMissingMethod(err) {
				m, _ := traceArgs(c.traces, n)
				return &MissingMethodError{URL: c.url, Method: m, Err: err,
					Hint: "enable the node's debug (for --traces geth) or trace (for --traces parity) namespace, or pick the other with --traces"}
			}
			return err
		}
	}
	c.detected = true
	c.log.Info("Node methods", "node", c.url, "traces", string(c.traces), "receipts_per_tx", c.receiptsPerTx)
	return nil
}

// Traces is the trace method in use: the one asked for, or after Detect
// the one auto found.
func (c *Client) Traces() TraceMode { return c.traces }

// BlockHash returns the hash of the node's block n, ok false when the
// node has no such block.
func (c *Client) BlockHash(ctx context.Context, n uint64) (h chains.Hash, ok bool, err error) {
	var hdr struct {
		Hash *common.Hash `json:"hash"`
	}
	if err := c.call(ctx, &hdr, "eth_getBlockByNumber", hexutil.EncodeUint64(n), false); err != nil {
		return h, false, fmt.Errorf("eth_getBlockByNumber %d: %w", n, err)
	}
	if hdr.Hash == nil {
		return h, false, nil
	}
	return chains.Hash(*hdr.Hash), true, nil
}

// Fetch returns block n with its receipts and traces: one batch, plus one
// for the receipts on a node without eth_getBlockReceipts.
func (c *Client) Fetch(ctx context.Context, n uint64) (*Bundle, error) {
	if err := c.Detect(ctx, n); err != nil {
		return nil, err
	}
	num := hexutil.EncodeUint64(n)
	var blockRaw, rcptRaw, traceRaw json.RawMessage
	elems := []rpc.BatchElem{{Method: "eth_getBlockByNumber", Args: []any{num, true}, Result: &blockRaw}}
	if !c.receiptsPerTx {
		elems = append(elems, rpc.BatchElem{Method: "eth_getBlockReceipts", Args: []any{num}, Result: &rcptRaw})
	}
	traceAt := -1
	// The genesis block has no transactions, and geth refuses to trace it.
	if c.traces != TraceNone && n > 0 {
		m, args := traceArgs(c.traces, n)
		traceAt = len(elems)
		elems = append(elems, rpc.BatchElem{Method: m, Args: args, Result: &traceRaw})
	}
	if err := c.batch(ctx, elems); err != nil {
		return nil, fmt.Errorf("block %d: %w", n, err)
	}
	for _, e := range elems {
		if e.Error != nil {
			return nil, fmt.Errorf("block %d: %s: %w", n, e.Method, e.Error)
		}
	}
	b := &Bundle{}
	if err := decodeField(blockRaw, &b.Block, fmt.Sprintf("block %d: eth_getBlockByNumber", n)); err != nil {
		return nil, err
	}
	if b.Block.Number == nil || b.Block.Number.ToInt().Uint64() != n {
		return nil, fmt.Errorf("block %d: eth_getBlockByNumber answered block %v", n, b.Block.Number)
	}
	if c.receiptsPerTx {
		if err := c.fetchReceipts(ctx, n, b); err != nil {
			return nil, err
		}
	} else if err := decodeField(rcptRaw, &b.Receipts, fmt.Sprintf("block %d: eth_getBlockReceipts", n)); err != nil {
		return nil, err
	}
	if traceAt >= 0 {
		var err error
		if b.Traces, err = decodeTraces(c.traces, traceRaw, b); err != nil {
			return nil, fmt.Errorf("block %d: %s: %w", n, elems[traceAt].Method, err)
		}
		b.Traced = true
	}
	return b, nil
}

func (c *Client) fetchReceipts(ctx context.Context, n uint64, b *Bundle) error {
	if len(b.Block.Transactions) == 0 {
		b.Receipts = nil
		return nil
	}
	raws := make([]json.RawMessage, len(b.Block.Transactions))
	elems := make([]rpc.BatchElem, len(raws))
	for i, tx := range b.Block.Transactions {
		if tx.Hash == nil {
			return fmt.Errorf("block %d: eth_getBlockByNumber: transaction %d lacks hash", n, i)
		}
		elems[i] = rpc.BatchElem{Method: "eth_getTransactionReceipt", Args: []any{tx.Hash.Hex()}, Result: &raws[i]}
	}
	if err := c.batch(ctx, elems); err != nil {
		return fmt.Errorf("block %d: %w", n, err)
	}
	b.Receipts = make([]rpcReceipt, len(raws))
	for i := range elems {
		if elems[i].Error != nil {
			return fmt.Errorf("block %d: eth_getTransactionReceipt %s: %w", n, elems[i].Args[0], elems[i].Error)
		}
		if err := decodeField(raws[i], &b.Receipts[i], fmt.Sprintf("block %d: eth_getTransactionReceipt %s", n, elems[i].Args[0])); err != nil {
			return err
		}
	}
	return nil
}

// decodeTraces reads either tracer's answer for the block into traces.
// callTracer answers carry no transaction hash on older geth, so the
// block's own transaction list supplies them, in order.
func decodeTraces(mode TraceMode, raw json.RawMessage, b *Bundle) ([]Trace, error) {
	if mode == TraceParity {
		var pts []parityTrace
		if err := decodeField(raw, &pts, "traces"); err != nil {
			return nil, err
		}
		return parityTraces(pts)
	}
	var res []txTraceResult
	if err := decodeField(raw, &res, "traces"); err != nil {
		return nil, err
	}
	if len(res) != len(b.Block.Transactions) {
		return nil, fmt.Errorf("%d call traces for %d transactions", len(res), len(b.Block.Transactions))
	}
	var out []Trace
	for i := range res {
		if res[i].Error != "" || res[i].Result == nil {
			return nil, fmt.Errorf("transaction %d: tracer failed: %q", i, res[i].Error)
		}
		h := common.Hash{}
		if b.Block.Transactions[i].Hash != nil {
			h = *b.Block.Transactions[i].Hash
		}
		if res[i].TxHash != nil && *res[i].TxHash != h {
			return nil, fmt.Errorf("transaction %d: trace is for %s, block lists %s", i, res[i].TxHash.Hex(), h.Hex())
		}
		out = append(out, flattenCallFrames(i, h, res[i].Result)...)
	}
	return out, nil
}
