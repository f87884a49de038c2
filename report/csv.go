package report

import (
	"bytes"
	"encoding/csv"
	"strconv"
)

// transactionsCSV is every flow of the trace, one row each, for
// spreadsheets: amounts in base units and in the asset's unit, and in
// fiat where the price is known ("missing" where not).
func transactionsCSV(m *model) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	head := []string{"hop", "chain", "txid", "output_or_position", "block", "time_utc", "from", "to", "asset", "value", "haircut", "fifo", "poison",
		"value_units", "haircut_units", "fifo_units", "haircut_usd", "fifo_usd"}
	if m.FiatName != "" {
		head = append(head, "haircut_"+m.FiatName, "fifo_"+m.FiatName)
	}
	w.Write(head)
	for _, f := range m.T.Flows {
		a := m.T.Assets[f.Asset]
		u := unixOf(f.Time)
		hc, ff := m.money(f.Asset, f.Haircut, u, m.prices), m.money(f.Asset, f.FIFO, u, m.prices)
		where := f.Outpoint
		if where == "" {
			where = f.Position
		}
		from := ""
		for i, x := range f.From {
			if i > 0 {
				from += " "
			}
			from += x
		}
		row := []string{strconv.Itoa(f.Hop), f.Chain, f.Tx, where, strconv.FormatInt(f.Height, 10), f.Time, from, f.To, a.Symbol,
			decimal(f.Value, a.Decimals), decimal(f.Haircut, a.Decimals), decimal(f.FIFO, a.Decimals), strconv.FormatBool(f.Poison),
			f.Value, f.Haircut, f.FIFO, missingStr(hc.USD), missingStr(ff.USD)}
		if m.FiatName != "" {
			row = append(row, missingStr(hc.Fiat), missingStr(ff.Fiat))
		}
		w.Write(row)
	}
	w.Flush()
	return b.Bytes()
}

func missingStr(s string) string {
	if s == "" {
		return "missing"
	}
	return s
}

// freezeCSV is one exchange's deposits, for its compliance team.
func freezeCSV(m *model, ex exchangeRow) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write([]string{"exchange", "deposit_address", "txid", "output_or_position", "block", "time_utc", "victim", "haircut", "fifo", "haircut_usd", "fifo_usd", "evidence"})
	for _, d := range ex.Deposits {
		w.Write([]string{ex.Name, d.Address, d.Tx, d.Where, strconv.FormatInt(d.Height, 10), d.Time, d.Victim, d.Haircut.Text, d.FIFO.Text,
			missingStr(d.Haircut.USD), missingStr(d.FIFO.USD), d.Evidence})
	}
	w.Flush()
	return b.Bytes()
}
