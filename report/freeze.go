package report

import (
	"encoding/json"

	"github.com/fundtrace/fundtrace/tracefile"
)

// RequestSchema names the freezing request's JSON, for machine intake.
const RequestSchema = "fundtrace-freeze/1"

// Request is one exchange's freezing request for machines: who asks, on
// what basis, what is asked, and the deposits (the same rows as the
// CSV's, and the trace's deposit rows as they are).
type Request struct {
	Schema    string                     `json:"schema"`
	Exchange  string                     `json:"exchange"`
	Date      string                     `json:"date,omitempty"`
	Requester *Requester                 `json:"requester,omitempty"`
	Asks      []string                   `json:"asks"`
	Models    []string                   `json:"models"`
	Assets    map[string]tracefile.Asset `json:"assets"`
	Addresses []tracefile.DepositAddress `json:"deposit_addresses"`
	Payments  []Payment                  `json:"deposit_payments,omitempty"`
	Deposits  []tracefile.Deposit        `json:"deposits"`
}

// Requester is the sender block of a request.
type Requester struct {
	Reference    string   `json:"reference,omitempty"`
	Agency       string   `json:"agency,omitempty"`
	Unit         string   `json:"unit,omitempty"`
	Investigator string   `json:"investigator,omitempty"`
	Title        string   `json:"title,omitempty"`
	Reply        []string `json:"reply_to,omitempty"`
	LegalBasis   string   `json:"legal_basis,omitempty"`
	Deadline     string   `json:"deadline,omitempty"`
}

// Payment is one payment into a deposit address, all victims' money in
// it together (base units; USD at the day's price, "" when unknown).
type Payment struct {
	Chain      string `json:"chain"`
	Address    string `json:"deposit_address"`
	Tx         string `json:"txid"`
	Where      string `json:"output_or_position"`
	Height     int64  `json:"height"`
	Time       string `json:"time"`
	Asset      string `json:"asset"`
	Value      string `json:"value"`
	Haircut    string `json:"haircut"`
	FIFO       string `json:"fifo"`
	HaircutUSD string `json:"haircut_usd,omitempty"`
	FIFOUSD    string `json:"fifo_usd,omitempty"`
	Victims    int    `json:"victims"`
}

// Asks are what a freezing request asks of an exchange, in order.
var Asks = []string{
	"freeze the balances of the accounts these deposit addresses belong to",
	"preserve the records of those accounts: identity documents, log-in IP addresses and devices, deposits, withdrawals and trades",
	"identify the account holders to the requester",
}

// NewRequest builds the freezing request of one exchange's deposit rows
// (as fundtrace freeze does without a report). ci may be nil.
func NewRequest(exchange, date string, ci *CaseInfo, models []string, assets map[string]tracefile.Asset, addrs []tracefile.DepositAddress, ds []tracefile.Deposit, payments []Payment) Request {
	r := Request{Schema: RequestSchema, Exchange: exchange, Date: date, Asks: Asks, Models: models, Assets: assets, Addresses: addrs, Payments: payments, Deposits: ds}
	if ci != nil && (ci.Agency != "" || ci.Investigator != "" || ci.Reference != "") {
		r.Requester = &Requester{Reference: ci.Reference, Agency: ci.Agency, Unit: ci.Unit, Investigator: ci.Investigator, Title: ci.Title,
			Reply: ci.contact(), LegalBasis: ci.LegalBasis, Deadline: ci.Deadline}
	}
	return r
}

// Request is the freezing request of one exchange of the report.
func (m *model) Request(ex exchangeRow) Request {
	var addrs []tracefile.DepositAddress
	for _, a := range ex.Addresses {
		addrs = append(addrs, tracefile.DepositAddress{Chain: a.Chain, Address: a.Address, Deposits: a.Deposits, FirstSeen: a.First, LastSeen: a.Last,
			Totals: totalsOf(a.Haircut, a.FIFO)})
	}
	var pays []Payment
	for _, p := range ex.Payments {
		pays = append(pays, Payment{Chain: p.Chain, Address: p.Address, Tx: p.Tx, Where: p.Where, Height: p.Height, Time: p.Time,
			Asset: p.Value.asset, Value: p.Value.Units, Haircut: p.Haircut.Units, FIFO: p.FIFO.Units,
			HaircutUSD: p.Haircut.USD, FIFOUSD: p.FIFO.USD, Victims: p.Victims})
	}
	ci := m.Case
	return NewRequest(ex.Name, m.Date, &ci, m.Models, m.Assets, addrs, ex.rows, pays)
}

func totalsOf(hc, ff []Money) map[string]map[string]string {
	out := map[string]map[string]string{}
	for i := range hc {
		out[hc[i].asset] = map[string]string{"haircut": hc[i].Units, "fifo": ff[i].Units}
	}
	return out
}

// FreezeFiles is one exchange's freezing request as files.
type FreezeFiles struct {
	Exchange  string
	Name      string // the files' base name (FileName of the exchange)
	Deposits  int
	Addresses int
	CSV, JSON []byte
}

// Requests builds the freezing request of every exchange the trace's
// deposits reached with money under haircut or FIFO (an exchange only
// poison reached has nothing to freeze): the CSV fundtrace report writes
// too, and the JSON for machine intake. t needs its head, deposits and
// exchanges; ci may be nil.
func Requests(t *tracefile.Trace, ci *CaseInfo, date string, p Pricer) ([]FreezeFiles, error) {
	l, err := newLang("en", "")
	if err != nil {
		return nil, err
	}
	m := &model{L: l, Assets: t.Assets, Models: t.Models, pricer: p, FiatName: p.fiat(), Date: date}
	if ci != nil {
		m.Case = *ci
	}
	var out []FreezeFiles
	for _, ex := range m.exchanges(t) {
		f, err := m.freezeFiles(ex)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

func (m *model) freezeFiles(ex exchangeRow) (FreezeFiles, error) {
	jb, err := json.MarshalIndent(m.Request(ex), "", "  ")
	if err != nil {
		return FreezeFiles{}, err
	}
	return FreezeFiles{Exchange: ex.Name, Name: FileName(ex.Name), Deposits: ex.Deposits, Addresses: len(ex.Addresses),
		CSV: DepositsCSV(m.Assets, ex.rows, m.pricer), JSON: append(jb, '\n')}, nil
}
