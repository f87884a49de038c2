package report

import (
	"bytes"
	_ "embed"
	"text/template"
)

// DefaultLetter is the freezing-request letter's text; users pass their
// own with fundtrace report --letter FILE. The fields: .Exchange, .Date,
// .CaseRef, .Victims (how many), .First, .Last, .Addresses (each .Chain,
// .Address, .Deposits, .First, .Last, .Haircut and .FIFO: lists of
// amounts with .Text and .USD), .Deposits (each .Time, .Height, .Tx,
// .Where, .Address, .Victim, .Evidence, .Haircut, .FIFO).
//
//go:embed letter.tmpl
var DefaultLetter string

type letterData struct {
	Exchange, Date, CaseRef, First, Last string
	Victims                              int
	Addresses                            []addressRow
	Deposits                             []depositRow
}

func letterText(m *model, ex exchangeRow, t *template.Template) (string, error) {
	if t == nil {
		var err error
		if t, err = template.New("letter").Parse(DefaultLetter); err != nil {
			return "", err
		}
	}
	var b bytes.Buffer
	err := t.Execute(&b, letterData{Exchange: ex.Name, Date: m.Date, CaseRef: m.CaseRef, First: ex.First, Last: ex.Last,
		Victims: len(ex.Victims), Addresses: ex.Addresses, Deposits: ex.Deposits})
	return b.String(), err
}
