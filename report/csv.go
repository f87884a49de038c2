package report

import (
	"bytes"
	"encoding/csv"
	"math/big"
	"strconv"
	"strings"

	"github.com/fundtrace/fundtrace/prices"
	"github.com/fundtrace/fundtrace/tracefile"
)

// The bundle's data files are normalised for spreadsheets and scripts:
// one row per thing, no cell packing several values, units in the
// headers, numeric columns numeric (a value not known is an empty cell
// and a status column says why, never a word in a number's place).

// Pricer values amounts in USD and, optionally, one more currency, at
// the price of each amount's own UTC day.
type Pricer struct {
	Table *prices.Table // nil or empty: no prices
	Fiat  string        // besides USD ("" none)
}

func (p Pricer) fiat() string {
	if f := strings.ToUpper(p.Fiat); f != "USD" {
		return f
	}
	return ""
}

// value is units of asset a at time t in currency cur: "" when the
// price is missing.
func (p Pricer) value(a tracefile.Asset, units string, t string, cur string) string {
	if p.Table == nil {
		return ""
	}
	v, ok := new(big.Int).SetString(units, 10)
	if !ok {
		return ""
	}
	if x := p.Table.Value(a.Symbol, cur, unixOf(t), v, a.Decimals); x != nil {
		return x.FloatString(2)
	}
	return ""
}

// status says whether the prices covered a row's day.
func (p Pricer) status(a tracefile.Asset, t string, usd string) string {
	switch {
	case usd != "":
		return "priced"
	case p.Table == nil || p.Table.Len() == 0:
		return "no price files"
	default:
		return "no " + a.Symbol + " price for " + dayOf(t)
	}
}

func dayOf(t string) string {
	if len(t) >= 10 {
		return t[:10]
	}
	return t
}

// DepositColumns is the header of a freezing request's CSV, the same
// from fundtrace freeze and from fundtrace report (fiat columns follow
// the USD ones when a currency besides USD is asked for).
func DepositColumns(fiat string) []string {
	h := []string{"exchange", "chain", "deposit_address", "txid", "output_or_position", "block", "time_utc", "asset", "decimals",
		"value_base_units", "value_in_asset", "victim", "hop", "haircut_base_units", "haircut_in_asset", "fifo_base_units", "fifo_in_asset",
		"haircut_usd", "fifo_usd"}
	if f := strings.ToLower(fiat); f != "" && f != "usd" {
		h = append(h, "haircut_"+f, "fifo_"+f)
	}
	return append(h, "price_status", "evidence")
}

// DepositsCSV writes deposits, one row per deposit row of the trace (a
// victim's money into one deposit payment), for an exchange's
// compliance desk.
func DepositsCSV(assets map[string]tracefile.Asset, ds []tracefile.Deposit, p Pricer) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(DepositColumns(p.fiat()))
	for _, d := range ds {
		a := assets[d.Asset]
		hu, fu := p.value(a, d.Haircut, d.Time, "USD"), p.value(a, d.FIFO, d.Time, "USD")
		row := []string{d.Exchange, d.Chain, d.Address, d.Tx, whereOf(d.Outpoint, d.Position), strconv.FormatInt(d.Height, 10), d.Time, a.Symbol,
			strconv.Itoa(a.Decimals), d.Value, decimal(d.Value, a.Decimals), d.Victim, strconv.Itoa(d.Hop), d.Haircut, decimal(d.Haircut, a.Decimals),
			d.FIFO, decimal(d.FIFO, a.Decimals), hu, fu}
		if f := p.fiat(); f != "" {
			row = append(row, p.value(a, d.Haircut, d.Time, f), p.value(a, d.FIFO, d.Time, f))
		}
		w.Write(append(row, p.status(a, d.Time, hu), d.Evidence))
	}
	w.Flush()
	return b.Bytes()
}

func whereOf(outpoint, position string) string {
	if outpoint != "" {
		return outpoint
	}
	return position
}

// flowsCSV writes transactions.csv (one row per flow) and
// flow_sources.csv (one row per flow and address it came from) as the
// trace's flows stream past, so that no flow is held.
type flowsCSV struct {
	assets      map[string]tracefile.Asset
	p           Pricer
	flows, srcs bytes.Buffer
	fw, sw      *csv.Writer
	n           int
}

func newFlowsCSV(assets map[string]tracefile.Asset, p Pricer) *flowsCSV {
	c := &flowsCSV{assets: assets, p: p}
	c.fw, c.sw = csv.NewWriter(&c.flows), csv.NewWriter(&c.srcs)
	h := []string{"flow", "hop", "chain", "txid", "output_or_position", "block", "time_utc", "from", "sources", "to", "asset", "decimals",
		"value_base_units", "value_in_asset", "haircut_base_units", "haircut_in_asset", "fifo_base_units", "fifo_in_asset", "poison",
		"haircut_usd", "fifo_usd"}
	if f := p.fiat(); f != "" {
		h = append(h, "haircut_"+strings.ToLower(f), "fifo_"+strings.ToLower(f))
	}
	c.fw.Write(append(h, "price_status"))
	c.sw.Write([]string{"flow", "txid", "from"})
	return c
}

func (c *flowsCSV) add(f tracefile.Flow) {
	c.n++
	id := strconv.Itoa(c.n)
	a := c.assets[f.Asset]
	from := ""
	if len(f.From) == 1 {
		from = f.From[0]
	}
	hu, fu := c.p.value(a, f.Haircut, f.Time, "USD"), c.p.value(a, f.FIFO, f.Time, "USD")
	row := []string{id, strconv.Itoa(f.Hop), f.Chain, f.Tx, whereOf(f.Outpoint, f.Position), strconv.FormatInt(f.Height, 10), f.Time, from,
		strconv.Itoa(len(f.From)), f.To, a.Symbol, strconv.Itoa(a.Decimals), f.Value, decimal(f.Value, a.Decimals), f.Haircut,
		decimal(f.Haircut, a.Decimals), f.FIFO, decimal(f.FIFO, a.Decimals), strconv.FormatBool(f.Poison), hu, fu}
	if fi := c.p.fiat(); fi != "" {
		row = append(row, c.p.value(a, f.Haircut, f.Time, fi), c.p.value(a, f.FIFO, f.Time, fi))
	}
	c.fw.Write(append(row, c.p.status(a, f.Time, hu)))
	for _, s := range f.From {
		c.sw.Write([]string{id, f.Tx, s})
	}
}

func (c *flowsCSV) done() (flows, sources []byte) {
	c.fw.Flush()
	c.sw.Flush()
	return c.flows.Bytes(), c.srcs.Bytes()
}
