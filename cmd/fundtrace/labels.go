package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/cluster"
	"github.com/fundtrace/fundtrace/internal/gzfile"
	"github.com/fundtrace/fundtrace/labels"
	"github.com/fundtrace/fundtrace/store"
)

// labelStore is what the labels commands need; the embedded store has it.
type labelStore interface {
	backend
	AddLabels(ctx context.Context, ls []labels.Label) error
	Labels(ctx context.Context, c chains.Chain, a chains.Address) ([]labels.Label, error)
	EachLabel(ctx context.Context, fn func(labels.Label) error) error
}

func labelsCommand() *cli.Command {
	return &cli.Command{
		Name:  "labels",
		Usage: "import, export and check attributions (label CSV, GraphSense TagPacks, Etherscan exports), each with its provenance",
		Subcommands: []*cli.Command{
			{
				Name:      "import",
				Usage:     "import label files; rejected rows are listed with their line, the others imported, and the exit status is 1",
				UsageText: "fundtrace labels import FILE... [--format auto|csv|tagpack|etherscan|etherscan-json|forta] [--category C] [--source S] [--json]",
				Description: `csv: a header with chain, address, label, category (and optionally source,
confidence 0-100, date). tagpack: GraphSense TagPack YAML (header fields apply
to every tag; BTC and ETH tags are imported, other currencies counted).
etherscan: Etherscan's label-cloud export (Address, Name Tag), all in
--category. etherscan-json: Etherscan's combined export (address → name,
labels). forta: Forta's labelled datasets (phishing/scam EOAs, malicious
labels, malicious contracts and their creators). auto tells them apart by
the file name (.yaml/.yml[.gz] is a TagPack, .json[.gz] Etherscan's
combined export, anything else label CSV). Categories: ` + strings.Join(labels.Categories, ", ") + `.
Every label keeps its source, the import time, the source's date and a
confidence; importing a source again updates its labels.`,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "format", Value: "auto", Usage: "auto, csv, tagpack, etherscan, etherscan-json or forta"},
					&cli.StringFlag{Name: "category", Usage: "etherscan: the category of every row"},
					&cli.StringFlag{Name: "source", Usage: "the source to record (default: the file name)"},
					jsonFlag,
				},
				Action: runLabelsImport,
			},
			{
				Name:      "export",
				Usage:     "write every label as one GraphSense TagPack",
				UsageText: "fundtrace labels export --out FILE.yaml [--title T] [--creator C]",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "out", Required: true, Usage: "TagPack file to write"},
					&cli.StringFlag{Name: "title", Value: "fundtrace labels", Usage: "the TagPack's title"},
					&cli.StringFlag{Name: "creator", Value: "fundtrace", Usage: "the TagPack's creator"},
				},
				Action: runLabelsExport,
			},
			{
				Name:      "conflicts",
				Usage:     "clusters whose labels name more than one owner (e.g. two exchanges); needs fundtrace cluster",
				UsageText: "fundtrace labels conflicts [--json]",
				Flags:     []cli.Flag{jsonFlag},
				Action:    runLabelsConflicts,
			},
		},
	}
}

func runLabelsImport(c *cli.Context) error {
	paths, err := args(c)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return fmt.Errorf("give the label files to import")
	}
	st, lst, err := openAs[labelStore](c, createStore)
	if err != nil {
		return err
	}
	defer st.Close()
	// Bitcoin addresses are read for the store's network (mainnet when it
	// holds no Bitcoin yet). Set on every run: a process that ran the
	// command on another store before (the tests do) must not keep its
	// network.
	labels.Network = bitcoin.NetworkByName("mainnet")
	if m, err := st.Meta(c.Context, chains.Bitcoin); err == nil && m.Network != "" {
		if n := bitcoin.NetworkByName(m.Network); n != nil {
			labels.Network = n
		}
	}
	now := time.Now().UTC().Format(time.RFC3339)
	rejected, files := 0, 0
	type fileJSON struct {
		File     string         `json:"file"`
		Format   string         `json:"format"`
		Imported int            `json:"imported"`
		Skipped  map[string]int `json:"skipped_currencies,omitempty"`
		Rejected []string       `json:"rejected"`
	}
	var report []fileJSON
	for _, p := range paths {
		format := c.String("format")
		base := strings.ToLower(strings.TrimSuffix(filepath.Base(p), ".gz"))
		if format == "auto" {
			format = "csv"
			if strings.HasSuffix(base, ".yaml") || strings.HasSuffix(base, ".yml") {
				format = "tagpack"
			}
			if strings.HasSuffix(base, ".json") {
				format = "etherscan-json"
			}
		}
		src := c.String("source")
		if src == "" {
			src = filepath.Base(p)
		}
		r, closer, err := gzfile.Open(p)
		if err != nil {
			return err
		}
		var ls []labels.Label
		var probs []labels.Problem
		var skipped map[string]int
		switch format {
		case "csv":
			ls, probs, err = labels.ReadCSV(r, src)
		case "tagpack":
			ls, probs, skipped, err = labels.ReadTagPack(r, src)
		case "etherscan":
			ls, probs, err = labels.ReadEtherscan(r, c.String("category"), src)
		case "etherscan-json":
			ls, probs, err = labels.ReadEtherscanJSON(r, src)
		case "forta":
			ls, probs, err = labels.ReadForta(r, src)
		default:
			err = fmt.Errorf("--format %q: want auto, csv, tagpack, etherscan, etherscan-json or forta", format)
		}
		closer()
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		for i := range ls {
			ls[i].Imported = now
		}
		if err := lst.AddLabels(c.Context, ls); err != nil {
			return err
		}
		if len(probs) > 0 {
			rejected += len(probs)
			files++
		}
		if c.Bool("json") {
			fj := fileJSON{File: p, Format: format, Imported: len(ls), Skipped: skipped, Rejected: []string{}}
			for _, pr := range probs {
				fj.Rejected = append(fj.Rejected, pr.String())
			}
			report = append(report, fj)
			continue
		}
		fmt.Fprintf(c.App.Writer, "%s: %d labels imported", p, len(ls))
		if len(skipped) > 0 {
			fmt.Fprintf(c.App.Writer, "; skipped, currencies not indexed: %s", countList(skipped))
		}
		if len(probs) > 0 {
			fmt.Fprintf(c.App.Writer, "; %d rows rejected", len(probs))
		}
		fmt.Fprintln(c.App.Writer)
		for _, pr := range probs {
			fmt.Fprintf(c.App.Writer, "  not imported: %s %s\n", p, pr)
		}
	}
	if c.Bool("json") {
		if err := writeJSON(c.App.Writer, map[string]any{"files": report}); err != nil {
			return err
		}
	}
	if rejected > 0 {
		// The good rows are imported; the exit status says the file was
		// not taken whole.
		return fmt.Errorf("%d rows of %d files were rejected (listed above, with their lines) and not imported", rejected, files)
	}
	return nil
}

func runLabelsExport(c *cli.Context) error {
	st, lst, err := openAs[labelStore](c, readStore)
	if err != nil {
		return err
	}
	defer st.Close()
	var all []labels.Label
	if err := lst.EachLabel(c.Context, func(l labels.Label) error { all = append(all, l); return nil }); err != nil {
		return err
	}
	f, err := os.Create(c.String("out"))
	if err != nil {
		return err
	}
	if err := labels.WriteTagPack(f, c.String("title"), c.String("creator"), all); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "%d labels written to %s\n", len(all), c.String("out"))
	return nil
}

func runLabelsConflicts(c *cli.Context) error {
	st, lst, err := openAs[labelStore](c, readStore)
	if err != nil {
		return err
	}
	defer st.Close()
	cs, err := storeAs[cluster.Store](st)
	if err != nil {
		return err
	}
	var all []labels.Label
	if err := lst.EachLabel(c.Context, func(l labels.Label) error { all = append(all, l); return nil }); err != nil {
		return err
	}
	conflicts := labels.Conflicts(all, func(l labels.Label) (uint32, bool) {
		id, size, err := cs.ClusterOf(c.Context, l.Chain, l.Address)
		return id, err == nil && size > 0
	})
	if c.Bool("json") {
		return writeJSON(c.App.Writer, conflicts)
	}
	if len(conflicts) == 0 {
		fmt.Fprintln(c.App.Writer, "no cluster is claimed by more than one owner")
		return nil
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "CHAIN\tCLUSTER\tOWNER\tLABELS (address: label, source)\n")
	for _, cf := range conflicts {
		for actor, ls := range cf.Actors {
			var parts []string
			for _, l := range ls {
				parts = append(parts, fmt.Sprintf("%s: %s (%s)", l.Text, l.Label, l.Source))
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", cf.Chain, cf.Cluster, actor, strings.Join(parts, "; "))
		}
	}
	return tw.Flush()
}

// attribution answers, for addresses of one command, their labels and
// their cluster's. The cluster of every labeled address is looked up once
// per command, not once per address asked about.
type attribution struct {
	st        backend
	lst       labelStore    // nil when the store keeps no labels
	cs        cluster.Store // nil when it keeps no clusters
	batch     batchAttribution
	byCluster map[clusterKey][]labels.Label
	metas     map[chains.Chain]*store.ClusterMeta
	// What prefetch read: an address's own labels and its cluster (a
	// zero size: none), by chain and address.
	own      map[addrKey][]labels.Label
	clusters map[addrKey][2]uint32
}

// batchAttribution is what a store that answers many addresses in one
// query offers: ClickHouse, where a query per address costs a round trip
// (a trace labels every address it reaches).
type batchAttribution interface {
	// ClustersOf returns the cluster id and size of each address that
	// has a cluster.
	ClustersOf(ctx context.Context, c chains.Chain, as []chains.Address) (map[chains.Address][2]uint32, error)
	// LabelsOf returns the labels of each address that has any.
	LabelsOf(ctx context.Context, c chains.Chain, as []chains.Address) (map[chains.Address][]labels.Label, error)
}

type addrKey struct {
	chain chains.Chain
	addr  chains.Address
}

// prefetchChunk is how many addresses one batch query names.
const prefetchChunk = 10_000

// prefetch reads the labels and clusters of addresses as with a store
// that answers many at once, so that labels and clusterOf answer them
// from memory; with another store it does nothing.
func (x *attribution) prefetch(ctx context.Context, c chains.Chain, as []chains.Address) error {
	if x.batch == nil {
		return nil
	}
	if x.own == nil {
		x.own, x.clusters = map[addrKey][]labels.Label{}, map[addrKey][2]uint32{}
	}
	var todo []chains.Address
	asked := map[chains.Address]bool{}
	for _, a := range as {
		if _, ok := x.clusters[addrKey{c, a}]; !ok && !asked[a] && a != "" {
			asked[a] = true
			todo = append(todo, a)
		}
	}
	for i := 0; i < len(todo); i += prefetchChunk {
		part := todo[i:min(i+prefetchChunk, len(todo))]
		// An address is marked read (in clusters, a zero size when it
		// has none) only once its queries answered.
		cl := map[chains.Address][2]uint32{}
		if x.cs != nil {
			var err error
			if cl, err = x.batch.ClustersOf(ctx, c, part); err != nil {
				return err
			}
		}
		if x.lst != nil {
			ls, err := x.batch.LabelsOf(ctx, c, part)
			if err != nil {
				return err
			}
			for _, a := range part {
				x.own[addrKey{c, a}] = ls[a] // nil: none
			}
		}
		for _, a := range part {
			x.clusters[addrKey{c, a}] = cl[a]
		}
	}
	return nil
}

// flagged reports whether cluster id of chain c was built through a
// multi-input merge of two large clusters (cluster suspects).
func (at *attribution) flagged(ctx context.Context, c chains.Chain, id uint32) bool {
	if at.cs == nil {
		return false
	}
	if at.metas == nil {
		at.metas = map[chains.Chain]*store.ClusterMeta{}
	}
	m, ok := at.metas[c]
	if !ok {
		if cm, found, err := at.cs.ClusterMeta(ctx, c); err == nil && found {
			m = &cm
		}
		at.metas[c] = m
	}
	return m != nil && m.IsFlagged(id)
}

type clusterKey struct {
	chain chains.Chain
	id    uint32
}

func newAttribution(st backend) *attribution {
	x := &attribution{st: st}
	x.lst, _ = st.(labelStore)
	x.cs, _ = st.(cluster.Store)
	x.batch, _ = st.(batchAttribution)
	return x
}

// cluster returns a's cluster id and size (from what prefetch read when
// it read a), or store.ErrNotFound.
func (x *attribution) cluster(ctx context.Context, c chains.Chain, a chains.Address) (id, size uint32, err error) {
	if v, ok := x.clusters[addrKey{c, a}]; ok {
		if v[1] == 0 {
			return 0, 0, store.ErrNotFound
		}
		return v[0], v[1], nil
	}
	return x.cs.ClusterOf(ctx, c, a)
}

// clusterOf returns a's cluster id, ok false when a has none or is alone.
func (x *attribution) clusterOf(ctx context.Context, c chains.Chain, a chains.Address) (uint32, bool) {
	if x.cs == nil {
		return 0, false
	}
	id, size, err := x.cluster(ctx, c, a)
	return id, err == nil && size > 1
}

// labels returns the labels of a, and those of the other addresses of
// its cluster (the cluster's attributions) with the address they are on.
func (x *attribution) labels(ctx context.Context, c chains.Chain, a chains.Address) (own, cl []labels.Label, err error) {
	if x.lst == nil {
		return nil, nil, nil
	}
	if ls, ok := x.own[addrKey{c, a}]; ok {
		own = slices.Clone(ls)
	} else if own, err = x.lst.Labels(ctx, c, a); err != nil {
		return nil, nil, err
	}
	id, ok := x.clusterOf(ctx, c, a)
	if !ok {
		return own, nil, nil
	}
	if x.byCluster == nil {
		x.byCluster = map[clusterKey][]labels.Label{}
		var all []labels.Label
		byChain := map[chains.Chain][]chains.Address{}
		err := x.lst.EachLabel(ctx, func(l labels.Label) error {
			all = append(all, l)
			byChain[l.Chain] = append(byChain[l.Chain], l.Address)
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		for lc, as := range byChain {
			if err := x.prefetch(ctx, lc, as); err != nil {
				return nil, nil, err
			}
		}
		for _, l := range all {
			if lid, ok := x.clusterOf(ctx, l.Chain, l.Address); ok {
				k := clusterKey{l.Chain, lid}
				x.byCluster[k] = append(x.byCluster[k], l)
			}
		}
	}
	for _, l := range x.byCluster[clusterKey{c, id}] {
		if l.Address != a {
			cl = append(cl, l)
		}
	}
	return own, cl, nil
}
