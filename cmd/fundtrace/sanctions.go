package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/labels"
	"github.com/fundtrace/fundtrace/sanctions"
	"github.com/fundtrace/fundtrace/screening"
	"github.com/fundtrace/fundtrace/store"
)

func sanctionsCommand() *cli.Command {
	return &cli.Command{
		Name:  "sanctions",
		Usage: "import OFAC sanctions lists (their digital currency addresses) and list the snapshots",
		Subcommands: []*cli.Command{
			{
				Name:      "import",
				Usage:     "import an OFAC list as a new snapshot, keep the old ones, and print what was added and removed",
				UsageText: "fundtrace sanctions import sdn_advanced.xml | sdn.csv [sdn_comments.csv] [--date YYYY-MM-DD] [--force] [--allow-truncated] [--json]",
				Description: `Reads OFAC's advanced XML (sdn_advanced.xml; the consolidated list in the
same schema too) or the legacy CSV set (sdn.csv joined with sdn_comments.csv,
found beside it when not given: sdn.csv remarks are cut short and continue
there). Every "Digital Currency Address - XXX" is read with its entity,
programs and listing date; XBT becomes Bitcoin, ETH and tokens on 0x
addresses Ethereum, TRX and tokens on T addresses TRON; every other
currency is kept as listed and answers direct hits. Malformed addresses
are reported and not stored. Each file is named by its base name and
SHA-256.

The list in force is the one with the latest list date; importing an
older list adds history (screen --as-of) and leaves it in force. Refused,
so that no import silently clears or weakens the list in force: a list
without a date (the legacy CSV set needs --date) or dated in the future;
a CSV not shaped like OFAC's; an empty file, a list without entries, or
one that would drop more than half of the addresses listed now (unless
--force); an sdn.csv whose remarks OFAC cut short at 1,000 characters
imported without the sdn_comments.csv that continues them (unless
--allow-truncated). Exit status 1 when refused.`,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "date", Usage: "the list's publication date (YYYY-MM-DD), required for files that do not carry it (the legacy CSV set)"},
					&cli.BoolFlag{Name: "force", Usage: "import an empty list, one without entries, or one that drops more than half of the addresses listed now"},
					&cli.BoolFlag{Name: "allow-truncated", Usage: "import an sdn.csv whose remarks OFAC cut short without its sdn_comments.csv"},
					jsonFlag,
				},
				Action: runSanctionsImport,
			},
			{
				Name:      "list",
				Usage:     "the imported snapshots",
				UsageText: "fundtrace sanctions list [--json]",
				Flags:     []cli.Flag{jsonFlag},
				Action:    runSanctionsList,
			},
		},
	}
}

func runSanctionsImport(c *cli.Context) error {
	paths, err := args(c)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return errors.New("give the OFAC file(s) to import")
	}
	st, err := openStore(c, createStore)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := sanctions.Import(c.Context, st, paths, sanctions.ImportOptions{Date: c.String("date"), Force: c.Bool("force"), AllowTruncated: c.Bool("allow-truncated")})
	if err != nil {
		if errors.Is(err, sanctions.ErrRefused) {
			err = errors.New(strings.Replace(strings.Replace(err.Error(), "(force to import anyway)", "(--force to import anyway)", 1),
				"or allow truncated remarks", "or --allow-truncated", 1))
		}
		return fmt.Errorf("sanctions import: %w", err)
	}
	sn := res.Snapshot
	key := func(a store.SanctionedAddress) string {
		ch := string(a.Chain)
		if ch == "" {
			ch = strings.ToLower(a.Code)
		}
		return ch + " " + a.Text + " (" + a.Entity + ")"
	}
	added, removed := []string{}, []string{}
	for _, a := range res.Added {
		added = append(added, key(a))
	}
	for _, a := range res.Removed {
		removed = append(removed, key(a))
	}
	sort.Strings(added)
	sort.Strings(removed)
	if c.Bool("json") {
		return writeJSON(c.App.Writer, struct {
			store.SanctionsSnapshot
			Previous int64    `json:"previous_snapshot"`
			InForce  bool     `json:"in_force"`
			Added    []string `json:"added"`
			Removed  []string `json:"removed"`
		}{sn, res.Previous, res.InForce, added, removed})
	}
	w := c.App.Writer
	fmt.Fprintf(w, "snapshot %d (list date %s): %d entries, %d addresses\n", sn.ID, orDash(sn.Date), sn.Entries, sn.Addresses)
	for _, f := range sn.Files {
		fmt.Fprintf(w, "  read %s (%d bytes, SHA-256 %s)\n", f.Name, f.Bytes, f.SHA256)
	}
	if len(sn.Unindexed) > 0 {
		fmt.Fprintf(w, "direct hits only (chain not indexed): %s\n", countList(sn.Unindexed))
	}
	if sn.Truncated > 0 {
		fmt.Fprintf(w, "WARNING: %d entries imported with remarks cut short (--allow-truncated): addresses in the cut parts are missing\n", sn.Truncated)
	}
	for _, s := range sn.Invalid {
		fmt.Fprintf(w, "not an address, not stored: %s\n", s)
	}
	switch {
	case !res.InForce:
		fmt.Fprintf(w, "stored as history: its list date is older than that of snapshot %d, which stays in force (screen --as-of reads it)\n", res.Previous)
	case res.Previous > 0:
		fmt.Fprintf(w, "in force; since snapshot %d: %d added, %d removed\n", res.Previous, len(added), len(removed))
		for _, s := range added {
			fmt.Fprintf(w, "  + %s\n", s)
		}
		for _, s := range removed {
			fmt.Fprintf(w, "  - %s\n", s)
		}
	default:
		fmt.Fprintf(w, "in force\n")
	}
	return nil
}

// countList renders counts by name, sorted: "LTC 12, XMR 1".
func countList[V int | int64](m map[string]V) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runSanctionsList(c *cli.Context) error {
	st, err := openStore(c, readStore)
	if err != nil {
		return err
	}
	defer st.Close()
	sns, err := st.Snapshots(c.Context)
	if err != nil {
		return err
	}
	inForce := store.InForce(sns, "")
	for i := range sns {
		for j, src := range sns[i].Sources {
			sns[i].Sources[j] = filepath.Base(src) // earlier versions kept the path read from
		}
	}
	if c.Bool("json") {
		type listed struct {
			store.SanctionsSnapshot
			InForce bool `json:"in_force"`
		}
		out := make([]listed, len(sns))
		for i := range sns {
			out[i] = listed{sns[i], sns[i].ID == inForce}
		}
		return writeJSON(c.App.Writer, out)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "SNAPSHOT\tLIST DATE\tIN FORCE\tIMPORTED\tENTRIES\tADDRESSES\tFILES\n")
	for _, s := range sns {
		files := strings.Join(s.Sources, ", ")
		if len(s.Files) > 0 {
			var fs []string
			for _, f := range s.Files {
				fs = append(fs, f.Name+" (SHA-256 "+f.SHA256[:16]+"…)")
			}
			files = strings.Join(fs, ", ")
		}
		force := ""
		if s.ID == inForce {
			force = "yes"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%s\n", s.ID, orDash(s.Date), orDash(force), s.Imported, s.Entries, s.Addresses, files)
	}
	return tw.Flush()
}

// errSanctionsHit makes the process exit with status 2: scripts gate on it.
var errSanctionsHit = errors.New("sanctions hit")

// errNotScreened makes the process exit with status 1 when no address
// is a hit but some could not be screened: "clean" is only ever said of
// addresses that were.
type errNotScreened struct{ n, of int }

func (e errNotScreened) Error() string {
	return fmt.Sprintf("%d of the %d addresses could not be screened (see the table); none of the others is a hit", e.n, e.of)
}

func screenCommand() *cli.Command {
	return &cli.Command{
		Name:      "screen",
		Usage:     "screen addresses against the imported sanctions lists (direct and same-cluster hits) and show their labels and their cluster's; exits 2 on any hit, 1 when any could not be screened",
		UsageText: "fundtrace screen ADDRESS... [--file addresses.csv] [--as-of YYYY-MM-DD] [--exposure [--hops N]] [--json]",
		Description: `For each address: whether it is listed (list date, entity, programs, listing
date), its cluster (fundtrace cluster) and the listed addresses in that
cluster. Bitcoin addresses are read for the store's network (mainnet when
it holds none), Ethereum ones (0x…) with their EIP-55 checksum checked
when mixed-case, TRON ones (T…, 41…) with their Base58Check checksum. A
string written as a listed address of any other currency (LTC, XMR, …)
is a direct hit too: direct hits need no chain data. --file reads
addresses from the first column of a CSV file (a header line is skipped).
--as-of screens against the list in force that day (the latest list date
on or before it).

Each address has a status: screened; invalid (a bad checksum, or an
address of another network than the store's); unsupported (not an address
of a chain fundtrace reads, nor written as any listed one); no_list (no
sanctions list imported). Only a screened address is ever reported clear.
The cluster column says where the store cannot answer: the chain is not
indexed, or not clustered (fundtrace cluster).

Exit status: 0 when every address was screened and none is listed or in
a cluster with a listed one; 2 when any is a hit (direct or same-cluster);
1 when none is a hit but any could not be screened, or on an error.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "file", Usage: "CSV file whose first column holds addresses"},
			&cli.StringFlag{Name: "as-of", Usage: "screen against the list as it stood on this day (YYYY-MM-DD)"},
			&cli.BoolFlag{Name: "exposure", Usage: "also report indirect exposure: what the address sent to and received from each labeled category within --hops, under the haircut model (per asset on Ethereum)"},
			&cli.IntFlag{Name: "hops", Value: 3, Usage: "with --exposure, how many transactions away to look (1 to 10)"},
			jsonFlag,
		},
		Action: runScreen,
	}
}

type screenHit struct {
	store.SanctionedAddress
	Snapshot int64 `json:"snapshot"`
}

type screenResult struct {
	Address        string               `json:"address"`
	Chain          string               `json:"chain"`
	Status         string               `json:"status"`
	Sanctioned     *screenHit           `json:"sanctioned"`
	Cluster        *uint32              `json:"cluster_id,omitempty"`
	ClusterSize    uint32               `json:"cluster_size,omitempty"`
	ClusterStatus  string               `json:"cluster_status,omitempty"`
	ClusterFlagged bool                 `json:"cluster_flagged_merge,omitempty"`
	ClusterHits    []screenHit          `json:"cluster_sanctioned"`
	Labels         []labels.Label       `json:"labels"`
	ClusterLabels  []labels.Label       `json:"cluster_labels"`
	Exposure       []screening.Exposure `json:"exposure,omitempty"`
	Notes          []string             `json:"notes,omitempty"`
	Error          string               `json:"error,omitempty"`
}

func runScreen(c *cli.Context) error {
	addrs, err := args(c)
	if err != nil {
		return err
	}
	if p := c.String("file"); p != "" {
		more, err := readAddressFile(p)
		if err != nil {
			return err
		}
		addrs = append(addrs, more...)
	}
	if len(addrs) == 0 {
		return errors.New("give addresses to screen, or --file")
	}
	if c.Bool("exposure") && len(c.Args().Slice()) > 0 {
		// "screen --exposure 3 ADDR": --exposure takes no value; the
		// number is not an address but meant as the hops.
		if a := c.Args().First(); len(a) <= 2 && strings.Trim(a, "0123456789") == "" {
			return fmt.Errorf("%q is not an address: --exposure takes no number; the hops are --hops %s", a, a)
		}
	}
	if h := c.Int("hops"); h < 1 || h > 10 {
		return fmt.Errorf("--hops %d: want 1 to 10", h)
	}
	// The same screening as the HTTP API's (package screening).
	st, sc, err := openScreener(c, readStore)
	if err != nil {
		return err
	}
	defer st.Close()
	l := sc.Current()
	if asOf := c.String("as-of"); asOf != "" {
		if _, err := time.Parse("2006-01-02", asOf); err != nil {
			return fmt.Errorf("--as-of %q: want YYYY-MM-DD", asOf)
		}
		if l, err = sc.AsOf(c.Context, asOf); err != nil {
			var ie *screening.InputError
			if errors.As(err, &ie) {
				return errors.New(ie.Msg)
			}
			return err
		}
	}
	snap := l.Snapshot.ID
	if snap == 0 {
		slog.Warn("No sanctions list imported: nothing can be screened (run fundtrace sanctions import)")
	}
	var results []screenResult
	anyHit, unscreened := false, 0
	parsed := make([]screening.Parsed, len(addrs))
	for i, s := range addrs {
		parsed[i] = sc.Parse("", s)
	}
	if err := sc.Prefetch(c.Context, parsed); err != nil {
		slog.Warn("Reading the addresses' clusters in batches failed; reading them one by one", "err", err)
	}
	for i, s := range addrs {
		p := parsed[i]
		res := sc.Screen(c.Context, l, p)
		r := screenResult{Address: s, Chain: res.Chain, Status: res.Status, Error: res.Error, ClusterStatus: res.ClusterStatus,
			ClusterHits: []screenHit{}, Labels: []labels.Label{}, ClusterLabels: []labels.Label{}}
		if !res.Screened() {
			unscreened++
			if res.Status != screening.StatusNoList {
				results = append(results, r)
				continue
			}
		}
		ch := chains.Chain(res.Chain)
		if len(res.Hits) > 0 {
			r.Sanctioned = &screenHit{listedOf(ch, res.Hits[0]), snap}
			anyHit = true
		}
		if cl := res.Cluster; cl != nil {
			id := cl.ID
			r.Cluster, r.ClusterSize, r.ClusterFlagged = &id, cl.Size, cl.FlaggedMerge
			if cl.FlaggedMerge {
				r.Notes = append(r.Notes, fmt.Sprintf("cluster %d was built through a multi-input merge of two large clusters: see fundtrace cluster suspects", id))
			}
			for _, h := range cl.Sanctioned {
				r.ClusterHits = append(r.ClusterHits, screenHit{listedOf(ch, h), snap})
				anyHit = true
			}
			for _, lb := range cl.Labels {
				r.ClusterLabels = append(r.ClusterLabels, labelOf(ch, lb.Address, lb))
			}
		}
		switch res.ClusterStatus {
		case screening.ClusterChainUnindexed:
			r.Notes = append(r.Notes, fmt.Sprintf("the store holds no %s blocks: no cluster or exposure answer", res.Chain))
		case screening.ClusterNotClustered:
			r.Notes = append(r.Notes, fmt.Sprintf("%s is not clustered in this store (fundtrace cluster): no same-cluster answer", res.Chain))
		}
		for _, lb := range res.Labels {
			r.Labels = append(r.Labels, labelOf(ch, s, lb))
		}
		if c.Bool("exposure") && p.Status == screening.StatusScreened && res.ClusterStatus != screening.ClusterChainUnindexed && res.ClusterStatus != "" {
			if r.Exposure, err = sc.Exposures(c.Context, st, l, ch, p.Address, c.Int("hops")); err != nil {
				return err
			}
		}
		results = append(results, r)
	}
	if c.Bool("json") {
		if err := writeJSON(c.App.Writer, results); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "ADDRESS\tCHAIN\tSTATUS\tSANCTIONED\tCLUSTER\tLISTED IN CLUSTER\tLABELS\tCLUSTER LABELS\n")
		for _, r := range results {
			sanc, clu, inClu := "no", "-", "-"
			if r.Status != screening.StatusScreened {
				sanc = "NOT SCREENED: " + r.Error
			}
			if h := r.Sanctioned; h != nil {
				sanc = fmt.Sprintf("YES: %s [%s] listed %s (OFAC %s, %s, snapshot %d)", h.Entity, strings.Join(h.Programs, ", "), orDash(h.Listed), h.Ref, h.Code, h.Snapshot)
			}
			switch r.ClusterStatus {
			case screening.ClusterChainUnindexed:
				clu, inClu = "chain not indexed", "unknown"
			case screening.ClusterNotClustered:
				clu, inClu = "not clustered", "unknown"
			case screening.ClusterSingle:
				clu, inClu = "single", "none"
			}
			if r.Cluster != nil {
				clu = fmt.Sprintf("%d (%d addresses)", *r.Cluster, r.ClusterSize)
				inClu = "none"
			}
			if len(r.ClusterHits) > 0 {
				var hs []string
				for _, h := range r.ClusterHits {
					hs = append(hs, h.Text+" "+h.Entity)
				}
				inClu = "YES: " + strings.Join(hs, "; ")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Address, dash(r.Chain), r.Status, sanc, clu, inClu, labelList(r.Labels), labelList(r.ClusterLabels))
		}
		tw.Flush()
		for _, r := range results {
			for _, n := range r.Notes {
				fmt.Fprintf(c.App.Writer, "note: %s: %s\n", r.Address, n)
			}
		}
		for _, r := range results {
			if len(r.Exposure) == 0 {
				continue
			}
			fmt.Fprintf(c.App.Writer, "\nExposure of %s within %d hops (haircut):\n", r.Address, c.Int("hops"))
			et := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
			fmt.Fprintf(et, "  CATEGORY\tNAME\tASSET\tSENT TO\tRECEIVED FROM\tNEAREST HOP\n")
			for _, e := range r.Exposure {
				fmt.Fprintf(et, "  %s\t%s\t%s\t%s\t%s\t%d\n", e.Category, e.Name, e.Asset, decimalUnits(e.Sent, e.Decimals), decimalUnits(e.Received, e.Decimals), e.MinHops)
			}
			et.Flush()
		}
	}
	if anyHit {
		return errSanctionsHit
	}
	if unscreened > 0 {
		if c.Bool("json") {
			return shownError{errNotScreened{unscreened, len(results)}} // each result says why
		}
		return errNotScreened{unscreened, len(results)}
	}
	return nil
}

// listedOf turns a screening hit back into the listed address it came from.
func listedOf(c chains.Chain, h screening.Hit) store.SanctionedAddress {
	return store.SanctionedAddress{Chain: c, Text: h.Address, Code: h.Currency, Entity: h.Entity, Ref: h.Ref, Type: h.Type, Programs: h.Programs, Listed: h.Listed}
}

// labelOf turns a screening label back into a stored one.
func labelOf(c chains.Chain, text string, l screening.Label) labels.Label {
	return labels.Label{Chain: c, Text: text, Label: l.Label, Category: l.Category, Actor: l.Actor, Source: l.Source, SourceDate: l.SourceDate,
		Imported: l.Imported, Confidence: l.Confidence}
}

// labelList renders labels for a table cell: label [category] (source).
func labelList(ls []labels.Label) string {
	if len(ls) == 0 {
		return "-"
	}
	// A cluster's members often carry one label each from one source:
	// said once, with how many carry it (--json lists each).
	var parts []string
	count := map[string]int{}
	for _, l := range ls {
		p := fmt.Sprintf("%s [%s] (%s)", l.Label, l.Category, l.Source)
		if count[p] == 0 {
			parts = append(parts, p)
		}
		count[p]++
	}
	for i, p := range parts {
		if n := count[p]; n > 1 {
			parts[i] = fmt.Sprintf("%s ×%d addresses", p, n)
		}
	}
	return strings.Join(parts, "; ")
}

func readAddressFile(p string) ([]string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	var out []string
	for i, rec := range recs {
		if len(rec) == 0 || strings.TrimSpace(rec[0]) == "" {
			continue
		}
		a := strings.TrimSpace(rec[0])
		if i == 0 && strings.EqualFold(a, "address") {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}
