package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/tracer"
)

func traceCommand() *cli.Command {
	return &cli.Command{
		Name:      "trace",
		Usage:     "follow victims' payments forward to the exchange deposit addresses that received them (Bitcoin)",
		UsageText: "fundtrace trace [TXID:VOUT...] [--case case.csv] [--model haircut,fifo,poison] [--max-hops N] [--min-amount SATS] [--max-nodes N] [--through-mixers] [--out trace.json] [--json]",
		Description: `Seeds are outputs (TXID:VOUT) or a case file: CSV with chain, tx, address,
amount, time, victim columns (the output of tx paying address is the
seed). Each seed is checked against the store; one that is not there is an
error naming it. Money is followed hop by hop (one spender lookup per hop
for the whole frontier) under each model: poison (any contact), haircut
(proportional), FIFO (by input and output order). It stops at exchanges
(an address labeled exchange, or one swept into a labeled exchange wallet:
a deposit address), at other labeled services, at CoinJoins (unless
--through-mixers), unspent coins, --max-hops, --min-amount and --max-nodes;
every stop is recorded. Labels come from fundtrace labels import.
--out writes the trace as JSON (the same as --json) for fundtrace freeze.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "case", Usage: "case file (CSV: chain, tx, address, amount, time, victim)"},
			&cli.StringFlag{Name: "model", Value: "haircut,fifo", Usage: "taint models: haircut, fifo, poison (comma-separated)"},
			&cli.IntFlag{Name: "max-hops", Value: 50, Usage: "most transactions to follow money through"},
			&cli.Int64Flag{Name: "min-amount", Value: 1000, Usage: "do not follow coins carrying fewer satoshis of any seed under every model"},
			&cli.IntFlag{Name: "max-nodes", Value: 100_000, Usage: "most coins to follow in all"},
			&cli.BoolFlag{Name: "through-mixers", Usage: "follow money through CoinJoins (haircut and FIFO carry on) instead of stopping there"},
			&cli.StringFlag{Name: "out", Usage: "write the trace as JSON to this file"},
			jsonFlag,
		},
		Action: runTrace,
	}
}

// traceJSON is the trace as written for machines and for freeze. Keep
// field names stable: scripts and the freeze command read them.
type traceJSON struct {
	Chain    string         `json:"chain"`
	Models   []string       `json:"models"`
	Seeds    []seedJSON     `json:"seeds"`
	Deposits []depositJSON  `json:"deposits"`
	Flows    []flowJSON     `json:"flows"`
	Stops    map[string]int `json:"stops"` // reason → count
	Hops     int            `json:"hops"`
	Lookups  int            `json:"spender_lookups"`
	Coins    int            `json:"coins_followed"`
}

// flowJSON is one edge of the flow graph: a transaction moving tainted
// coins from addresses into one output.
type flowJSON struct {
	Tx      string   `json:"txid"`
	Height  int64    `json:"height"`
	From    []string `json:"from"`
	To      string   `json:"to"`
	Output  string   `json:"outpoint"`
	Value   int64    `json:"value_sats"`
	Haircut int64    `json:"haircut_sats"`
	FIFO    int64    `json:"fifo_sats"`
	Poison  bool     `json:"poison"`
}

type seedJSON struct {
	Outpoint string `json:"outpoint"`
	Ref      string `json:"victim"`
}

type depositJSON struct {
	Exchange string `json:"exchange"`
	Address  string `json:"deposit_address"`
	Outpoint string `json:"outpoint"`
	Height   int64  `json:"height"`
	Value    int64  `json:"value_sats"`
	Victim   string `json:"victim"`
	Haircut  int64  `json:"haircut_sats"`
	FIFO     int64  `json:"fifo_sats"`
	Poison   int64  `json:"poison_sats"`
	Evidence string `json:"evidence"`
}

func runTrace(c *cli.Context) error {
	pos, err := args(c)
	if err != nil {
		return err
	}
	st, err := openStore(c, true)
	if err != nil {
		return err
	}
	defer st.Close()
	net, err := btcNetwork(c, st)
	if err != nil {
		return err
	}
	var seeds []tracer.Seed
	for _, s := range pos {
		h, v, ok := strings.Cut(s, ":")
		hash, err := chains.ParseHash(h)
		n, err2 := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil || err2 != nil {
			return fmt.Errorf("seed %q: want TXID:VOUT", s)
		}
		seeds = append(seeds, tracer.Seed{Outpoint: chains.Outpoint{Hash: hash, Index: uint32(n)}, Ref: s})
	}
	if p := c.String("case"); p != "" {
		more, err := readCase(c, st, p)
		if err != nil {
			return err
		}
		seeds = append(seeds, more...)
	}
	if len(seeds) == 0 {
		return errors.New("give seeds (TXID:VOUT) or --case")
	}
	labeler := storeLabeler(c, st)
	models := strings.Split(c.String("model"), ",")
	res, err := tracer.Bitcoin(c.Context, st, chains.Bitcoin, seeds, tracer.Config{Models: models, MaxHops: c.Int("max-hops"),
		MinAmount: c.Int64("min-amount"), MaxNodes: c.Int("max-nodes"), ThroughMixers: c.Bool("through-mixers"), Labels: labeler})
	if err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	j := traceJSON{Chain: "btc", Models: models, Stops: map[string]int{}, Hops: res.Hops, Lookups: res.Lookups, Coins: res.Coins, Deposits: []depositJSON{}}
	for _, s := range seeds {
		j.Seeds = append(j.Seeds, seedJSON{s.Outpoint.String(), s.Ref})
	}
	for _, d := range res.Deposits {
		j.Deposits = append(j.Deposits, depositJSON{Exchange: d.Exchange, Address: net.MustEncode(d.Address), Outpoint: d.Outpoint.String(),
			Height: d.Height, Value: d.Value, Victim: seeds[d.Seed].Ref, Haircut: d.Amounts.HaircutSats(), FIFO: d.Amounts.FIFO,
			Poison: d.Amounts.Poison, Evidence: d.Evidence})
	}
	for _, s := range res.Stops {
		j.Stops[s.Reason]++
	}
	j.Flows = []flowJSON{}
	for _, f := range res.Flows {
		fj := flowJSON{Tx: f.Tx.String(), Height: f.Height, To: net.MustEncode(f.To), Output: f.Output.String(), Value: f.Value, FIFO: f.FIFO, Poison: f.Poison}
		for _, a := range f.From {
			fj.From = append(fj.From, net.MustEncode(a))
		}
		if f.Haircut != nil {
			fj.Haircut = new(big.Int).Quo(f.Haircut.Num(), f.Haircut.Denom()).Int64()
		}
		j.Flows = append(j.Flows, fj)
	}
	if p := c.String("out"); p != "" {
		b, err := json.MarshalIndent(j, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(p, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, j)
	}
	w := c.App.Writer
	fmt.Fprintf(w, "Traced %d victim payments over %d hops (%d coins followed, %d spender lookups); stops: %v\n", len(seeds), res.Hops, res.Coins, res.Lookups, j.Stops)
	byEx, exs := byExchange(j.Deposits)
	for _, e := range exs {
		var hc, ff int64
		addrs := map[string]bool{}
		for _, d := range byEx[e] {
			hc += d.Haircut
			ff += d.FIFO
			addrs[d.Address] = true
		}
		fmt.Fprintf(w, "\n%s: %d deposits to %d deposit addresses; victims' money: %s BTC (haircut), %s BTC (FIFO)\n", e, len(byEx[e]), len(addrs), formatBTC(hc), formatBTC(ff))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  DEPOSIT ADDRESS\tOUTPOINT\tHEIGHT\tVICTIM\tHAIRCUT (BTC)\tFIFO (BTC)\n")
		for _, d := range byEx[e] {
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\t%s\n", d.Address, d.Outpoint, d.Height, d.Victim, formatBTC(d.Haircut), formatBTC(d.FIFO))
		}
		tw.Flush()
	}
	return nil
}

// storeLabeler answers from the store's labels: the most confident label
// of an address, named by its actor when it has one.
func storeLabeler(c *cli.Context, st backend) tracer.Labeler {
	lst, _ := st.(labelStore)
	return func(a chains.Address) (string, string, bool) {
		if lst == nil {
			return "", "", false
		}
		ls, err := lst.Labels(c.Context, chains.Bitcoin, a)
		if err != nil || len(ls) == 0 {
			return "", "", false
		}
		sort.Slice(ls, func(i, j int) bool { return ls[i].Confidence > ls[j].Confidence })
		name := ls[0].Label
		if ls[0].Actor != "" {
			name = ls[0].Actor
		}
		return ls[0].Category, name, true
	}
}

// byExchange groups deposits by exchange, the names sorted.
func byExchange(ds []depositJSON) (map[string][]depositJSON, []string) {
	by := map[string][]depositJSON{}
	for _, d := range ds {
		by[d.Exchange] = append(by[d.Exchange], d)
	}
	names := make([]string, 0, len(by))
	for e := range by {
		names = append(names, e)
	}
	sort.Strings(names)
	return by, names
}

// readCase reads a case file: chain, tx, address, amount, time, victim.
func readCase(c *cli.Context, st backend, p string) ([]tracer.Seed, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%s: empty", p)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, need := range []string{"chain", "tx", "address"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("%s: header lacks %q (chain, tx, address, amount, time, victim)", p, need)
		}
	}
	net, err := btcNetwork(c, st)
	if err != nil {
		return nil, err
	}
	var out []tracer.Seed
	for i, rec := range recs[1:] {
		line := i + 2
		get := func(k string) string {
			if j, ok := col[k]; ok && j < len(rec) {
				return strings.TrimSpace(rec[j])
			}
			return ""
		}
		if ch := get("chain"); ch != "btc" {
			return nil, fmt.Errorf("%s line %d: chain %q: trace follows btc only so far", p, line, ch)
		}
		h, err := chains.ParseHash(get("tx"))
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", p, line, err)
		}
		a, err := net.ParseAddress(get("address"))
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", p, line, err)
		}
		tx, err := st.Tx(c.Context, chains.Bitcoin, h)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: transaction %s is not in the store: %w", p, line, h, err)
		}
		found := false
		for _, o := range tx.Outputs {
			if o.Address() != a {
				continue
			}
			if amt := get("amount"); amt != "" && amt != strconv.FormatInt(o.Value, 10) {
				continue
			}
			out = append(out, tracer.Seed{Outpoint: chains.Outpoint{Hash: h, Index: o.Index}, Ref: get("victim")})
			found = true
			break
		}
		if !found {
			return nil, fmt.Errorf("%s line %d: transaction %s has no output of %s to %s", p, line, h, get("amount"), get("address"))
		}
	}
	return out, nil
}

func freezeCommand() *cli.Command {
	return &cli.Command{
		Name:      "freeze",
		Usage:     "turn a trace into one freezing request per exchange (CSV and JSON)",
		UsageText: "fundtrace freeze --trace trace.json --out DIR",
		Description: `Reads a trace written by fundtrace trace --out and writes, for each
exchange reached, DIR/<exchange>.csv and DIR/<exchange>.json: every deposit
address with the deposits traced to it (outpoint, height, amount per
model, the victim payments they trace back to).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "trace", Required: true, Usage: "trace JSON (fundtrace trace --out)"},
			&cli.StringFlag{Name: "out", Required: true, Usage: "folder to write the requests into"},
		},
		Action: runFreeze,
	}
}

func runFreeze(c *cli.Context) error {
	b, err := os.ReadFile(c.String("trace"))
	if err != nil {
		return err
	}
	var j traceJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("%s: %w", c.String("trace"), err)
	}
	if err := os.MkdirAll(c.String("out"), 0o755); err != nil {
		return err
	}
	byEx, names := byExchange(j.Deposits)
	for _, e := range names {
		ds := byEx[e]
		sort.Slice(ds, func(i, k int) bool {
			if ds[i].Address != ds[k].Address {
				return ds[i].Address < ds[k].Address
			}
			return ds[i].Outpoint < ds[k].Outpoint
		})
		file := strings.NewReplacer(" ", "_", "/", "_").Replace(e)
		req := struct {
			Exchange string        `json:"exchange"`
			Chain    string        `json:"chain"`
			Models   []string      `json:"models"`
			Deposits []depositJSON `json:"deposits"`
		}{e, j.Chain, j.Models, ds}
		jb, err := json.MarshalIndent(req, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(c.String("out"), file+".json"), append(jb, '\n'), 0o644); err != nil {
			return err
		}
		f, err := os.Create(filepath.Join(c.String("out"), file+".csv"))
		if err != nil {
			return err
		}
		w := csv.NewWriter(f)
		w.Write([]string{"exchange", "deposit_address", "outpoint", "height", "value_sats", "victim", "haircut_sats", "fifo_sats", "evidence"})
		for _, d := range ds {
			w.Write([]string{e, d.Address, d.Outpoint, strconv.FormatInt(d.Height, 10), strconv.FormatInt(d.Value, 10), d.Victim,
				strconv.FormatInt(d.Haircut, 10), strconv.FormatInt(d.FIFO, 10), d.Evidence})
		}
		w.Flush()
		if err := errors.Join(w.Error(), f.Close()); err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "%s: %d deposits → %s.csv, %s.json\n", e, len(ds), file, file)
	}
	return nil
}
