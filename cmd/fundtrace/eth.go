package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/explore"
	"github.com/fundtrace/fundtrace/ingest"
	"github.com/fundtrace/fundtrace/ingest/eth"
	"github.com/fundtrace/fundtrace/store"
)

func indexETHCommand() *cli.Command {
	return &cli.Command{
		Name:      "eth",
		Usage:     "index Ethereum blocks, receipts and traces from a node's JSON-RPC",
		UsageText: "fundtrace [--store DIR] index eth --rpc URL [--from N] [--to M] [--follow] [--confirmations 12] [--traces auto|geth|parity|none] [--json]",
		Description: `Reads blocks with their transactions, receipts and call traces from a
node (geth, Erigon, Reth, Nethermind) and stores every transfer of value:
transactions' own ETH, internal ETH transfers from traces (CALL, CREATE,
SELFDESTRUCT), ERC-20, ERC-721 and ERC-1155 transfers from logs (every
token; symbol and decimals read once per token), contract creations, block
rewards and withdrawals, and each transaction's gas fee. Reverted
transactions and reverted inner calls are kept as failed, never as flows.

Only final blocks are indexed: the node's head less --confirmations. With
--follow the command keeps up with the head until interrupted. When the
node's chain reorganises under the store, the orphaned blocks are rolled
back (up to --max-reorg deep) and the new ones indexed. Receipts come from
eth_getBlockReceipts, or one eth_getTransactionReceipt per transaction
on nodes without it. Internal transfers need debug_traceBlockByNumber
(callTracer) or trace_block: --traces auto picks what the node has and
says what to enable when it has neither.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "rpc", Usage: "the node's JSON-RPC endpoint (http://, ws:// or an IPC path)", Required: true, EnvVars: []string{"FUNDTRACE_ETH_RPC"}},
			&cli.Int64Flag{Name: "from", Usage: "first block, when the store holds no Ethereum blocks yet"},
			&cli.Int64Flag{Name: "to", Usage: "last block", DefaultText: "the newest final block", Value: -1},
			&cli.BoolFlag{Name: "follow", Usage: "keep indexing new final blocks until interrupted"},
			&cli.Int64Flag{Name: "confirmations", Usage: "blocks below the node's head before a block is final", Value: 12},
			&cli.StringFlag{Name: "traces", Usage: "where internal transfers come from: auto, geth (debug_traceBlockByNumber), parity (trace_block) or none", Value: "auto"},
			&cli.IntFlag{Name: "workers", Usage: "blocks fetched in parallel", Value: 4},
			&cli.IntFlag{Name: "batch-blocks", Usage: "blocks per atomic write", Value: 50},
			&cli.Float64Flag{Name: "rate-limit", Usage: "most calls per second to the node (0: no limit)"},
			&cli.Int64Flag{Name: "max-reorg", Usage: "deepest chain reorganisation to roll back on its own (blocks)", Value: 64},
			&cli.DurationFlag{Name: "poll", Usage: "with --follow, how often to ask the node for new blocks", Value: 4 * time.Second},
			jsonFlag,
		},
		Action: runIndexETH,
	}
}

type ethIndexJSON struct {
	indexRunJSON
	Transfers int64   `json:"transfers"`
	Traces    string  `json:"traces"`
	ReorgFrom *int64  `json:"reorg_from,omitempty"`
	Seconds   float64 `json:"seconds"`
	// FetchSeconds and CommitSeconds split the run: waiting on the node,
	// writing to the store.
	FetchSeconds  float64 `json:"fetch_seconds"`
	CommitSeconds float64 `json:"commit_seconds"`
	// IncompleteTraces: traces left out for lack of the fields a transfer
	// needs (logged with their transactions).
	IncompleteTraces int64 `json:"incomplete_traces"`
}

func runIndexETH(c *cli.Context) error {
	mode, err := ethereum.ParseTraceMode(c.String("traces"))
	if err != nil {
		return err
	}
	for _, err := range []error{intRange("from", c.Int64("from"), 0, math.MaxInt64), intRange("to", c.Int64("to"), -1, math.MaxInt64),
		intRange("batch-blocks", int64(c.Int("batch-blocks")), 1, 100_000), intRange("max-reorg", c.Int64("max-reorg"), 0, 1_000_000),
		intRange("confirmations", c.Int64("confirmations"), 0, 1_000_000), intRange("workers", int64(c.Int("workers")), 0, 1024)} {
		if err != nil {
			return err
		}
	}
	st, err := openStore(c, createStore)
	if err != nil {
		return err
	}
	defer st.Close()
	defer limitHeap(offHeap(st))()
	cl, err := ethereum.Dial(c.Context, c.String("rpc"), ethereum.ClientOptions{Traces: mode, RateLimit: c.Float64("rate-limit"), Logger: slog.Default()})
	if err != nil {
		return err
	}
	defer cl.Close()
	start := time.Now()
	res, err := eth.Index(c.Context, st, cl, eth.IndexConfig{
		From: c.Int64("from"), To: c.Int64("to"), Confirmations: c.Int64("confirmations"), Follow: c.Bool("follow"),
		Workers: c.Int("workers"), BatchBlocks: c.Int("batch-blocks"), MaxReorg: c.Int64("max-reorg"), Poll: c.Duration("poll"),
		Logger: slog.Default(),
		Progress: func(p ingest.Progress) {
			logIndexed("eth", p.Height, p.Target, p.Blocks, p.Txs, p.Elapsed,
				"transfers_per_s", fmt.Sprintf("%.0f", float64(p.Transfers)/max(p.Elapsed.Seconds(), 1e-9)),
				"fetch_s", fmt.Sprintf("%.1f", p.Fetch.Seconds()), "commit_s", fmt.Sprintf("%.1f", p.Commit.Seconds()))
		},
	})
	if err != nil {
		return fmt.Errorf("index eth: %w", err)
	}
	if err := settle(c.Context, st); err != nil {
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	j := ethIndexJSON{indexRunJSON: indexRunJSON{Chain: "eth", Network: res.Network, FromHeight: res.From, ToHeight: res.To, Blocks: res.Blocks,
		Transactions: res.Txs}, Transfers: res.Transfers, Traces: string(res.Traces), Seconds: time.Since(start).Seconds(),
		FetchSeconds: res.Fetch.Seconds(), CommitSeconds: res.Commit.Seconds()}
	if res.ReorgFrom >= 0 {
		j.ReorgFrom = &res.ReorgFrom
	}
	j.IncompleteTraces = res.IncompleteTraces
	if c.Bool("json") {
		return writeJSON(c.App.Writer, j)
	}
	out := c.App.Writer
	if res.ReorgFrom >= 0 {
		fmt.Fprintf(out, "chain reorganisation: re-indexed from block %d\n", res.ReorgFrom)
	}
	if res.IncompleteTraces > 0 {
		fmt.Fprintf(out, "WARNING: %d traces the node gave without the fields a transfer needs were left out (each is logged with its transaction)\n", res.IncompleteTraces)
	}
	if res.Blocks == 0 {
		fmt.Fprintf(out, "eth %s: already up to date\n", res.Network)
		return nil
	}
	fmt.Fprintf(out, "eth %s: indexed blocks %d..%d: %s blocks, %s transactions, %s transfers (traces: %s) in %s (fetching %s, writing %s)\n",
		res.Network, res.From, res.To, group(res.Blocks), group(res.Txs), group(res.Transfers), res.Traces, time.Since(start).Round(time.Millisecond),
		res.Fetch.Round(time.Millisecond), res.Commit.Round(time.Millisecond))
	return nil
}

// logIndexed logs an account-chain index run's progress: rates and the
// time left, and extra key-value pairs.
func logIndexed(chain string, height, target, blocks, txs int64, elapsed time.Duration, extra ...any) {
	secs := max(elapsed.Seconds(), 1e-9)
	args := append([]any{"chain", chain, "height", height, "target", target,
		"blocks_per_s", fmt.Sprintf("%.1f", float64(blocks)/secs), "tx_per_s", fmt.Sprintf("%.0f", float64(txs)/secs)}, extra...)
	if left := target - height; left > 0 && blocks > 0 {
		args = append(args, "eta", time.Duration(float64(left)/(float64(blocks)/secs)*float64(time.Second)).Round(time.Second))
	}
	slog.Info("Indexed", args...)
}

// isETHHash tells an Ethereum transaction hash (0x + 64 hex) from a txid.
func isETHHash(s string) bool { return strings.HasPrefix(s, "0x") && len(s) == 66 }

// accountView is how show writes an account chain's addresses, hashes
// and amounts (package explore's forms).
type accountView = explore.Account

var (
	ethView  = explore.Ethereum
	tronView = explore.Tron
)

// formatUnits writes an amount in base units with its decimals: 1500000
// with 6 decimals is 1.5. Exact: no floating point.
func formatUnits(amount string, decimals *uint8) string {
	if decimals == nil || *decimals == 0 {
		return amount
	}
	d := int(*decimals)
	neg := strings.HasPrefix(amount, "-")
	amount = strings.TrimPrefix(amount, "-")
	for len(amount) <= d {
		amount = "0" + amount
	}
	s := strings.TrimRight(amount[:len(amount)-d]+"."+amount[len(amount)-d:], "0")
	s = strings.TrimSuffix(s, ".")
	if neg {
		s = "-" + s
	}
	return s
}

// showAccountTx prints an Ethereum or TRON transaction; an error wrapping
// store.ErrNotFound when the store has no such transaction of chain ch.
func showAccountTx(c *cli.Context, st store.Store, ch chains.Chain, arg string) error {
	v := explore.AccountOf(ch)
	h, err := chains.ParseHash(strings.TrimPrefix(arg, "0x"))
	if err != nil {
		return err
	}
	j, err := explore.New(st).AccountTx(c.Context, ch, h)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, j)
	}
	w := c.App.Writer
	status := "success"
	if !j.Success {
		status = "FAILED (reverted: no value moved)"
		if ch == chains.Tron {
			status = "FAILED (no value moved; the TRX burnt is spent)"
		}
	}
	if ch == chains.Tron {
		fmt.Fprintf(w, "Transaction %s\n  block %d, position %d, %s, %s, %s\n  from %s\n", j.Hash, j.Height, j.Position, j.Time, j.Contract, status, j.From)
	} else {
		fmt.Fprintf(w, "Transaction %s\n  block %d, position %d, %s, %s\n  from %s\n", j.Hash, j.Height, j.Position, j.Time, status, j.From)
	}
	if j.To != "" {
		fmt.Fprintf(w, "  to   %s\n", j.To)
	}
	if j.Created != "" {
		fmt.Fprintf(w, "  created contract %s\n", j.Created)
	}
	if ch == chains.Tron {
		fmt.Fprintf(w, "  value %s TRX, burnt %s TRX (%d energy)\n", formatUnits(j.ValueSun, &v.Decimals), formatUnits(j.FeeSun, &v.Decimals), *j.Energy)
	} else {
		fmt.Fprintf(w, "  value %s ETH, fee %s ETH (%d gas at %s wei)\n", formatUnits(j.ValueWei, &v.Decimals), formatUnits(j.FeeWei, &v.Decimals), *j.GasUsed, j.GasPriceWei)
	}
	fmt.Fprintf(w, "Transfers\n")
	printTransfers(w, v, j.Transfer)
	return nil
}

func printTransfers(w io.Writer, v *accountView, ts []explore.Transfer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  KIND\tHEIGHT\tPOSITION\tFROM\tTO\tAMOUNT\tASSET\tOK\t\n")
	for _, t := range ts {
		asset, amt := v.Native, formatUnits(t.Amount, &v.Decimals)
		if t.Asset != v.Native {
			asset = t.Asset
			if t.Symbol != "" {
				asset = t.Symbol + " " + t.Asset
			}
			amt = formatUnits(t.Amount, t.Decimals)
			if t.TokenID != "" {
				amt += " #" + t.TokenID
			}
		}
		ok := "yes"
		if !t.Success {
			ok = "FAILED"
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", t.Kind, t.Height, t.Position, t.From, t.To, amt, asset, ok)
	}
	tw.Flush()
}

func showAccountAddress(c *cli.Context, st store.Store, v *accountView, arg string) error {
	a, err := v.Parse(arg)
	if err != nil {
		return err
	}
	j := accountAddressJSON{AccountAddress: &explore.AccountAddress{Chain: string(v.Chain), Address: v.Format(a), Transfers: []explore.Transfer{}}}
	got, err := explore.New(st).AccountAddress(c.Context, v.Chain, a, explore.Page{Limit: c.Int("limit"), All: c.Int("limit") == 0})
	switch {
	case err == nil:
		j.AccountAddress = got
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	if j.attributionJSON, err = attributionOf(c.Context, st, v.Chain, a); err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, j)
	}
	w := c.App.Writer
	fmt.Fprintf(w, "Address %s: %d transfers\n", j.AccountAddress.Address, len(j.Transfers))
	j.print(w, "Cluster %d, %d addresses (fundtrace cluster export --chain "+string(v.Chain)+" lists them; cluster explain says why)\n",
		"        built through a flagged merge of two large clusters: see fundtrace cluster suspects before relying on it")
	printTransfers(w, v, j.Transfers)
	return nil
}

// accountAddressJSON is show address's answer on an account chain.
type accountAddressJSON struct {
	*explore.AccountAddress
	attributionJSON
}
