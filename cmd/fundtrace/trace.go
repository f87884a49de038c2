package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/big"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/internal/atomicfile"
	"github.com/fundtrace/fundtrace/investigate"
	"github.com/fundtrace/fundtrace/tracefile"
	"github.com/fundtrace/fundtrace/tracer"
)

func traceCommand() *cli.Command {
	return &cli.Command{
		Name:  "trace",
		Usage: "follow victims' payments to the exchange deposit addresses that received them (or, --backward, to where they came from)",
		UsageText: `fundtrace trace [SEED...] [--case case.csv] [--address ADDR --from TIME --until TIME]
    [--backward] [--model haircut,fifo,poison] [--max-hops N] [--min-amount UNITS] [--max-nodes N]
    [--through-mixers] [--out trace.json] [--poison-pairs pairs.csv] [--json]`,
		Description: `Seeds, each checked against the store (one that is not there is an error
naming it):
  TXID:VOUT             a Bitcoin output
  0xHASH                an Ethereum transaction's value (or its only token transfer)
  0xHASH:N              the token transfer of log index N in that transaction
  tron:TXID[:N]         the same on TRON (TRX, a TRC-10 token, or USDT and other
                        TRC-20 transfers by log index)
  --address ADDR        every payment to ADDR (Bitcoin, 0x Ethereum or T… TRON)
                        between --from and --until (RFC 3339 or YYYY-MM-DD)
  --case FILE           CSV with the columns chain (btc, eth or tron), tx, address,
                        amount, time, victim, and optionally asset (ETH, TRX, a
                        token's symbol or contract, a TRC-10 id) and log_index
Money is followed hop by hop (for the whole frontier one spender lookup and one
transaction read a hop on Bitcoin, one history read on Ethereum and TRON) under
each model: poison (any contact), haircut (proportional), FIFO (first in, first
out: by input and output order on Bitcoin, by arrival order per address on the
account chains, fees and balances held before included). Each asset (ETH, TRX,
each token) is followed separately. The trace stops at exchanges (an address
labeled exchange, itself or by its cluster, or one that pays a wallet
labeled exchange in its own right: a deposit address), at other labeled
services, at CoinJoins
(unless --through-mixers), at money still held, after --until, and at
--max-hops (a peel chain counts as one hop), --min-amount and --max-nodes;
every stop is recorded with its reason. --backward follows the seeds'
money back to where it came from: labeled wallets (an exchange's
withdrawal), coinbases, block rewards, balances held before the store's
first block. Labels come from fundtrace labels import, clusters from
fundtrace cluster. --out writes the trace as JSON (schema fundtrace-trace/2,
docs/tracing.md) for fundtrace freeze and fundtrace report. Deposit rows are
per victim where haircut or FIFO carry the victim's money; haircut shares
under --min-amount are merged into one "(other victims)" remainder (each
seed's merged_into_other says how much of it was whose). The poison model
is reported per deposit, with the set of victims whose money touched it
(poisoned_deposits); --poison-pairs writes every victim and deposit pair
as CSV.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "case", Usage: "case file (CSV: chain, tx, address, amount, time, victim[, asset, log_index])"},
			&cli.StringSliceFlag{Name: "address", Usage: "seed: every payment to this address within --from..--until (repeatable)"},
			&cli.StringFlag{Name: "from", Usage: "time window start (RFC 3339 or YYYY-MM-DD): address seeds paid before it are left out"},
			&cli.StringFlag{Name: "until", Usage: "time window end (RFC 3339 or YYYY-MM-DD): money moved after it is not followed"},
			&cli.BoolFlag{Name: "backward", Usage: "trace where the seeds' money came from instead of where it went"},
			&cli.StringFlag{Name: "out", Usage: "write the trace as JSON to this file"},
			&cli.StringFlag{Name: "poison-pairs", Usage: "write every victim and deposit the poison model links as CSV to this file (needs --model with poison)"},
			jsonFlag,
		}, traceModelFlags()...),
		Action: runTrace,
	}
}

func runTrace(c *cli.Context) error {
	pos, err := args(c)
	if err != nil {
		return err
	}
	from, err := investigate.ParseWhen(c.String("from"), false)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	until, err := investigate.ParseWhen(c.String("until"), true)
	if err != nil {
		return fmt.Errorf("--until: %w", err)
	}
	if from > 0 && until > 0 && until < from {
		return errors.New("--until is before --from")
	}
	if c.IsSet("from") && len(c.StringSlice("address")) == 0 {
		return errors.New("--from selects the payments to --address seeds: give --address")
	}
	models := strings.Split(c.String("model"), ",")
	for _, m := range models {
		if m != tracer.Poison && m != tracer.Haircut && m != tracer.FIFO {
			return fmt.Errorf("--model %q: the models are haircut, fifo and poison", m)
		}
	}
	if c.Int("max-hops") <= 0 || c.Int("max-nodes") <= 0 {
		return errors.New("--max-hops and --max-nodes must be positive")
	}
	if c.IsSet("poison-pairs") && (!slices.Contains(models, tracer.Poison) || c.Bool("backward")) {
		return errors.New("--poison-pairs lists the deposits the poison model reaches: give --model with poison, forward")
	}
	if c.Bool("backward") && c.Bool("through-mixers") {
		return errors.New("--through-mixers applies to forward traces: a backward trace goes through every transaction")
	}
	st, err := openStore(c, readStore)
	if err != nil {
		return err
	}
	defer st.Close()
	o, err := optsOf(c)
	if err != nil {
		return err
	}
	prog := newProgressLine(c)
	o.OnHop = prog.hop
	iv := investigate.New(st, o)
	var seeds investigate.Seeds
	for _, s := range pos {
		if err := iv.AddSeed(c.Context, &seeds, s); err != nil {
			return err
		}
	}
	for _, a := range c.StringSlice("address") {
		if err := iv.AddAddressSeeds(c.Context, &seeds, a, from, until); err != nil {
			return err
		}
	}
	if p := c.String("case"); p != "" {
		if err := iv.ReadCase(c.Context, &seeds, p); err != nil {
			return err
		}
	}
	if seeds.Len() == 0 {
		return errors.New("no seeds: give TXID:VOUT, 0xHASH, --address or --case")
	}
	j, err := iv.Trace(c.Context, seeds, models, from, until)
	prog.done()
	if err != nil {
		return err
	}
	if p := c.String("out"); p != "" {
		if err := atomicfile.Write(p, 0o644, func(w io.Writer) error { return tracefile.Write(w, j) }); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	if p := c.String("poison-pairs"); p != "" {
		if err := atomicfile.Write(p, 0o644, func(w io.Writer) error { return investigate.WritePoisonPairs(w, j) }); err != nil {
			return fmt.Errorf("--poison-pairs: %w", err)
		}
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, j)
	}
	printTrace(c, j)
	return nil
}

// traceModelFlags are the flags that set how a trace follows money (the
// trace command's, and the report command's when it traces a case).
func traceModelFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "model", Value: "haircut,fifo", Usage: "taint models: haircut, fifo, poison (comma-separated)"},
		&cli.IntFlag{Name: "max-hops", Value: tracer.DefaultMaxHops, Usage: "most transactions (transfers on Ethereum and TRON) to follow money through"},
		&cli.StringFlag{Name: "min-amount", Usage: fmt.Sprintf("do not follow money carrying less than this many base units (satoshis, wei, sun, token units; at least 1) under every model, and merge haircut shares under it into one %q remainder", tracefile.OtherVictims),
			DefaultText: fmt.Sprintf("%s sat, %s wei, %s sun, %s token unit", tracer.DefaultMinAmount(chains.Bitcoin, ""), tracer.DefaultMinAmount(chains.Ethereum, ""),
				tracer.DefaultMinAmount(chains.Tron, ""), tracer.DefaultMinAmount(chains.Ethereum, "0x"))},
		&cli.IntFlag{Name: "max-nodes", Value: tracer.DefaultMaxNodes, Usage: "most coins (Bitcoin) or addresses (Ethereum, TRON) to follow in all"},
		&cli.BoolFlag{Name: "through-mixers", Usage: "follow money through CoinJoins (haircut and FIFO carry on) instead of stopping there"},
	}
}

func optsOf(c *cli.Context) (investigate.Options, error) {
	o := investigate.Options{MaxHops: c.Int("max-hops"), MaxNodes: c.Int("max-nodes"), ThroughMixers: c.Bool("through-mixers"), Backward: c.Bool("backward")}
	if err := intRange("max-hops", int64(o.MaxHops), 1, 100_000); err != nil {
		return o, err
	}
	if err := intRange("max-nodes", int64(o.MaxNodes), 1, 1<<31-1); err != nil {
		return o, err
	}
	if s := c.String("min-amount"); s != "" {
		v, ok := new(big.Int).SetString(s, 10)
		if !ok || v.Sign() < 0 {
			return o, fmt.Errorf("--min-amount %q: want a whole number of base units", s)
		}
		o.MinAmount = v
	}
	return o, nil
}

// decimalUnits renders base units with the asset's decimals, exactly.
func decimalUnits(amount string, decimals int) string {
	d := uint8(decimals)
	return formatUnits(amount, &d)
}

func printTrace(c *cli.Context, j *tracefile.Trace) {
	w := c.App.Writer
	for _, s := range j.Stats {
		fmt.Fprintf(w, "%s: traced %s over %d hops (%d store queries, %d followed)\n", s.Chain, j.Direction, s.Hops, s.Queries, s.Visited)
	}
	var stops []string
	for _, r := range slices.Sorted(maps.Keys(j.StopCounts)) {
		stops = append(stops, fmt.Sprintf("%s %d", r, j.StopCounts[r]))
	}
	if len(stops) == 0 {
		stops = []string{"none"}
	}
	fmt.Fprintf(w, "%d seeds; stops: %s\n", len(j.Seeds), strings.Join(stops, ", "))
	if j.Direction == "forward" {
		others := 0
		for _, s := range j.Stats {
			others += s.OtherShares
		}
		fmt.Fprintf(w, "%d deposit rows (victim and deposit, under haircut or FIFO), %d poisoned deposits, %d flows; %d haircut shares under the min amount merged into %q\n",
			len(j.Deposits), len(j.Poisoned), len(j.Flows), others, tracefile.OtherVictims)
	}
	unit := func(asset, amt string) string {
		a := j.Assets[asset]
		return decimalUnits(amt, a.Decimals) + " " + a.Symbol
	}
	if j.Direction == "backward" {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "\nVICTIM\tCAME FROM\tADDRESS\tHOP\tHAIRCUT\tFIFO\n")
		for _, o := range j.Origins {
			from := o.Reason
			if o.Name != "" {
				from = o.Category + ": " + o.Name
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", o.Victim, from, o.Address, o.Hop, unit(o.Asset, o.Haircut), unit(o.Asset, o.FIFO))
		}
		tw.Flush()
		return
	}
	if n := len(j.PeelChains); n > 0 {
		longest := j.PeelChains[0]
		for _, p := range j.PeelChains {
			if p.Steps > longest.Steps {
				longest = p
			}
		}
		fmt.Fprintf(w, "%d peel chains; the longest, %d steps from %s (%s) to %s (%s)\n", n, longest.Steps, longest.Txs[0], longest.Start,
			longest.Txs[len(longest.Txs)-1], longest.End)
	}
	if len(j.Exchanges) == 0 {
		fmt.Fprintln(w, "\nNo exchange was reached.")
	}
	if c.String("out") != "" {
		// The rows are in the file: a summary per exchange here.
		fmt.Fprintln(w)
		for _, e := range j.Exchanges {
			victims := map[string]bool{}
			totals := map[string]map[string]string{}
			for _, a := range e.Addresses {
				for _, v := range a.Victims {
					victims[v] = v != tracefile.OtherVictims
				}
				for asset, by := range a.Totals {
					if totals[asset] == nil {
						totals[asset] = map[string]string{}
					}
					for m, v := range by {
						totals[asset][m] = tracefile.AddUnits(totals[asset][m], v)
					}
				}
			}
			var sums []string
			for _, asset := range slices.Sorted(maps.Keys(totals)) {
				for _, m := range j.Models {
					sums = append(sums, fmt.Sprintf("%s %s", m, unit(asset, totals[asset][m])))
				}
			}
			n := 0
			for _, real := range victims {
				if real {
					n++
				}
			}
			fmt.Fprintf(w, "%s: %d deposits to %d deposit addresses from %d victims, first %s, last %s; %s\n", e.Exchange, e.Deposits,
				len(e.Addresses), n, e.FirstSeen, e.LastSeen, strings.Join(sums, ", "))
		}
		fmt.Fprintf(w, "\nThe trace is in %s: fundtrace freeze --trace %s --out DIR writes the freezing requests, fundtrace report the bundle.\n",
			c.String("out"), c.String("out"))
		return
	}
	for _, e := range j.Exchanges {
		fmt.Fprintf(w, "\n%s: %d deposits to %d deposit addresses, first %s, last %s\n", e.Exchange, e.Deposits, len(e.Addresses), e.FirstSeen, e.LastSeen)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  DEPOSIT ADDRESS\tTX\tTIME\tVICTIM\tHAIRCUT\tFIFO\n")
		for _, d := range j.Deposits {
			if d.Exchange != e.Exchange {
				continue
			}
			tx := d.Outpoint
			if tx == "" {
				tx = d.Tx
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", d.Address, tx, d.Time, d.Victim, unit(d.Asset, d.Haircut), unit(d.Asset, d.FIFO))
		}
		tw.Flush()
	}
}

// readTrace reads a trace file written by fundtrace trace --out, refusing
// another schema with a message saying so.
func readTrace(p string) (*tracefile.Trace, error) { return tracefile.Read(p) }

// scanTrace reads a trace file as a stream, handing its long sections to
// h (see tracefile.Scan).
func scanTrace(p string, h tracefile.Handler) (*tracefile.Trace, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return tracefile.Scan(bufio.NewReaderSize(f, 1<<20), p, h)
}
