package cases

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math/big"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/fundtrace/fundtrace/tracefile"
)

// A trace's flow graph as the workbench draws it: aggregated first —
// each victim one node, each cluster, exchange, labeled service and peel
// chain one node, the other addresses on their own — with any group
// expanded on demand into its addresses, and a victim's paths (from the
// addresses it paid to the deposits its money reached) highlighted. The
// graph of a trace is built once from its file and kept (a few at a
// time), so that expanding and highlighting cost a regrouping of the
// edges, not a read of the file.

// MaxVictimNodes is how many victims a graph draws one by one; more are
// one node (AllVictims) until it is expanded.
const MaxVictimNodes = 40

// AllVictims is the id of the node that stands for every victim.
const AllVictims = "victims"

// Graph is what the page draws.
type Graph struct {
	Models    []string                   `json:"models"`
	Assets    map[string]tracefile.Asset `json:"assets"`
	Nodes     []GraphNode                `json:"nodes"`
	Edges     []GraphEdge                `json:"edges"`
	Victims   []string                   `json:"victims"`
	Exchanges []tracefile.Exchange       `json:"exchanges"`
	Timeline  []Day                      `json:"timeline"`
	// Highlight, when a victim was asked: the ids of the nodes and edges
	// on its paths.
	Highlight *Highlight `json:"highlight,omitempty"`
}

// GraphNode is a victim, a group of addresses, or one address.
type GraphNode struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"` // victim, exchange, service, cluster, peel, address
	Label string `json:"label"`
	Chain string `json:"chain,omitempty"`
	// Members is how many of the trace's addresses the node stands for
	// (groups: expandable when more than one).
	Members  int    `json:"members"`
	Address  string `json:"address,omitempty"` // an address node's
	Cluster  uint32 `json:"cluster,omitempty"`
	Category string `json:"category,omitempty"`
	Group    string `json:"group,omitempty"` // an expanded address's group
	Flagged  bool   `json:"cluster_flagged_merge,omitempty"`
}

// GraphEdge is the money that moved from one node to another, per asset,
// under each model; Flows how many transactions' flows it sums.
type GraphEdge struct {
	ID      string `json:"id"`
	Source  string `json:"source"`
	Target  string `json:"target"`
	Asset   string `json:"asset"`
	Haircut string `json:"haircut"` // base units
	FIFO    string `json:"fifo"`
	Poison  bool   `json:"poison"`
	Flows   int    `json:"flows"`
	First   string `json:"first"` // the earliest and latest flow's time
	Last    string `json:"last"`
	// Weight is the edge's haircut amount against the largest edge of
	// its asset (0..1): the drawn width.
	Weight float64 `json:"weight"`
}

// Day is one day of the trace: how many flows moved the money and how
// many deposits reached exchanges, and what the deposits carried per
// asset under haircut.
type Day struct {
	Day      string            `json:"day"`
	Flows    int               `json:"flows"`
	Deposits int               `json:"deposits"`
	Haircut  map[string]string `json:"haircut"`
}

// Highlight is a victim's paths.
type Highlight struct {
	Victim string   `json:"victim"`
	Nodes  []string `json:"nodes"`
	Edges  []string `json:"edges"`
}

// traceGraph is a trace file read for drawing: addresses, flows between
// them, what group each address belongs to.
type traceGraph struct {
	t        *tracefile.Trace // the short sections
	nodes    map[string]tracefile.Node
	group    map[string]string // address → group id
	groups   map[string]*GraphNode
	flows    []flow
	deposits []tracefile.Deposit
	timeline []Day
}

// flow is a trace file's flow as the graph sums it: its amounts read
// once, when the file is.
type flow struct {
	from, to, asset, time string
	haircut, fifo         *big.Int
	poison                bool
}

func amount(s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return new(big.Int)
	}
	return v
}

// graphCache keeps the last few traces' graphs.
type graphCache struct {
	mu   sync.Mutex
	keys []string
	by   map[string]*traceGraph
}

const graphsKept = 4

func (c *graphCache) get(key string, build func() (*traceGraph, error)) (*traceGraph, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if g, ok := c.by[key]; ok {
		return g, nil
	}
	g, err := build()
	if err != nil {
		return nil, err
	}
	if c.by == nil {
		c.by = map[string]*traceGraph{}
	}
	if len(c.keys) == graphsKept {
		delete(c.by, c.keys[0])
		c.keys = c.keys[1:]
	}
	c.keys, c.by[key] = append(c.keys, key), g
	return g, nil
}

// Graph returns trace tid of case id as the page draws it, the groups in
// expand shown address by address, victim's paths highlighted when given.
func (s *Service) Graph(ctx context.Context, id, tid string, expand []string, victim string) (*Graph, error) {
	path, t, err := s.TraceFile(ctx, id, tid)
	if err != nil {
		return nil, err
	}
	if path == "" {
		return nil, &ConflictError{Msg: fmt.Sprintf("trace %s is %s: no graph", t.ID, t.Status)}
	}
	g, err := s.graphs.get(path+"@"+t.SHA256, func() (*traceGraph, error) { return readGraph(path) })
	if err != nil {
		return nil, err
	}
	return g.draw(expand, victim)
}

func readGraph(path string) (*traceGraph, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	g := &traceGraph{nodes: map[string]tracefile.Node{}, group: map[string]string{}, groups: map[string]*GraphNode{}}
	days := map[string]*Day{}
	daySums := map[string]map[string]*big.Int{}
	dayOf := func(t string) *Day {
		day := t[:min(len(t), 10)]
		if days[day] == nil {
			days[day], daySums[day] = &Day{Day: day, Haircut: map[string]string{}}, map[string]*big.Int{}
		}
		return days[day]
	}
	g.t, err = tracefile.Scan(f, path, tracefile.Handler{
		Node: func(n tracefile.Node) error { g.nodes[n.Address] = n; return nil },
		Flow: func(fl tracefile.Flow) error {
			dayOf(fl.Time).Flows++
			if len(fl.From) > 0 {
				g.flows = append(g.flows, flow{from: fl.From[0], to: fl.To, asset: fl.Asset, time: fl.Time, haircut: amount(fl.Haircut), fifo: amount(fl.FIFO), poison: fl.Poison})
			}
			return nil
		},
		Deposit: func(d tracefile.Deposit) error {
			g.deposits = append(g.deposits, d)
			dd := dayOf(d.Time)
			dd.Deposits++
			day := dd.Day
			if daySums[day][d.Asset] == nil {
				daySums[day][d.Asset] = new(big.Int)
			}
			daySums[day][d.Asset].Add(daySums[day][d.Asset], amount(d.Haircut))
			return nil
		},
		Poisoned: func(tracefile.Poisoned) error { return nil },
		Stop:     func(tracefile.Stop) error { return nil },
	})
	if err != nil {
		return nil, err
	}
	for day, d := range days {
		for a, v := range daySums[day] {
			d.Haircut[a] = v.String()
		}
		g.timeline = append(g.timeline, *d)
	}
	slices.SortFunc(g.timeline, func(a, b Day) int { return strings.Compare(a.Day, b.Day) })
	g.groupAddresses()
	return g, nil
}

// groupAddresses puts each address in its group: an exchange (its
// deposit addresses too), a labeled service, a cluster of more than one
// address, a peel chain, or none (the address alone).
func (g *traceGraph) groupAddresses() {
	exchangeOf := map[string]string{}
	for _, d := range g.deposits {
		exchangeOf[d.Address] = d.Exchange
	}
	peelOf := map[string]int{}
	for i, p := range g.t.PeelChains {
		for _, a := range p.Rest {
			peelOf[a] = i
		}
	}
	add := func(addr, id, kind, label, chain string, n tracefile.Node) {
		g.group[addr] = id
		gn := g.groups[id]
		if gn == nil {
			gn = &GraphNode{ID: id, Kind: kind, Label: label, Chain: chain, Cluster: n.Cluster, Category: n.Category}
			g.groups[id] = gn
		}
		gn.Members++
		gn.Flagged = gn.Flagged || n.ClusterFlagged
	}
	for _, a := range slices.Sorted(maps.Keys(g.nodes)) {
		n := g.nodes[a]
		switch ex, isDep := exchangeOf[a]; {
		case isDep || n.Role == "exchange" || n.Category == "exchange" && n.Label != "":
			if !isDep {
				ex = n.Label
			}
			add(a, "exchange:"+ex, "exchange", ex, n.Chain, n)
		case n.Label != "":
			add(a, "service:"+n.Label, "service", n.Label, n.Chain, n)
		case n.Cluster != 0 && n.ClusterSize > 1:
			add(a, fmt.Sprintf("cluster:%s:%d", n.Chain, n.Cluster), "cluster", fmt.Sprintf("cluster %d (%d addresses)", n.Cluster, n.ClusterSize), n.Chain, n)
		default:
			if i, ok := peelOf[a]; ok {
				p := g.t.PeelChains[i]
				add(a, fmt.Sprintf("peel:%d", i), "peel", fmt.Sprintf("peel chain, %d steps", p.Steps), p.Chain, n)
				continue
			}
			add(a, "address:"+a, "address", a, n.Chain, n)
		}
	}
}

// draw groups the edges for the expanded groups asked and highlights a
// victim's paths.
func (g *traceGraph) draw(expand []string, victim string) (*Graph, error) {
	open := map[string]bool{}
	for _, e := range expand {
		if g.groups[e] == nil && e != AllVictims {
			return nil, bad("expand", "no group %q in this trace", e)
		}
		open[e] = true
	}
	out := &Graph{Models: g.t.Models, Assets: g.t.Assets, Exchanges: g.t.Exchanges, Timeline: g.timeline, Nodes: []GraphNode{}, Edges: []GraphEdge{}, Victims: []string{}}
	if out.Timeline == nil {
		out.Timeline = []Day{}
	}
	shown := map[string]bool{}
	nodeOf := func(addr string) string {
		grp, ok := g.group[addr]
		if !ok {
			grp = "address:" + addr // a flow's end the trace has no node for
			if !shown[grp] {
				shown[grp] = true
				out.Nodes = append(out.Nodes, GraphNode{ID: grp, Kind: "address", Label: addr, Members: 1, Address: addr})
			}
			return grp
		}
		if !open[grp] || g.groups[grp].Members == 1 {
			if !shown[grp] {
				shown[grp] = true
				out.Nodes = append(out.Nodes, *g.groups[grp])
			}
			return grp
		}
		id := "address:" + addr
		if !shown[id] {
			shown[id] = true
			n := g.nodes[addr]
			out.Nodes = append(out.Nodes, GraphNode{ID: id, Kind: "address", Label: addr, Chain: n.Chain, Members: 1, Address: addr, Cluster: n.Cluster,
				Category: n.Category, Group: grp, Flagged: n.ClusterFlagged})
		}
		return id
	}
	type key struct{ from, to, asset string }
	type sum struct {
		haircut, fifo *big.Int
		poison        bool
		flows         int
		first, last   string
	}
	sums := map[key]*sum{}
	var order []key
	addEdge := func(from, to, asset string, haircut, fifo *big.Int, when string, poison bool) {
		if from == to {
			return // inside a group
		}
		k := key{from, to, asset}
		s := sums[k]
		if s == nil {
			s = &sum{haircut: new(big.Int), fifo: new(big.Int), first: when, last: when}
			sums[k] = s
			order = append(order, k)
		}
		s.haircut.Add(s.haircut, haircut)
		s.fifo.Add(s.fifo, fifo)
		s.poison = s.poison || poison
		s.flows++
		if when < s.first {
			s.first = when
		}
		if when > s.last {
			s.last = when
		}
	}
	victims := map[string]bool{}
	for _, sd := range g.t.Seeds {
		if !victims[sd.Victim] {
			victims[sd.Victim] = true
			out.Victims = append(out.Victims, sd.Victim)
		}
	}
	// Many victims are one node until expanded; the one highlighted is
	// drawn on its own.
	together := len(out.Victims) > MaxVictimNodes && !open[AllVictims]
	for _, sd := range g.t.Seeds {
		v := "victim:" + sd.Victim
		if together && sd.Victim != victim {
			v = AllVictims
			if !shown[v] {
				out.Nodes = append(out.Nodes, GraphNode{ID: v, Kind: "victim", Label: fmt.Sprintf("%d victims", len(out.Victims)), Members: len(out.Victims)})
			}
		} else if !shown[v] {
			out.Nodes = append(out.Nodes, GraphNode{ID: v, Kind: "victim", Label: sd.Victim, Chain: sd.Chain, Members: 1})
		}
		shown[v] = true
		a := amount(sd.Amount)
		addEdge(v, nodeOf(sd.Address), sd.Asset, a, a, sd.Time, true)
	}
	for _, fl := range g.flows {
		addEdge(nodeOf(fl.from), nodeOf(fl.to), fl.asset, fl.haircut, fl.fifo, fl.time, fl.poison)
	}
	largest := map[string]*big.Int{}
	for _, k := range order {
		if l := largest[k.asset]; l == nil || sums[k].haircut.Cmp(l) > 0 {
			largest[k.asset] = sums[k].haircut
		}
	}
	for _, k := range order {
		s := sums[k]
		w := 0.0
		if l := largest[k.asset]; l.Sign() > 0 {
			w, _ = new(big.Rat).SetFrac(s.haircut, l).Float64()
		}
		out.Edges = append(out.Edges, GraphEdge{ID: k.from + "→" + k.to + " " + k.asset, Source: k.from, Target: k.to, Asset: k.asset, Haircut: s.haircut.String(),
			FIFO: s.fifo.String(), Poison: s.poison, Flows: s.flows, First: s.first, Last: s.last, Weight: w})
	}
	slices.SortStableFunc(out.Nodes, func(a, b GraphNode) int { return cmp.Compare(kindRank(a.Kind), kindRank(b.Kind)) })
	if victim != "" {
		if !victims[victim] {
			return nil, bad("victim", "no victim %q in this trace", victim)
		}
		out.Highlight = g.paths(out, victim, nodeOf)
	}
	return out, nil
}

func kindRank(k string) int {
	return slices.Index([]string{"victim", "address", "peel", "cluster", "service", "exchange"}, k)
}

// paths returns the nodes and edges of out on a path from the addresses
// victim paid to the deposits its money reached: reachable forward from
// the first and backward from the second, over the flows.
func (g *traceGraph) paths(out *Graph, victim string, nodeOf func(string) string) *Highlight {
	next, prev := map[string][]string{}, map[string][]string{}
	for _, e := range out.Edges {
		next[e.Source] = append(next[e.Source], e.Target)
		prev[e.Target] = append(prev[e.Target], e.Source)
	}
	walk := func(from []string, adj map[string][]string) map[string]bool {
		seen := map[string]bool{}
		for len(from) > 0 {
			n := from[len(from)-1]
			from = from[:len(from)-1]
			if seen[n] {
				continue
			}
			seen[n] = true
			from = append(from, adj[n]...)
		}
		return seen
	}
	fwd := walk([]string{"victim:" + victim}, next)
	var ends []string
	for _, d := range g.deposits {
		if d.Victim == victim {
			ends = append(ends, nodeOf(d.Address))
		}
	}
	back := walk(ends, prev)
	h := &Highlight{Victim: victim, Nodes: []string{}, Edges: []string{}}
	for _, n := range out.Nodes {
		if fwd[n.ID] && back[n.ID] {
			h.Nodes = append(h.Nodes, n.ID)
		}
	}
	for _, e := range out.Edges {
		if fwd[e.Source] && back[e.Source] && fwd[e.Target] && back[e.Target] {
			h.Edges = append(h.Edges, e.ID)
		}
	}
	return h
}
