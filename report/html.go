package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"slices"
	"strings"
)

//go:embed report.html.tmpl
var htmlTemplate string

func htmlFuncs(m *model) template.FuncMap {
	l := m.L
	const left, width, height = 45.0, 840.0, 160.0
	return template.FuncMap{
		"T":  func(s string, a ...any) string { return l.T(s, a...) },
		"f1": func(f float64) string { return fmt.Sprintf("%.1f", f) },
		"f2": fmtNum,
		"fill": func(kind string) string {
			switch kind {
			case "victims":
				return "#fde2e1"
			case "seed":
				return "#fff1c6"
			case "peel":
				return "#ebe1fa"
			case "service":
				return "#ffe4c8"
			case "exchange":
				return "#bfe3c6"
			}
			return "#f2f2f2"
		},
		"missing": func(s string) string {
			if s == "" {
				return l.T("no price")
			}
			return s
		},
		"usd":       func(mo Money) string { return usd(l, mo) },
		"moneys":    func(ms []Money) string { return inline(l, ms, "; ") },
		"join":      strings.Join,
		"hasPoison": func(ms []string) bool { return slices.Contains(ms, "poison") },
		"models":    func(ms []string) string { return modelNames(l, ms) },
		"day":       day,
		"bw":        func(n int) string { return fmt.Sprintf("%.2f", width/float64(n)*0.4) },
		"bx": func(i, n, j int) string {
			bw := width / float64(n)
			return fmt.Sprintf("%.2f", left+float64(i)*bw+bw*0.1+float64(j)*bw*0.4)
		},
		"by": func(v, mx float64) string { return fmt.Sprintf("%.2f", 170-height*v/mx) },
		"bh": func(v, mx float64) string { return fmt.Sprintf("%.2f", height*v/mx) },
		"largest": func(ex exchangeRow) map[string]any {
			ps, more, text := m.largest(ex.Payments, annexPayments)
			return map[string]any{"Payments": ps, "More": more, "MoreText": text, "File": FileName(ex.Name)}
		},
		// pathsTo is the figure of the money's paths into an exchange, or
		// nil when the graph has no node of it.
		"pathsTo": func(name string) *graph {
			if x := m.Graph.exchangeNode(name); x != nil {
				return m.Graph.pathsTo(x)
			}
			return nil
		},
		// A node's addresses: the first twelve, as Annex C of the PDF.
		"first": func(as []string) []string { return as[:min(len(as), 12)] },
		"more":  func(as []string) int { return max(len(as)-12, 0) },
		"full": func(as []string, sep string) string {
			s := strings.Join(as[:min(len(as), 12)], sep)
			if len(as) > 12 {
				s += sep + l.T("and %d more (transactions.csv)", len(as)-12)
			}
			return s
		},
		"tick": func(i, n int) bool {
			step := max(1, (n+7)/8)
			return i%step == 0
		},
	}
}

// htmlData is the model with what only the HTML shows.
type htmlData struct {
	*model
	Contact     []string
	Limitations []string
	Files       [][]string
}

// renderHTML writes report.html: one file, its style inline, the graphs
// as inline SVG; it loads nothing from anywhere.
func renderHTML(m *model) ([]byte, error) {
	t, err := template.New("report").Funcs(htmlFuncs(m)).Parse(htmlTemplate)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, htmlData{model: m, Contact: m.Case.contact(), Limitations: limitations(m), Files: dataFiles(m)}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
