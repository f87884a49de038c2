package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fundtrace/fundtrace/prices"
	"github.com/fundtrace/fundtrace/report"
	"github.com/fundtrace/fundtrace/tracefile"
)

func freezeCommand() *cli.Command {
	return &cli.Command{
		Name:      "freeze",
		Usage:     "turn a trace into one freezing request per exchange (CSV and JSON)",
		UsageText: "fundtrace freeze --trace trace.json --out DIR [--case-info case.yaml] [--date DAY] [--prices F...] [--fiat EUR] [--force] [--json]",
		Description: `Reads a trace written by fundtrace trace --out and writes, for each
exchange reached, DIR/<exchange>.csv and DIR/<exchange>.json: one row per
deposit (a victim's money in one payment to a deposit address: exchange,
chain, address, transaction, block, time, asset, amounts per model in base
units and in the asset's unit, USD at the day's price from --prices, the
price's status, the evidence that the address is the exchange's), the same
columns fundtrace report writes; the JSON adds the deposit addresses, the
payments (all victims' money in each), what is asked and, from
--case-info, who asks and where to reply. fundtrace report writes the
letters.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "trace", Required: true, Usage: "trace JSON (fundtrace trace --out)"},
			&cli.StringFlag{Name: "out", Required: true, Usage: "folder to write the requests into (new or empty, unless --force)"},
			&cli.StringFlag{Name: "case-info", Usage: "YAML: who asks, where to reply (as fundtrace report --case-info)"},
			&cli.StringFlag{Name: "date", Usage: "the requests' date (YYYY-MM-DD; default: the case information's)"},
			&cli.StringSliceFlag{Name: "prices", Usage: "price files (repeatable), for the USD columns"},
			&cli.StringFlag{Name: "fiat", Usage: "a currency to show besides USD (its prices must be in the files)"},
			&cli.BoolFlag{Name: "force", Usage: "write into an --out folder that is not empty"},
			jsonFlag,
		},
		Action: runFreeze,
	}
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
	var ci *report.CaseInfo
	if p := c.String("case-info"); p != "" {
		if ci, err = report.ReadCaseInfo(p); err != nil {
			return fmt.Errorf("--case-info: %w", err)
		}
	}
	date := c.String("date")
	if date == "" && ci != nil {
		date = ci.Date
	}
	if date != "" {
		if _, err := time.Parse("2006-01-02", date); err != nil {
			return fmt.Errorf("--date %q: want YYYY-MM-DD", date)
		}
	}
	pt := prices.New()
	for _, p := range c.StringSlice("prices") {
		if err := pt.ReadFile(p); err != nil {
			return err
		}
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
	reqs, err := report.Requests(j, ci, date, report.Pricer{Table: pt, Fiat: c.String("fiat")})
	if err != nil {
		return err
	}
	got := map[string]report.FreezeFiles{}
	for _, r := range reqs {
		got[r.Exchange] = r
	}
	for _, ex := range j.Exchanges {
		r, ok := got[ex.Exchange]
		if !ok {
			// Only poison reached it: no victim's money is there to freeze.
			const why = "reached by poison only (no money under haircut or FIFO)"
			say("%s: %s: no freezing request\n", ex.Exchange, why)
			written = append(written, requestJSON{Exchange: ex.Exchange, Why: why})
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, r.Name+".json"), r.JSON, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, r.Name+".csv"), r.CSV, 0o644); err != nil {
			return err
		}
		say("%s: %d deposits to %d deposit addresses → %s.csv, %s.json\n", ex.Exchange, r.Deposits, r.Addresses, r.Name, r.Name)
		written = append(written, requestJSON{Exchange: ex.Exchange, Deposits: r.Deposits, Addresses: r.Addresses, CSV: r.Name + ".csv", JSON: r.Name + ".json", Written: true})
	}
	return done()
}
