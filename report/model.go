package report

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fundtrace/fundtrace/tracefile"
)

// Money is an amount shown in its unit and in fiat.
type Money struct {
	Units string // base units
	Text  string // in the asset's unit, e.g. "0.01439517 BTC"
	USD   string // "" when the price is missing
	Fiat  string
	asset string // the asset's id in the trace
}

// Heuristic is a rule the trace relied on, with its measured accuracy.
type Heuristic struct {
	Name       string `json:"name"`
	Rule       string `json:"rule"`
	Confidence string `json:"confidence"` // measured accuracy, and on what
}

// model is what the report, its annexes and the letters print: built
// from the trace as it streams past (flows go straight to their CSV and
// the graph's sums), bounded by the victims, the deposits and the graph's
// nodes.
type model struct {
	L        *lang
	Info     Info
	Extra    []string // the names of the files the bundle carries besides its own
	Case     CaseInfo
	Date     string
	FiatName string
	pricer   Pricer

	Schema string
	Models []string
	Params tracefile.Params
	Assets map[string]tracefile.Asset

	Payments   int // the victims' payments traced
	Victims    []victimRow
	Paid       []Money // per asset, all victims' payments
	First      string  // the first and last victim payment
	Last       string
	Exchanges  []exchangeRow
	Totals     []totalRow
	TotalsFlat map[string]string
	Heuristics []Heuristic
	Graph      *graph
	Timeline   *timeline
	Stops      []stopRow
	Flows      int
	Poisoned   int // deposits poison reached
	PeelChains int
	Merged     []Money // per asset: haircut shares merged into "(other victims)"
	// LetterNote says why no letter was written ("" when they were).
	LetterNote string
	deposits   []tracefile.Deposit
}

// victimRow is one victim's line in the paths annex: what they paid and
// where it went.
type victimRow struct {
	Victim   string
	Payments int
	Paid     []Money
	First    string
	Hops     string // the fewest and most hops to a deposit
	Reached  []reachRow
}

type reachRow struct {
	Exchange      string
	Haircut, FIFO []Money
}

type exchangeRow struct {
	Name      string
	Addresses []addressRow
	Payments  []paymentRow // one per deposit payment (all victims' money in it)
	Deposits  int          // the trace's deposit rows (victim × payment)
	First     string
	Last      string
	Haircut   []Money // per asset
	FIFO      []Money
	Victims   int
	rows      []tracefile.Deposit
}

// paymentRow is one payment into a deposit address: what a compliance
// desk looks up.
type paymentRow struct {
	Address, Chain, Tx, Where, Time string
	Ref                             string // the output (UTXO) or the transaction and position (account)
	Height                          int64
	Value, Haircut, FIFO            Money
	Victims                         int
	Evidence                        string
}

type addressRow struct {
	Chain, Address, First, Last string
	Deposits                    int
	Haircut, FIFO               []Money
	Victims                     int
	Evidence                    string
}

type totalRow struct {
	Asset, Model string
	Amount       Money
}

type stopRow struct {
	Reason string
	Count  int
}

// money renders base units of asset at time t (RFC 3339).
func (m *model) money(asset, units, t string) Money {
	a := m.Assets[asset]
	mo := Money{Units: units, Text: decimal(units, a.Decimals) + " " + a.Symbol, asset: asset}
	mo.USD = m.pricer.value(a, units, t, "USD")
	if m.FiatName != "" {
		mo.Fiat = m.pricer.value(a, units, t, m.FiatName)
	}
	return mo
}

// decimal renders base units with decimals places, exactly.
func decimal(units string, decimals int) string {
	neg := strings.HasPrefix(units, "-")
	units = strings.TrimPrefix(units, "-")
	if decimals > 0 {
		for len(units) <= decimals {
			units = "0" + units
		}
		units = units[:len(units)-decimals] + "." + units[len(units)-decimals:]
	}
	if neg {
		units = "-" + units
	}
	return units
}

func unixOf(rfc string) int64 {
	t, err := time.Parse(time.RFC3339, rfc)
	if err != nil {
		return 0
	}
	return t.Unix()
}

// sums adds amounts per asset, each valued at its own day: the fiat sum
// is known only when every part's is.
type sums struct {
	m     *model
	units map[string]string
	usd   map[string]*big.Rat
	fiat  map[string]*big.Rat
	noUSD map[string]bool
	noFi  map[string]bool
}

func (m *model) newSums() *sums {
	return &sums{m: m, units: map[string]string{}, usd: map[string]*big.Rat{}, fiat: map[string]*big.Rat{}, noUSD: map[string]bool{}, noFi: map[string]bool{}}
}

func (s *sums) add(asset, units, t string) {
	if units == "" {
		units = "0"
	}
	s.units[asset] = tracefile.AddUnits(s.units[asset], units)
	mo := s.m.money(asset, units, t)
	addRat := func(into map[string]*big.Rat, no map[string]bool, v string) {
		r, ok := new(big.Rat).SetString(v)
		if v == "" || !ok {
			no[asset] = true
			return
		}
		if into[asset] == nil {
			into[asset] = new(big.Rat)
		}
		into[asset].Add(into[asset], r)
	}
	addRat(s.usd, s.noUSD, mo.USD)
	if s.m.FiatName != "" {
		addRat(s.fiat, s.noFi, mo.Fiat)
	}
}

// list is the sums, one Money per asset in asset order.
func (s *sums) list() []Money {
	var out []Money
	for _, asset := range slices.Sorted(maps.Keys(s.units)) {
		a := s.m.Assets[asset]
		mo := Money{Units: s.units[asset], Text: decimal(s.units[asset], a.Decimals) + " " + a.Symbol, asset: asset}
		if !s.noUSD[asset] && s.usd[asset] != nil {
			mo.USD = s.usd[asset].FloatString(2)
		}
		if s.m.FiatName != "" && !s.noFi[asset] && s.fiat[asset] != nil {
			mo.Fiat = s.fiat[asset].FloatString(2)
		}
		out = append(out, mo)
	}
	return out
}

// buildModel reads the trace as a stream and builds what the report
// prints; the flows go straight into transactions.csv and
// flow_sources.csv.
func buildModel(in Input, l *lang) (*model, []byte, []byte, error) {
	name := in.TraceName
	if name == "" {
		name = "the trace"
	}
	m := &model{L: l, Info: in.Info, Date: in.Date, FiatName: strings.ToUpper(in.Fiat), TotalsFlat: map[string]string{}, Extra: slices.Sorted(maps.Keys(in.Extra))}
	if m.FiatName == "USD" {
		m.FiatName = ""
	}
	if in.Case != nil {
		m.Case = *in.Case
	}
	m.Case.Reference = cmp.Or(in.Info.Options["case_ref"], m.Case.Reference)
	m.pricer = Pricer{Table: in.Prices, Fiat: m.FiatName}
	g := newGraphIn()
	var fc *flowsCSV
	// start checks the trace's head and sets up the flows' CSV: Scan calls
	// it before the first long section, so before any flow.
	start := func(t *tracefile.Trace) error {
		if t.Direction != "forward" {
			return fmt.Errorf("a %s trace: a report is made from a forward trace", t.Direction)
		}
		m.Assets = t.Assets
		fc = newFlowsCSV(t.Assets, m.pricer)
		return nil
	}
	poisoned := 0
	t, err := tracefile.Scan(bytes.NewReader(in.TraceBytes), name, tracefile.Handler{
		Start: start,
		Node:  func(n tracefile.Node) error { g.nodes[n.Chain+"/"+n.Address] = n; return nil },
		Flow: func(f tracefile.Flow) error {
			m.Flows++
			fc.add(f)
			g.flow(f)
			return nil
		},
		Poisoned: func(tracefile.Poisoned) error { poisoned++; return nil },
		Stop:     func(tracefile.Stop) error { return nil },
	})
	if err != nil {
		return nil, nil, nil, err
	}
	if fc == nil { // a trace without any long section: Scan never started one
		if err := start(t); err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	m.Schema, m.Models, m.Params, m.Poisoned, m.PeelChains = t.Schema, t.Models, t.Params, poisoned, len(t.PeelChains)
	m.deposits = t.Deposits
	// Victims and their payments.
	paid, merged := m.newSums(), m.newSums() // what the victims paid; what haircut merged into "(other victims)"
	byVictim := map[string]*victimRow{}
	var victims []string
	vPaid := map[string]*sums{}
	for _, s := range t.Seeds {
		m.Payments++
		if s.MergedIntoOther != "" {
			merged.add(s.Asset, s.MergedIntoOther, s.Time)
		}
		paid.add(s.Asset, s.Amount, s.Time)
		if m.First == "" || s.Time < m.First {
			m.First = s.Time
		}
		m.Last = max(m.Last, s.Time)
		v := byVictim[s.Victim]
		if v == nil {
			v = &victimRow{Victim: s.Victim, First: s.Time}
			byVictim[s.Victim] = v
			victims = append(victims, s.Victim)
			vPaid[s.Victim] = m.newSums()
		}
		v.Payments++
		v.First = min(v.First, s.Time)
		vPaid[s.Victim].add(s.Asset, s.Amount, s.Time)
		g.seed(s)
	}
	m.Paid = paid.list()
	// Exchanges: totals, deposit addresses, payments.
	totals := map[string]*sums{"haircut": m.newSums(), "fifo": m.newSums()}
	type vx struct{ victim, exchange string }
	reach := map[vx][2]*sums{}
	hops := map[string][2]int{}
	for _, d := range t.Deposits {
		totals["haircut"].add(d.Asset, d.Haircut, d.Time)
		totals["fifo"].add(d.Asset, d.FIFO, d.Time)
		k := vx{d.Victim, d.Exchange}
		r, ok := reach[k]
		if !ok {
			r = [2]*sums{m.newSums(), m.newSums()}
			reach[k] = r
		}
		r[0].add(d.Asset, d.Haircut, d.Time)
		r[1].add(d.Asset, d.FIFO, d.Time)
		h, ok := hops[d.Victim]
		if !ok {
			h = [2]int{d.Hop, d.Hop}
		}
		hops[d.Victim] = [2]int{min(h[0], d.Hop), max(h[1], d.Hop)}
	}
	for _, model := range []string{"haircut", "fifo"} {
		for _, mo := range totals[model].list() {
			asset := mo.asset
			m.Totals = append(m.Totals, totalRow{Asset: m.Assets[asset].Symbol, Model: model, Amount: mo})
			m.TotalsFlat[asset+"/"+model] = mo.Units
		}
	}
	sort.SliceStable(m.Totals, func(i, j int) bool {
		return m.Totals[i].Asset+m.Totals[i].Model < m.Totals[j].Asset+m.Totals[j].Model
	})
	for _, name := range victims {
		v := byVictim[name]
		v.Paid = vPaid[name].list()
		if h, ok := hops[name]; ok {
			v.Hops = fmt.Sprint(h[0])
			if h[1] != h[0] {
				v.Hops = fmt.Sprintf("%d-%d", h[0], h[1])
			}
		}
		for _, e := range t.Exchanges {
			if r, ok := reach[vx{name, e.Exchange}]; ok {
				v.Reached = append(v.Reached, reachRow{Exchange: e.Exchange, Haircut: r[0].list(), FIFO: r[1].list()})
			}
		}
		m.Victims = append(m.Victims, *v)
	}
	m.Exchanges = m.exchanges(t)
	m.Merged = merged.list()
	for _, r := range slices.Sorted(maps.Keys(t.StopCounts)) {
		m.Stops = append(m.Stops, stopRow{r, t.StopCounts[r]})
	}
	m.Heuristics = heuristics(t, in.Info)
	m.Graph = g.build(m.Assets, t.PeelChains, t.Deposits, len(t.Seeds), l)
	m.Timeline = buildTimeline(t.Seeds, t.Deposits, m.Assets, m.pricer)
	if err := in.Case.sender(); err != nil {
		m.LetterNote = err.Error()
	}
	flows, sources := fc.done()
	return m, flows, sources, nil
}

// Payments listed in the report's annex and in a letter, per exchange:
// the largest by haircut; the others are summed in a line that says where
// each is (deposits.csv, the exchange's CSV and JSON).
const (
	annexPayments  = 250
	letterPayments = 300
)

// largest keeps the n largest payments by haircut (in their order) and
// sums the others per asset.
func (m *model) largest(ps []paymentRow, n int) (kept []paymentRow, rest int, restText string) {
	if len(ps) <= n {
		return ps, 0, ""
	}
	idx := make([]int, len(ps))
	for i := range idx {
		idx[i] = i
	}
	units := func(mo Money) *big.Int {
		v, _ := new(big.Int).SetString(mo.Units, 10)
		if v == nil {
			v = new(big.Int)
		}
		return v
	}
	sort.SliceStable(idx, func(a, b int) bool { return units(ps[idx[a]].Haircut).Cmp(units(ps[idx[b]].Haircut)) > 0 })
	keep := map[int]bool{}
	for _, i := range idx[:n] {
		keep[i] = true
	}
	other := m.newSums()
	for i, p := range ps {
		if keep[i] {
			kept = append(kept, p)
			continue
		}
		other.add(p.Haircut.asset, p.Haircut.Units, p.Time)
	}
	return kept, len(ps) - n, texts(other.list(), ", ")
}

// refOf names a payment: its output on a UTXO chain (the transaction's
// hash and the output's index), else its transaction and position.
func refOf(tx, outpoint, position string) string {
	switch {
	case outpoint != "":
		return outpoint
	case position != "":
		return tx + " " + position
	}
	return tx
}

// exchanges sums the deposits of each exchange reached with money under
// haircut or FIFO (one only poison reached has none to freeze).
func (m *model) exchanges(t *tracefile.Trace) []exchangeRow {
	byEx := map[string][]tracefile.Deposit{}
	for _, d := range t.Deposits {
		byEx[d.Exchange] = append(byEx[d.Exchange], d)
	}
	var out []exchangeRow
	for _, e := range t.Exchanges {
		if ds := byEx[e.Exchange]; len(ds) > 0 {
			out = append(out, m.exchange(e, ds))
		}
	}
	return out
}

// exchange sums one exchange's deposits by address and by payment; its
// rows are ordered by deposit address and time.
func (m *model) exchange(e tracefile.Exchange, ds []tracefile.Deposit) exchangeRow {
	ds = slices.Clone(ds)
	sort.SliceStable(ds, func(i, k int) bool {
		if ds[i].Address != ds[k].Address {
			return ds[i].Address < ds[k].Address
		}
		return ds[i].Time < ds[k].Time
	})
	row := exchangeRow{Name: e.Exchange, First: e.FirstSeen, Last: e.LastSeen, Deposits: len(ds), rows: ds}
	hc, ff := m.newSums(), m.newSums()
	victims := map[string]bool{}
	type addrAcc struct {
		row    addressRow
		hc, ff *sums
		vs     map[string]bool
	}
	addrs := map[string]*addrAcc{}
	var order []string
	type payAcc struct {
		row    paymentRow
		hc, ff *sums
		asset  string
		vs     map[string]bool
	}
	pays := map[string]*payAcc{}
	var porder []string
	for _, d := range ds {
		hc.add(d.Asset, d.Haircut, d.Time)
		ff.add(d.Asset, d.FIFO, d.Time)
		if d.Victim != tracefile.OtherVictims {
			victims[d.Victim] = true
		}
		a := addrs[d.Chain+"/"+d.Address]
		if a == nil {
			a = &addrAcc{row: addressRow{Chain: d.Chain, Address: d.Address, First: d.Time, Last: d.Time, Evidence: d.Evidence}, hc: m.newSums(), ff: m.newSums(), vs: map[string]bool{}}
			addrs[d.Chain+"/"+d.Address] = a
			order = append(order, d.Chain+"/"+d.Address)
		}
		a.row.First, a.row.Last = min(a.row.First, d.Time), max(a.row.Last, d.Time)
		a.row.Deposits++
		a.hc.add(d.Asset, d.Haircut, d.Time)
		a.ff.add(d.Asset, d.FIFO, d.Time)
		if d.Victim != tracefile.OtherVictims {
			a.vs[d.Victim] = true
		}
		pk := d.Chain + "/" + d.Tx + "/" + whereOf(d.Outpoint, d.Position)
		p := pays[pk]
		if p == nil {
			p = &payAcc{row: paymentRow{Address: d.Address, Chain: d.Chain, Tx: d.Tx, Where: whereOf(d.Outpoint, d.Position), Ref: refOf(d.Tx, d.Outpoint, d.Position),
				Time: d.Time, Height: d.Height,
				Value: m.money(d.Asset, d.Value, d.Time), Evidence: d.Evidence}, hc: m.newSums(), ff: m.newSums(), asset: d.Asset, vs: map[string]bool{}}
			pays[pk] = p
			porder = append(porder, pk)
		}
		p.hc.add(d.Asset, d.Haircut, d.Time)
		p.ff.add(d.Asset, d.FIFO, d.Time)
		if d.Victim != tracefile.OtherVictims {
			p.vs[d.Victim] = true
		}
	}
	row.Haircut, row.FIFO, row.Victims = hc.list(), ff.list(), len(victims)
	for _, k := range order {
		a := addrs[k]
		a.row.Haircut, a.row.FIFO, a.row.Victims = a.hc.list(), a.ff.list(), len(a.vs)
		row.Addresses = append(row.Addresses, a.row)
	}
	sort.SliceStable(row.Addresses, func(i, j int) bool { return row.Addresses[i].Address < row.Addresses[j].Address })
	for _, k := range porder {
		p := pays[k]
		p.row.Haircut, p.row.FIFO, p.row.Victims = p.hc.list()[0], p.ff.list()[0], len(p.vs)
		row.Payments = append(row.Payments, p.row)
	}
	sort.SliceStable(row.Payments, func(i, j int) bool {
		a, b := row.Payments[i], row.Payments[j]
		return cmp.Or(cmp.Compare(a.Address, b.Address), cmp.Compare(a.Time, b.Time), cmp.Compare(a.Tx, b.Tx), cmp.Compare(a.Where, b.Where)) < 0
	})
	return row
}
