// Package report turns a trace into what a prosecutor files and an
// exchange acts on: a self-contained HTML report, the same as PDF, one
// freezing-request letter per exchange (PDF and CSV), a spreadsheet of
// every transaction, and a manifest of every input and output with its
// SHA-256, so that the bundle can be verified and reproduced byte for
// byte from the same inputs.
//
// Nothing here reads a clock or the environment: every figure and date
// comes from the trace, the prices and the options.
package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/fundtrace/fundtrace/prices"
	"github.com/fundtrace/fundtrace/tracefile"
)

// ManifestSchema names the manifest's format.
const ManifestSchema = "fundtrace-report/1"

// Input is everything a report is made from.
type Input struct {
	Trace      *tracefile.Trace
	TraceBytes []byte // the trace file as read, copied into the bundle
	Prices     *prices.Table
	Fiat       string // a currency besides USD to show values in ("" none)
	Letter     *template.Template
	Info       Info // what the manifest records besides the files
	// OnStep, when set, is told what is rendered next (for progress).
	OnStep func(file string)
}

// Info is what the manifest records about the inputs.
type Info struct {
	Version    string            `json:"fundtrace_version"`
	Command    []string          `json:"command,omitempty"`
	Tips       []Tip             `json:"store_tips,omitempty"`
	Case       *File             `json:"case_file,omitempty"`
	Sanctions  *Snapshot         `json:"sanctions_snapshot,omitempty"`
	Labels     []LabelSet        `json:"label_sets,omitempty"`
	Clustering *Clustering       `json:"clustering,omitempty"`
	Prices     []File            `json:"price_files,omitempty"`
	Letter     *File             `json:"letter_template,omitempty"`
	Options    map[string]string `json:"options,omitempty"` // report options: fiat, date, case reference
}

// Tip is a chain's tip in the store the trace read.
type Tip struct {
	Chain  string `json:"chain"`
	Height int64  `json:"height"`
	Hash   string `json:"hash"`
}

// File is an input file and its hash.
type File struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// Snapshot is the sanctions snapshot in force.
type Snapshot struct {
	ID        int64    `json:"id"`
	Date      string   `json:"list_date"`
	Imported  string   `json:"imported"`
	Sources   []string `json:"sources"`
	Addresses int      `json:"addresses"`
}

// LabelSet is one source of labels in the store: how many, and a hash of
// them all (address, label, category, confidence, sorted) so that a
// changed set is seen.
type LabelSet struct {
	Source string `json:"source"`
	Date   string `json:"source_date,omitempty"`
	Labels int    `json:"labels"`
	SHA256 string `json:"sha256"`
}

// Clustering is what the store's clusters were computed with.
type Clustering struct {
	Chain      string   `json:"chain"`
	Heuristics []string `json:"heuristics"`
	Height     int64    `json:"height"`
	// The super-cluster guard: its size (0: off), the change links it
	// held back and the multi-input merges it flagged.
	GuardSize int64 `json:"guard_size"`
	HeldBack  int   `json:"links_held_back"`
	Flagged   int   `json:"merges_flagged"`
}

// Manifest is DIR/manifest.json.
type Manifest struct {
	Schema string `json:"schema"`
	Info
	Trace      File              `json:"trace"`
	Models     []string          `json:"models"`
	Parameters tracefile.Params  `json:"parameters"`
	Heuristics []Heuristic       `json:"heuristics"`
	Files      []OutputFile      `json:"files"`
	Totals     map[string]string `json:"totals"` // asset/model → amount reaching exchanges
}

// OutputFile is one file of the bundle.
type OutputFile struct {
	Path   string `json:"path"`
	Bytes  int    `json:"bytes"`
	SHA256 string `json:"sha256"`
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// HashFile hashes an input file for the manifest, which names it by the
// path given (verify reads it again from there).
func HashFile(path string) (File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return File{}, err
	}
	return File{Path: path, SHA256: sum(b)}, nil
}

// Write builds the bundle into dir and returns its manifest. The same
// input gives the same bytes.
func Write(dir string, in Input) (*Manifest, error) {
	if in.Trace.Direction != "forward" {
		return nil, fmt.Errorf("a report is made from a forward trace (this one is %s)", in.Trace.Direction)
	}
	step := func(f string) {
		if in.OnStep != nil {
			in.OnStep(f)
		}
	}
	m := buildModel(in)
	files := map[string][]byte{}
	step("report.html")
	html, err := renderHTML(m)
	if err != nil {
		return nil, fmt.Errorf("report.html: %w", err)
	}
	files["report.html"] = html
	step("report.pdf")
	pdf, err := renderPDF(m)
	if err != nil {
		return nil, fmt.Errorf("report.pdf: %w", err)
	}
	files["report.pdf"] = pdf
	files["transactions.csv"] = transactionsCSV(m)
	files["trace.json"] = in.TraceBytes
	for _, ex := range m.Exchanges {
		name := FileName(ex.Name)
		step("freeze/" + name + ".pdf")
		files["freeze/"+name+".csv"] = freezeCSV(m, ex)
		letter, err := renderLetter(m, ex, in.Letter)
		if err != nil {
			return nil, fmt.Errorf("freeze letter for %s: %w", ex.Name, err)
		}
		files["freeze/"+name+".pdf"] = letter
	}
	man := &Manifest{Schema: ManifestSchema, Info: in.Info, Trace: File{Path: "trace.json", SHA256: sum(in.TraceBytes)},
		Models: in.Trace.Models, Parameters: in.Trace.Params, Heuristics: m.Heuristics, Totals: m.TotalsFlat}
	names := slices.Sorted(maps.Keys(files))
	if err := os.MkdirAll(filepath.Join(dir, "freeze"), 0o755); err != nil {
		return nil, err
	}
	for _, n := range names {
		b := files[n]
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			return nil, err
		}
		man.Files = append(man.Files, OutputFile{Path: n, Bytes: len(b), SHA256: sum(b)})
	}
	mb, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), append(mb, '\n'), 0o644); err != nil {
		return nil, err
	}
	return man, nil
}

// ReadManifest reads DIR/manifest.json.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "manifest.json"), err)
	}
	if m.Schema != ManifestSchema {
		return nil, fmt.Errorf("%s: schema %q, this fundtrace reads %q", filepath.Join(dir, "manifest.json"), m.Schema, ManifestSchema)
	}
	// A bundle's files are inside it: a manifest naming another path
	// (../, an absolute path) would have verify read files elsewhere.
	for _, f := range m.Files {
		if !filepath.IsLocal(f.Path) {
			return nil, fmt.Errorf("%s names %q, outside the bundle: refusing it", filepath.Join(dir, "manifest.json"), f.Path)
		}
	}
	return &m, nil
}

// Check compares the files of a bundle with its manifest and returns what
// differs (nothing when all match).
func Check(dir string, m *Manifest) []string {
	var diffs []string
	for _, f := range m.Files {
		b, err := os.ReadFile(filepath.Join(dir, f.Path))
		switch {
		case err != nil:
			diffs = append(diffs, fmt.Sprintf("%s: %v", f.Path, err))
		case sum(b) != f.SHA256:
			diffs = append(diffs, fmt.Sprintf("%s: SHA-256 %s, the manifest says %s", f.Path, sum(b), f.SHA256))
		}
	}
	return diffs
}

// FileName makes a name (an exchange's) safe as a file name.
func FileName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "exchange"
	}
	return b.String()
}

// Money is an amount shown in its unit and in fiat.
type Money struct {
	Units string // base units
	Text  string // in the asset's unit, e.g. "0.01439517 BTC"
	USD   string // "" when the price is missing
	Fiat  string
}

// Heuristic is a rule the trace relied on, with its measured accuracy.
type Heuristic struct {
	Name       string `json:"name"`
	Rule       string `json:"rule"`
	Confidence string `json:"confidence"` // measured accuracy, and on what
}

type model struct {
	T          *tracefile.Trace
	prices     *prices.Table
	FiatName   string
	Victims    []string
	Seeds      []seedRow
	Exchanges  []exchangeRow
	Hops       []hopTable
	Totals     []totalRow
	TotalsFlat map[string]string
	Heuristics []Heuristic
	Graph      *graph
	Info       Info
	Stops      []stopRow
	NoExchange bool
	Date       string
	CaseRef    string
}

type seedRow struct {
	Victim, Chain, Tx, Where, Address, Time string
	Height                                  int64
	Amount                                  Money
}

type exchangeRow struct {
	Name      string
	Deposits  []depositRow
	Addresses []addressRow
	First     string
	Last      string
	Haircut   []Money // per asset
	FIFO      []Money
	Victims   []string
}

type depositRow struct {
	Address, Tx, Where, Time, Victim, Evidence string
	Height                                     int64
	Hop                                        int
	Value, Haircut, FIFO                       Money
}

type addressRow struct {
	Chain, Address, First, Last string
	Deposits                    int
	Haircut, FIFO               []Money
	Victims                     string
}

type hopTable struct {
	Hop  int
	Rows []flowRow
}

type flowRow struct {
	Tx, Where, Time, From, To string
	Height                    int64
	Value, Haircut, FIFO      Money
	Peel, CoinJoin            bool
}

type totalRow struct {
	Asset, Model string
	Amount       Money
}

type stopRow struct {
	Reason string
	Count  int
}

// money renders base units of asset at time t.
func (m *model) money(asset, units string, unix int64, pt *prices.Table) Money {
	a := m.T.Assets[asset]
	mo := Money{Units: units, Text: decimal(units, a.Decimals) + " " + a.Symbol}
	v, ok := new(big.Int).SetString(units, 10)
	if !ok {
		return mo
	}
	if usd := pt.Value(a.Symbol, "USD", unix, v, a.Decimals); usd != nil {
		mo.USD = usd.FloatString(2)
	}
	if m.FiatName != "" {
		if f := pt.Value(a.Symbol, m.FiatName, unix, v, a.Decimals); f != nil {
			mo.Fiat = f.FloatString(2)
		}
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

func buildModel(in Input) *model {
	t := in.Trace
	m := &model{T: t, prices: in.Prices, FiatName: strings.ToUpper(in.Fiat), Info: in.Info, TotalsFlat: map[string]string{}}
	if m.FiatName == "USD" {
		m.FiatName = ""
	}
	m.Date = in.Info.Options["date"]
	m.CaseRef = in.Info.Options["case_ref"]
	pt := in.Prices
	victims := map[string]bool{}
	for _, s := range t.Seeds {
		where := s.Outpoint
		if where == "" {
			where = s.Position
		}
		m.Seeds = append(m.Seeds, seedRow{Victim: s.Victim, Chain: s.Chain, Tx: s.Tx, Where: where, Address: s.Address, Time: s.Time, Height: s.Height,
			Amount: m.money(s.Asset, s.Amount, unixOf(s.Time), pt)})
		if !victims[s.Victim] {
			victims[s.Victim] = true
			m.Victims = append(m.Victims, s.Victim)
		}
	}
	// Exchanges, with totals per asset and model.
	totals := map[[2]string]string{}
	for _, e := range t.Exchanges {
		row := exchangeRow{Name: e.Exchange, First: e.FirstSeen, Last: e.LastSeen}
		hc, ff := map[string]string{}, map[string]string{}
		vs := map[string]bool{}
		for _, d := range t.Deposits {
			if d.Exchange != e.Exchange {
				continue
			}
			where := d.Outpoint
			if where == "" {
				where = d.Position
			}
			u := unixOf(d.Time)
			row.Deposits = append(row.Deposits, depositRow{Address: d.Address, Tx: d.Tx, Where: where, Time: d.Time, Victim: d.Victim, Evidence: d.Evidence,
				Height: d.Height, Hop: d.Hop, Value: m.money(d.Asset, d.Value, u, pt), Haircut: m.money(d.Asset, d.Haircut, u, pt), FIFO: m.money(d.Asset, d.FIFO, u, pt)})
			hc[d.Asset] = tracefile.AddUnits(hc[d.Asset], d.Haircut)
			ff[d.Asset] = tracefile.AddUnits(ff[d.Asset], d.FIFO)
			totals[[2]string{d.Asset, "haircut"}] = tracefile.AddUnits(totals[[2]string{d.Asset, "haircut"}], d.Haircut)
			totals[[2]string{d.Asset, "fifo"}] = tracefile.AddUnits(totals[[2]string{d.Asset, "fifo"}], d.FIFO)
			if !vs[d.Victim] {
				vs[d.Victim] = true
				row.Victims = append(row.Victims, d.Victim)
			}
		}
		for _, a := range slices.Sorted(maps.Keys(hc)) {
			// Sums over days have no single price: fiat totals add up
			// each deposit's value at its own day's price.
			row.Haircut = append(row.Haircut, m.sumMoney(a, row.Deposits, func(d depositRow) Money { return d.Haircut }))
			row.FIFO = append(row.FIFO, m.sumMoney(a, row.Deposits, func(d depositRow) Money { return d.FIFO }))
		}
		for _, da := range e.Addresses {
			ar := addressRow{Chain: da.Chain, Address: da.Address, First: da.FirstSeen, Last: da.LastSeen, Deposits: da.Deposits, Victims: strings.Join(da.Victims, "; ")}
			var sub []depositRow
			for _, d := range row.Deposits {
				if d.Address == da.Address {
					sub = append(sub, d)
				}
			}
			for _, a := range slices.Sorted(maps.Keys(da.Totals)) {
				ar.Haircut = append(ar.Haircut, m.sumMoney(a, sub, func(d depositRow) Money { return d.Haircut }))
				ar.FIFO = append(ar.FIFO, m.sumMoney(a, sub, func(d depositRow) Money { return d.FIFO }))
			}
			row.Addresses = append(row.Addresses, ar)
		}
		m.Exchanges = append(m.Exchanges, row)
	}
	m.NoExchange = len(m.Exchanges) == 0
	keys := make([][2]string, 0, len(totals))
	for k := range totals {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1] })
	for _, k := range keys {
		a := t.Assets[k[0]]
		m.Totals = append(m.Totals, totalRow{Asset: a.Symbol, Model: k[1], Amount: Money{Units: totals[k], Text: decimal(totals[k], a.Decimals) + " " + a.Symbol}})
		m.TotalsFlat[k[0]+"/"+k[1]] = totals[k]
	}
	// Flows by hop.
	byHop := map[int][]flowRow{}
	for _, f := range t.Flows {
		where := f.Outpoint
		if where == "" {
			where = f.Position
		}
		u := unixOf(f.Time)
		byHop[f.Hop] = append(byHop[f.Hop], flowRow{Tx: f.Tx, Where: where, Time: f.Time, From: strings.Join(f.From, ", "), To: f.To, Height: f.Height,
			Value: m.money(f.Asset, f.Value, u, pt), Haircut: m.money(f.Asset, f.Haircut, u, pt), FIFO: m.money(f.Asset, f.FIFO, u, pt), Peel: f.Peel, CoinJoin: f.CoinJoin})
	}
	for _, h := range slices.Sorted(maps.Keys(byHop)) {
		m.Hops = append(m.Hops, hopTable{Hop: h, Rows: byHop[h]})
	}
	for _, r := range slices.Sorted(maps.Keys(t.StopCounts)) {
		m.Stops = append(m.Stops, stopRow{r, t.StopCounts[r]})
	}
	m.Heuristics = heuristics(t, in.Info)
	m.Graph = layout(t)
	return m
}

// sumMoney adds up the deposits of one asset, in units and in fiat (each
// at its own day's price; missing when any price is).
func (m *model) sumMoney(asset string, ds []depositRow, get func(depositRow) Money) Money {
	a := m.T.Assets[asset]
	units := "0"
	usd, fiat := new(big.Rat), new(big.Rat)
	usdOK, fiatOK := true, m.FiatName != ""
	n := 0
	for _, d := range ds {
		mo := get(d)
		if !strings.HasSuffix(mo.Text, " "+a.Symbol) {
			continue
		}
		n++
		units = tracefile.AddUnits(units, mo.Units)
		if v, ok := new(big.Rat).SetString(mo.USD); ok && mo.USD != "" {
			usd.Add(usd, v)
		} else {
			usdOK = false
		}
		if v, ok := new(big.Rat).SetString(mo.Fiat); ok && mo.Fiat != "" {
			fiat.Add(fiat, v)
		} else {
			fiatOK = false
		}
	}
	out := Money{Units: units, Text: decimal(units, a.Decimals) + " " + a.Symbol}
	if usdOK && n > 0 {
		out.USD = usd.FloatString(2)
	}
	if fiatOK && n > 0 {
		out.Fiat = fiat.FloatString(2)
	}
	return out
}
