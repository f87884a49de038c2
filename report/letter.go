package report

import (
	"bytes"
	_ "embed"
	"text/template"
)

// DefaultLetter is the freezing-request letter's text; users pass their
// own with fundtrace report --letter FILE (docs/reports.md lists the
// fields). T translates a sentence into the report's language; lines
// starting "! " are set in bold, "# " as headings, "- " in a fixed-width
// font.
//
//go:embed letter.tmpl
var DefaultLetter string

type letterData struct {
	Exchange, Date, First, Last string
	Case                        CaseInfo
	Contact                     []string
	Victims                     int
	Asks                        []string
	Addresses                   []addressRow
	Payments                    []paymentRow
	// More: the payments not listed (the smaller ones), what they carry,
	// and the file that lists every one.
	More     int
	MoreText string
	CSV      string
}

// letterFuncs are the functions a letter template may call.
func letterFuncs(l *lang) template.FuncMap {
	return template.FuncMap{
		"T":      func(s string, a ...any) string { return l.T(s, a...) },
		"inc":    func(i int) int { return i + 1 },
		"money":  func(ms []Money) string { return inline(l, ms, ", ") },
		"amount": func(m Money) string { return inline(l, []Money{m}, "") },
		"day":    day,
	}
}

// LetterTemplate parses a letter template (text/template, with the
// functions the default letter uses).
func LetterTemplate(name, text string) (*template.Template, error) {
	return template.New(name).Funcs(letterFuncs(&lang{})).Parse(text)
}

func letterText(m *model, ex exchangeRow, t *template.Template) (string, error) {
	var err error
	if t == nil {
		t, err = template.New("letter").Funcs(letterFuncs(m.L)).Parse(DefaultLetter)
	} else {
		t, err = t.Clone()
		if err == nil {
			t = t.Funcs(letterFuncs(m.L))
		}
	}
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	payments, more, moreText := m.largest(ex.Payments, letterPayments)
	err = t.Execute(&b, letterData{Exchange: ex.Name, Date: m.Date, Case: m.Case, Contact: m.Case.contact(), First: day(ex.First), Last: day(ex.Last),
		Victims: ex.Victims, Asks: Asks, Addresses: ex.Addresses, Payments: payments, More: more, MoreText: moreText,
		CSV: FileName(ex.Name) + ".csv"})
	return b.String(), err
}
