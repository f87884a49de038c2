// Package tracefile is the trace file: what fundtrace trace --out writes
// and freeze, report and verify read (docs/tracing.md describes it). Its
// field names are stable within a schema version; a reader refuses
// another version with a message.
//
// A real case's trace runs to hundreds of thousands of flows, so the file
// is written and read as a stream: Write encodes one element of a section
// at a time, and Scan hands the long sections (nodes, flows, deposits,
// poisoned deposits, stops) to callbacks element by element, so that a
// reader that needs only the deposits never holds the flows.
package tracefile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Schema names the trace file format; docs/tracing.md describes it.
//
// Version 2 reports poison per deposit (poisoned_deposits, each with the
// set of victims whose money touched it) instead of as one deposit row per
// victim and deposit, and may merge haircut shares too small to follow
// into an "other victims" remainder. Scan reads version 1 files too,
// converting them (see Scan).
const Schema = "fundtrace-trace/2"

// SchemaV1 is the previous version, which Scan still reads.
const SchemaV1 = "fundtrace-trace/1"

// OtherVictims is the victim of a deposit row that carries the haircut
// shares merged into one remainder: shares under the trace's min_amount,
// each victim's part of which its seed's merged_into_other gives.
const OtherVictims = "(other victims)"

// Trace is the trace as written for machines, freeze and report.
// Keep field names stable: scripts read them (docs/tracing.md).
// Amounts are decimal strings in the asset's base units (satoshi, wei, a
// token's smallest unit), never floats.
type Trace struct {
	Schema     string           `json:"schema"`
	Direction  string           `json:"direction"` // forward or backward
	Models     []string         `json:"models"`
	Params     Params           `json:"params"`
	Assets     map[string]Asset `json:"assets"` // by asset id: BTC, ETH, or a token's contract
	Seeds      []Seed           `json:"seeds"`
	Nodes      []Node           `json:"nodes"`
	Flows      []Flow           `json:"flows"`
	Deposits   []Deposit        `json:"deposits"`
	Poisoned   []Poisoned       `json:"poisoned_deposits"`
	Exchanges  []Exchange       `json:"exchanges"`
	Origins    []Origin         `json:"origins,omitempty"`
	PeelChains []PeelChain      `json:"peel_chains"`
	Stops      []Stop           `json:"stops"`
	StopCounts map[string]int   `json:"stop_counts"`
	Stats      []Stats          `json:"stats"`
}

type Params struct {
	MaxHops       int               `json:"max_hops"`
	MinAmount     map[string]string `json:"min_amount"`
	MaxNodes      int               `json:"max_nodes"`
	ThroughMixers bool              `json:"through_mixers"`
	From          string            `json:"from,omitempty"`
	Until         string            `json:"until,omitempty"`
}

type Asset struct {
	Chain    string `json:"chain"`
	Symbol   string `json:"symbol"`
	Decimals int    `json:"decimals"`
}

type Seed struct {
	Chain    string `json:"chain"`
	Victim   string `json:"victim"`
	Tx       string `json:"txid"`
	Outpoint string `json:"outpoint,omitempty"` // Bitcoin
	Position string `json:"position,omitempty"` // Ethereum: "" the value, log:N a token transfer
	Address  string `json:"address"`            // who was paid
	Asset    string `json:"asset"`
	Amount   string `json:"amount"`
	Height   int64  `json:"height"`
	Time     string `json:"time"`
	// MergedIntoOther is how much of this seed's money (base units,
	// rounded down) the haircut model moved into the other-victims
	// remainder along the way: its deposits, stops and this add up to
	// what reached each point.
	MergedIntoOther string `json:"merged_into_other,omitempty"`
}

// Node is a node of the flow graph: an address, with its label and
// cluster when known.
type Node struct {
	Chain       string `json:"chain"`
	Address     string `json:"address"`
	Role        string `json:"role"` // seed, intermediate, deposit, exchange, service, origin
	Label       string `json:"label,omitempty"`
	Category    string `json:"category,omitempty"`
	Cluster     uint32 `json:"cluster,omitempty"`
	ClusterSize uint32 `json:"cluster_size,omitempty"`
	// ClusterFlagged: the cluster was built through a multi-input merge
	// of two clusters over the super-cluster guard's size (fundtrace
	// cluster suspects lists it); its attribution deserves a second look.
	ClusterFlagged bool `json:"cluster_flagged_merge,omitempty"`
}

// Flow is an edge of the flow graph: a transaction moving tainted
// money from addresses to one output (Bitcoin) or by one transfer
// (Ethereum), with what it carries of all seeds together per model.
type Flow struct {
	Chain    string   `json:"chain"`
	Tx       string   `json:"txid"`
	Height   int64    `json:"height"`
	Time     string   `json:"time"`
	Hop      int      `json:"hop"`
	Asset    string   `json:"asset"`
	From     []string `json:"from"`
	To       string   `json:"to"`
	Outpoint string   `json:"outpoint,omitempty"`
	Position string   `json:"position,omitempty"`
	Value    string   `json:"value"`
	Haircut  string   `json:"haircut"`
	FIFO     string   `json:"fifo"`
	Poison   bool     `json:"poison"`
	Peel     bool     `json:"peel,omitempty"`
	CoinJoin bool     `json:"coinjoin,omitempty"` // money went through a CoinJoin here
}

type Deposit struct {
	Chain    string `json:"chain"`
	Exchange string `json:"exchange"`
	Address  string `json:"deposit_address"`
	Tx       string `json:"txid"`
	Outpoint string `json:"outpoint,omitempty"`
	Position string `json:"position,omitempty"`
	Height   int64  `json:"height"`
	Time     string `json:"time"`
	Asset    string `json:"asset"`
	Value    string `json:"value"`
	Victim   string `json:"victim"`
	Haircut  string `json:"haircut"`
	FIFO     string `json:"fifo"`
	Poison   string `json:"poison"`
	Hop      int    `json:"hop"`
	Evidence string `json:"evidence"`
}

// Poisoned is a deposit the poison model reached: the deposit (as in
// Deposit) and the victims whose money touched it on the way, as a count
// and as ranges of 1-based seed numbers (the order of seeds[]),
// "1-40,45,50-52". Deposit rows exist only where haircut or FIFO carry a
// victim's money; fundtrace trace --poison-pairs writes the pairs out.
type Poisoned struct {
	Chain    string `json:"chain"`
	Exchange string `json:"exchange"`
	Address  string `json:"deposit_address"`
	Tx       string `json:"txid"`
	Outpoint string `json:"outpoint,omitempty"`
	Position string `json:"position,omitempty"`
	Height   int64  `json:"height"`
	Time     string `json:"time"`
	Asset    string `json:"asset"`
	Value    string `json:"value"`
	Hop      int    `json:"hop"`
	Evidence string `json:"evidence"`
	Victims  int    `json:"victims"`
	Seeds    string `json:"seeds"`
}

type Exchange struct {
	Exchange  string           `json:"exchange"`
	Deposits  int              `json:"deposits"`
	FirstSeen string           `json:"first_seen"`
	LastSeen  string           `json:"last_seen"`
	Addresses []DepositAddress `json:"deposit_addresses"`
}

type DepositAddress struct {
	Chain     string                       `json:"chain"`
	Address   string                       `json:"address"`
	Deposits  int                          `json:"deposits"`
	FirstSeen string                       `json:"first_seen"`
	LastSeen  string                       `json:"last_seen"`
	Totals    map[string]map[string]string `json:"totals"` // asset → model → amount
	Victims   []string                     `json:"victims"`
	// PoisonVictims: how many victims' money touched the address's
	// deposits under the poison model (poisoned_deposits lists them).
	PoisonVictims int `json:"poison_victims,omitempty"`
}

type Origin struct {
	Chain    string `json:"chain"`
	Victim   string `json:"victim"`
	Reason   string `json:"reason"` // labeled, coinbase, reward, withdrawal, mint, pre-existing, max-hops, max-nodes, max-history
	Category string `json:"category,omitempty"`
	Name     string `json:"name,omitempty"`
	Address  string `json:"address,omitempty"`
	Tx       string `json:"txid"`
	Outpoint string `json:"outpoint,omitempty"`
	Position string `json:"position,omitempty"`
	Height   int64  `json:"height"`
	Time     string `json:"time"`
	Hop      int    `json:"hop"`
	Asset    string `json:"asset"`
	Haircut  string `json:"haircut"`
	FIFO     string `json:"fifo"`
	Poison   string `json:"poison"`
}

type PeelChain struct {
	Chain  string   `json:"chain"`
	Steps  int      `json:"steps"`
	Txs    []string `json:"txids"`
	Rest   []string `json:"rest"`   // the address the rest went on to, step by step
	Peeled []string `json:"peeled"` // the address paid, step by step
	Start  string   `json:"start_time"`
	End    string   `json:"end_time"`
}

type Stop struct {
	Chain   string `json:"chain"`
	Reason  string `json:"reason"`
	Where   string `json:"where"` // an outpoint (Bitcoin) or an address (Ethereum)
	Asset   string `json:"asset,omitempty"`
	Tx      string `json:"txid,omitempty"`
	Detail  string `json:"detail,omitempty"`
	Haircut string `json:"haircut,omitempty"`
	FIFO    string `json:"fifo,omitempty"`
}

type Stats struct {
	Chain   string `json:"chain"`
	Hops    int    `json:"hops"`
	Queries int    `json:"store_queries"`
	Visited int    `json:"visited"` // coins (Bitcoin) or addresses (Ethereum) followed
	// OtherShares counts the haircut shares under min_amount merged into
	// the other-victims remainder (seeds[].merged_into_other says whose).
	OtherShares int `json:"other_victims_shares,omitempty"`
}

// Read reads a trace file whole, refusing another schema with a message.
func Read(p string) (*Trace, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Scan(bufio.NewReaderSize(f, 1<<20), p, Handler{})
}

// Parse reads a trace file's bytes whole; name says where they came from.
func Parse(b []byte, name string) (*Trace, error) {
	return Scan(bytes.NewReader(b), name, Handler{})
}

// Handler takes a trace file's long sections element by element, in the
// order of the file. A nil function leaves its section to be collected
// into the Trace that Scan returns; an error from one ends the scan.
type Handler struct {
	// Start, when set, is given the trace's short head (schema,
	// direction, models, params, assets, seeds: what comes before the
	// long sections) as the first long section begins, so that a reader
	// can set up what it handles them with.
	Start    func(*Trace) error
	Node     func(Node) error
	Flow     func(Flow) error
	Deposit  func(Deposit) error
	Poisoned func(Poisoned) error
	Stop     func(Stop) error
}

// Scan reads a trace file as a stream: the schema (first), the short
// sections into the Trace it returns, and each element of the long ones
// to h (or into the Trace where h has no function for it). Memory is
// what the short sections and the collected ones hold.
//
// A version 1 file is converted as it is read: its deposit rows that
// carry nothing under haircut or FIFO (there only because poison reached
// the deposit) become poisoned deposits, the rows of one deposit joined
// into one victim set (a victim named by several seeds counts them all),
// given after the last deposit row; its exchanges section is passed as
// written (version 1 summed poison per row).
func Scan(r io.Reader, name string, h Handler) (*Trace, error) {
	dec := json.NewDecoder(r)
	fail := func(err error) error {
		var he handlerError
		if errors.As(err, &he) {
			return fmt.Errorf("%s: %w", name, he.err)
		}
		return fmt.Errorf("%s: not a trace file: at byte %d: %w", name, dec.InputOffset(), err)
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		if err == nil {
			err = errors.New("not a JSON object")
		}
		return nil, fmt.Errorf("%s: not a trace file: %w", name, err)
	}
	var t Trace
	v1 := false
	var conv *v1Poison
	started := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fail(err)
		}
		key, _ := tok.(string)
		if t.Schema == "" && key != "schema" {
			return nil, fmt.Errorf("%s: not a trace file: its first field is %q, not the schema (want %s)", name, key, Schema)
		}
		switch key {
		case "nodes", "flows", "deposits", "poisoned_deposits", "stops":
			if !started && h.Start != nil {
				if err := h.Start(&t); err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
			}
			started = true
		}
		switch key {
		case "schema":
			if err := dec.Decode(&t.Schema); err != nil {
				return nil, fail(err)
			}
			switch t.Schema {
			case Schema:
			case SchemaV1:
				v1 = true
			case "":
				return nil, fmt.Errorf("%s: no schema field: not written by fundtrace trace --out of this version (want %s)", name, Schema)
			default:
				return nil, fmt.Errorf("%s: schema %q, this fundtrace reads %q (and %q): re-run the trace with this version", name, t.Schema, Schema, SchemaV1)
			}
		case "nodes":
			err = section(dec, h.Node, &t.Nodes)
		case "flows":
			err = section(dec, h.Flow, &t.Flows)
		case "deposits":
			if !v1 {
				err = section(dec, h.Deposit, &t.Deposits)
				break
			}
			conv = newV1Poison(&t)
			err = section(dec, func(d Deposit) error {
				if conv.take(d) {
					return nil
				}
				if h.Deposit == nil {
					t.Deposits = append(t.Deposits, d)
					return nil
				}
				return h.Deposit(d)
			}, nil)
			if err == nil {
				for _, p := range conv.poisoned() {
					if h.Poisoned == nil {
						t.Poisoned = append(t.Poisoned, p)
					} else if e := h.Poisoned(p); e != nil {
						err = handlerError{e}
						break
					}
				}
			}
		case "poisoned_deposits":
			err = section(dec, h.Poisoned, &t.Poisoned)
		case "stops":
			err = section(dec, h.Stop, &t.Stops)
		default:
			f, ok := topField(&t, key)
			if !ok {
				// A field this version does not know: skipped, as
				// encoding/json would.
				var skip json.RawMessage
				err = dec.Decode(&skip)
				break
			}
			err = dec.Decode(f)
		}
		if err != nil {
			return nil, fail(err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, fail(err)
	}
	if v1 {
		t.Schema = Schema
	}
	return &t, nil
}

// section reads a JSON array element by element, handing each to f, or
// appending it to *into when f is nil.
func section[T any](dec *json.Decoder, f func(T) error, into *[]T) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil { // null
		return nil
	}
	if tok != json.Delim('[') {
		return fmt.Errorf("want an array, found %v", tok)
	}
	if f == nil && into != nil && *into == nil {
		*into = []T{} // as encoding/json reads []
	}
	for dec.More() {
		var x T
		if err := dec.Decode(&x); err != nil {
			return err
		}
		if f != nil {
			if err := f(x); err != nil {
				return handlerError{err}
			}
			continue
		}
		if into != nil {
			*into = append(*into, x)
		}
	}
	_, err = dec.Token()
	return err
}

// handlerError is a Handler's error, told apart from the file's.
type handlerError struct{ err error }

func (e handlerError) Error() string { return e.err.Error() }
func (e handlerError) Unwrap() error { return e.err }

// topField finds the field of t a top-level key names.
func topField(t *Trace, key string) (any, bool) {
	v := reflect.ValueOf(t).Elem()
	ty := v.Type()
	for i := 0; i < ty.NumField(); i++ {
		if n, _, _ := strings.Cut(ty.Field(i).Tag.Get("json"), ","); n == key {
			return v.Field(i).Addr().Interface(), true
		}
	}
	return nil, false
}

// v1Poison turns a version 1 file's poison-only deposit rows into
// poisoned deposits.
type v1Poison struct {
	on      bool
	bySeed  map[string][]int
	at      map[string]int
	out     []Poisoned
	members []map[int]bool
}

func newV1Poison(t *Trace) *v1Poison {
	c := &v1Poison{bySeed: map[string][]int{}, at: map[string]int{}}
	for _, m := range t.Models {
		c.on = c.on || m == "poison"
	}
	for i, s := range t.Seeds {
		c.bySeed[s.Victim] = append(c.bySeed[s.Victim], i)
	}
	return c
}

// take notes d's poison and says whether the row is poison only (dropped).
func (c *v1Poison) take(d Deposit) bool {
	zero := func(s string) bool { return s == "" || s == "0" }
	only := zero(d.Haircut) && zero(d.FIFO)
	if !c.on || zero(d.Poison) {
		return only
	}
	k := d.Chain + " " + d.Tx + " " + d.Outpoint + " " + d.Position
	i, ok := c.at[k]
	if !ok {
		i = len(c.out)
		c.at[k] = i
		c.out = append(c.out, Poisoned{Chain: d.Chain, Exchange: d.Exchange, Address: d.Address, Tx: d.Tx, Outpoint: d.Outpoint,
			Position: d.Position, Height: d.Height, Time: d.Time, Asset: d.Asset, Value: d.Value, Hop: d.Hop, Evidence: d.Evidence})
		c.members = append(c.members, map[int]bool{})
	}
	c.out[i].Hop = min(c.out[i].Hop, d.Hop)
	for _, s := range c.bySeed[d.Victim] {
		c.members[i][s] = true
	}
	return only
}

func (c *v1Poison) poisoned() []Poisoned {
	for i := range c.out {
		ids := make([]int, 0, len(c.members[i]))
		for s := range c.members[i] {
			ids = append(ids, s)
		}
		sort.Ints(ids)
		c.out[i].Victims, c.out[i].Seeds = len(ids), FormatRanges(ids)
	}
	sort.SliceStable(c.out, func(i, j int) bool {
		if c.out[i].Exchange != c.out[j].Exchange {
			return c.out[i].Exchange < c.out[j].Exchange
		}
		return c.out[i].Height < c.out[j].Height
	})
	return c.out
}

// FormatRanges writes ascending 0-based seed indices as the file holds
// them: runs of 1-based seed numbers, "1-40,45,50-52".
func FormatRanges(ids []int) string {
	var b strings.Builder
	for i := 0; i < len(ids); {
		j := i
		for j+1 < len(ids) && ids[j+1] == ids[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(ids[i] + 1))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(ids[j] + 1))
		}
		i = j + 1
	}
	return b.String()
}

// ParseRanges reads a poisoned deposit's seeds ("1-40,45") as ascending
// 0-based seed indices, each below n (the trace's seeds).
func ParseRanges(s string, n int) ([]int, error) {
	var out []int
	if s == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("seed range %q: %w", part, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, fmt.Errorf("seed range %q: %w", part, err)
			}
		}
		if a < 1 || b < a || b > n || (len(out) > 0 && a-1 <= out[len(out)-1]) {
			return nil, fmt.Errorf("seed range %q: want ascending runs of seed numbers 1..%d", part, n)
		}
		for i := a; i <= b; i++ {
			out = append(out, i-1)
		}
	}
	return out, nil
}

// Marshal renders a trace as the file holds it (indented, newline-ended).
func Marshal(t *Trace) ([]byte, error) {
	var b bytes.Buffer
	if err := Write(&b, t); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Write streams t to w as the file holds it: the bytes of
// json.MarshalIndent(t, "", "  ") and a newline, encoded one element of a
// section at a time so that no copy of the whole file is ever held.
func Write(w io.Writer, t *Trace) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	v := reflect.ValueOf(t).Elem()
	ty := v.Type()
	bw.WriteString("{")
	first := true
	for i := 0; i < ty.NumField(); i++ {
		name, opts, _ := strings.Cut(ty.Field(i).Tag.Get("json"), ",")
		f := v.Field(i)
		if opts == "omitempty" && (f.IsZero() || f.Kind() == reflect.Slice && f.Len() == 0) {
			continue
		}
		if !first {
			bw.WriteString(",")
		}
		first = false
		bw.WriteString("\n  " + strconv.Quote(name) + ": ")
		if f.Kind() != reflect.Slice || f.IsNil() || f.Len() == 0 {
			b, err := json.MarshalIndent(f.Interface(), "  ", "  ")
			if err != nil {
				return fmt.Errorf("trace file: %s: %w", name, err)
			}
			bw.Write(b)
			continue
		}
		bw.WriteString("[")
		for k := 0; k < f.Len(); k++ {
			b, err := json.MarshalIndent(f.Index(k).Interface(), "    ", "  ")
			if err != nil {
				return fmt.Errorf("trace file: %s[%d]: %w", name, k, err)
			}
			if k > 0 {
				bw.WriteString(",")
			}
			bw.WriteString("\n    ")
			bw.Write(b)
		}
		bw.WriteString("\n  ]")
	}
	bw.WriteString("\n}\n")
	return bw.Flush()
}

// AddUnits adds two amounts written in base units (decimal strings, as the
// file holds them); "" counts as zero.
func AddUnits(a, b string) string {
	x, ok := new(big.Int).SetString(a, 10)
	if !ok {
		x = new(big.Int)
	}
	y, ok := new(big.Int).SetString(b, 10)
	if !ok {
		y = new(big.Int)
	}
	return x.Add(x, y).String()
}
