package report

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/go-pdf/fpdf"
)

// PDFs use the core fonts (no files to embed, readable everywhere) and a
// fixed date taken from the trace, so that the same input gives the same
// bytes.

func newPDF(m *model, title string) (*fpdf.Fpdf, func(string) string) {
	pdf := fpdf.New("P", "mm", "A4", "")
	when := pdfDate(m)
	pdf.SetCreationDate(when)
	pdf.SetModificationDate(when)
	pdf.SetCatalogSort(true)
	pdf.SetCompression(true)
	pdf.SetProducer("fundtrace "+m.Info.Version, true)
	pdf.SetCreator("fundtrace", true)
	pdf.SetTitle(title, true)
	pdf.SetAutoPageBreak(true, 15)
	pdf.SetMargins(12, 12, 12)
	pdf.SetFooterFunc(func() {
		pdf.SetY(-10)
		pdf.SetFont("Helvetica", "", 7)
		pdf.CellFormat(0, 5, fmt.Sprintf("%s - page %d", title, pdf.PageNo()), "", 0, "C", false, 0, "")
	})
	return pdf, pdf.UnicodeTranslatorFromDescriptor("")
}

// pdfDate is the report's date if given, else the time of the trace's
// last deposit or flow: a date from the inputs, never the clock.
func pdfDate(m *model) time.Time {
	if t, err := time.Parse("2006-01-02", m.Date); err == nil {
		return t
	}
	var last string
	for _, d := range m.T.Deposits {
		last = max(last, d.Time)
	}
	for _, f := range m.T.Flows {
		last = max(last, f.Time)
	}
	for _, s := range m.T.Seeds {
		last = max(last, s.Time)
	}
	if t, err := time.Parse(time.RFC3339, last); err == nil {
		return t
	}
	return time.Unix(0, 0).UTC()
}

func heading(pdf *fpdf.Fpdf, tr func(string) string, size float64, s string) {
	pdf.Ln(2)
	pdf.SetFont("Helvetica", "B", size)
	pdf.MultiCell(0, size*0.5, tr(s), "", "L", false)
	pdf.Ln(1)
}

func para(pdf *fpdf.Fpdf, tr func(string) string, s string) {
	pdf.SetFont("Helvetica", "", 9)
	pdf.MultiCell(0, 4.2, tr(s), "", "L", false)
}

func mono(pdf *fpdf.Fpdf, tr func(string) string, s string) {
	pdf.SetFont("Courier", "", 7)
	pdf.MultiCell(0, 3.3, tr(s), "", "L", false)
}

func usd(m Money) string {
	if m.USD == "" {
		return "USD missing"
	}
	return "USD " + m.USD
}

// renderPDF writes report.pdf: the HTML report's content for filing.
func renderPDF(m *model) ([]byte, error) {
	title := "fundtrace flow report"
	if m.CaseRef != "" {
		title += ": " + m.CaseRef
	}
	pdf, tr := newPDF(m, title)
	pdf.AddPage()
	heading(pdf, tr, 16, title)
	para(pdf, tr, fmt.Sprintf("Made by fundtrace %s from trace.json (schema %s). Every figure comes from a transaction named by its hash and block; manifest.json lists the inputs and the SHA-256 of every file, and fundtrace verify re-checks them.", m.Info.Version, m.T.Schema))
	heading(pdf, tr, 12, "Summary")
	para(pdf, tr, fmt.Sprintf("Victims: %d. Victim payments traced: %d. Taint models: %s.", len(m.Victims), len(m.Seeds), strings.Join(m.T.Models, ", ")))
	if m.NoExchange {
		para(pdf, tr, "Exchanges reached: none. No exchange was reached by the traced money.")
	} else {
		para(pdf, tr, fmt.Sprintf("Exchanges reached: %d.", len(m.Exchanges)))
	}
	for _, t := range m.Totals {
		para(pdf, tr, fmt.Sprintf("Reaching exchanges (%s): %s", t.Model, t.Amount.Text))
	}
	for _, ex := range m.Exchanges {
		var hc, ff []string
		for i := range ex.Haircut {
			hc = append(hc, ex.Haircut[i].Text+" ("+usd(ex.Haircut[i])+")")
			ff = append(ff, ex.FIFO[i].Text+" ("+usd(ex.FIFO[i])+")")
		}
		para(pdf, tr, fmt.Sprintf("%s: %d deposits to %d deposit addresses, first %s, last %s; haircut %s; FIFO %s.", ex.Name, len(ex.Deposits), len(ex.Addresses),
			ex.First, ex.Last, strings.Join(hc, ", "), strings.Join(ff, ", ")))
	}
	drawGraph(pdf, tr, m.Graph)
	pdf.AddPage()
	heading(pdf, tr, 12, "Victim payments")
	for _, s := range m.Seeds {
		mono(pdf, tr, fmt.Sprintf("%s | %s | tx %s %s | block %d | %s | to %s | %s (%s)", s.Victim, s.Chain, s.Tx, s.Where, s.Height, s.Time, s.Address, s.Amount.Text, usd(s.Amount)))
	}
	heading(pdf, tr, 12, "Deposits at exchanges")
	if m.NoExchange {
		para(pdf, tr, "No exchange was reached.")
	}
	for _, ex := range m.Exchanges {
		heading(pdf, tr, 10, ex.Name)
		for _, d := range ex.Deposits {
			mono(pdf, tr, fmt.Sprintf("%s | block %d | tx %s %s | to %s | victim %s | haircut %s (%s) | FIFO %s (%s) | %s", d.Time, d.Height, d.Tx, d.Where, d.Address, d.Victim,
				d.Haircut.Text, usd(d.Haircut), d.FIFO.Text, usd(d.FIFO), d.Evidence))
		}
	}
	heading(pdf, tr, 12, "Transactions by hop")
	for _, h := range m.Hops {
		heading(pdf, tr, 10, fmt.Sprintf("Hop %d", h.Hop))
		for _, f := range h.Rows {
			peel := ""
			if f.Peel {
				peel = " (peel)"
			}
			mono(pdf, tr, fmt.Sprintf("tx %s %s%s | block %d | %s | %s -> %s | value %s | haircut %s (%s) | FIFO %s (%s)", f.Tx, f.Where, peel, f.Height, f.Time, f.From, f.To,
				f.Value.Text, f.Haircut.Text, usd(f.Haircut), f.FIFO.Text, usd(f.FIFO)))
		}
	}
	heading(pdf, tr, 12, "Heuristics, parameters and their measured accuracy")
	for _, h := range m.Heuristics {
		pdf.SetFont("Helvetica", "B", 9)
		pdf.MultiCell(0, 4.2, tr(h.Name), "", "L", false)
		para(pdf, tr, h.Rule)
		para(pdf, tr, "Measured: "+h.Confidence)
		pdf.Ln(1)
	}
	var b bytes.Buffer
	if err := pdf.Output(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// drawGraph draws the flow graph on a page of its own size, so that a
// graph of hundreds of nodes stays legible when zoomed.
func drawGraph(pdf *fpdf.Fpdf, tr func(string) string, g *graph) {
	const scale = 0.35 // mm per SVG unit
	w, h := g.Width*scale, g.Height*scale
	pdf.AddPageFormat("P", fpdf.SizeType{Wd: max(w, 210), Ht: max(h+30, 297)})
	heading(pdf, tr, 12, "Flow graph")
	para(pdf, tr, "Left to right: victims, the addresses by the hop at which the money first reached them, the exchanges. Addresses of one cluster are one node; edge width grows with the haircut amount carried.")
	top := pdf.GetY() + 2
	pdf.SetDrawColor(74, 120, 181)
	for _, e := range g.Edges {
		pdf.SetLineWidth(e.Width * scale * 0.6)
		x1, y1 := (e.From.X+e.From.W)*scale, top+(e.From.Y+e.From.H/2)*scale
		x2, y2 := e.To.X*scale, top+(e.To.Y+e.To.H/2)*scale
		mx := (x1 + x2) / 2
		pdf.CurveBezierCubic(x1, y1, mx, y1, mx, y2, x2, y2, "D")
	}
	pdf.SetLineWidth(0.1)
	pdf.SetDrawColor(110, 110, 110)
	for _, n := range g.Nodes {
		r, gg, b := 242, 242, 242
		switch n.Kind {
		case "victim":
			r, gg, b = 253, 226, 225
		case "seed":
			r, gg, b = 255, 241, 198
		case "deposit":
			r, gg, b = 216, 236, 255
		case "exchange":
			r, gg, b = 191, 227, 198
		}
		pdf.SetFillColor(r, gg, b)
		pdf.RoundedRect(n.X*scale, top+n.Y*scale, n.W*scale, n.H*scale, 1, "1234", "FD")
		pdf.SetFont("Helvetica", "", 5)
		pdf.Text(n.X*scale+1, top+n.Y*scale+3.2, tr(n.Label))
		if n.Sub != "" {
			pdf.SetFont("Helvetica", "", 4)
			pdf.Text(n.X*scale+1, top+n.Y*scale+6.6, tr(n.Sub))
		}
	}
	pdf.SetY(top + h + 2)
}

// renderLetter writes one exchange's freezing-request letter as PDF.
func renderLetter(m *model, ex exchangeRow, t *template.Template) ([]byte, error) {
	text, err := letterText(m, ex, t)
	if err != nil {
		return nil, err
	}
	pdf, tr := newPDF(m, "Freezing request: "+ex.Name)
	pdf.AddPage()
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "- "):
			mono(pdf, tr, line)
		case line == strings.ToUpper(line) && strings.TrimSpace(line) != "" && !strings.ContainsAny(line, "0123456789"):
			heading(pdf, tr, 10, line)
		case strings.HasPrefix(line, "Subject:"):
			pdf.SetFont("Helvetica", "B", 10)
			pdf.MultiCell(0, 4.6, tr(line), "", "L", false)
		default:
			para(pdf, tr, line)
		}
	}
	var b bytes.Buffer
	if err := pdf.Output(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
