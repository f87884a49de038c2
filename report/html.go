package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"strings"
)

//go:embed report.html.tmpl
var htmlTemplate string

var funcs = template.FuncMap{
	"f1":  func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"add": func(a, b int) int { return a + b },
	"fill": func(kind string) string {
		switch kind {
		case "victim":
			return "#fde2e1"
		case "seed":
			return "#fff1c6"
		case "deposit":
			return "#d8ecff"
		case "exchange":
			return "#bfe3c6"
		}
		return "#f2f2f2"
	},
	"missing": func(s string) string {
		if s == "" {
			return "missing"
		}
		return s
	},
	"join": strings.Join,
}

// renderHTML writes report.html: one file, its style inline, the graph
// as inline SVG; it loads nothing from anywhere.
func renderHTML(m *model) ([]byte, error) {
	t, err := template.New("report").Funcs(funcs).Parse(htmlTemplate)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, m); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
