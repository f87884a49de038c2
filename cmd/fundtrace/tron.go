package main

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fundtrace/fundtrace/chains/tron"
	"github.com/fundtrace/fundtrace/ingest"
	"github.com/fundtrace/fundtrace/ingest/trx"
	"github.com/fundtrace/fundtrace/sim"
)

func indexTronCommand() *cli.Command {
	return &cli.Command{
		Name:      "tron",
		Usage:     "index TRON blocks and transaction infos from a java-tron node's HTTP API (or TronGrid)",
		UsageText: "fundtrace [--store DIR] index tron --api URL [--api-key KEY] [--from N] [--to M] [--follow] [--confirmations 20] [--rate-limit N] [--json]",
		Description: `Reads blocks (/wallet/getblockbynum) and their transactions' infos
(/wallet/gettransactioninfobyblocknum: fee, receipt, logs, internal
transactions) from a java-tron full node's HTTP API (port 8090), or from
TronGrid, which serves the same paths, and stores every transfer of
value: TRX (TransferContract), TRC-10 tokens (TransferAssetContract, and
token values of calls; abbreviation, name and precision read once per
token), TRC-20 and TRC-721 Transfer events of every token (USDT among
them; symbol, name and decimals read once per token), the
TRX value of contract calls and internal transactions, contract
creations, block producers' reward withdrawals, and the TRX each
transaction burnt for energy and bandwidth, so that an address's history
accounts for its balance. Failed transactions are kept, marked failed.
Staking and resource delegation are recorded as transactions, not flows.

Every block is checked before it is stored: each txID is the SHA-256 of
its raw data, the transactions' Merkle root is the header's txTrieRoot,
and the block ID is the height and the header's hash.

Only final blocks are indexed: the node's head less --confirmations (TRON
solidifies a block about 19 blocks deep). With --follow the command keeps
up until interrupted; a reorganisation is rolled back (up to --max-reorg).
The node needs its HTTP API on (node.http.fullNodeEnable, the default) and
keeps transaction infos by default (storage.transHistory.switch = on); a
lite full node without history cannot serve old blocks. TronGrid limits
each API key's requests: pass the key with --api-key (or TRON_PRO_API_KEY)
and keep --rate-limit under its quota.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "api", Usage: "the node's HTTP API (http://host:8090) or https://api.trongrid.io", Required: true, EnvVars: []string{"FUNDTRACE_TRON_API"}},
			&cli.StringFlag{Name: "api-key", Usage: "TronGrid API key, sent as TRON-PRO-API-KEY", EnvVars: []string{"TRON_PRO_API_KEY"}},
			&cli.Int64Flag{Name: "from", Usage: "first block, when the store holds no TRON blocks yet", Value: 1},
			&cli.Int64Flag{Name: "to", Usage: "last block", DefaultText: "the newest final block", Value: -1},
			&cli.BoolFlag{Name: "follow", Usage: "keep indexing new final blocks until interrupted"},
			&cli.Int64Flag{Name: "confirmations", Usage: "blocks below the node's head before a block is final", Value: 20},
			&cli.IntFlag{Name: "workers", Usage: "blocks fetched in parallel", Value: 8},
			&cli.IntFlag{Name: "batch-blocks", Usage: "blocks per atomic write", Value: 100},
			&cli.Float64Flag{Name: "rate-limit", Usage: "most requests per second to the node (0: no limit; TronGrid's free keys allow about 15)"},
			&cli.Int64Flag{Name: "max-reorg", Usage: "deepest chain reorganisation to roll back on its own (blocks)", Value: 64},
			&cli.DurationFlag{Name: "poll", Usage: "with --follow, how often to ask the node for new blocks", Value: 3 * time.Second},
			jsonFlag,
		},
		Action: runIndexTron,
	}
}

type tronIndexJSON struct {
	indexRunJSON
	Transfers     int64   `json:"transfers"`
	ReorgFrom     *int64  `json:"reorg_from,omitempty"`
	Seconds       float64 `json:"seconds"`
	FetchSeconds  float64 `json:"fetch_seconds"`
	CommitSeconds float64 `json:"commit_seconds"`
}

func runIndexTron(c *cli.Context) error {
	for _, err := range []error{intRange("from", c.Int64("from"), 0, math.MaxInt64), intRange("to", c.Int64("to"), -1, math.MaxInt64),
		intRange("batch-blocks", int64(c.Int("batch-blocks")), 1, 100_000), intRange("max-reorg", c.Int64("max-reorg"), 0, 1_000_000),
		intRange("confirmations", c.Int64("confirmations"), 0, 1_000_000), intRange("workers", int64(c.Int("workers")), 1, 1024)} {
		if err != nil {
			return err
		}
	}
	cl, err := tron.Dial(c.String("api"), tron.ClientOptions{APIKey: c.String("api-key"), RateLimit: c.Float64("rate-limit"), Logger: slog.Default()})
	if err != nil {
		return err
	}
	st, err := openStore(c, createStore)
	if err != nil {
		return err
	}
	defer st.Close()
	defer limitHeap(offHeap(st))()
	start := time.Now()
	res, err := trx.Index(c.Context, st, cl, trx.IndexConfig{
		From: c.Int64("from"), To: c.Int64("to"), Confirmations: c.Int64("confirmations"), Follow: c.Bool("follow"),
		Workers: c.Int("workers"), BatchBlocks: c.Int("batch-blocks"), MaxReorg: c.Int64("max-reorg"), Poll: c.Duration("poll"),
		Logger: slog.Default(),
		Progress: func(p ingest.Progress) {
			logIndexed("tron", p.Height, p.Target, p.Blocks, p.Txs, p.Elapsed,
				"fetch_s", fmt.Sprintf("%.1f", p.Fetch.Seconds()), "commit_s", fmt.Sprintf("%.1f", p.Commit.Seconds()))
		},
	})
	if err != nil {
		return fmt.Errorf("index tron: %w", err)
	}
	if err := settle(c.Context, st); err != nil {
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	j := tronIndexJSON{indexRunJSON: indexRunJSON{Chain: "tron", Network: res.Network, FromHeight: res.From, ToHeight: res.To, Blocks: res.Blocks,
		Transactions: res.Txs}, Transfers: res.Transfers, Seconds: time.Since(start).Seconds(), FetchSeconds: res.Fetch.Seconds(), CommitSeconds: res.Commit.Seconds()}
	if res.ReorgFrom >= 0 {
		j.ReorgFrom = &res.ReorgFrom
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, j)
	}
	out := c.App.Writer
	if res.ReorgFrom >= 0 {
		fmt.Fprintf(out, "chain reorganisation: re-indexed from block %d\n", res.ReorgFrom)
	}
	if res.Blocks == 0 {
		fmt.Fprintf(out, "tron %s: already up to date\n", res.Network)
		return nil
	}
	fmt.Fprintf(out, "tron %s: indexed blocks %d..%d: %s blocks, %s transactions, %s transfers in %s (fetching %s, writing %s)\n",
		res.Network, res.From, res.To, group(res.Blocks), group(res.Txs), group(res.Transfers), time.Since(start).Round(time.Millisecond),
		res.Fetch.Round(time.Millisecond), res.Commit.Round(time.Millisecond))
	return nil
}

func simulateTronCommand() *cli.Command {
	return &cli.Command{
		Name:      "tron",
		Usage:     "a TRON chain (TRX, USDT-TRC20, a TRC-10 token, exchanges, energy rental, a swap pool, OTC desks) with ground truth, for simulate serve-tron",
		UsageText: "fundtrace simulate tron --out DIR [--seed N] [--scale N] [--days N] [--victims N]",
		Description: `Simulates users paying each other in USDT and TRX, exchanges (deposit
addresses activated with TRX or given delegated energy, swept into hot
wallets), an energy rental, a USDT/TRX swap pool, OTC desks, and a
pig-butchering operation taking USDT and TRX from victims and moving it
through intermediate wallets to its exchange accounts, to OTC desks (which
deposit at exchanges under their own accounts) and to the pool. Writes
DIR/chain.json.gz (serve it with fundtrace simulate serve-tron --dir DIR,
then index it with fundtrace index tron --api URL --confirmations 0),
DIR/truth, DIR/labels.csv and DIR/case.csv (see sim/FORMAT.md).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "folder to write into", Required: true},
			&cli.Uint64Flag{Name: "seed", Usage: "random seed", Value: 1},
			&cli.IntFlag{Name: "scale", Usage: "economy size: users and transactions per block grow with it", Value: 1},
			&cli.IntFlag{Name: "days", Usage: "days of activity (480 blocks a day)", Value: 7},
			&cli.IntFlag{Name: "victims", Usage: "victims of the scam", DefaultText: "8 per scale"},
		},
		Action: runSimulateTron,
	}
}

func serveTronCommand() *cli.Command {
	return &cli.Command{
		Name:      "serve-tron",
		Usage:     "serve a simulated TRON chain over the java-tron HTTP API, as a node would",
		UsageText: "fundtrace simulate serve-tron --dir DIR [--listen 127.0.0.1:8090]",
		Description: `Answers /wallet/getnowblock, /wallet/getblockbynum,
/wallet/gettransactioninfobyblocknum, /wallet/triggerconstantcontract
(the USDT contract's metadata) and /wallet/getassetissuebyid (the TRC-10
token's) for the chain that fundtrace simulate tron wrote, until
interrupted.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Usage: "the folder simulate tron wrote", Required: true},
			&cli.StringFlag{Name: "listen", Usage: "address to listen on", Value: "127.0.0.1:8090"},
		},
		Action: runServeTron,
	}
}

func runSimulateTron(c *cli.Context) error {
	if err := simulateRanges(c); err != nil {
		return err
	}
	prog := newProgressLine(c)
	made := 0
	w := sim.GenerateTron(sim.TronConfig{Seed: c.Uint64("seed"), Scale: c.Int("scale"), Days: c.Int("days"), Victims: c.Int("victims"),
		OnBlock: func(b *sim.TronBlock, of int64) {
			made += len(b.Txs)
			prog.show(fmt.Sprintf("simulate tron: block %s of %s, %s transactions", group(b.Number), group(of), group(int64(made))),
				"Simulating", "block", b.Number, "of", of, "transactions", made)
		}})
	prog.done()
	if err := sim.WriteTron(w, c.String("out")); err != nil {
		return fmt.Errorf("simulate tron: %w", err)
	}
	fmt.Fprintf(c.App.Writer, "simulated %d blocks, %d transactions, %d accounts; %d victim payments reaching exchange deposits %d times; written to %s\n",
		len(w.Blocks), made, len(w.Addresses), len(w.Victims), len(w.Exposures), c.String("out"))
	return nil
}

func runServeTron(c *cli.Context) error {
	w, err := sim.LoadTron(c.String("dir"))
	if err != nil {
		return fmt.Errorf("serve-tron: %w", err)
	}
	ln, err := net.Listen("tcp", c.String("listen"))
	if err != nil {
		return fmt.Errorf("serve-tron: %w", err)
	}
	srv := &http.Server{Handler: sim.NewTronHandler(w), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-c.Context.Done()
		srv.Close()
	}()
	slog.Info("Serving the simulated TRON chain", "url", "http://"+ln.Addr().String(), "blocks", len(w.Blocks))
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
