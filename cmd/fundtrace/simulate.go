package main

import (
	"fmt"

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
			UsageText: "fundtrace simulate btc --out DIR [--seed N] [--scale N] [--days N] [--xor]",
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
			},
			Action: runSimulateBTC,
		}},
	}
}

func runSimulateBTC(c *cli.Context) error {
	w := sim.GenerateBTC(sim.BTCConfig{Seed: c.Uint64("seed"), Scale: c.Int("scale"), Days: c.Int("days")})
	var o sim.WriteOptions
	if c.Bool("xor") {
		seed := c.Uint64("seed")
		for i := range o.XORKey {
			o.XORKey[i] = byte(seed>>(8*i)) ^ 0x5a
		}
	}
	if err := sim.WriteBTC(w, c.String("out"), o); err != nil {
		return fmt.Errorf("simulate btc: %w", err)
	}
	var txs int
	for _, b := range w.Blocks {
		txs += len(b.Transactions)
	}
	fmt.Fprintf(c.App.Writer, "simulated %d blocks, %d transactions, %d addresses, %d entities; %d victim payments reaching %d exchange deposits; written to %s\n",
		len(w.Blocks), txs, len(w.Addresses), len(w.Entities), len(w.Victims), len(w.Exposures), c.String("out"))
	return nil
}
