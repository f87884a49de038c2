package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/fundtrace/fundtrace/investigate"
	"github.com/fundtrace/fundtrace/report"
	"github.com/fundtrace/fundtrace/tracefile"
)

func freezeCommand() *cli.Command {
	return &cli.Command{
		Name:      "freeze",
		Usage:     "turn a trace into one freezing request per exchange (CSV and JSON)",
		UsageText: "fundtrace freeze --trace trace.json --out DIR [--force] [--json]",
		Description: `Reads a trace written by fundtrace trace --out and writes, for each
exchange reached, DIR/<exchange>.csv and DIR/<exchange>.json: every deposit
address (first and last seen) with the deposits traced to it (transaction,
height, time, asset, amount per model in base units and in the asset's
unit, the victim payments they trace back to, the evidence that the address
is the exchange's).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "trace", Required: true, Usage: "trace JSON (fundtrace trace --out)"},
			&cli.StringFlag{Name: "out", Required: true, Usage: "folder to write the requests into (new or empty, unless --force)"},
			&cli.BoolFlag{Name: "force", Usage: "write into an --out folder that is not empty"},
			jsonFlag,
		},
		Action: runFreeze,
	}
}

// freezeJSON is one exchange's freezing request.
type freezeJSON struct {
	Exchange  string                     `json:"exchange"`
	Models    []string                   `json:"models"`
	Assets    map[string]tracefile.Asset `json:"assets"`
	Addresses []tracefile.DepositAddress `json:"deposit_addresses"`
	Deposits  []tracefile.Deposit        `json:"deposits"`
}

func runFreeze(c *cli.Context) error {
	// Only the deposits and the summaries are needed: the flows, stops,
	// nodes and poison sets stream past.
	j, err := scanTrace(c.String("trace"), tracefile.Handler{Node: func(tracefile.Node) error { return nil },
		Flow: func(tracefile.Flow) error { return nil }, Stop: func(tracefile.Stop) error { return nil },
		Poisoned: func(tracefile.Poisoned) error { return nil }})
	if err != nil {
		return err
	}
	if j.Direction != "forward" {
		return fmt.Errorf("%s is a %s trace: freezing requests come from forward traces", c.String("trace"), j.Direction)
	}
	dir := c.String("out")
	if err := emptyOut(dir, c.Bool("force")); err != nil {
		return err
	}
	// What was written, for --json.
	type requestJSON struct {
		Exchange  string `json:"exchange"`
		Deposits  int    `json:"deposits"`
		Addresses int    `json:"deposit_addresses"`
		CSV       string `json:"csv,omitempty"`
		JSON      string `json:"json,omitempty"`
		Written   bool   `json:"written"`
		Why       string `json:"why_not,omitempty"`
	}
	written := []requestJSON{}
	say := func(format string, a ...any) {
		if !c.Bool("json") {
			fmt.Fprintf(c.App.Writer, format, a...)
		}
	}
	done := func() error {
		if c.Bool("json") {
			return writeJSON(c.App.Writer, map[string]any{"out": dir, "requests": written})
		}
		return nil
	}
	if len(j.Exchanges) == 0 {
		say("the trace reached no exchange: no freezing request written\n")
		return done()
	}
	byEx, _ := investigate.ByExchange(j.Deposits)
	for _, ex := range j.Exchanges {
		ds := byEx[ex.Exchange]
		if len(ds) == 0 {
			// Only poison reached it: no victim's money is there to freeze.
			const why = "reached by poison only (no money under haircut or FIFO)"
			say("%s: %s: no freezing request\n", ex.Exchange, why)
			written = append(written, requestJSON{Exchange: ex.Exchange, Why: why})
			continue
		}
		var addrs []tracefile.DepositAddress
		for _, a := range ex.Addresses {
			if a.Deposits > 0 {
				addrs = append(addrs, a)
			}
		}
		ex.Addresses = addrs
		sort.SliceStable(ds, func(i, k int) bool {
			if ds[i].Address != ds[k].Address {
				return ds[i].Address < ds[k].Address
			}
			return ds[i].Time < ds[k].Time
		})
		file := report.FileName(ex.Exchange)
		req := freezeJSON{Exchange: ex.Exchange, Models: j.Models, Assets: j.Assets, Addresses: ex.Addresses, Deposits: ds}
		jb, err := json.MarshalIndent(req, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, file+".json"), append(jb, '\n'), 0o644); err != nil {
			return err
		}
		if err := writeFreezeCSV(filepath.Join(dir, file+".csv"), j, ds); err != nil {
			return err
		}
		say("%s: %d deposits to %d deposit addresses → %s.csv, %s.json\n", ex.Exchange, len(ds), len(ex.Addresses), file, file)
		written = append(written, requestJSON{Exchange: ex.Exchange, Deposits: len(ds), Addresses: len(ex.Addresses), CSV: file + ".csv", JSON: file + ".json", Written: true})
	}
	return done()
}

func writeFreezeCSV(p string, j *tracefile.Trace, ds []tracefile.Deposit) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"exchange", "chain", "deposit_address", "txid", "outpoint", "position", "height", "time", "asset", "value",
		"victim", "haircut", "fifo", "haircut_units", "fifo_units", "evidence"})
	for _, d := range ds {
		a := j.Assets[d.Asset]
		w.Write([]string{d.Exchange, d.Chain, d.Address, d.Tx, d.Outpoint, d.Position, strconv.FormatInt(d.Height, 10), d.Time, a.Symbol, d.Value,
			d.Victim, decimalUnits(d.Haircut, a.Decimals), decimalUnits(d.FIFO, a.Decimals), d.Haircut, d.FIFO, d.Evidence})
	}
	w.Flush()
	return errors.Join(w.Error(), f.Close())
}
