package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/btcsuite/btcd/wire"
	"github.com/urfave/cli/v2"

	"github.com/fundtrace/fundtrace/sim"
)

func simulateCommand() *cli.Command {
	return &cli.Command{
		Name:  "simulate",
		Usage: "write a simulated chain with planted scam flows and its ground truth",
		Subcommands: []*cli.Command{{
			Name:      "btc",
			Usage:     "a Bitcoin regtest chain as Bitcoin Core block files, with ground truth (see sim/FORMAT.md)",
			UsageText: "fundtrace simulate btc --out DIR [--seed N] [--scale N] [--days N] [--victims N] [--mix-percent P] [--xor]",
			Description: `Simulates an economy (users with HD-style wallets paying each other with
change to fresh addresses, exchanges with deposit addresses swept into hot
wallets and batched withdrawals, Whirlpool- and Wasabi-style CoinJoins,
miners) and a pig-butchering operation: victims pay it, it consolidates,
runs peel chains into its accounts at several exchanges, and passes part
of the money through the CoinJoin before cashing out. Writes DIR/blocks
(index it with: fundtrace index btc --blocks DIR/blocks), DIR/truth (who
owns every address, the victim payments, and what of each reached which
exchange deposit under the haircut and FIFO models) and DIR/labels.csv
(only what an investigator would know). The same seed gives the same
files, byte for byte.`,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "out", Usage: "folder to write into", Required: true},
				&cli.Uint64Flag{Name: "seed", Usage: "random seed", Value: 1},
				&cli.IntFlag{Name: "scale", Usage: "economy size: users and transactions per block grow with it", Value: 1},
				&cli.IntFlag{Name: "days", Usage: "days of economy (24 blocks a day) after the mining bootstrap", Value: 14},
				&cli.BoolFlag{Name: "xor", Usage: "obfuscate the block files with a xor.dat key, as Bitcoin Core 28+ does"},
				&cli.BoolFlag{Name: "no-exposures", Usage: "leave truth/exposures.csv out (a long chain's can run to gigabytes; benchmarks of the pipeline do not read it)"},
				&cli.IntFlag{Name: "victims", Usage: "victims of the scam", DefaultText: "8 per scale, at least 6"},
				&cli.IntFlag{Name: "mix-percent", Usage: "share of the scam's daily takings split and partly passed through the CoinJoin instead of a peel chain (-1: none)", Value: 40},
			},
			Action: runSimulateBTC,
		}, {
			Name:      "eth",
			Usage:     "an Ethereum chain (ETH, a USDT-like token, contracts moving ETH by internal calls) with ground truth, for simulate serve-eth",
			UsageText: "fundtrace simulate eth --out DIR [--seed N] [--scale N] [--days N] [--victims N]",
			Description: `Simulates users, exchanges (a deposit address per customer, swept into the
hot wallet), a token, a payment router contract, and a pig-butchering
operation taking ETH and token payments from victims and moving them
through its forwarder contract and intermediate wallets to its exchange
accounts. Writes DIR/chain.json.gz (serve it with fundtrace simulate
serve-eth --dir DIR, then index it with fundtrace index eth --rpc URL),
DIR/truth and DIR/labels.csv (see sim/FORMAT.md).`,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "out", Usage: "folder to write into", Required: true},
				&cli.Uint64Flag{Name: "seed", Usage: "random seed", Value: 1},
				&cli.IntFlag{Name: "scale", Usage: "economy size: users and transactions per block grow with it", Value: 1},
				&cli.IntFlag{Name: "days", Usage: "days of activity (240 blocks a day)", Value: 7},
				&cli.IntFlag{Name: "victims", Usage: "victims of the scam", DefaultText: "6 per scale"},
			},
			Action: runSimulateETH,
		}, {
			Name:      "serve-eth",
			Usage:     "serve a simulated Ethereum chain over standard JSON-RPC, as a node would",
			UsageText: "fundtrace simulate serve-eth --dir DIR [--listen 127.0.0.1:8545]",
			Description: `Answers eth_chainId, eth_blockNumber, eth_getBlockByNumber,
eth_getBlockReceipts, eth_getTransactionReceipt, eth_call (the token's
metadata) and debug_traceBlockByNumber (callTracer) for the chain that
fundtrace simulate eth wrote, until interrupted. The blocks are copied
once into a temporary file (under $TMPDIR, removed on exit) and each
block's answers rendered when first asked for, so a chain of millions of
transactions is served in a few hundred megabytes.`,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "dir", Usage: "the folder simulate eth wrote", Required: true},
				&cli.StringFlag{Name: "listen", Usage: "address to listen on", Value: "127.0.0.1:8545"},
			},
			Action: runServeETH,
		}, simulateTronCommand(), serveTronCommand()},
	}
}

// simulateRanges checks the size flags both simulators share.
func simulateRanges(c *cli.Context) error {
	for _, err := range []error{intRange("scale", int64(c.Int("scale")), 1, 10_000), intRange("days", int64(c.Int("days")), 1, 3650),
		intRange("victims", int64(c.Int("victims")), 0, 1_000_000)} {
		if err != nil {
			return err
		}
	}
	return nil
}

func runSimulateETH(c *cli.Context) error {
	if err := simulateRanges(c); err != nil {
		return err
	}
	ew, err := sim.CreateETH(c.String("out"))
	if err != nil {
		return fmt.Errorf("simulate eth: %w", err)
	}
	prog := newProgressLine(c)
	var blocks, txs, transfers int64
	w := sim.GenerateETH(sim.ETHConfig{Seed: c.Uint64("seed"), Scale: c.Int("scale"), Days: c.Int("days"), Victims: c.Int("victims"), DropBlocks: true,
		OnBlock: func(b *sim.ETHBlock, of int64) {
			ew.Block(b) // the first error comes back from Close
			blocks++
			txs += int64(len(b.Txs))
			transfers += int64(len(b.Withdrawals))
			for _, t := range b.Txs {
				transfers += int64(len(t.Calls) + len(t.Logs))
				if t.Value > 0 || t.To == nil {
					transfers++
				}
			}
			prog.show(fmt.Sprintf("simulate eth: block %s of %s, %s transactions", group(b.Number), group(of), group(txs)),
				"Simulating", "block", b.Number, "of", of, "transactions", txs)
		}})
	prog.done()
	if err := ew.Close(w); err != nil {
		return fmt.Errorf("simulate eth: %w", err)
	}
	fmt.Fprintf(c.App.Writer, "simulated %d blocks, %d transactions, %d transfers, %d accounts; %d victim payments reaching exchange deposits %d times; written to %s\n",
		blocks, txs, transfers, len(w.Addresses), len(w.Victims), len(w.Exposures), c.String("out"))
	return nil
}

func runServeETH(c *cli.Context) error {
	ch, err := sim.OpenETHChain(c.String("dir"), "")
	if err != nil {
		return fmt.Errorf("serve-eth: %w", err)
	}
	defer ch.Close()
	h, err := sim.NewETHChainHandler(ch)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.String("listen"))
	if err != nil {
		return fmt.Errorf("serve-eth: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-c.Context.Done()
		srv.Close()
	}()
	slog.Info("Serving the simulated chain", "url", "http://"+ln.Addr().String(), "blocks", ch.Len(), "chain_id", ch.World.ChainID)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func runSimulateBTC(c *cli.Context) error {
	if err := simulateRanges(c); err != nil {
		return err
	}
	if err := intRange("mix-percent", int64(c.Int("mix-percent")), -1, 100); err != nil {
		return err
	}
	o := sim.WriteOptions{NoExposures: c.Bool("no-exposures")}
	if c.Bool("xor") {
		seed := c.Uint64("seed")
		for i := range o.XORKey {
			o.XORKey[i] = byte(seed>>(8*i)) ^ 0x5a
		}
	}
	prog := newProgressLine(c)
	blocks, txs := 0, 0
	cfg := sim.BTCConfig{Seed: c.Uint64("seed"), Scale: c.Int("scale"), Days: c.Int("days"), Victims: c.Int("victims"), MixPercent: c.Int("mix-percent"),
		OnBlock: func(b *wire.MsgBlock) {
			blocks++
			txs += len(b.Transactions)
			prog.show(fmt.Sprintf("simulate btc: %s blocks, %s transactions written (%s)", group(int64(blocks)), group(int64(txs)), b.Header.Timestamp.UTC().Format(time.DateOnly)),
				"Simulating", "blocks", blocks, "transactions", txs, "day", b.Header.Timestamp.UTC().Format(time.DateOnly))
		}}
	w, err := sim.GenerateBTCFiles(cfg, c.String("out"), o)
	prog.done()
	if err != nil {
		return fmt.Errorf("simulate btc: %w", err)
	}
	fmt.Fprintf(c.App.Writer, "simulated %d blocks, %d transactions, %d addresses, %d entities; %d victim payments reaching %d exchange deposits; written to %s\n",
		len(w.Times), w.TxCount, w.Addresses.Len(), len(w.Entities), len(w.Victims), w.ExposureCount, c.String("out"))
	return nil
}
