package tron

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/fundtrace/fundtrace/chains"
)

// ClientOptions tunes a Client.
type ClientOptions struct {
	// APIKey is sent as TRON-PRO-API-KEY (TronGrid's key header); empty
	// sends none.
	APIKey string
	// RateLimit caps requests per second (TronGrid limits each key);
	// 0 means no limit.
	RateLimit float64
	// Retries bounds the attempts of a request that failed for a transient
	// reason (connection, timeout, 429, 5xx); default 5, backing off from
	// 250 ms.
	Retries int
	Timeout time.Duration // per request, default 60 s
	Logger  *slog.Logger
}

// Client reads blocks and transaction infos from a java-tron full node's
// HTTP API (port 8090 by default), or TronGrid, which serves the same
// paths.
type Client struct {
	url     string
	http    *http.Client
	opts    ClientOptions
	limiter *rate.Limiter
	log     *slog.Logger

	mu     sync.Mutex
	tokens map[chains.Address]chains.Token
}

// Dial returns a client of the node at url (http://host:8090). It makes
// no request.
func Dial(url string, o ClientOptions) (*Client, error) {
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil, fmt.Errorf("tron node %q: want an http:// or https:// URL of the node's HTTP API", url)
	}
	if o.Retries <= 0 {
		o.Retries = 5
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{url: strings.TrimRight(url, "/"), http: &http.Client{Timeout: o.Timeout}, opts: o, log: o.Logger,
		tokens: map[chains.Address]chains.Token{}}
	if o.RateLimit > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(o.RateLimit), max(1, int(o.RateLimit)))
	}
	return c, nil
}

// URL is the node's address, for messages.
func (c *Client) URL() string { return c.url }

// statusError is an HTTP answer other than 200.
type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.code, e.body) }

func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var se *statusError
	if errors.As(err, &se) {
		return se.code == 429 || se.code >= 500
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "connection reset") || strings.Contains(msg, "connection refused") || strings.Contains(msg, "eof")
}

// post sends a JSON body to path and returns the answer's body, retrying
// transient failures.
func (c *Client) post(ctx context.Context, path string, body any) ([]byte, error) {
	req, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	delay := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		if c.limiter != nil {
			if err := c.limiter.Wait(ctx); err != nil {
				return nil, err
			}
		}
		out, err := c.once(ctx, path, req)
		if err == nil {
			return out, nil
		}
		if !transient(err) || attempt >= c.opts.Retries {
			return nil, fmt.Errorf("tron node %s%s: %w", c.url, path, err)
		}
		c.log.Warn("Node request failed; retrying", "node", c.url, "path", path, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 8*time.Second)
	}
}

func (c *Client) once(ctx context.Context, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.opts.APIKey != "" {
		req.Header.Set("TRON-PRO-API-KEY", c.opts.APIKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &statusError{code: resp.StatusCode, body: strings.TrimSpace(string(out[:min(len(out), 200)]))}
	}
	return out, nil
}

// Head returns the height of the node's newest block (/wallet/getnowblock).
func (c *Client) Head(ctx context.Context) (int64, error) {
	body, err := c.post(ctx, "/wallet/getnowblock", struct{}{})
	if err != nil {
		return 0, err
	}
	b, ok, err := ParseBlock(body)
	if err != nil {
		return 0, fmt.Errorf("tron node %s/wallet/getnowblock: %w", c.url, err)
	}
	if !ok {
		return 0, fmt.Errorf("tron node %s/wallet/getnowblock: no block", c.url)
	}
	return b.Header.Raw.Number, nil
}

// Block fetches block n (/wallet/getblockbynum); ok false when the node
// does not have it.
func (c *Client) Block(ctx context.Context, n int64) (*Block, bool, error) {
	body, err := c.post(ctx, "/wallet/getblockbynum", map[string]int64{"num": n})
	if err != nil {
		return nil, false, err
	}
	b, ok, err := ParseBlock(body)
	if err != nil {
		return nil, false, fmt.Errorf("tron node %s: block %d: %w", c.url, n, err)
	}
	if ok && b.Header.Raw.Number != n {
		return nil, false, fmt.Errorf("tron node %s: asked for block %d, got block %d", c.url, n, b.Header.Raw.Number)
	}
	return b, ok, nil
}

// TxInfos fetches the transaction infos of block n
// (/wallet/gettransactioninfobyblocknum).
func (c *Client) TxInfos(ctx context.Context, n int64) ([]TxInfo, error) {
	body, err := c.post(ctx, "/wallet/gettransactioninfobyblocknum", map[string]int64{"num": n})
	if err != nil {
		return nil, err
	}
	infos, err := ParseTxInfos(body)
	if err != nil {
		return nil, fmt.Errorf("tron node %s: block %d: %w", c.url, n, err)
	}
	return infos, nil
}

// Fetch reads block n, checks it (DecodeBlock) and extracts its
// transfers with its transactions' infos. ok false when the node does not
// have the block yet.
func (c *Client) Fetch(ctx context.Context, n int64) (bd chains.BlockData, ok bool, err error) {
	b, ok, err := c.Block(ctx, n)
	if err != nil || !ok {
		return bd, ok, err
	}
	txs, err := DecodeBlock(b)
	if err != nil {
		return bd, false, fmt.Errorf("tron node %s: %w", c.url, err)
	}
	var infos []TxInfo
	if len(txs) > 0 {
		if infos, err = c.TxInfos(ctx, n); err != nil {
			return bd, false, err
		}
	}
	bd, err = Extract(b, txs, infos)
	if err != nil {
		return bd, false, fmt.Errorf("tron node %s: %w", c.url, err)
	}
	return bd, true, nil
}

// zeroOwner is the caller of read-only token calls: any valid address
// does, and the all-zero one (T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb) holds
// nothing.
const zeroOwner = "410000000000000000000000000000000000000000"

// Tokens returns what each TRC-20 contract says of itself (symbol, name,
// decimals), asked once per contract per client through
// /wallet/triggerconstantcontract, and each TRC-10 token's issue
// (/wallet/getassetissuebyid). A contract that reverts or answers
// nonsense keeps the zero value of that field, with its Has flag false;
// a failed request is an error.
func (c *Client) Tokens(ctx context.Context, contracts []chains.Address) ([]chains.Token, error) {
	var out []chains.Token
	seen := map[chains.Address]bool{}
	for _, a := range contracts {
		if (a.Kind() != chains.KindAccount && a.Kind() != chains.KindTokenID) || seen[a] {
			continue
		}
		seen[a] = true
		c.mu.Lock()
		tok, ok := c.tokens[a]
		c.mu.Unlock()
		if !ok && a.Kind() == chains.KindTokenID {
			var err error
			if tok, err = c.trc10(ctx, a); err != nil {
				return nil, err
			}
			c.mu.Lock()
			c.tokens[a] = tok
			c.mu.Unlock()
		} else if !ok {
			tok = chains.Token{Chain: chains.Tron, Address: a}
			for _, f := range []string{"decimals()", "symbol()", "name()"} {
				res, ok, err := c.constant(ctx, a, f)
				if err != nil {
					return nil, err
				}
				if !ok {
					continue
				}
				switch f {
				case "decimals()":
					if len(res) == 32 {
						if d := new(big.Int).SetBytes(res); d.IsUint64() && d.Uint64() <= 255 {
							tok.Decimals, tok.HasDecimals = uint8(d.Uint64()), true
						}
					}
				case "symbol()":
					tok.Symbol, tok.HasSymbol = abiString(res)
				case "name()":
					tok.Name, tok.HasName = abiString(res)
				}
			}
			c.mu.Lock()
			c.tokens[a] = tok
			c.mu.Unlock()
		}
		out = append(out, tok)
	}
	return out, nil
}

// trc10 reads a TRC-10 token's issue (/wallet/getassetissuebyid): its
// abbreviation as the symbol, its name, its precision as the decimals. A
// token the node does not know keeps the Has flags false.
func (c *Client) trc10(ctx context.Context, a chains.Address) (chains.Token, error) {
	tok := chains.Token{Chain: chains.Tron, Address: a}
	id, _ := TokenIDOf(a)
	body, err := c.post(ctx, "/wallet/getassetissuebyid", map[string]string{"value": strconv.FormatInt(id, 10)})
	if err != nil {
		return tok, err
	}
	var ans struct {
		ID        string `json:"id"`
		Name      string `json:"name"`
		Abbr      string `json:"abbr"`
		Precision uint8  `json:"precision"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return tok, fmt.Errorf("tron node %s: TRC-10 token %d: %w", c.url, id, err)
	}
	if ans.ID == "" {
		return tok, nil // {}: not an issued token
	}
	tok.Decimals, tok.HasDecimals = ans.Precision, true
	if b, err := hex.DecodeString(ans.Abbr); err == nil && len(b) > 0 {
		tok.Symbol, tok.HasSymbol = string(b), true
	}
	if b, err := hex.DecodeString(ans.Name); err == nil && len(b) > 0 {
		tok.Name, tok.HasName = string(b), true
	}
	return tok, nil
}

// constant runs a read-only call; ok false when the contract reverted.
func (c *Client) constant(ctx context.Context, contract chains.Address, selector string) ([]byte, bool, error) {
	body, err := c.post(ctx, "/wallet/triggerconstantcontract", map[string]string{
		"owner_address": zeroOwner, "contract_address": "41" + hex.EncodeToString(contract.Payload()), "function_selector": selector})
	if err != nil {
		return nil, false, err
	}
	var ans struct {
		Result struct {
			Result bool `json:"result"`
		} `json:"result"`
		ConstantResult []string `json:"constant_result"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, false, fmt.Errorf("tron node %s: %s of %s: %w", c.url, selector, Encode(contract), err)
	}
	if !ans.Result.Result || len(ans.ConstantResult) == 0 {
		return nil, false, nil
	}
	res, err := hex.DecodeString(ans.ConstantResult[0])
	if err != nil {
		return nil, false, nil
	}
	return res, true, nil
}

// abiString reads an ABI-encoded string return value, or a bytes32 one
// (older tokens), trimmed of NUL padding.
func abiString(b []byte) (string, bool) {
	if len(b) == 32 {
		return strings.TrimRight(string(b), "\x00"), true
	}
	if len(b) < 64 {
		return "", false
	}
	off := new(big.Int).SetBytes(b[:32])
	if !off.IsUint64() || off.Uint64()+32 > uint64(len(b)) {
		return "", false
	}
	o := int(off.Uint64())
	n := new(big.Int).SetBytes(b[o : o+32])
	if !n.IsUint64() || uint64(o+32)+n.Uint64() > uint64(len(b)) {
		return "", false
	}
	return strings.TrimRight(string(b[o+32:o+32+int(n.Uint64())]), "\x00"), true
}
