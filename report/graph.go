package report

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"math/big"
	"slices"
	"strings"

	"github.com/fundtrace/fundtrace/tracefile"
)

// The flow graph a report prints is aggregated so that it reads on paper
// whatever the case's size: the victims are one node; an address joins
// its cluster's node, a labeled address its label's, a deposit address
// its exchange's, and the addresses a peel chain runs through become one
// node that says how many steps it has; the largest nodes are kept and
// the others of each column summed into "other addresses"; the largest
// edges are drawn and the rest summed in the caption. Every node has a
// number whose full form (every address, cluster, label) the legend
// beside the graph gives.
//
// Edges are exact sums of haircut amounts: a transaction's tainted
// inputs are drawn from the node of its first tainted input (under the
// multi-input heuristic they are one owner's).

const (
	maxGraphNodes = 24 // intermediate nodes kept
	maxGraphEdges = 34 // with the rest's line, one landscape page of the table that names them in full
	maxGraphCols  = 6  // intermediate columns
	maxGraphRows  = 12
)

// graphIn collects what the graph is built from as the trace streams past.
type graphIn struct {
	nodes map[string]tracefile.Node // chain/address → node
	hop   map[string]int            // chain/address → least hop reached at
	edges map[[3]string]*big.Int    // from, to (chain/address or "victims"), asset → haircut units
	seeds map[string]bool           // chain/address of the victims' payees
	keys  [][3]string               // the edges' keys, in the order first met (a stable output)
	peel  map[string]int            // chain/address → peel chain number (set after the scan)
	dep   map[string]string         // chain/address → exchange (set after the scan)
}

func newGraphIn() *graphIn {
	return &graphIn{nodes: map[string]tracefile.Node{}, hop: map[string]int{}, edges: map[[3]string]*big.Int{}, seeds: map[string]bool{},
		peel: map[string]int{}, dep: map[string]string{}}
}

func (g *graphIn) edge(from, to, asset, units string) {
	v, ok := new(big.Int).SetString(units, 10)
	if !ok || v.Sign() <= 0 || from == to {
		return
	}
	k := [3]string{from, to, asset}
	if e := g.edges[k]; e != nil {
		e.Add(e, v)
		return
	}
	g.edges[k] = v
	g.keys = append(g.keys, k)
}

func (g *graphIn) reach(k string, hop int) {
	if h, ok := g.hop[k]; !ok || hop < h {
		g.hop[k] = hop
	}
}

func (g *graphIn) seed(s tracefile.Seed) {
	k := s.Chain + "/" + s.Address
	g.seeds[k] = true
	g.reach(k, 0)
	g.edge("victims", k, s.Asset, s.Amount)
}

func (g *graphIn) flow(f tracefile.Flow) {
	if len(f.From) == 0 {
		return
	}
	to := f.Chain + "/" + f.To
	g.reach(to, f.Hop)
	g.edge(f.Chain+"/"+f.From[0], to, f.Asset, f.Haircut)
}

// gnode is a node of the drawn graph.
type gnode struct {
	Num    int
	Key    string
	Label  string // what the box says (at most about 20 characters)
	Sub    string
	Kind   string // victims, seed, intermediate, peel, service, exchange, other
	Full   []string
	Col    int
	X, Y   float64
	W, H   float64
	weight float64
}

type gedge struct {
	From, To *gnode
	Asset    string // the asset's symbol
	Amount   *big.Int
	Text     string
	Width    float64
	weight   float64
}

type graph struct {
	Nodes         []*gnode
	Edges         []*gedge // the largest, drawn
	all           []*gedge // every edge, for the per-exchange figures
	Width, Height float64
	// Hidden: edges not drawn, and what they carry per asset.
	Hidden     int
	HiddenText string
	Merged     int // addresses summed into "other addresses" nodes
}

// Graph geometry, in points (the PDF draws it scaled to the page).
const (
	gColW   = 118.0
	gNodeW  = 100.0
	gNodeH  = 26.0
	gRowGap = 8.0
	gMargin = 6.0
)

func short(a string) string {
	if len([]rune(a)) > 18 {
		r := []rune(a)
		return string(r[:9]) + "…" + string(r[len(r)-6:])
	}
	return a
}

// build groups, ranks and lays the graph out. assets names each asset
// (symbol, decimals); deps maps deposit addresses to their exchange.
func (g *graphIn) build(assets map[string]tracefile.Asset, peels []tracefile.PeelChain, deps []tracefile.Deposit, victims int, l *lang) *graph {
	for _, d := range deps {
		g.dep[d.Chain+"/"+d.Address] = d.Exchange
	}
	for i, pc := range peels {
		for _, a := range pc.Rest[:max(len(pc.Rest)-1, 0)] { // the last rest goes on: it is not the chain
			g.peel[pc.Chain+"/"+a] = i + 1
		}
	}
	// Groups.
	type group struct {
		key, label, sub, kind string
		full                  []string
		hop                   int
		weight                float64
	}
	groups := map[string]*group{}
	groupOf := map[string]*group{}
	get := func(addr string) *group {
		if gr := groupOf[addr]; gr != nil {
			return gr
		}
		var key, label, sub, kind string
		n := g.nodes[addr]
		chain, a, _ := strings.Cut(addr, "/")
		switch {
		case addr == "victims":
			key, label, sub, kind = "victims", l.T("Victims"), l.T("%d payments", victims), "victims"
		case g.dep[addr] != "":
			key, label, kind = "exchange/"+g.dep[addr], g.dep[addr], "exchange"
			sub = l.T("exchange")
		case g.peel[addr] != 0 && n.Label == "":
			pc := peels[g.peel[addr]-1]
			key, label, sub, kind = fmt.Sprintf("peel/%d", g.peel[addr]), l.T("peel chain"), l.T("%d steps", pc.Steps), "peel"
		case n.Label != "":
			key, label, sub, kind = "label/"+n.Label, n.Label, n.Category, "service"
		case n.Cluster != 0 && n.ClusterSize > 1:
			key, label, kind = fmt.Sprintf("cluster/%s/%d", chain, n.Cluster), l.T("cluster %s", fmt.Sprint(n.Cluster)), "intermediate"
			sub = l.T("%d addresses", n.ClusterSize)
			if n.ClusterFlagged {
				sub += " *"
			}
		default:
			key, label, sub, kind = addr, short(a), chain, "intermediate"
		}
		if g.seeds[addr] && kind == "intermediate" {
			kind = "seed"
		}
		gr := groups[key]
		if gr == nil {
			gr = &group{key: key, label: label, sub: sub, kind: kind, hop: math.MaxInt}
			groups[key] = gr
		}
		if addr != "victims" && !slices.Contains(gr.full, a) {
			gr.full = append(gr.full, a)
		}
		if h, ok := g.hop[addr]; ok {
			gr.hop = min(gr.hop, h)
		}
		groupOf[addr] = gr
		return gr
	}
	// Each asset's edges are weighed against the asset's largest, so that
	// cases of several assets rank fairly.
	maxBy := map[string]*big.Int{}
	keys := g.keys
	for _, k := range keys {
		if m := maxBy[k[2]]; m == nil || g.edges[k].Cmp(m) > 0 {
			maxBy[k[2]] = g.edges[k]
		}
	}
	weigh := func(asset string, v *big.Int) float64 {
		f, _ := new(big.Rat).SetFrac(v, maxBy[asset]).Float64()
		return f
	}
	for _, k := range keys {
		from, to := get(k[0]), get(k[1])
		if from != to {
			to.weight += weigh(k[2], g.edges[k])
		}
	}
	// Keep the victims, the exchanges (the largest twelve) and the largest
	// intermediate nodes; the rest of each column becomes one node.
	var inter, exch []*group
	for _, gr := range groups {
		switch gr.kind {
		case "victims":
		case "exchange":
			exch = append(exch, gr)
		default:
			inter = append(inter, gr)
		}
	}
	byWeight := func(a, b *group) int { return cmp.Or(cmp.Compare(b.weight, a.weight), cmp.Compare(a.key, b.key)) }
	slices.SortFunc(inter, byWeight)
	slices.SortFunc(exch, byWeight)
	kept := map[*group]bool{groups["victims"]: true}
	for i, gr := range inter {
		kept[gr] = i < maxGraphNodes
	}
	for i, gr := range exch {
		kept[gr] = i < 12
	}
	// Columns: the kept intermediate nodes' hops, bucketed into at most
	// maxGraphCols columns in order.
	var hops []int
	for _, gr := range inter {
		if kept[gr] && !slices.Contains(hops, gr.hop) {
			hops = append(hops, gr.hop)
		}
	}
	slices.Sort(hops)
	colOf := func(hop int) int {
		i, _ := slices.BinarySearch(hops, hop)
		if len(hops) <= maxGraphCols {
			return 1 + i
		}
		return 1 + i*maxGraphCols/len(hops)
	}
	ncols := min(len(hops), maxGraphCols)
	// At most maxGraphRows nodes a column (the page's height): the
	// smaller of a crowded column join its "other addresses".
	perCol := map[int]int{}
	for _, gr := range inter {
		if kept[gr] {
			c := colOf(gr.hop)
			if perCol[c] >= maxGraphRows-1 {
				kept[gr] = false
				continue
			}
			perCol[c]++
		}
	}
	out := &graph{}
	nodeOf := map[*group]*gnode{}
	others := map[int]*gnode{}
	otherEx := (*gnode)(nil)
	final := func(gr *group) *gnode {
		if n := nodeOf[gr]; n != nil {
			return n
		}
		var n *gnode
		switch {
		case kept[gr]:
			col := 0
			switch gr.kind {
			case "victims":
			case "exchange":
				col = ncols + 1
			default:
				col = colOf(gr.hop)
			}
			n = &gnode{Key: gr.key, Label: gr.label, Sub: gr.sub, Kind: gr.kind, Full: gr.full, Col: col}
			out.Nodes = append(out.Nodes, n)
		case gr.kind == "exchange":
			if otherEx == nil {
				otherEx = &gnode{Key: "other-exchanges", Label: l.T("other exchanges"), Kind: "exchange", Col: ncols + 1}
				out.Nodes = append(out.Nodes, otherEx)
			}
			n = otherEx
			n.Full = append(n.Full, gr.label)
			n.Sub = l.T("%d exchanges", len(n.Full))
		default:
			col := 1
			if len(hops) > 0 {
				i, _ := slices.BinarySearch(hops, gr.hop)
				col = colOf(hops[min(i, len(hops)-1)])
			}
			if others[col] == nil {
				others[col] = &gnode{Key: fmt.Sprintf("other/%d", col), Label: l.T("other addresses"), Kind: "other", Col: col}
				out.Nodes = append(out.Nodes, others[col])
			}
			n = others[col]
			n.Full = append(n.Full, gr.full...)
			out.Merged += len(gr.full)
			n.Sub = l.T("%d addresses", len(n.Full))
		}
		nodeOf[gr] = n
		return n
	}
	type ekey struct {
		from, to *gnode
		asset    string
	}
	agg := map[ekey]*gedge{}
	var edges []*gedge
	for _, k := range keys {
		from, to := final(get(k[0])), final(get(k[1]))
		if from == to {
			continue
		}
		ek := ekey{from, to, k[2]}
		e := agg[ek]
		if e == nil {
			e = &gedge{From: from, To: to, Asset: k[2], Amount: new(big.Int)}
			agg[ek] = e
			edges = append(edges, e)
		}
		e.Amount.Add(e.Amount, g.edges[k])
	}
	for _, e := range edges {
		e.weight = weigh(e.Asset, e.Amount)
	}
	slices.SortStableFunc(edges, func(a, b *gedge) int { return cmp.Compare(b.weight, a.weight) })
	hidden := map[string]*big.Int{}
	for i, e := range edges {
		a := assets[e.Asset]
		if i >= maxGraphEdges {
			out.Hidden++
			if hidden[e.Asset] == nil {
				hidden[e.Asset] = new(big.Int)
			}
			hidden[e.Asset].Add(hidden[e.Asset], e.Amount)
		} else {
			out.Edges = append(out.Edges, e)
		}
		e.Text = decimalShort(e.Amount.String(), a.Decimals) + " " + a.Symbol
		e.Width = 0.8 + 7*math.Sqrt(e.weight)
	}
	out.all = edges
	for _, e := range edges {
		e.Asset = assets[e.Asset].Symbol
	}
	var ht []string
	for _, as := range slices.Sorted(maps.Keys(hidden)) {
		a := assets[as]
		ht = append(ht, decimalShort(hidden[as].String(), a.Decimals)+" "+a.Symbol)
	}
	out.HiddenText = strings.Join(ht, ", ")
	// Lay out: columns left to right, nodes top to bottom by weight.
	cols := map[int][]*gnode{}
	for _, n := range out.Nodes {
		cols[n.Col] = append(cols[n.Col], n)
	}
	rows := 0
	for _, ns := range cols {
		rows = max(rows, len(ns))
	}
	for c, ns := range cols {
		for i, n := range ns {
			n.X = gMargin + float64(c)*gColW
			n.Y = gMargin + float64(i)*(gNodeH+gRowGap)
			n.W, n.H = gNodeW, gNodeH
		}
	}
	// Numbers in reading order: column by column, top to bottom.
	slices.SortStableFunc(out.Nodes, func(a, b *gnode) int { return cmp.Or(cmp.Compare(a.Col, b.Col), cmp.Compare(a.Y, b.Y)) })
	for i, n := range out.Nodes {
		n.Num = i + 1
	}
	out.Width = 2*gMargin + float64(ncols+1)*gColW + gNodeW
	out.Height = 2*gMargin + float64(max(rows, 1))*(gNodeH+gRowGap)
	return out
}

// FullName is how the table beside the graph names a node: an address
// node by its whole address, the others by their label and what they
// hold.
func (n *gnode) FullName() string {
	if (n.Kind == "intermediate" || n.Kind == "seed") && len(n.Full) == 1 && !strings.HasPrefix(n.Key, "cluster/") {
		return n.Full[0]
	}
	if n.Sub != "" {
		return n.Label + " (" + n.Sub + ")"
	}
	return n.Label
}

// decimalShort writes base units in the asset's unit with at most eight
// decimals, trailing zeros dropped (a figure on a graph; the tables and
// files give the exact ones).
func decimalShort(units string, decimals int) string {
	s := decimal(units, decimals)
	if i := strings.IndexByte(s, '.'); i >= 0 {
		if len(s)-i-1 > 8 {
			s = s[:i+9]
		}
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// path is an edge's curve in graph points.
func (e *gedge) path() (x1, y1, x2, y2 float64) {
	return e.From.X + e.From.W, e.From.Y + e.From.H/2, e.To.X, e.To.Y + e.To.H/2
}

// SVGPath is the edge as an SVG path.
func (e *gedge) SVGPath() string {
	x1, y1, x2, y2 := e.path()
	mx := (x1 + x2) / 2
	return fmt.Sprintf("M%.1f %.1f C%.1f %.1f %.1f %.1f %.1f %.1f", x1, y1, mx, y1, mx, y2, x2, y2)
}

// pathsTo is the part of g that carries money into node x: the nodes
// with a path to it, every edge into x and the largest edges between the
// others, laid out again in g's columns (a per-exchange figure).
func (g *graph) pathsTo(x *gnode) *graph {
	in := map[*gnode][]*gedge{}
	for _, e := range g.all {
		in[e.To] = append(in[e.To], e)
	}
	keep := map[*gnode]bool{x: true}
	queue := []*gnode{x}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, e := range in[n] {
			if !keep[e.From] {
				keep[e.From] = true
				queue = append(queue, e.From)
			}
		}
	}
	out := &graph{}
	copies := map[*gnode]*gnode{}
	rows := map[int]int{}
	maxCol, maxRows := 0, 0
	for _, n := range g.Nodes { // in reading order: numbers and columns kept
		if !keep[n] {
			continue
		}
		c := *n
		c.Y = gMargin + float64(rows[n.Col])*(gNodeH+gRowGap)
		rows[n.Col]++
		maxCol, maxRows = max(maxCol, n.Col), max(maxRows, rows[n.Col])
		copies[n] = &c
		out.Nodes = append(out.Nodes, &c)
	}
	// Every edge into x, and the largest others (all is by weight).
	others := 0
	for _, e := range g.all {
		if !keep[e.From] || !keep[e.To] {
			continue
		}
		if e.To != x {
			if others == maxGraphEdges {
				continue
			}
			others++
		}
		c := *e
		c.From, c.To = copies[e.From], copies[e.To]
		out.Edges = append(out.Edges, &c)
	}
	out.Width = 2*gMargin + float64(maxCol)*gColW + gNodeW
	out.Height = 2*gMargin + float64(max(maxRows, 1))*(gNodeH+gRowGap)
	return out
}

// exchangeNode is the node an exchange's money ends at in g.
func (g *graph) exchangeNode(name string) *gnode {
	for _, n := range g.Nodes {
		if n.Kind == "exchange" && n.Key == "exchange/"+name {
			return n
		}
	}
	return nil
}
