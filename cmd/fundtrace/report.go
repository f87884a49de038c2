package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/investigate"
	"github.com/fundtrace/fundtrace/labels"
	"github.com/fundtrace/fundtrace/prices"
	"github.com/fundtrace/fundtrace/report"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/tracefile"
)

func reportCommand() *cli.Command {
	return &cli.Command{
		Name:      "report",
		Usage:     "write the flow report and evidence bundle of a trace: HTML, PDF, freezing-request letters, transactions CSV, manifest",
		UsageText: "fundtrace report (--trace trace.json | --case case.csv [trace flags]) --out DIR [--case-info case.yaml] [--date DAY] [--case-ref REF]\n       [--lang en|ko] [--font F.ttf] [--prices F...] [--fiat EUR] [--letter F]",
		Description: `Writes into DIR: report.pdf and report.html (a summary of at most five
pages whatever the case's size: the case, what was traced, the money
reaching each exchange, a timeline, the aggregated flow graph, the
limitations, the method with its measured accuracy; then the annexes: each
victim's payments and where their money went, the deposits per exchange,
the graph's nodes in full, the data files), freeze/EXCHANGE.pdf, .csv and
.json (one freezing request per exchange: a letter from the sender the
case information names, the deposit rows for spreadsheets, and the same
with the requester and what is asked for machines), transactions.csv and
flow_sources.csv (every flow, normalised), deposits.csv, trace.json and
manifest.json (the fundtrace version, the store's chain tips, the case
file's and case information's SHA-256, the sanctions snapshot, the label
sets and clustering in the store, the heuristics and parameters, and the
SHA-256 of every file).
--case-info names who sends the report and the letters and on what basis
(YAML: reference, agency, unit, investigator, title, email, phone,
address, legal_basis, date, deadline; docs/reports.md); without a sender
the letters are not written (the requests for machines are). The report's
date comes from --date or the case information: nothing is read from the
clock. --lang writes the summary and letters in another language (ko:
Korean, with a font found on the system, Debian's fonts-nanum, or --font).
Values are shown in the chain's unit and, from --prices files (CSV: date,
asset, price[, currency]; or ASSET-CURRENCY.csv daily exports), in USD and
--fiat at each transfer's day; a missing price is an empty cell with its
reason, never a guess. The same inputs give the same bytes; fundtrace
verify DIR checks them.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "trace", Usage: "a trace file (fundtrace trace --out)"},
			&cli.StringFlag{Name: "case", Usage: "trace this case file first (CSV, as fundtrace trace --case)"},
			&cli.StringFlag{Name: "out", Required: true, Usage: "folder to write the bundle into (new or empty, unless --force)"},
			&cli.BoolFlag{Name: "force", Usage: "write into an --out folder that is not empty"},
			&cli.StringSliceFlag{Name: "prices", Usage: "price files (repeatable)"},
			&cli.StringFlag{Name: "fiat", Usage: "a currency to show besides USD (its prices must be in the files)"},
			&cli.StringFlag{Name: "letter", Usage: "a text/template file for the freezing-request letters"},
			&cli.StringFlag{Name: "case-info", Usage: "YAML: who sends the report and letters, on what basis (docs/reports.md)"},
			&cli.StringFlag{Name: "date", Usage: "the report's date (YYYY-MM-DD; default: the case information's)"},
			&cli.StringFlag{Name: "case-ref", Usage: "the case's reference (default: the case information's)"},
			&cli.StringFlag{Name: "lang", Value: "en", Usage: "the language of the summary and letters: " + strings.Join(report.Languages(), ", ")},
			&cli.StringFlag{Name: "font", Usage: "a TrueType font for the language's script (default: one found on the system)"},
			jsonFlag,
		}, traceModelFlags()...), // with --case
		Action: runReport,
	}
}

// reportInputs gathers what report.Write needs besides the trace.
type reportInputs struct {
	prices   []string
	fiat     string
	letter   string
	date     string
	ref      string
	cas      string
	caseInfo string
	lang     string
	font     string
	// version is the fundtrace version to print (default this one's):
	// verify rebuilds a bundle as the version that made it would.
	version string
	onStep  func(file string) // progress, when set
}

func runReport(c *cli.Context) error {
	if (c.String("trace") == "") == (c.String("case") == "") {
		return errors.New("give either --trace or --case")
	}
	in := reportInputs{prices: c.StringSlice("prices"), fiat: c.String("fiat"), letter: c.String("letter"), date: c.String("date"), ref: c.String("case-ref"), cas: c.String("case"),
		caseInfo: c.String("case-info"), lang: c.String("lang"), font: c.String("font")}
	if in.date != "" {
		if _, err := time.Parse("2006-01-02", in.date); err != nil {
			return fmt.Errorf("--date %q: want YYYY-MM-DD", in.date)
		}
	}
	if err := emptyOut(c.String("out"), c.Bool("force")); err != nil {
		return err
	}
	var traceBytes []byte
	var st store.Store
	if p := c.String("trace"); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		traceBytes = b
		// The store, when there is one, for the manifest (tips, labels,
		// sanctions, clusters).
		if s, err := openStore(c, readStore); err == nil {
			st = s
			defer st.Close()
		}
	} else {
		s, err := openStore(c, readStore)
		if err != nil {
			return err
		}
		st = s
		defer st.Close()
		o, err := optsOf(c)
		if err != nil {
			return err
		}
		prog := newProgressLine(c)
		o.OnHop = prog.hop
		iv := investigate.New(st, o)
		var seeds investigate.Seeds
		if err := iv.ReadCase(c.Context, &seeds, in.cas); err != nil {
			return err
		}
		models := strings.Split(c.String("model"), ",")
		j, err := iv.Trace(c.Context, seeds, models, 0, 0)
		prog.done()
		if err != nil {
			return err
		}
		if traceBytes, err = tracefile.Marshal(j); err != nil {
			return err
		}
	}
	rp := newProgressLine(c)
	in.onStep = rp.step
	m, err := writeReport(c.Context, st, traceBytes, c.String("trace"), c.String("out"), in)
	rp.done()
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, map[string]any{"out": c.String("out"), "manifest": "manifest.json", "files": m.Files})
	}
	fmt.Fprintf(c.App.Writer, "wrote %d files into %s (manifest.json lists them with their SHA-256)\n", len(m.Files)+1, c.String("out"))
	for _, f := range m.Files {
		fmt.Fprintf(c.App.Writer, "  %s  %s\n", f.SHA256[:16], f.Path)
	}
	return nil
}

// writeReport builds the bundle of one trace; st may be nil (no store:
// the manifest then has no tips, labels or sanctions).
func writeReport(ctx context.Context, st store.Store, traceBytes []byte, traceName, dir string, in reportInputs) (*report.Manifest, error) {
	name := traceName
	if name == "" {
		name = "the trace"
	}
	pt := prices.New()
	info := report.Info{Version: version, Options: map[string]string{}}
	if in.version != "" {
		info.Version = in.version
	}
	for _, p := range in.prices {
		if err := pt.ReadFile(p); err != nil {
			return nil, err
		}
		f, err := report.HashFile(p)
		if err != nil {
			return nil, err
		}
		info.Prices = append(info.Prices, f)
	}
	var letter *template.Template
	if in.letter != "" {
		b, err := os.ReadFile(in.letter)
		if err != nil {
			return nil, err
		}
		if letter, err = report.LetterTemplate(filepath.Base(in.letter), string(b)); err != nil {
			return nil, fmt.Errorf("--letter %s: %w", in.letter, err)
		}
		f, err := report.HashFile(in.letter)
		if err != nil {
			return nil, err
		}
		info.Letter = &f
	}
	if in.cas != "" {
		f, err := report.HashFile(in.cas)
		if err != nil {
			return nil, err
		}
		info.Case = &f
	}
	var ci *report.CaseInfo
	if in.caseInfo != "" {
		var err error
		if ci, err = report.ReadCaseInfo(in.caseInfo); err != nil {
			return nil, fmt.Errorf("--case-info: %w", err)
		}
		f, err := report.HashFile(in.caseInfo)
		if err != nil {
			return nil, err
		}
		info.CaseInfo = &f
	}
	date := in.date
	if date == "" && ci != nil {
		date = ci.Date
	}
	if date == "" {
		return nil, errors.New("the report needs its date: --date YYYY-MM-DD, or date: in --case-info (nothing is read from the clock)")
	}
	if in.font != "" {
		f, err := report.HashFile(in.font)
		if err != nil {
			return nil, fmt.Errorf("--font: %w", err)
		}
		info.Font = &f
	}
	for k, v := range map[string]string{"fiat": strings.ToUpper(in.fiat), "date": in.date, "case_ref": in.ref, "lang": in.lang} {
		if v != "" && !(k == "lang" && v == "en") {
			info.Options[k] = v
		}
	}
	if st != nil {
		// The manifest records the store's state for the chains the trace
		// used: its head (the seeds) is enough, read up to the first long
		// section (report.Write reads the whole).
		var head *tracefile.Trace
		errHead := errors.New("head read")
		t, err := tracefile.Scan(bytes.NewReader(traceBytes), name, tracefile.Handler{Start: func(h *tracefile.Trace) error { head = h; return errHead }})
		switch {
		case errors.Is(err, errHead):
		case err != nil:
			return nil, err
		default:
			head = t // no long section at all
		}
		if err := storeInfo(ctx, st, head, &info); err != nil {
			return nil, err
		}
	}
	return report.Write(dir, report.Input{TraceBytes: traceBytes, TraceName: name, Prices: pt, Fiat: in.fiat, Letter: letter, Case: ci, Date: date,
		Lang: in.lang, Font: in.font, Info: info, OnStep: in.onStep})
}

// storeInfo records what the store holds that the trace relied on.
func storeInfo(ctx context.Context, st store.Store, t *tracefile.Trace, info *report.Info) error {
	used := map[string]bool{}
	for _, s := range t.Seeds {
		used[s.Chain] = true
	}
	for _, ch := range chains.Indexed {
		tag := string(ch) // btc, eth, tron: as the trace file names them
		if !used[tag] {
			continue
		}
		m, err := st.Meta(ctx, ch)
		if err != nil {
			return err
		}
		info.Tips = append(info.Tips, report.Tip{Chain: tag, Height: m.TipHeight, Hash: m.TipHash.String()})
		if cm, ok, err := st.ClusterMeta(ctx, ch); err == nil && ok && info.Clustering == nil {
			info.Clustering = &report.Clustering{Chain: tag, Heuristics: cm.Heuristics, Height: cm.Height,
				GuardSize: cm.GuardSize, HeldBack: len(cm.Suspects), Flagged: len(cm.Flagged)}
		}
	}
	id, err := st.CurrentSnapshot(ctx)
	if err != nil {
		return err
	}
	sns, err := st.Snapshots(ctx)
	if err != nil {
		return err
	}
	for _, sn := range sns {
		if sn.ID == id {
			info.Sanctions = &report.Snapshot{ID: sn.ID, Date: sn.Date, Imported: sn.Imported, Sources: sn.Sources, Addresses: sn.Addresses}
		}
	}
	type set struct {
		date  string
		lines []string
	}
	bySource := map[string]*set{}
	err = st.EachLabel(ctx, func(l labels.Label) error {
		s := bySource[l.Source]
		if s == nil {
			s = &set{}
			bySource[l.Source] = s
		}
		s.date = max(s.date, l.SourceDate)
		s.lines = append(s.lines, fmt.Sprintf("%s,%s,%s,%s,%s,%d", l.Chain, l.Text, l.Label, l.Category, l.Actor, l.Confidence))
		return nil
	})
	if err != nil {
		return err
	}
	for _, n := range slices.Sorted(maps.Keys(bySource)) {
		s := bySource[n]
		sort.Strings(s.lines)
		h := sha256.Sum256([]byte(strings.Join(s.lines, "\n")))
		info.Labels = append(info.Labels, report.LabelSet{Source: n, Date: s.date, Labels: len(s.lines), SHA256: hex.EncodeToString(h[:])})
	}
	return nil
}

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check an evidence bundle: every file's hash, the trace re-run against the store, the report rebuilt",
		UsageText: "fundtrace verify DIR [--store DIR] [--json]",
		Description: `Reads DIR/manifest.json and checks that every file of the bundle has the
SHA-256 the manifest gives, that the store's chain tips are those recorded,
that tracing the same victim payments with the same parameters against
the store gives the same trace, figure for figure, and that building the
report again from the same inputs (the price files and letter template the
manifest names) gives the same bytes. A bundle made by another fundtrace
version is rebuilt as that version would print it (the version appears in
the PDFs and the manifest), and verify says so: when nothing else differs,
the version is the only difference. It lists every difference and exits
with status 1 when there is one.`,
		Flags:  []cli.Flag{jsonFlag},
		Action: runVerify,
	}
}

func runVerify(c *cli.Context) error {
	dir, err := oneArg(c, "bundle folder")
	if err != nil {
		return err
	}
	man, err := report.ReadManifest(dir)
	if err != nil {
		return err
	}
	diffs := report.Check(dir, man)
	traceBytes, err := os.ReadFile(filepath.Join(dir, "trace.json"))
	if err != nil {
		return err
	}
	// The trace's head (seeds, parameters) is what the re-run needs; its
	// long sections stream past (deposits counted), and are read whole
	// only to say how a different re-run differs.
	deposits := 0
	traceName := filepath.Join(dir, "trace.json")
	t, err := tracefile.Scan(bytes.NewReader(traceBytes), traceName, tracefile.Handler{Node: func(tracefile.Node) error { return nil },
		Flow: func(tracefile.Flow) error { return nil }, Deposit: func(tracefile.Deposit) error { deposits++; return nil },
		Poisoned: func(tracefile.Poisoned) error { return nil }, Stop: func(tracefile.Stop) error { return nil }})
	if err != nil {
		return err
	}
	st, err := openStore(c, readStore)
	if err != nil {
		return fmt.Errorf("the trace is re-run against the store: %w", err)
	}
	defer st.Close()
	for _, tip := range man.Tips {
		ch, err := chains.ParseChain(tip.Chain)
		if err != nil {
			return err
		}
		m, err := st.Meta(c.Context, ch)
		if err != nil {
			return err
		}
		if m.TipHeight != tip.Height || m.TipHash.String() != tip.Hash {
			diffs = append(diffs, fmt.Sprintf("store: %s tip is %d %s, the bundle was made at %d %s", tip.Chain, m.TipHeight, m.TipHash, tip.Height, tip.Hash))
		}
	}
	prog := newProgressLine(c)
	again, err := investigate.Retrace(c.Context, st, t, prog.hop)
	prog.done()
	if err != nil {
		return fmt.Errorf("re-running the trace: %w", err)
	}
	againBytes, err := tracefile.Marshal(again)
	if err != nil {
		return err
	}
	if string(againBytes) != string(traceBytes) {
		if strings.Contains(string(traceBytes[:min(len(traceBytes), 100)]), tracefile.SchemaV1) {
			diffs = append(diffs, fmt.Sprintf("trace: written as %s; this version writes %s (docs/tracing.md: poison per deposit), so the files differ", tracefile.SchemaV1, tracefile.Schema))
		}
		whole, err := tracefile.Parse(traceBytes, traceName)
		if err != nil {
			return err
		}
		diffs = append(diffs, investigate.Diffs(whole, again)...)
	}
	// Rebuild the report from the same inputs.
	in := reportInputs{fiat: man.Options["fiat"], date: man.Options["date"], ref: man.Options["case_ref"], lang: man.Options["lang"], version: man.Version}
	if man.CaseInfo != nil {
		in.caseInfo = man.CaseInfo.Path
	}
	if man.Font != nil {
		in.font = man.Font.Path
	}
	var notes []string
	if man.Version != version {
		notes = append(notes, fmt.Sprintf("the bundle was made by fundtrace %s, this is %s: the report is rebuilt as %s prints it, so the version alone makes no difference", man.Version, version, man.Version))
	}
	for _, p := range man.Prices {
		in.prices = append(in.prices, p.Path)
	}
	if man.Letter != nil {
		in.letter = man.Letter.Path
	}
	if man.Case != nil {
		in.cas = man.Case.Path
	}
	tmp, err := os.MkdirTemp("", "fundtrace-verify-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	rebuilt, err := writeReport(c.Context, st, traceBytes, filepath.Join(dir, "trace.json"), tmp, in)
	if err != nil {
		diffs = append(diffs, "rebuilding the report: "+err.Error())
	} else {
		want := map[string]string{}
		for _, f := range man.Files {
			want[f.Path] = f.SHA256
		}
		for _, f := range rebuilt.Files {
			if want[f.Path] != f.SHA256 {
				diffs = append(diffs, fmt.Sprintf("%s: rebuilt from the same inputs it has SHA-256 %s, the manifest says %s", f.Path, f.SHA256, want[f.Path]))
			}
			delete(want, f.Path)
		}
		for p := range want {
			diffs = append(diffs, p+": in the manifest, not made again")
		}
	}
	if c.Bool("json") {
		err := writeJSON(c.App.Writer, map[string]any{"bundle": dir, "verified": len(diffs) == 0, "differences": append([]string{}, diffs...),
			"notes": append([]string{}, notes...), "files": len(man.Files), "deposits": deposits})
		if err != nil || len(diffs) == 0 {
			return err
		}
		return shownError{fmt.Errorf("%s: %d differences", dir, len(diffs))} // the JSON lists them
	}
	for _, n := range notes {
		fmt.Fprintln(c.App.Writer, "NOTE:", n)
	}
	if len(diffs) > 0 {
		for _, d := range diffs {
			fmt.Fprintln(c.App.Writer, "DIFFERS:", d)
		}
		return fmt.Errorf("%s: %d differences", dir, len(diffs))
	}
	fmt.Fprintf(c.App.Writer, "verified %s: %d files match the manifest; the trace re-run against the store gives the same %d deposits and figures; the report rebuilt is byte-identical\n",
		dir, len(man.Files), deposits)
	return nil
}
