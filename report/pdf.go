package report

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/go-pdf/fpdf"
)

// The PDFs: A4, no text under 7 pt, the core fonts for English (no files
// to embed, readable everywhere) or the language's TrueType font, and
// the report's date and fundtrace's version in their metadata, so that
// the same inputs give the same bytes.

const (
	minPt  = 7.0 // the smallest text printed
	bodyPt = 9.0
	lineMM = 3.6 // a line of 7-8 pt text
)

// pdoc is a PDF being written in one language.
type pdoc struct {
	*fpdf.Fpdf
	l     *lang
	tr    func(string) string
	title string
}

func newDoc(m *model, title string) *pdoc {
	f := fpdf.New("P", "mm", "A4", "")
	when, _ := time.Parse("2006-01-02", m.Date)
	f.SetCreationDate(when)
	f.SetModificationDate(when)
	f.SetCatalogSort(true)
	f.SetCompression(true)
	f.SetProducer("fundtrace "+m.Info.Version, true)
	f.SetCreator("fundtrace "+m.Info.Version, true)
	f.SetTitle(title, true)
	f.SetSubject(m.L.T("Report date: %s", m.Date), true)
	f.SetAutoPageBreak(true, 15)
	f.SetMargins(15, 14, 15)
	d := &pdoc{Fpdf: f, l: m.L, title: title}
	if m.L.font != "" {
		f.AddUTF8FontFromBytes("body", "", m.L.fontBytes)
		f.AddUTF8FontFromBytes("body", "B", m.L.boldBytes)
		d.tr = func(s string) string { return s }
	} else {
		d.tr = f.UnicodeTranslatorFromDescriptor("")
	}
	f.SetFooterFunc(func() {
		f.SetY(-11)
		d.font("", minPt)
		f.CellFormat(0, 4, d.tr(m.L.T("%s, page %d", title, f.PageNo())), "", 0, "C", false, 0, "")
	})
	return d
}

// font sets the text font: style "" or "B".
func (d *pdoc) font(style string, pt float64) {
	if d.l.font != "" {
		d.SetFont("body", style, pt)
		return
	}
	d.SetFont("Helvetica", style, pt)
}

// mono sets the fixed-width font (addresses and hashes, ASCII).
func (d *pdoc) mono(pt float64) {
	if d.l.font != "" {
		d.SetFont("body", "", pt)
		return
	}
	d.SetFont("Courier", "", pt)
}

func (d *pdoc) h1(s string) {
	d.font("B", 16)
	d.MultiCell(0, 7, d.tr(s), "", "L", false)
	d.Ln(2)
}

func (d *pdoc) h2(s string) {
	d.Ln(2)
	d.font("B", 12)
	d.MultiCell(0, 5.5, d.tr(s), "", "L", false)
	d.Ln(1)
}

func (d *pdoc) h3(s string) {
	d.Ln(1)
	d.font("B", 10)
	d.MultiCell(0, 4.6, d.tr(s), "", "L", false)
}

func (d *pdoc) para(s string) {
	d.font("", bodyPt)
	d.MultiCell(0, 4.3, d.tr(s), "", "L", false)
	d.Ln(0.8)
}

func (d *pdoc) small(s string) {
	d.font("", minPt)
	d.MultiCell(0, lineMM, d.tr(s), "", "L", false)
}

// col is a table column: its heading, width (mm) and whether it is
// fixed-width text (addresses, hashes) or a number (right-aligned).
type col struct {
	Head  string
	W     float64
	Mono  bool
	Right bool
}

// lines splits s to fit w mm in the current font.
func (d *pdoc) lines(s string, w float64) []string {
	var out []string
	for _, para := range strings.Split(s, "\n") {
		if d.l.font != "" {
			out = append(out, d.wrap(para, w-2*0.5)...)
			continue
		}
		for _, b := range d.SplitLines([]byte(d.tr(para)), w) {
			out = append(out, string(b))
		}
	}
	if len(out) == 0 {
		out = []string{""}
	}
	return out
}

// wrap splits s into lines of at most w mm in the current TrueType font,
// between words, and within a word longer than a line (fpdf's SplitText
// reads the core fonts' widths only).
func (d *pdoc) wrap(s string, w float64) []string {
	var out []string
	line := ""
	fits := func(t string) bool { return d.GetStringWidth(t) <= w }
	for _, word := range strings.Split(s, " ") {
		cand := word
		if line != "" {
			cand = line + " " + word
		}
		if fits(cand) {
			line = cand
			continue
		}
		if line != "" {
			out = append(out, line)
		}
		line = word
		for !fits(line) {
			r := []rune(line)
			n := len(r) - 1
			for n > 1 && !fits(string(r[:n])) {
				n--
			}
			out = append(out, string(r[:n]))
			line = string(r[n:])
		}
	}
	return append(out, line)
}

// table prints rows under cols, wrapping cells, the heading repeated on
// each page.
func (d *pdoc) table(cols []col, rows [][]string) {
	pt := minPt + 0.5
	_, pageH := d.GetPageSize()
	_, _, _, bottom := d.GetMargins()
	head := func() {
		d.font("B", pt)
		d.SetFillColor(235, 235, 235)
		var cells [][]string
		n := 1
		for _, c := range cols {
			ls := d.lines(c.Head, c.W-1.2)
			cells = append(cells, ls)
			n = max(n, len(ls))
		}
		d.row(cols, cells, n, true)
	}
	head()
	for _, r := range rows {
		var cells [][]string
		n := 1
		for i, c := range cols {
			if c.Mono {
				d.mono(minPt)
			} else {
				d.font("", pt)
			}
			ls := d.lines(r[i], c.W-1.2)
			cells = append(cells, ls)
			n = max(n, len(ls))
		}
		if d.GetY()+float64(n)*lineMM+1 > pageH-bottom {
			d.samePage()
			head()
		}
		d.row(cols, cells, n, false)
	}
	d.Ln(2)
}

// samePage starts a page of the current one's size and orientation.
func (d *pdoc) samePage() {
	w, h := d.GetPageSize()
	if w > h {
		d.AddPageFormat("L", fpdf.SizeType{Wd: h, Ht: w})
		return
	}
	d.AddPage()
}

func (d *pdoc) row(cols []col, cells [][]string, n int, head bool) {
	x0, y0 := d.GetX(), d.GetY()
	h := float64(n)*lineMM + 1
	x := x0
	pt := minPt + 0.5
	for i, c := range cols {
		style := "D"
		if head {
			style = "FD"
		}
		d.SetDrawColor(190, 190, 190)
		d.Rect(x, y0, c.W, h, style)
		switch {
		case head:
			d.font("B", pt)
		case c.Mono:
			d.mono(minPt)
		default:
			d.font("", pt)
		}
		align := "L"
		if c.Right {
			align = "R"
		}
		for j, ln := range cells[i] {
			d.SetXY(x+0.6, y0+0.5+float64(j)*lineMM)
			// Core fonts: SplitLines gave the line translated already.
			d.CellFormat(c.W-1.2, lineMM, ln, "", 0, align, false, 0, "")
		}
		x += c.W
	}
	d.SetXY(x0, y0+h)
}

func (d *pdoc) bytes() ([]byte, error) {
	var b bytes.Buffer
	if err := d.Output(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func usd(l *lang, m Money) string {
	if m.USD == "" {
		return l.T("no price")
	}
	return "USD " + m.USD
}

// inline writes amounts per asset on one line, each with its USD in
// parentheses, joined by sep.
func inline(l *lang, ms []Money, sep string) string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Text + " (" + usd(l, m) + ")"
	}
	return strings.Join(out, sep)
}

// moneys writes amounts per asset, each with its USD on the next line.
func moneys(l *lang, ms []Money) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Text+"\n"+usd(l, m))
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, "\n")
}

func dayOnly(t string) string {
	if len(t) >= 10 {
		return t[:10]
	}
	return t
}

func day(t string) string {
	if len(t) >= 16 {
		return strings.Replace(t[:16], "T", " ", 1)
	}
	return t
}

// renderPDF writes report.pdf: a summary of at most five pages whatever
// the case's size, then the annexes (victims' paths, deposits per
// exchange, the graph's nodes in full, the data files).
func renderPDF(m *model) ([]byte, error) {
	l := m.L
	title := l.T("Flow report")
	if m.Case.Reference != "" {
		title += ": " + m.Case.Reference
	}
	d := newDoc(m, title)
	d.AddPage()
	d.h1(title)
	// The case.
	var caseRows [][]string
	add := func(k, v string) {
		if v != "" {
			caseRows = append(caseRows, []string{k, v})
		}
	}
	ci := m.Case
	add(l.T("Reference"), m.Case.Reference)
	add(l.T("Agency"), strings.Join(nonEmpty(ci.Agency, ci.Unit), ", "))
	add(l.T("Investigator"), strings.Join(nonEmpty(ci.Investigator, ci.Title), ", "))
	add(l.T("Contact"), strings.Join(ci.contact(), "\n"))
	add(l.T("Legal basis"), ci.LegalBasis)
	add(l.T("Report date"), m.Date)
	d.table([]col{{Head: l.T("The case"), W: 40}, {Head: "", W: 140}}, caseRows)
	d.small(l.T("Made by fundtrace %s from trace.json (schema %s). Every figure comes from a transaction named by its hash and block; manifest.json lists the inputs and the SHA-256 of every file, and fundtrace verify checks them and rebuilds this report byte for byte.", m.Info.Version, m.Schema))
	d.h2(l.T("What was traced"))
	d.para(l.T("%d payments by %d victims, from %s to %s, followed forward transaction by transaction under the %s models, to %d exchanges.",
		m.Payments, len(m.Victims), day(m.First), day(m.Last), modelNames(l, m.Models), len(m.Exchanges)))
	d.para(l.T("Paid by the victims: %s.", inline(l, m.Paid, "; ")))
	if m.PeelChains > 0 {
		d.para(l.T("%d peel chains were followed, each step of one counting as no hop.", m.PeelChains))
	}
	if slices.Contains(m.Models, "poison") {
		d.para(l.T("Poison reached %d deposit payments at exchanges (trace.json lists each with its victims).", m.Poisoned))
	}
	d.h2(l.T("Money reaching exchanges"))
	if len(m.Exchanges) == 0 {
		d.para(l.T("No exchange was reached by the traced money."))
	} else {
		var rows [][]string
		for _, t := range m.Totals {
			rows = append(rows, []string{l.T(t.Model), t.Amount.Text, usdCell(l, t.Amount)})
		}
		d.table([]col{{Head: l.T("Model"), W: 40}, {Head: l.T("Amount"), W: 70, Right: true}, {Head: "USD", W: 40, Right: true}}, rows)
		var ex [][]string
		for i, e := range m.Exchanges {
			if i == 10 {
				ex = append(ex, []string{l.T("%d more exchanges: Annex B", len(m.Exchanges)-10), "", "", "", "", ""})
				break
			}
			ex = append(ex, []string{e.Name, fmt.Sprintf("%d / %d", len(e.Addresses), len(e.Payments)), fmt.Sprint(e.Victims),
				day(e.First) + "\n" + day(e.Last), moneys(l, e.Haircut), moneys(l, e.FIFO)})
		}
		d.table([]col{{Head: l.T("Exchange"), W: 34}, {Head: l.T("Addresses / payments"), W: 20, Right: true}, {Head: l.T("Victims"), W: 14, Right: true},
			{Head: l.T("First and last deposit (UTC)"), W: 28}, {Head: l.T("Haircut"), W: 42, Right: true}, {Head: l.T("FIFO"), W: 42, Right: true}}, ex)
		if m.LetterNote != "" {
			d.small(l.T("Freezing letters were not written: %s. The requests for machines (freeze/*.json, *.csv) were.", m.LetterNote))
		}
	}
	// Timeline and limitations.
	d.AddPage()
	d.h2(l.T("Timeline"))
	drawTimeline(d, m.Timeline)
	d.h2(l.T("Limitations"))
	for _, s := range limitations(m) {
		d.para("- " + s)
	}
	// The graph, on a landscape page.
	d.AddPageFormat("L", fpdf.SizeType{Wd: 210, Ht: 297})
	d.h2(l.T("Flow graph (aggregated)"))
	drawGraph(d, m.Graph)
	// The method.
	d.AddPage()
	d.h2(l.T("Method: heuristics, models and their measured accuracy"))
	var hr [][]string
	for _, h := range m.Heuristics {
		hr = append(hr, []string{h.Name, h.Rule, h.Confidence})
	}
	d.table([]col{{Head: l.T("Rule"), W: 40}, {Head: l.T("What it says"), W: 75}, {Head: l.T("Measured accuracy"), W: 65}}, hr)
	// Annexes.
	d.AddPage()
	d.h2(l.T("Annex A: the victims' payments and where their money went"))
	d.small(l.T("One row per victim: the payments traced, the fewest and most transactions between a payment and a deposit, and the haircut amount that reached each exchange (E1, E2, ... below). FIFO amounts and every deposit are in deposits.csv, every transaction in transactions.csv."))
	code := map[string]string{}
	for i, e := range m.Exchanges {
		code[e.Name] = fmt.Sprintf("E%d", i+1)
		d.small(fmt.Sprintf("E%d = %s", i+1, e.Name))
	}
	d.Ln(1)
	var vr [][]string
	for _, v := range m.Victims {
		var reach []string
		for _, r := range v.Reached {
			reach = append(reach, code[r.Exchange]+" "+texts(r.Haircut, " + "))
		}
		if len(reach) == 0 {
			reach = []string{l.T("no exchange reached")}
		}
		vr = append(vr, []string{v.Victim, fmt.Sprintf("%d, %s", v.Payments, dayOnly(v.First)), texts(v.Paid, " + "), v.Hops, strings.Join(reach, ", ")})
	}
	d.table([]col{{Head: l.T("Victim"), W: 36}, {Head: l.T("Payments, first"), W: 22}, {Head: l.T("Paid"), W: 28, Right: true},
		{Head: l.T("Hops"), W: 11, Right: true}, {Head: l.T("Reached exchanges (haircut)"), W: 83}}, vr)
	// Deposits, landscape: a payment's output or transaction on one line.
	d.AddPageFormat("L", fpdf.SizeType{Wd: 210, Ht: 297})
	d.h2(l.T("Annex B: deposits per exchange"))
	if len(m.Exchanges) == 0 {
		d.para(l.T("No exchange was reached by the traced money."))
	}
	for i, e := range m.Exchanges {
		if i > 0 {
			d.samePage()
		}
		d.h3(e.Name)
		if x := m.Graph.exchangeNode(e.Name); x != nil {
			d.small(l.T("The money's paths into %s (nodes as in the flow graph; Annex C gives them in full).", e.Name))
			drawFigure(d, m.Graph.pathsTo(x))
		}
		var ar [][]string
		for _, a := range e.Addresses {
			ar = append(ar, []string{a.Address, fmt.Sprint(a.Deposits), day(a.First) + "\n" + day(a.Last), moneys(l, a.Haircut), moneys(l, a.FIFO), a.Evidence})
		}
		d.table([]col{{Head: l.T("Deposit address"), W: 70, Mono: true}, {Head: l.T("Deposits"), W: 16, Right: true}, {Head: l.T("First and last (UTC)"), W: 26},
			{Head: l.T("Haircut"), W: 34, Right: true}, {Head: l.T("FIFO"), W: 34, Right: true}, {Head: l.T("Why it is the exchange's"), W: 87}}, ar)
		payments, rest, restText := m.largest(e.Payments, annexPayments)
		if rest > 0 {
			d.small(l.T("The %d largest payments (haircut) are listed; %d smaller ones, carrying %s, are in deposits.csv and freeze/%s.csv.", annexPayments, rest, restText, FileName(e.Name)))
		}
		for _, a := range e.Addresses {
			var pr [][]string
			for _, p := range payments {
				if p.Address != a.Address || p.Chain != a.Chain {
					continue
				}
				pr = append(pr, []string{day(p.Time), fmt.Sprint(p.Height), p.Ref, p.Value.Text, p.Haircut.Text, usdCell(l, p.Haircut), p.FIFO.Text, usdCell(l, p.FIFO)})
			}
			if len(pr) == 0 {
				continue
			}
			d.small(l.T("Payments into %s:", a.Address))
			d.table([]col{{Head: l.T("Time (UTC)"), W: 25}, {Head: l.T("Block"), W: 12, Right: true}, {Head: l.T("Output or transaction"), W: 103, Mono: true},
				{Head: l.T("Value"), W: 28, Right: true}, {Head: l.T("Haircut"), W: 29, Right: true}, {Head: "USD", W: 19, Right: true},
				{Head: l.T("FIFO"), W: 29, Right: true}, {Head: "USD", W: 19, Right: true}}, pr)
		}
	}
	d.AddPage()
	d.h2(l.T("Annex C: the flow graph's nodes in full"))
	var nr [][]string
	for _, n := range m.Graph.Nodes {
		full := n.Full
		more := ""
		if len(full) > 12 {
			more = "\n" + l.T("and %d more (transactions.csv)", len(full)-12)
			full = full[:12]
		}
		nr = append(nr, []string{fmt.Sprintf("N%d", n.Num), n.Label + "\n" + n.Sub, strings.Join(full, "\n") + more})
	}
	d.table([]col{{Head: l.T("Node"), W: 12}, {Head: l.T("Shown as"), W: 48}, {Head: l.T("Addresses, labels"), W: 120, Mono: true}}, nr)
	d.h2(l.T("Annex D: the data files"))
	d.table([]col{{Head: l.T("File"), W: 45, Mono: true}, {Head: l.T("What it holds"), W: 135}}, dataFiles(m))
	return d.bytes()
}

func modelNames(l *lang, ms []string) string {
	var out []string
	for _, m := range ms {
		out = append(out, l.T(m))
	}
	return strings.Join(out, ", ")
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// texts writes amounts per asset in their units, joined by sep.
func texts(ms []Money, sep string) string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Text
	}
	return strings.Join(out, sep)
}

func usdCell(l *lang, m Money) string {
	if m.USD == "" {
		return l.T("no price")
	}
	return m.USD
}

// dataFiles says what each data file of the bundle holds.
func dataFiles(m *model) [][]string {
	l := m.L
	var extra [][]string
	for _, n := range m.Extra {
		what := l.T("a file added to the bundle")
		if n == "notes.csv" {
			what = l.T("the investigators' notes on the case's addresses, transactions and flows, written in the workbench: time, author, what each is about, text, tags")
		}
		extra = append(extra, []string{n, what})
	}
	return append([][]string{
		{"transactions.csv", l.T("every flow of the trace (%d), one row each: transaction, block, time, to, asset, amounts in base units and in the asset's unit, haircut, FIFO, poison, USD", m.Flows)},
		{"flow_sources.csv", l.T("the addresses each flow came from, one row each (flow number, transaction, address)")},
		{"deposits.csv", l.T("every deposit row (a victim's money in one payment to a deposit address), with its evidence")},
		{"freeze/EXCHANGE.csv, .json", l.T("each exchange's freezing request: its deposit rows (the same columns as deposits.csv) and, in JSON, the requester, what is asked and the payments")},
		{"trace.json", l.T("the trace this report was made from")},
		{"manifest.json", l.T("the inputs (store tips, case file, sanctions list, label sets, prices) and the SHA-256 of every file")},
	}, extra...)
}

// limitations says what the figures do not show.
func limitations(m *model) []string {
	l := m.L
	out := []string{
		l.T("Haircut and FIFO are conventions for following mixed money, not measurements: each is exact under its own rule, and the two can differ. Poison counts everything victims' money touched and overstates by design."),
		l.T("An address is attributed to an exchange by a label (or its cluster's), or because it was swept into a labeled exchange wallet; the method table gives each rule's measured accuracy."),
	}
	for _, s := range m.Stops {
		switch s.Reason {
		case "unspent":
			out = append(out, l.T("Money was still held, unspent, at %d places when the trace was made: it may move later.", s.Count))
		case "max-nodes", "max-hops", "max-history":
			out = append(out, l.T("The trace reached a limit (%s) %d times: money beyond it was not followed.", s.Reason, s.Count))
		case "mixer":
			out = append(out, l.T("Money entered a mixer or CoinJoin %d times.", s.Count))
		case "below-min-amount":
			out = append(out, l.T("%d amounts under the least amount followed were not followed further.", s.Count))
		case "service":
			out = append(out, l.T("Money reached a labeled service other than an exchange %d times; it was not followed through it.", s.Count))
		}
	}
	if len(m.Merged) > 0 {
		out = append(out, l.T("Haircut shares too small to follow were merged into one remainder reported as %q: %s.", "(other victims)", texts(m.Merged, ", ")))
	}
	if m.Graph.Merged > 0 || m.Graph.Hidden > 0 {
		out = append(out, l.T("The flow graph is aggregated: %d smaller addresses are drawn as \"other addresses\" and %d smaller flows are not drawn; every flow is in transactions.csv.", m.Graph.Merged, m.Graph.Hidden))
	}
	return out
}

// drawTimeline draws the victims' payments and the deposits per bucket.
func drawTimeline(d *pdoc, tl *timeline) {
	l := d.l
	if len(tl.Buckets) == 0 || tl.Max <= 0 {
		d.para(l.T("Nothing to show."))
		return
	}
	unit := tl.Unit
	if unit == "" {
		unit = l.T("count")
	}
	d.small(l.T("Per %s: victims' payments (red) and money reaching exchanges under haircut (blue), in %s.", l.T(tl.Bucket), unit))
	const w, h = 175.0, 55.0
	x0, y0 := d.GetX()+5, d.GetY()+3
	d.SetDrawColor(120, 120, 120)
	d.SetLineWidth(0.2)
	d.Line(x0, y0+h, x0+w, y0+h)
	d.Line(x0, y0, x0, y0+h)
	n := len(tl.Buckets)
	bw := w / float64(n)
	for i, b := range tl.Buckets {
		x := x0 + float64(i)*bw
		for j, v := range []float64{b.Paid, b.Deposits} {
			bh := h * v / tl.Max
			if bh <= 0 {
				continue
			}
			if j == 0 {
				d.SetFillColor(214, 96, 77)
			} else {
				d.SetFillColor(67, 147, 195)
			}
			d.Rect(x+bw*0.1+float64(j)*bw*0.4, y0+h-bh, bw*0.4, bh, "F")
		}
	}
	d.font("", minPt)
	step := max(1, int(math.Ceil(float64(n)/8)))
	for i := 0; i < n; i += step {
		d.Text(x0+float64(i)*bw, y0+h+3.5, tl.Buckets[i].Start)
	}
	d.Text(x0-4, y0-1, d.tr(fmt.Sprintf("%s %s", fmtNum(tl.Max), unit)))
	d.SetY(y0 + h + 7)
}

func fmtNum(f float64) string {
	switch {
	case f >= 100:
		return fmt.Sprintf("%.0f", f)
	case f >= 1:
		return fmt.Sprintf("%.2f", f)
	}
	return fmt.Sprintf("%.6f", f)
}

// drawGraph draws the aggregated graph scaled to the page's width, then
// its edges' amounts.
func drawGraph(d *pdoc, g *graph) {
	l := d.l
	d.small(l.T("Left to right: the victims, the addresses by the transaction at which the money first reached them (addresses of one cluster, label or peel chain are one node), the exchanges. Edge width grows with the haircut amount; each node's full addresses are in Annex C."))
	drawFigure(d, g)
	// Edge amounts, largest first.
	// The edges with their nodes named in full (the boxes shorten them).
	var er [][]string
	for _, e := range g.Edges {
		er = append(er, []string{fmt.Sprintf("N%d %s", e.From.Num, e.From.FullName()), fmt.Sprintf("N%d %s", e.To.Num, e.To.FullName()), e.Text})
	}
	if g.Hidden > 0 {
		er = append(er, []string{l.T("%d smaller flows", g.Hidden), "", g.HiddenText})
	}
	d.AddPageFormat("L", fpdf.SizeType{Wd: 210, Ht: 297})
	d.h3(l.T("The graph's flows (haircut), largest first"))
	d.table([]col{{Head: l.T("From"), W: 115, Mono: true}, {Head: l.T("To"), W: 115, Mono: true}, {Head: l.T("Amount"), W: 37, Right: true}}, er)
}

// drawFigure draws a graph at the current position, scaled to the page's
// width (at most 0.3 mm a point, so that 7 pt labels fit their boxes).
func drawFigure(d *pdoc, g *graph) {
	pw, _ := d.GetPageSize()
	left, _, right, _ := d.GetMargins()
	avail := pw - left - right
	scale := math.Min(avail/g.Width, 0.3)
	top := d.GetY() + 2
	x := func(v float64) float64 { return left + v*scale }
	y := func(v float64) float64 { return top + v*scale }
	d.SetDrawColor(74, 120, 181)
	for _, e := range g.Edges {
		d.SetLineWidth(e.Width * 0.18)
		x1, y1, x2, y2 := e.path()
		mx := (x1 + x2) / 2
		d.CurveBezierCubic(x(x1), y(y1), x(mx), y(y1), x(mx), y(y2), x(x2), y(y2), "D")
	}
	d.SetLineWidth(0.15)
	for _, n := range g.Nodes {
		r, gg, b := 242, 242, 242
		switch n.Kind {
		case "victims":
			r, gg, b = 253, 226, 225
		case "seed":
			r, gg, b = 255, 241, 198
		case "peel":
			r, gg, b = 235, 225, 250
		case "service":
			r, gg, b = 255, 228, 200
		case "exchange":
			r, gg, b = 191, 227, 198
		}
		d.SetFillColor(r, gg, b)
		d.SetDrawColor(110, 110, 110)
		d.RoundedRect(x(n.X), y(n.Y), n.W*scale, n.H*scale, 1, "1234", "FD")
		d.font("B", minPt)
		d.Text(x(n.X)+1, y(n.Y)+2.9, d.tr(clip(d, fmt.Sprintf("N%d %s", n.Num, n.Label), n.W*scale-2)))
		if n.Sub != "" {
			d.font("", minPt)
			d.Text(x(n.X)+1, y(n.Y)+5.9, d.tr(clip(d, n.Sub, n.W*scale-2)))
		}
	}
	d.SetY(y(g.Height) + 2)
}

// clip shortens s to w mm in the current font, marking the cut; the full
// form is in the legend.
func clip(d *pdoc, s string, w float64) string {
	if d.GetStringWidth(d.tr(s)) <= w {
		return s
	}
	r := []rune(s)
	for len(r) > 1 && d.GetStringWidth(d.tr(string(r)+"…")) > w {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

// renderLetter writes one exchange's freezing-request letter as PDF.
func renderLetter(m *model, ex exchangeRow, t *template.Template) ([]byte, error) {
	text, err := letterText(m, ex, t)
	if err != nil {
		return nil, err
	}
	l := m.L
	d := newDoc(m, l.T("Freezing request: %s", ex.Name))
	d.AddPage()
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "# "):
			d.h3(strings.TrimPrefix(line, "# "))
		case strings.HasPrefix(line, "- "):
			d.mono(minPt + 0.5)
			d.MultiCell(0, lineMM, d.tr(line), "", "L", false)
		case strings.HasPrefix(line, "! "):
			d.font("B", 10)
			d.MultiCell(0, 4.6, d.tr(strings.TrimPrefix(line, "! ")), "", "L", false)
		default:
			d.para(line)
		}
	}
	return d.bytes()
}
