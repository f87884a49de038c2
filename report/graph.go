package report

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strings"

	"github.com/fundtrace/fundtrace/tracefile"
)

// The flow graph is laid out in columns, left to right: the victims, then
// the addresses by the hop at which the money first reached them, then
// the exchanges. Addresses of one cluster are one node ("cluster N, k
// addresses"); an edge's width grows with the haircut amount it carries
// (square root, so small flows stay visible), and parallel edges are
// merged.

type gnode struct {
	ID      string
	Label   string
	Sub     string
	Kind    string // victim, seed, intermediate, deposit, exchange, service
	Col     int
	Row     int
	X, Y    float64
	W, H    float64
	In, Out int
}

type gedge struct {
	From, To *gnode
	Amount   *big.Float // haircut, in the asset's unit (for widths)
	Asset    string
	Text     string
	Width    float64
	Path     string
}

type graph struct {
	Nodes         []*gnode
	Edges         []*gedge
	Width, Height float64
	Cols          int
}

const (
	colWidth = 230.0
	rowStep  = 34.0
	nodeW    = 180.0
	nodeH    = 24.0
	margin   = 20.0
)

func short(a string) string {
	if len(a) > 18 {
		return a[:10] + "…" + a[len(a)-6:]
	}
	return a
}

// layout builds the graph of a forward trace.
func layout(t *tracefile.Trace) *graph {
	g := &graph{}
	byID := map[string]*gnode{}
	cluster := map[string]string{} // chain/address → node id
	label := map[string]tracefile.Node{}
	for _, n := range t.Nodes {
		k := n.Chain + "/" + n.Address
		label[k] = n
		if n.Cluster != 0 && n.ClusterSize > 1 && n.Role == "intermediate" {
			cluster[k] = fmt.Sprintf("%s/cluster/%d", n.Chain, n.Cluster)
		}
	}
	node := func(id, lbl, sub, kind string, col int) *gnode {
		if n := byID[id]; n != nil {
			if col < n.Col && kind != "exchange" {
				n.Col = col
			}
			return n
		}
		n := &gnode{ID: id, Label: lbl, Sub: sub, Kind: kind, Col: col}
		byID[id] = n
		g.Nodes = append(g.Nodes, n)
		return n
	}
	addrNode := func(chain, addr, kind string, col int) *gnode {
		k := chain + "/" + addr
		if id, ok := cluster[k]; ok {
			n := label[k]
			sub := fmt.Sprintf("%d addresses", n.ClusterSize)
			if n.ClusterFlagged {
				sub += ", built through a flagged merge"
			}
			return node(id, fmt.Sprintf("cluster %d", n.Cluster), sub, kind, col)
		}
		sub := ""
		if n, ok := label[k]; ok && n.Label != "" {
			sub = n.Label
		}
		return node(k, short(addr), sub, kind, col)
	}
	edges := map[[3]string]*gedge{}
	edge := func(from, to *gnode, asset, amount string, decimals int) {
		if from == to {
			return
		}
		k := [3]string{from.ID, to.ID, asset}
		v, ok := new(big.Float).SetString(amount)
		if !ok {
			v = new(big.Float)
		}
		v.Quo(v, new(big.Float).SetFloat64(math.Pow10(decimals)))
		e := edges[k]
		if e == nil {
			e = &gedge{From: from, To: to, Amount: new(big.Float), Asset: asset}
			edges[k] = e
			g.Edges = append(g.Edges, e)
			from.Out++
			to.In++
		}
		e.Amount.Add(e.Amount, v)
	}
	maxHop := 0
	for _, f := range t.Flows {
		maxHop = max(maxHop, f.Hop)
	}
	for _, d := range t.Deposits {
		maxHop = max(maxHop, d.Hop)
	}
	for _, s := range t.Seeds {
		v := node("victim/"+s.Victim, s.Victim, "victim", "victim", 0)
		a := t.Assets[s.Asset]
		edge(v, addrNode(s.Chain, s.Address, "seed", 1), a.Symbol, s.Amount, a.Decimals)
	}
	for _, f := range t.Flows {
		a := t.Assets[f.Asset]
		to := addrNode(f.Chain, f.To, "intermediate", f.Hop+1)
		share := f.Haircut
		if len(f.From) > 1 {
			x, _ := new(big.Int).SetString(f.Haircut, 10)
			if x != nil {
				share = x.Quo(x, big.NewInt(int64(len(f.From)))).String()
			}
		}
		for _, fr := range f.From {
			edge(addrNode(f.Chain, fr, "intermediate", max(f.Hop, 1)), to, a.Symbol, share, a.Decimals)
		}
	}
	for _, d := range t.Deposits {
		a := t.Assets[d.Asset]
		dep := addrNode(d.Chain, d.Address, "deposit", d.Hop+1)
		dep.Kind = "deposit"
		ex := node("exchange/"+d.Exchange, d.Exchange, "exchange", "exchange", maxHop+2)
		edge(dep, ex, a.Symbol, d.Haircut, a.Decimals)
	}
	// Columns: exchanges last; rows in a stable order.
	cols := map[int][]*gnode{}
	for _, n := range g.Nodes {
		if n.Kind == "exchange" {
			n.Col = maxHop + 2
		}
		cols[n.Col] = append(cols[n.Col], n)
	}
	maxRows := 0
	for c, ns := range cols {
		sort.SliceStable(ns, func(i, j int) bool {
			if ns[i].Kind != ns[j].Kind {
				return ns[i].Kind < ns[j].Kind
			}
			return ns[i].ID < ns[j].ID
		})
		for r, n := range ns {
			n.Row = r
		}
		maxRows = max(maxRows, len(ns))
		g.Cols = max(g.Cols, c+1)
	}
	g.Height = 2*margin + float64(max(maxRows, 1))*rowStep
	g.Width = 2*margin + float64(g.Cols-1)*colWidth + nodeW
	for c, ns := range cols {
		// Short columns near the top, where the reader starts; the
		// victims' and exchanges' columns are short and sit at the top.
		off := 0.0
		for _, n := range ns {
			n.X = margin + float64(c)*colWidth
			n.Y = margin + off + float64(n.Row)*rowStep
			n.W, n.H = nodeW, nodeH
		}
	}
	var maxAmt float64
	for _, e := range g.Edges {
		f, _ := e.Amount.Float64()
		maxAmt = math.Max(maxAmt, f)
	}
	sort.SliceStable(g.Edges, func(i, j int) bool {
		if g.Edges[i].From.ID != g.Edges[j].From.ID {
			return g.Edges[i].From.ID < g.Edges[j].From.ID
		}
		return g.Edges[i].To.ID < g.Edges[j].To.ID
	})
	for _, e := range g.Edges {
		f, _ := e.Amount.Float64()
		e.Width = 1
		if maxAmt > 0 {
			e.Width = 1 + 9*math.Sqrt(f/maxAmt)
		}
		e.Text = strings.TrimRight(strings.TrimRight(e.Amount.Text('f', 8), "0"), ".") + " " + e.Asset
		x1, y1 := e.From.X+e.From.W, e.From.Y+e.From.H/2
		x2, y2 := e.To.X, e.To.Y+e.To.H/2
		mx := (x1 + x2) / 2
		e.Path = fmt.Sprintf("M%.1f %.1f C%.1f %.1f %.1f %.1f %.1f %.1f", x1, y1, mx, y1, mx, y2, x2, y2)
	}
	return g
}
