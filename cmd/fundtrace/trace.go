package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/labels"
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
  --address ADDR        every payment to ADDR (Bitcoin or 0x Ethereum) between
                        --from and --until (RFC 3339 or YYYY-MM-DD)
  --case FILE           CSV with the columns chain (btc or eth), tx, address,
                        amount, time, victim, and optionally asset (ETH, a token's
                        symbol or contract) and log_index
Money is followed hop by hop (for the whole frontier one spender lookup and one
transaction read a hop on Bitcoin, one history read on Ethereum) under each
model: poison (any contact), haircut (proportional), FIFO (first in, first out:
by input and output order on Bitcoin, by arrival order per address on
Ethereum, fees and balances held before included). Each Ethereum asset (ETH,
each token) is followed separately. The trace stops at exchanges (an address
labeled exchange, itself or by its cluster, or one that pays a labeled
exchange wallet: a deposit address), at other labeled services, at CoinJoins
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

// The trace file's types (package tracefile; docs/tracing.md).
const TraceSchema = tracefile.Schema

type (
	traceJSON          = tracefile.Trace
	traceParams        = tracefile.Params
	assetJSON          = tracefile.Asset
	seedJSON           = tracefile.Seed
	nodeJSON           = tracefile.Node
	flowJSON           = tracefile.Flow
	depositJSON        = tracefile.Deposit
	exchangeJSON       = tracefile.Exchange
	depositAddressJSON = tracefile.DepositAddress
	originJSON         = tracefile.Origin
	peelJSON           = tracefile.PeelChain
	stopJSON           = tracefile.Stop
	statsJSON          = tracefile.Stats
)

// traceSeeds are the seeds of one trace, by chain.
type traceSeeds struct {
	btc []tracer.Seed
	eth []tracer.AccountSeed
}

func runTrace(c *cli.Context) error {
	pos, err := args(c)
	if err != nil {
		return err
	}
	from, err := parseWhen(c.String("from"), false)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	until, err := parseWhen(c.String("until"), true)
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
	tc := newTraceCtx(c, st, o)
	var seeds traceSeeds
	for _, s := range pos {
		if err := tc.addSeed(&seeds, s); err != nil {
			return err
		}
	}
	for _, a := range c.StringSlice("address") {
		if err := tc.addAddressSeeds(&seeds, a, from, until); err != nil {
			return err
		}
	}
	if p := c.String("case"); p != "" {
		if err := tc.readCase(&seeds, p); err != nil {
			return err
		}
	}
	if len(seeds.btc)+len(seeds.eth) == 0 {
		return errors.New("no seeds: give TXID:VOUT, 0xHASH, --address or --case")
	}
	j, err := tc.trace(seeds, models, from, until)
	if err != nil {
		return err
	}
	if p := c.String("out"); p != "" {
		if err := writeFileAtomic(p, func(w io.Writer) error { return tracefile.Write(w, j) }); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	if p := c.String("poison-pairs"); p != "" {
		if err := writeFileAtomic(p, func(w io.Writer) error { return writePoisonPairs(w, j) }); err != nil {
			return fmt.Errorf("--poison-pairs: %w", err)
		}
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, j)
	}
	printTrace(c, j)
	return nil
}

// parseWhen reads RFC 3339 or YYYY-MM-DD (a day: its start, or with
// end its last second) as Unix seconds; "" is 0.
func parseWhen(s string, end bool) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.Unix(), nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return 0, fmt.Errorf("%q: want RFC 3339 (2024-05-01T12:00:00Z) or YYYY-MM-DD", s)
	}
	if end {
		return t.Unix() + 86399, nil
	}
	return t.Unix(), nil
}

// traceCtx is what building and printing a trace share.
type traceCtx struct {
	c    *cli.Context
	opts traceOpts
	st   backend
	attr *attribution
	net  *bitcoin.Network
	ab   accountBackend
	toks map[chains.Address]chains.Token
	prog *progressLine
}

// newTraceCtx is a trace over st with options o, attributing through
// st's labels and clusters.
func newTraceCtx(c *cli.Context, st backend, o traceOpts) *traceCtx {
	return &traceCtx{c: c, st: st, attr: newAttribution(st), opts: o, prog: newProgressLine(c)}
}

// onHop shows a trace's progress hop by hop (what is followed: coins or
// addresses).
func (tc *traceCtx) onHop(c chains.Chain, what string) func(hop, frontier, followed int) {
	return func(hop, frontier, followed int) {
		tc.prog.show(fmt.Sprintf("trace %s: hop %d, %s in the frontier, %s followed", c, hop, group(int64(frontier)), group(int64(followed))),
			"Tracing", "chain", c, "hop", hop, "frontier_"+what, frontier, "followed", followed)
	}
}

func (tc *traceCtx) btcNet() (*bitcoin.Network, error) {
	if tc.net == nil {
		n, err := btcNetwork(tc.c, tc.st)
		if err != nil {
			return nil, err
		}
		tc.net = n
	}
	return tc.net, nil
}

func (tc *traceCtx) account() (accountBackend, error) {
	if tc.ab == nil {
		ab, err := storeAs[accountBackend](tc.st)
		if err != nil {
			return nil, err
		}
		m, err := ab.Meta(tc.c.Context, chains.Ethereum)
		if err != nil {
			return nil, err
		}
		if m.TipHeight < 0 {
			return nil, fmt.Errorf("the store %s holds no Ethereum blocks yet: run fundtrace index eth first", tc.st.Path())
		}
		tc.ab = ab
	}
	return tc.ab, nil
}

// addSeed reads one seed given on the command line.
func (tc *traceCtx) addSeed(seeds *traceSeeds, s string) error {
	ctx := tc.c.Context
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		ab, err := tc.account()
		if err != nil {
			return err
		}
		hs, rest, _ := strings.Cut(s, ":")
		h, err := parseTxHash(hs)
		if err != nil {
			return fmt.Errorf("seed %q: %w", s, err)
		}
		var pos *string
		if rest != "" {
			p := rest
			if _, err := strconv.ParseUint(rest, 10, 32); err == nil {
				p = "log:" + rest
			}
			pos = &p
		}
		tr, err := tracer.FindAccountSeed(ctx, ab, chains.Ethereum, h, pos, nil, nil, nil)
		if err != nil {
			return fmt.Errorf("seed %d (%s): %w", len(seeds.btc)+len(seeds.eth)+1, s, err)
		}
		seeds.eth = append(seeds.eth, tracer.AccountSeed{Transfer: tr, Ref: s})
		return nil
	}
	hs, vs, ok := strings.Cut(s, ":")
	h, err := chains.ParseHash(hs)
	n, err2 := strconv.ParseUint(vs, 10, 32)
	if !ok || err != nil || err2 != nil {
		return fmt.Errorf("seed %q: want TXID:VOUT (Bitcoin), 0xHASH or 0xHASH:LOGINDEX (Ethereum)", s)
	}
	op := chains.Outpoint{Hash: h, Index: uint32(n)}
	txs, err := tc.st.Txs(ctx, chains.Bitcoin, []chains.Hash{h})
	if err != nil {
		return fmt.Errorf("seed %d (%s): %w", len(seeds.btc)+len(seeds.eth)+1, s, err)
	}
	if int(op.Index) >= len(txs[0].Outputs) {
		return fmt.Errorf("seed %d (%s): transaction %s has %d outputs", len(seeds.btc)+len(seeds.eth)+1, s, h, len(txs[0].Outputs))
	}
	seeds.btc = append(seeds.btc, tracer.Seed{Outpoint: op, Ref: s})
	return nil
}

// parseTxHash reads a transaction hash (hashes are kept as written, on
// both chains).
func parseTxHash(s string) (chains.Hash, error) { return chains.ParseHash(s) }

// addAddressSeeds makes every payment to a within [from, until] a seed.
func (tc *traceCtx) addAddressSeeds(seeds *traceSeeds, s string, from, until int64) error {
	ctx := tc.c.Context
	n := 0
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		ab, err := tc.account()
		if err != nil {
			return err
		}
		a, err := ethereum.ParseAddress(s)
		if err != nil {
			return fmt.Errorf("--address %s: %w", s, err)
		}
		hist, err := ab.TransfersOf(ctx, chains.Ethereum, []chains.Address{a}, 0, -1)
		if err != nil {
			return err
		}
		for _, t := range hist[0] {
			if t.To != a || t.From == a || !t.Success || t.Amount == nil || t.Amount.Sign() <= 0 || t.Kind == chains.TransferERC721 ||
				(from > 0 && t.Time < from) || (until > 0 && t.Time > until) {
				continue
			}
			seeds.eth = append(seeds.eth, tracer.AccountSeed{Transfer: t, Ref: fmt.Sprintf("%s@0x%s", s, t.TxHash)})
			n++
		}
	} else {
		net, err := tc.btcNet()
		if err != nil {
			return err
		}
		a, err := net.ParseAddress(s)
		if err != nil {
			return fmt.Errorf("--address %s: %w", s, err)
		}
		hist, err := tc.st.AddressHistory(ctx, chains.Bitcoin, a, 0)
		if err != nil {
			return fmt.Errorf("--address %s: %w", s, err)
		}
		for _, e := range hist {
			if (from > 0 && e.Time < from) || (until > 0 && e.Time > until) {
				continue
			}
			op := chains.Outpoint{Hash: e.TxHash, Index: e.Vout}
			seeds.btc = append(seeds.btc, tracer.Seed{Outpoint: op, Ref: s + "@" + op.String()})
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("--address %s: no payment to it in the store within the time window", s)
	}
	return nil
}

// readCase reads a case file: chain, tx, address, amount, time, victim,
// and optionally asset and log_index.
func (tc *traceCtx) readCase(seeds *traceSeeds, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if len(recs) == 0 {
		return fmt.Errorf("%s: empty", p)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, need := range []string{"chain", "tx", "address"} {
		if _, ok := col[need]; !ok {
			return fmt.Errorf("%s: header lacks %q (chain, tx, address, amount, time, victim)", p, need)
		}
	}
	ctx := tc.c.Context
	// The Bitcoin rows' transactions are read at once (a store query per
	// row costs a ClickHouse round trip each); a row whose transaction is
	// not among them is looked up alone, for its error.
	pre := map[chains.Hash]*chains.Tx{}
	if j, ok := col["tx"]; ok {
		var hs []chains.Hash
		for _, rec := range recs[1:] {
			if k := col["chain"]; k < len(rec) && j < len(rec) && (strings.TrimSpace(rec[k]) == "btc" || strings.TrimSpace(rec[k]) == "bitcoin") {
				if h, err := chains.ParseHash(strings.TrimSpace(rec[j])); err == nil {
					hs = append(hs, h)
				}
			}
		}
		if len(hs) > 0 {
			if txs, err := tc.st.Txs(ctx, chains.Bitcoin, hs); err == nil {
				for _, tx := range txs {
					pre[tx.Hash] = tx
				}
			}
		}
	}
	for i, rec := range recs[1:] {
		line := i + 2
		get := func(k string) string {
			if j, ok := col[k]; ok && j < len(rec) {
				return strings.TrimSpace(rec[j])
			}
			return ""
		}
		fail := func(format string, a ...any) error {
			return fmt.Errorf("%s line %d: %w", p, line, fmt.Errorf(format, a...))
		}
		victim := get("victim")
		if victim == "" {
			victim = fmt.Sprintf("%s line %d", p, line)
		}
		if _, err := parseWhen(get("time"), false); err != nil {
			return fail("time %v", err)
		}
		switch ch := get("chain"); ch {
		case "btc", "bitcoin":
			net, err := tc.btcNet()
			if err != nil {
				return fail("%w", err)
			}
			h, err := chains.ParseHash(get("tx"))
			if err != nil {
				return fail("tx: %w", err)
			}
			a, err := net.ParseAddress(get("address"))
			if err != nil {
				return fail("address: %v", err)
			}
			txs := []*chains.Tx{pre[h]}
			if txs[0] == nil {
				if txs, err = tc.st.Txs(ctx, chains.Bitcoin, []chains.Hash{h}); err != nil {
					return fail("transaction %s is not in the store: %v", h, err)
				}
			}
			found := false
			for _, o := range txs[0].Outputs {
				if o.Address() != a {
					continue
				}
				if amt := get("amount"); amt != "" && amt != strconv.FormatInt(o.Value, 10) {
					continue
				}
				seeds.btc = append(seeds.btc, tracer.Seed{Outpoint: chains.Outpoint{Hash: h, Index: o.Index}, Ref: victim})
				found = true
				break
			}
			if !found {
				return fail("transaction %s has no output of %s to %s", h, get("amount"), get("address"))
			}
		case "eth", "ethereum":
			ab, err := tc.account()
			if err != nil {
				return fail("%w", err)
			}
			h, err := parseTxHash(get("tx"))
			if err != nil {
				return fail("tx: %w", err)
			}
			to, err := ethereum.ParseAddress(get("address"))
			if err != nil {
				return fail("address: %v", err)
			}
			var pos *string
			if li := get("log_index"); li != "" {
				if _, err := strconv.ParseUint(li, 10, 32); err != nil {
					return fail("log_index %q: %v", li, err)
				}
				p := "log:" + li
				pos = &p
			}
			var asset *chains.Address
			if s := get("asset"); s != "" {
				a, err := tc.assetByName(s)
				if err != nil {
					return fail("%w", err)
				}
				asset = &a
			}
			var amount *big.Int
			if s := get("amount"); s != "" {
				v, ok := new(big.Int).SetString(s, 10)
				if !ok {
					return fail("amount %q: want base units (wei, token units) as a whole number", s)
				}
				amount = v
			}
			tr, err := tracer.FindAccountSeed(ctx, ab, chains.Ethereum, h, pos, &to, asset, amount)
			if err != nil {
				return fail("%w", err)
			}
			seeds.eth = append(seeds.eth, tracer.AccountSeed{Transfer: tr, Ref: victim})
		default:
			return fail("chain %q: want btc or eth", ch)
		}
	}
	return nil
}

// assetByName reads a case's asset column: ETH, a token contract, or the
// symbol of a token the store knows (labels with category token name
// them).
func (tc *traceCtx) assetByName(s string) (chains.Address, error) {
	if strings.EqualFold(s, "ETH") {
		return "", nil
	}
	if a, err := ethereum.ParseAddress(s); err == nil {
		return a, nil
	}
	if tc.attr.lst != nil {
		var found []chains.Address
		err := tc.attr.lst.EachLabel(tc.c.Context, func(l labels.Label) error {
			if l.Chain == chains.Ethereum && l.Category == "token" {
				t, err := tc.ab.Token(tc.c.Context, chains.Ethereum, l.Address)
				if err == nil && t.HasSymbol && strings.EqualFold(t.Symbol, s) {
					found = append(found, l.Address)
				}
			}
			return nil
		})
		if err != nil {
			return "", err
		}
		if len(found) == 1 {
			return found[0], nil
		}
	}
	return "", fmt.Errorf("asset %q: give ETH or the token's contract address (a symbol is read only for tokens labeled with category token)", s)
}

// labeler answers the tracer from the store's labels and clusters: the
// most confident label of the address, else of its cluster.
func (tc *traceCtx) labeler(ch chains.Chain) tracer.Labeler {
	cache := map[chains.Address][3]string{}
	return func(a chains.Address) (string, string, bool) {
		if v, ok := cache[a]; ok {
			return v[0], v[1], v[2] != ""
		}
		own, cl, err := tc.attr.labels(tc.c.Context, ch, a)
		if err != nil {
			cache[a] = [3]string{}
			return "", "", false
		}
		ls := own
		if len(ls) == 0 {
			ls = cl
		}
		if len(ls) == 0 {
			cache[a] = [3]string{}
			return "", "", false
		}
		sort.SliceStable(ls, func(i, j int) bool { return ls[i].Confidence > ls[j].Confidence })
		name := ls[0].Label
		if ls[0].Actor != "" {
			name = ls[0].Actor
		}
		cache[a] = [3]string{ls[0].Category, name, "y"}
		return ls[0].Category, name, true
	}
}

// traceModelFlags are the flags that set how a trace follows money (the
// trace command's, and the report command's when it traces a case).
func traceModelFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "model", Value: "haircut,fifo", Usage: "taint models: haircut, fifo, poison (comma-separated)"},
		&cli.IntFlag{Name: "max-hops", Value: tracer.DefaultMaxHops, Usage: "most transactions (transfers on Ethereum) to follow money through"},
		&cli.StringFlag{Name: "min-amount", Usage: fmt.Sprintf("do not follow money carrying less than this many base units (satoshis, wei, token units) under every model, and merge haircut shares under it into one %q remainder (default %s sat, %s wei, %s token unit)",
			tracefile.OtherVictims, tracer.DefaultMinAmount(chains.Bitcoin, ""), tracer.DefaultMinAmount(chains.Ethereum, ""), tracer.DefaultMinAmount(chains.Ethereum, "0x"))},
		&cli.IntFlag{Name: "max-nodes", Value: tracer.DefaultMaxNodes, Usage: "most coins (Bitcoin) or addresses (Ethereum) to follow in all"},
		&cli.BoolFlag{Name: "through-mixers", Usage: "follow money through CoinJoins (haircut and FIFO carry on) instead of stopping there"},
	}
}

// traceOpts are a trace's settings (the command's flags, or a trace
// file's parameters when verify runs it again).
type traceOpts struct {
	MaxHops, MaxNodes       int
	ThroughMixers, Backward bool
	MinAmount               *big.Int // nil: each asset's default
}

func optsOf(c *cli.Context) (traceOpts, error) {
	o := traceOpts{MaxHops: c.Int("max-hops"), MaxNodes: c.Int("max-nodes"), ThroughMixers: c.Bool("through-mixers"), Backward: c.Bool("backward")}
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

func (tc *traceCtx) trace(seeds traceSeeds, models []string, from, until int64) (*traceJSON, error) {
	ctx := tc.c.Context
	o := tc.opts
	j := &traceJSON{Schema: TraceSchema, Direction: "forward", Models: models, Assets: map[string]assetJSON{}, StopCounts: map[string]int{},
		Seeds: []seedJSON{}, Nodes: []nodeJSON{}, Flows: []flowJSON{}, Deposits: []depositJSON{}, Poisoned: []tracefile.Poisoned{}, Exchanges: []exchangeJSON{},
		PeelChains: []peelJSON{}, Stops: []stopJSON{},
		Params: traceParams{MaxHops: o.MaxHops, MaxNodes: o.MaxNodes, ThroughMixers: o.ThroughMixers, MinAmount: map[string]string{}}}
	if o.Backward {
		j.Direction = "backward"
	}
	if from > 0 {
		j.Params.From = formatTime(from)
	}
	if until > 0 {
		j.Params.Until = formatTime(until)
	}
	minAmount := o.MinAmount
	g := newGraph()
	if len(seeds.btc) > 0 {
		if err := tc.traceBTC(ctx, j, g, seeds.btc, models, minAmount, until); err != nil {
			return nil, err
		}
	}
	if len(seeds.eth) > 0 {
		if err := tc.traceETH(ctx, j, g, seeds.eth, models, minAmount, until); err != nil {
			return nil, err
		}
	}
	for _, s := range j.Stops {
		j.StopCounts[s.Reason]++
	}
	j.Exchanges = summarizeExchanges(j.Deposits, j.Poisoned, len(j.Seeds))
	j.Nodes = tc.nodes(ctx, g)
	return j, nil
}

// graph collects the flow graph's nodes with their role.
type graph struct {
	roles map[[2]string]string
	order [][2]string
	addr  map[[2]string]chains.Address
}

func newGraph() *graph {
	return &graph{roles: map[[2]string]string{}, addr: map[[2]string]chains.Address{}}
}

var rolePriority = map[string]int{"intermediate": 0, "origin": 1, "seed": 2, "service": 3, "deposit": 4, "exchange": 5}

func (g *graph) node(ch, text string, a chains.Address, role string) {
	k := [2]string{ch, text}
	old, ok := g.roles[k]
	if !ok {
		g.order = append(g.order, k)
		g.addr[k] = a
	}
	if !ok || rolePriority[role] > rolePriority[old] {
		g.roles[k] = role
	}
}

func (tc *traceCtx) nodes(ctx context.Context, g *graph) []nodeJSON {
	out := []nodeJSON{}
	// The trace file names chains as chains.Chain does: btc, eth.
	byChain := map[chains.Chain][]chains.Address{}
	for _, k := range g.order {
		byChain[chains.Chain(k[0])] = append(byChain[chains.Chain(k[0])], g.addr[k])
	}
	labelers := map[chains.Chain]tracer.Labeler{}
	for ch, as := range byChain {
		if err := tc.attr.prefetch(ctx, ch, as); err != nil {
			slog.Warn("Reading the labels and clusters of the trace's addresses in one query failed; reading them one by one", "chain", ch, "err", err)
		}
		labelers[ch] = tc.labeler(ch)
	}
	for _, k := range g.order {
		ch := chains.Chain(k[0])
		n := nodeJSON{Chain: k[0], Address: k[1], Role: g.roles[k]}
		a := g.addr[k]
		if cat, name, ok := labelers[ch](a); ok {
			n.Label, n.Category = name, cat
		}
		if tc.attr.cs != nil {
			if id, size, err := tc.attr.cluster(ctx, ch, a); err == nil && size > 1 {
				n.Cluster, n.ClusterSize = id, size
				n.ClusterFlagged = tc.attr.flagged(ctx, ch, id)
			}
		}
		out = append(out, n)
	}
	return out
}

func ratString(r *big.Rat) string {
	if r == nil {
		return "0"
	}
	return new(big.Int).Quo(r.Num(), r.Denom()).String()
}

func (tc *traceCtx) traceBTC(ctx context.Context, j *traceJSON, g *graph, seeds []tracer.Seed, models []string, minAmount *big.Int, until int64) error {
	net, err := tc.btcNet()
	if err != nil {
		return err
	}
	j.Assets["BTC"] = assetJSON{Chain: "btc", Symbol: "BTC", Decimals: 8}
	cfg := tracer.Config{Models: models, MaxHops: tc.opts.MaxHops, MaxNodes: tc.opts.MaxNodes, ThroughMixers: tc.opts.ThroughMixers,
		Until: until, Labels: tc.labeler(chains.Bitcoin), StopAtLabeledSeeds: true,
		Prefetch: func(as []chains.Address) error { return tc.attr.prefetch(ctx, chains.Bitcoin, as) },
		OnHop:    tc.onHop(chains.Bitcoin, "coins")}
	defer tc.prog.done()
	if minAmount != nil {
		if !minAmount.IsInt64() {
			return errors.New("--min-amount is more satoshis than exist")
		}
		cfg.MinAmount = max(minAmount.Int64(), 1)
	}
	j.Params.MinAmount["BTC"] = tracer.DefaultMinAmount(chains.Bitcoin, "").String()
	if cfg.MinAmount > 0 {
		j.Params.MinAmount["BTC"] = strconv.FormatInt(cfg.MinAmount, 10)
	}
	enc := func(a chains.Address) string {
		if a == "" {
			return ""
		}
		return net.MustEncode(a)
	}
	seedTxs, err := tc.st.Txs(ctx, chains.Bitcoin, outpointHashes(seeds))
	if err != nil {
		return err
	}
	base := len(j.Seeds) // the file numbers seeds across chains
	for i, s := range seeds {
		tx := seedTxs[i]
		o := tx.Outputs[s.Outpoint.Index]
		j.Seeds = append(j.Seeds, seedJSON{Chain: "btc", Victim: s.Ref, Tx: s.Outpoint.Hash.String(), Outpoint: s.Outpoint.String(),
			Address: enc(o.Address()), Asset: "BTC", Amount: strconv.FormatInt(o.Value, 10), Height: tx.Height, Time: formatTime(tx.Time)})
		g.node("btc", enc(o.Address()), o.Address(), "seed")
	}
	if tc.opts.Backward {
		res, err := tracer.BitcoinBackward(ctx, tc.st, chains.Bitcoin, seeds, cfg)
		if err != nil {
			return fmt.Errorf("trace: %w", err)
		}
		for _, f := range res.Flows {
			j.Flows = append(j.Flows, btcFlowJSON(f, enc))
			for _, a := range f.From {
				g.node("btc", enc(a), a, "intermediate")
			}
		}
		for _, o := range res.Origins {
			j.Origins = append(j.Origins, originJSON{Chain: "btc", Victim: seeds[o.Seed].Ref, Reason: o.Reason, Category: o.Category, Name: o.Name,
				Address: enc(o.Address), Tx: o.Outpoint.Hash.String(), Outpoint: o.Outpoint.String(), Height: o.Height, Time: formatTime(o.Time),
				Hop: o.Hop, Asset: "BTC", Haircut: ratString(o.Amounts.Haircut), FIFO: strconv.FormatInt(o.Amounts.FIFO, 10), Poison: strconv.FormatInt(o.Amounts.Poison, 10)})
			if o.Address != "" {
				g.node("btc", enc(o.Address), o.Address, "origin")
			}
		}
		j.Stats = append(j.Stats, statsJSON{Chain: "btc", Hops: res.Hops, Queries: res.Lookups, Visited: res.Coins})
		return nil
	}
	res, err := tracer.Bitcoin(ctx, tc.st, chains.Bitcoin, seeds, cfg)
	if err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	times := map[chains.Hash]int64{}
	for _, f := range res.Flows {
		j.Flows = append(j.Flows, btcFlowJSON(f, enc))
		times[f.Tx] = f.Time
		g.node("btc", enc(f.To), f.To, "intermediate")
	}
	for i, s := range seeds {
		times[s.Outpoint.Hash] = seedTxs[i].Time
	}
	var missing []chains.Hash
	for _, d := range res.Deposits {
		if _, ok := times[d.Outpoint.Hash]; !ok {
			times[d.Outpoint.Hash] = 0
			missing = append(missing, d.Outpoint.Hash)
		}
	}
	for _, p := range res.Poisoned {
		if _, ok := times[p.Outpoint.Hash]; !ok {
			times[p.Outpoint.Hash] = 0
			missing = append(missing, p.Outpoint.Hash)
		}
	}
	if txs, err := tc.st.Txs(ctx, chains.Bitcoin, missing); err == nil {
		for _, tx := range txs {
			times[tx.Hash] = tx.Time
		}
	}
	for _, d := range res.Deposits {
		t := times[d.Outpoint.Hash]
		j.Deposits = append(j.Deposits, depositJSON{Chain: "btc", Exchange: d.Exchange, Address: enc(d.Address), Tx: d.Outpoint.Hash.String(),
			Outpoint: d.Outpoint.String(), Height: d.Height, Time: formatTime(t), Asset: "BTC", Value: strconv.FormatInt(d.Value, 10),
			Victim: victimOf(d.Seed, func(i int) string { return seeds[i].Ref }), Haircut: ratString(d.Amounts.Haircut), FIFO: strconv.FormatInt(d.Amounts.FIFO, 10),
			Poison: strconv.FormatInt(d.Amounts.Poison, 10), Hop: d.Hop, Evidence: d.Evidence})
		g.node("btc", enc(d.Address), d.Address, "deposit")
	}
	for _, p := range res.Poisoned {
		j.Poisoned = append(j.Poisoned, tracefile.Poisoned{Chain: "btc", Exchange: p.Exchange, Address: enc(p.Address), Tx: p.Outpoint.Hash.String(),
			Outpoint: p.Outpoint.String(), Height: p.Height, Time: formatTime(times[p.Outpoint.Hash]), Asset: "BTC", Value: strconv.FormatInt(p.Value, 10),
			Hop: p.Hop, Evidence: p.Evidence, Victims: p.Seeds.Len(), Seeds: seedRanges(p.Seeds, base)})
		g.node("btc", enc(p.Address), p.Address, "deposit")
	}
	mergedInto(j.Seeds[base:], res.Merged, ratString)
	for _, s := range res.Stops {
		j.Stops = append(j.Stops, stopJSON{Chain: "btc", Reason: s.Reason, Where: s.Outpoint.String(), Asset: "BTC", Detail: s.Detail})
	}
	for _, pc := range tracer.PeelChains(res.Flows) {
		p := peelJSON{Chain: "btc", Steps: len(pc.Txs), Start: formatTime(pc.Rest[0].Time), End: formatTime(pc.Rest[len(pc.Rest)-1].Time)}
		for i, h := range pc.Txs {
			p.Txs = append(p.Txs, h.String())
			p.Rest = append(p.Rest, enc(pc.Rest[i].To))
			p.Peeled = append(p.Peeled, enc(pc.Peeled[i].To))
		}
		j.PeelChains = append(j.PeelChains, p)
	}
	j.Stats = append(j.Stats, statsJSON{Chain: "btc", Hops: res.Hops, Queries: res.Lookups, Visited: res.Coins, OtherShares: res.MergedShares})
	return nil
}

func outpointHashes(seeds []tracer.Seed) []chains.Hash {
	hs := make([]chains.Hash, len(seeds))
	for i, s := range seeds {
		hs[i] = s.Outpoint.Hash
	}
	return hs
}

func btcFlowJSON(f tracer.Flow, enc func(chains.Address) string) flowJSON {
	fj := flowJSON{Chain: "btc", Tx: f.Tx.String(), Height: f.Height, Time: formatTime(f.Time), Hop: f.Hop, Asset: "BTC", To: enc(f.To),
		Outpoint: f.Output.String(), Value: strconv.FormatInt(f.Value, 10), Haircut: ratString(f.Haircut), FIFO: strconv.FormatInt(f.FIFO, 10),
		Poison: f.Poison, Peel: f.Peel, CoinJoin: f.CoinJoin}
	for _, a := range f.From {
		fj.From = append(fj.From, enc(a))
	}
	return fj
}

// assetID names an Ethereum asset in the trace: ETH or the token contract.
func (tc *traceCtx) assetID(j *traceJSON, a chains.Address) string {
	if a == "" {
		j.Assets["ETH"] = assetJSON{Chain: "eth", Symbol: "ETH", Decimals: 18}
		return "ETH"
	}
	id := ethereum.FormatAddress(a)
	if _, ok := j.Assets[id]; !ok {
		aj := assetJSON{Chain: "eth", Symbol: id}
		if t, err := tc.ab.Token(tc.c.Context, chains.Ethereum, a); err == nil {
			if t.HasSymbol {
				aj.Symbol = t.Symbol
			}
			if t.HasDecimals {
				aj.Decimals = int(t.Decimals)
			}
		}
		j.Assets[id] = aj
	}
	return id
}

func (tc *traceCtx) traceETH(ctx context.Context, j *traceJSON, g *graph, seeds []tracer.AccountSeed, models []string, minAmount *big.Int, until int64) error {
	ab, err := tc.account()
	if err != nil {
		return err
	}
	cfg := tracer.AccountConfig{Models: models, MaxHops: tc.opts.MaxHops, MaxNodes: tc.opts.MaxNodes, Until: until, Labels: tc.labeler(chains.Ethereum), StopAtLabeledSeeds: true,
		Prefetch: func(as []chains.Address) error { return tc.attr.prefetch(ctx, chains.Ethereum, as) },
		OnHop:    tc.onHop(chains.Ethereum, "addresses")}
	defer tc.prog.done()
	if minAmount != nil {
		cfg.MinAmount = map[chains.Address]*big.Int{}
		for _, s := range seeds {
			cfg.MinAmount[s.Transfer.Asset] = minAmount
		}
	}
	enc := ethereum.FormatAddress
	base := len(j.Seeds) // the file numbers seeds across chains
	for _, s := range seeds {
		t := s.Transfer
		asset := tc.assetID(j, t.Asset)
		j.Seeds = append(j.Seeds, seedJSON{Chain: "eth", Victim: s.Ref, Tx: "0x" + t.TxHash.String(), Position: t.Position, Address: enc(t.To),
			Asset: asset, Amount: t.Amount.String(), Height: t.Height, Time: formatTime(t.Time)})
		g.node("eth", enc(t.To), t.To, "seed")
		m := tracer.DefaultMinAmount(chains.Ethereum, t.Asset)
		if minAmount != nil {
			m = minAmount
		}
		j.Params.MinAmount[asset] = m.String()
	}
	flow := func(f tracer.AccountFlow) flowJSON {
		t := f.Transfer
		return flowJSON{Chain: "eth", Tx: "0x" + t.TxHash.String(), Height: t.Height, Time: formatTime(t.Time), Hop: f.Hop, Asset: tc.assetID(j, t.Asset),
			From: []string{enc(t.From)}, To: enc(t.To), Position: t.Position, Value: t.Amount.String(), Haircut: f.Amounts.HaircutUnits().String(),
			FIFO: f.Amounts.FIFO.String(), Poison: f.Amounts.Poison.Sign() > 0}
	}
	if tc.opts.Backward {
		res, err := tracer.AccountBackward(ctx, ab, chains.Ethereum, seeds, cfg)
		if err != nil {
			return fmt.Errorf("trace: %w", err)
		}
		for _, f := range res.Flows {
			j.Flows = append(j.Flows, flow(f))
			g.node("eth", enc(f.Transfer.From), f.Transfer.From, "intermediate")
		}
		for _, o := range res.Origins {
			t := o.Transfer
			oj := originJSON{Chain: "eth", Victim: seeds[o.Seed].Ref, Reason: o.Reason, Category: o.Category, Name: o.Name,
				Tx: "0x" + t.TxHash.String(), Position: t.Position, Height: t.Height, Time: formatTime(t.Time), Hop: o.Hop, Asset: tc.assetID(j, t.Asset),
				Haircut: o.Amounts.HaircutUnits().String(), FIFO: o.Amounts.FIFO.String(), Poison: o.Amounts.Poison.String()}
			if o.Address != "" {
				oj.Address = enc(o.Address)
				g.node("eth", oj.Address, o.Address, "origin")
			}
			j.Origins = append(j.Origins, oj)
		}
		j.Stats = append(j.Stats, statsJSON{Chain: "eth", Hops: res.Hops, Queries: res.Lookups, Visited: res.Visits})
		return nil
	}
	res, err := tracer.Account(ctx, ab, chains.Ethereum, seeds, cfg)
	if err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	for _, f := range res.Flows {
		j.Flows = append(j.Flows, flow(f))
		g.node("eth", enc(f.Transfer.To), f.Transfer.To, "intermediate")
	}
	for _, d := range res.Deposits {
		t := d.Transfer
		j.Deposits = append(j.Deposits, depositJSON{Chain: "eth", Exchange: d.Exchange, Address: enc(d.Address), Tx: "0x" + t.TxHash.String(),
			Position: t.Position, Height: t.Height, Time: formatTime(t.Time), Asset: tc.assetID(j, t.Asset), Value: t.Amount.String(),
			Victim: victimOf(d.Seed, func(i int) string { return seeds[i].Ref }), Haircut: d.Amounts.HaircutUnits().String(), FIFO: d.Amounts.FIFO.String(),
			Poison: d.Amounts.Poison.String(), Hop: d.Hop, Evidence: d.Evidence})
		g.node("eth", enc(d.Address), d.Address, "deposit")
	}
	for _, p := range res.Poisoned {
		t := p.Transfer
		j.Poisoned = append(j.Poisoned, tracefile.Poisoned{Chain: "eth", Exchange: p.Exchange, Address: enc(p.Address), Tx: "0x" + t.TxHash.String(),
			Position: t.Position, Height: t.Height, Time: formatTime(t.Time), Asset: tc.assetID(j, t.Asset), Value: t.Amount.String(),
			Hop: p.Hop, Evidence: p.Evidence, Victims: p.Seeds.Len(), Seeds: seedRanges(p.Seeds, base)})
		g.node("eth", enc(p.Address), p.Address, "deposit")
	}
	mergedInto(j.Seeds[base:], res.Merged, ratString)
	for _, s := range res.Stops {
		sj := stopJSON{Chain: "eth", Reason: s.Reason, Where: enc(s.Address), Asset: tc.assetID(j, s.Asset), Detail: s.Detail,
			Haircut: s.Amounts.HaircutUnits().String(), FIFO: s.Amounts.FIFO.String()}
		if s.Tx != (chains.Hash{}) {
			sj.Tx = "0x" + s.Tx.String()
		}
		j.Stops = append(j.Stops, sj)
	}
	j.Stats = append(j.Stats, statsJSON{Chain: "eth", Hops: res.Hops, Queries: res.Lookups, Visited: res.Visits, OtherShares: res.MergedShares})
	return nil
}

// victimOf names a deposit row's seed: its reference, or the
// other-victims remainder.
func victimOf(seed int, ref func(int) string) string {
	if seed == tracer.Other {
		return tracefile.OtherVictims
	}
	return ref(seed)
}

// seedRanges writes a poison set as the file's seed numbers (the chain's
// seeds start at base in the file's list).
func seedRanges(s *tracer.SeedSet, base int) string {
	ids := make([]int, 0, s.Len())
	s.Each(func(i int) { ids = append(ids, base+i) })
	return tracefile.FormatRanges(ids)
}

// mergedInto records on each seed how much of it the haircut model merged
// into the other-victims remainder.
func mergedInto(seeds []seedJSON, merged map[int]*big.Rat, units func(*big.Rat) string) {
	for i, r := range merged {
		if i >= 0 && i < len(seeds) && r.Sign() > 0 {
			seeds[i].MergedIntoOther = units(r)
		}
	}
}

// writePoisonPairs writes every victim and deposit a trace's poison sets
// link, one CSV row each, streamed: a case of a thousand victims through
// shared hubs has millions.
func writePoisonPairs(w io.Writer, j *traceJSON) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"victim", "seed", "chain", "exchange", "deposit_address", "txid", "outpoint", "position", "height", "time", "asset", "value", "hop"})
	for _, p := range j.Poisoned {
		ids, err := tracefile.ParseRanges(p.Seeds, len(j.Seeds))
		if err != nil {
			return fmt.Errorf("poisoned deposit %s: %w", p.Tx, err)
		}
		for _, i := range ids {
			cw.Write([]string{j.Seeds[i].Victim, strconv.Itoa(i + 1), p.Chain, p.Exchange, p.Address, p.Tx, p.Outpoint, p.Position,
				strconv.FormatInt(p.Height, 10), p.Time, p.Asset, p.Value, strconv.Itoa(p.Hop)})
		}
	}
	cw.Flush()
	return cw.Error()
}

// writeFileAtomic writes a file through write into a temporary file
// beside it, renamed over p only once whole: an interrupted run leaves
// the previous file, never half of one.
func writeFileAtomic(p string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}

// summarizeExchanges groups deposits by exchange and deposit address,
// with first and last seen and totals per asset and model.
// Deposits counts deposit rows (a victim's money by one transaction);
// poison's totals count each poisoned deposit's value once, and
// poison_victims how many victims' money touched the address.
func summarizeExchanges(ds []depositJSON, ps []tracefile.Poisoned, nSeeds int) []exchangeJSON {
	byEx, names := byExchange(ds)
	poisonBy := map[string][]tracefile.Poisoned{}
	for _, p := range ps {
		if _, ok := byEx[p.Exchange]; !ok && len(poisonBy[p.Exchange]) == 0 {
			names = append(names, p.Exchange)
		}
		poisonBy[p.Exchange] = append(poisonBy[p.Exchange], p)
	}
	sort.Strings(names)
	out := []exchangeJSON{}
	for _, e := range names {
		ex := exchangeJSON{Exchange: e, Deposits: len(byEx[e])}
		at := map[[2]string]int{}
		addr := func(chain, address, asset, time string) *depositAddressJSON {
			k := [2]string{chain, address}
			i, ok := at[k]
			if !ok {
				i = len(ex.Addresses)
				at[k] = i
				ex.Addresses = append(ex.Addresses, depositAddressJSON{Chain: chain, Address: address, FirstSeen: time, LastSeen: time,
					Totals: map[string]map[string]string{}})
			}
			a := &ex.Addresses[i]
			a.FirstSeen, a.LastSeen = min(a.FirstSeen, time), max(a.LastSeen, time)
			if a.Totals[asset] == nil {
				a.Totals[asset] = map[string]string{"haircut": "0", "fifo": "0", "poison": "0"}
			}
			if ex.FirstSeen == "" {
				ex.FirstSeen, ex.LastSeen = time, time
			}
			ex.FirstSeen, ex.LastSeen = min(ex.FirstSeen, time), max(ex.LastSeen, time)
			return a
		}
		for _, d := range byEx[e] {
			a := addr(d.Chain, d.Address, d.Asset, d.Time)
			a.Deposits++
			a.Totals[d.Asset]["haircut"] = tracefile.AddUnits(a.Totals[d.Asset]["haircut"], d.Haircut)
			a.Totals[d.Asset]["fifo"] = tracefile.AddUnits(a.Totals[d.Asset]["fifo"], d.FIFO)
			if !slices.Contains(a.Victims, d.Victim) {
				a.Victims = append(a.Victims, d.Victim)
			}
		}
		touched := map[[2]string][]bool{}
		for _, p := range poisonBy[e] {
			a := addr(p.Chain, p.Address, p.Asset, p.Time)
			a.Totals[p.Asset]["poison"] = tracefile.AddUnits(a.Totals[p.Asset]["poison"], p.Value)
			k := [2]string{p.Chain, p.Address}
			if touched[k] == nil {
				touched[k] = make([]bool, nSeeds)
			}
			ids, _ := tracefile.ParseRanges(p.Seeds, nSeeds)
			for _, i := range ids {
				if !touched[k][i] {
					touched[k][i] = true
					a.PoisonVictims++
				}
			}
		}
		for i := range ex.Addresses {
			if ex.Addresses[i].Victims == nil {
				ex.Addresses[i].Victims = []string{}
			}
		}
		sort.SliceStable(ex.Addresses, func(i, k int) bool { return ex.Addresses[i].FirstSeen < ex.Addresses[k].FirstSeen })
		out = append(out, ex)
	}
	return out
}

// decimalUnits renders base units with the asset's decimals, exactly.
func decimalUnits(amount string, decimals int) string {
	d := uint8(decimals)
	return formatUnits(amount, &d)
}

func printTrace(c *cli.Context, j *traceJSON) {
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

// byExchange groups deposits by exchange, the names sorted.
func byExchange(ds []depositJSON) (map[string][]depositJSON, []string) {
	by := map[string][]depositJSON{}
	for _, d := range ds {
		by[d.Exchange] = append(by[d.Exchange], d)
	}
	return by, slices.Sorted(maps.Keys(by))
}

// readTrace reads a trace file written by fundtrace trace --out, refusing
// another schema with a message saying so.
func readTrace(p string) (*traceJSON, error) { return tracefile.Read(p) }

// scanTrace reads a trace file as a stream, handing its long sections to
// h (see tracefile.Scan).
func scanTrace(p string, h tracefile.Handler) (*traceJSON, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return tracefile.Scan(bufio.NewReaderSize(f, 1<<20), p, h)
}
