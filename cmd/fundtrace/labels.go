package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/internal/gzfile"
	"github.com/fundtrace/fundtrace/investigate"
	"github.com/fundtrace/fundtrace/labels"
	"github.com/fundtrace/fundtrace/tracefile"
)

func labelsCommand() *cli.Command {
	return &cli.Command{
		Name:  "labels",
		Usage: "import, export and check attributions (label CSV, GraphSense TagPacks, Etherscan exports), each with its provenance",
		Subcommands: []*cli.Command{
			{
				Name:      "import",
				Usage:     "import label files; rejected rows are listed with their line, the others imported, and the exit status is 1",
				UsageText: "fundtrace labels import FILE... [--format auto|csv|tagpack|etherscan|etherscan-json|forta] [--category C] [--source S] [--json]\n   fundtrace labels import --from-trace trace.json [--case-ref REF] [--json]",
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
confidence; importing a source again updates its labels.
--from-trace records the deposit addresses a trace established as labels
of category exchange with the exchange's name; the source is the trace
file's SHA-256 and --case-ref, the date its last deposit's, the confidence
from the trace's evidence (swept into the exchange's labeled wallet 90,
labeled itself or by cluster 80, one deposit-heuristic link 70, further in
the cluster 60), so that show, screen and later traces know them.`,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "format", Value: "auto", Usage: "auto, csv, tagpack, etherscan, etherscan-json or forta"},
					&cli.StringFlag{Name: "category", Usage: "etherscan: the category of every row"},
					&cli.StringFlag{Name: "source", Usage: "the source to record", DefaultText: "the file name"},
					&cli.StringFlag{Name: "from-trace", Usage: "label the deposit addresses this trace file established"},
					&cli.StringFlag{Name: "case-ref", Usage: "with --from-trace: the case's reference, recorded in the labels' source"},
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
	if len(paths) == 0 && c.String("from-trace") == "" {
		return fmt.Errorf("give the label files to import (or --from-trace)")
	}
	st, err := openStore(c, createStore)
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
	if tp := c.String("from-trace"); tp != "" {
		b, err := os.ReadFile(tp)
		if err != nil {
			return err
		}
		t, err := tracefile.Scan(bytes.NewReader(b), tp, tracefile.Handler{Node: func(tracefile.Node) error { return nil },
			Flow: func(tracefile.Flow) error { return nil }, Stop: func(tracefile.Stop) error { return nil }})
		if err != nil {
			return err
		}
		if t.Direction != "forward" {
			return fmt.Errorf("%s is a %s trace: deposit addresses come from forward traces", tp, t.Direction)
		}
		src := c.String("source")
		if src == "" {
			src = investigate.TraceSource(b, c.String("case-ref"))
		}
		ls, probs := investigate.DepositLabels(t.Deposits, t.Poisoned, src)
		for i := range ls {
			ls[i].Imported = now
		}
		if err := st.AddLabels(c.Context, ls); err != nil {
			return err
		}
		rejected += len(probs)
		if len(probs) > 0 {
			files++
		}
		if c.Bool("json") {
			fj := fileJSON{File: tp, Format: "trace", Imported: len(ls), Rejected: []string{}}
			for _, pr := range probs {
				fj.Rejected = append(fj.Rejected, pr.String())
			}
			report = append(report, fj)
		} else {
			fmt.Fprintf(c.App.Writer, "%s: %d deposit addresses labeled (source %q)\n", tp, len(ls), src)
			for _, pr := range probs {
				fmt.Fprintf(c.App.Writer, "  not imported: %s %s\n", tp, pr)
			}
		}
	}
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
		if err := st.AddLabels(c.Context, ls); err != nil {
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
		err := fmt.Errorf("%d rows of %d files were rejected (listed above, with their lines) and not imported", rejected, files)
		if c.Bool("json") {
			return shownError{err} // the JSON lists them
		}
		return err
	}
	return nil
}

func runLabelsExport(c *cli.Context) error {
	st, err := openStore(c, readStore)
	if err != nil {
		return err
	}
	defer st.Close()
	var all []labels.Label
	if err := st.EachLabel(c.Context, func(l labels.Label) error { all = append(all, l); return nil }); err != nil {
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
	st, err := openStore(c, readStore)
	if err != nil {
		return err
	}
	defer st.Close()
	var all []labels.Label
	if err := st.EachLabel(c.Context, func(l labels.Label) error { all = append(all, l); return nil }); err != nil {
		return err
	}
	conflicts := labels.Conflicts(all, func(l labels.Label) (uint32, bool) {
		id, size, err := st.ClusterOf(c.Context, l.Chain, l.Address)
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
