package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"log/slog"
	"os"
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

// sanctionsStore is what the sanctions and screen commands need; the
// embedded store has it.
type sanctionsStore interface {
	backend
	Snapshots(ctx context.Context) ([]store.SanctionsSnapshot, error)
	AddSnapshot(ctx context.Context, sn store.SanctionsSnapshot, addrs []store.SanctionedAddress) (store.SanctionsSnapshot, error)
	SnapshotAddresses(ctx context.Context, id int64) ([]store.SanctionedAddress, error)
	Sanctioned(ctx context.Context, id int64, c chains.Chain, a chains.Address) (store.SanctionedAddress, bool, error)
	CurrentSnapshot(ctx context.Context) (int64, error)
}

func sanctionsCommand() *cli.Command {
	return &cli.Command{
		Name:  "sanctions",
		Usage: "import OFAC sanctions lists (their digital currency addresses) and list the snapshots",
		Subcommands: []*cli.Command{
			{
				Name:      "import",
				Usage:     "import an OFAC list as a new snapshot, keep the old ones, and print what was added and removed",
				UsageText: "fundtrace sanctions import sdn_advanced.xml | sdn.csv [sdn_comments.csv] [--date YYYY-MM-DD] [--json]",
				Description: `Reads OFAC's advanced XML (sdn_advanced.xml; the consolidated list in the
same schema too) or the legacy CSV set (sdn.csv joined with sdn_comments.csv,
found beside it when not given: sdn.csv remarks are cut short and continue
there). Every "Digital Currency Address - XXX" is read with its entity,
programs and listing date; XBT becomes Bitcoin, ETH and tokens on 0x
addresses Ethereum; other currencies are counted and reported, malformed
addresses reported and not stored. The snapshot becomes the one screening
uses; earlier snapshots stay (screen --as-of).`,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "date", Usage: "the list's publication date (YYYY-MM-DD), for files that do not carry it (the legacy CSV set)"},
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
	l, err := sanctions.Load(paths)
	if err != nil {
		return fmt.Errorf("sanctions import: %w", err)
	}
	if d := c.String("date"); d != "" {
		if _, err := time.Parse("2006-01-02", d); err != nil {
			return fmt.Errorf("--date %q: want YYYY-MM-DD", d)
		}
		if l.Date != "" && l.Date != d {
			return fmt.Errorf("--date %s, but the file says it was published on %s", d, l.Date)
		}
		l.Date = d
	}
	st, ss, err := openAs[sanctionsStore](c, false)
	if err != nil {
		return err
	}
	defer st.Close()
	prevID, err := ss.CurrentSnapshot(c.Context)
	if err != nil {
		return err
	}
	var prev []store.SanctionedAddress
	if prevID > 0 {
		if prev, err = ss.SnapshotAddresses(c.Context, prevID); err != nil {
			return err
		}
	}
	sn, addrs := sanctions.Snapshot(l)
	sn.Imported = time.Now().UTC().Format(time.RFC3339)
	sn, err = ss.AddSnapshot(c.Context, sn, addrs)
	if err != nil {
		return err
	}
	key := func(a store.SanctionedAddress) string { return string(a.Chain) + " " + a.Text }
	old, now := map[string]bool{}, map[string]bool{}
	for _, a := range prev {
		old[strings.ToLower(key(a))] = true
	}
	var added, removed []string
	for _, a := range addrs {
		now[strings.ToLower(key(a))] = true
		if prevID > 0 && !old[strings.ToLower(key(a))] {
			added = append(added, key(a)+" ("+a.Entity+")")
		}
	}
	for _, a := range prev {
		if !now[strings.ToLower(key(a))] {
			removed = append(removed, key(a)+" ("+a.Entity+")")
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	if c.Bool("json") {
		return writeJSON(c.App.Writer, struct {
			store.SanctionsSnapshot
			Previous int64    `json:"previous_snapshot"`
			Added    []string `json:"added"`
			Removed  []string `json:"removed"`
		}{sn, prevID, added, removed})
	}
	w := c.App.Writer
	fmt.Fprintf(w, "snapshot %d (list date %s): %d entries, %d addresses on chains fundtrace indexes\n", sn.ID, orDash(sn.Date), sn.Entries, sn.Addresses)
	if len(sn.Unindexed) > 0 {
		fmt.Fprintf(w, "kept aside, currencies not indexed: %v\n", sn.Unindexed)
	}
	for _, s := range sn.Invalid {
		fmt.Fprintf(w, "not an address, not stored: %s\n", s)
	}
	if prevID > 0 {
		fmt.Fprintf(w, "since snapshot %d: %d added, %d removed\n", prevID, len(added), len(removed))
		for _, s := range added {
			fmt.Fprintf(w, "  + %s\n", s)
		}
		for _, s := range removed {
			fmt.Fprintf(w, "  - %s\n", s)
		}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runSanctionsList(c *cli.Context) error {
	st, ss, err := openAs[sanctionsStore](c, true)
	if err != nil {
		return err
	}
	defer st.Close()
	sns, err := ss.Snapshots(c.Context)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, sns)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "SNAPSHOT\tLIST DATE\tIMPORTED\tENTRIES\tADDRESSES\tSOURCES\n")
	for _, s := range sns {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%s\n", s.ID, orDash(s.Date), s.Imported, s.Entries, s.Addresses, strings.Join(s.Sources, ", "))
	}
	return tw.Flush()
}

// errSanctionsHit makes the process exit with status 2: scripts gate on it.
var errSanctionsHit = errors.New("sanctions hit")

func screenCommand() *cli.Command {
	return &cli.Command{
		Name:      "screen",
		Usage:     "screen addresses against the imported sanctions lists (direct and same-cluster hits) and show their labels and their cluster's; exits 2 on any sanctions hit",
		UsageText: "fundtrace screen ADDRESS... [--file addresses.csv] [--as-of YYYY-MM-DD] [--json]",
		Description: `For each address: whether it is listed (list date, entity, programs, listing
date), its cluster (fundtrace cluster) and the listed addresses in that
cluster. Bitcoin addresses are read for the store's network (mainnet when
it holds none), Ethereum ones (0x…) in any case, with their EIP-55 checksum
checked when mixed-case. --file reads addresses from the first column of a
CSV file (a header line is skipped). --as-of screens against the newest
snapshot whose list date is on or before that day. The exit status is 2
when any address is a hit, 0 when none, 1 on errors.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "file", Usage: "CSV file whose first column holds addresses"},
			&cli.StringFlag{Name: "as-of", Usage: "screen against the list as it stood on this day (YYYY-MM-DD)"},
			&cli.BoolFlag{Name: "exposure", Usage: "also report indirect exposure: what the address sent to and received from each labeled category within --hops, under the haircut model (per asset on Ethereum)"},
			&cli.IntFlag{Name: "hops", Value: 3, Usage: "with --exposure, how many transactions away to look"},
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
	Address       string               `json:"address"`
	Chain         string               `json:"chain"`
	Sanctioned    *screenHit           `json:"sanctioned"`
	Cluster       *uint32              `json:"cluster_id,omitempty"`
	ClusterSize   uint32               `json:"cluster_size,omitempty"`
	ClusterHits   []screenHit          `json:"cluster_sanctioned"`
	Labels        []labels.Label       `json:"labels"`
	ClusterLabels []labels.Label       `json:"cluster_labels"`
	Exposure      []screening.Exposure `json:"exposure,omitempty"`
	Error         string               `json:"error,omitempty"`
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
	// The same screening as the HTTP API's (package screening).
	st, _, sc, err := openScreener(c)
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
		slog.Warn("No sanctions list imported: screening labels and clusters only (run fundtrace sanctions import)")
	}
	var results []screenResult
	anyHit := false
	for _, s := range addrs {
		r := screenResult{Address: s, ClusterHits: []screenHit{}, Labels: []labels.Label{}, ClusterLabels: []labels.Label{}}
		ch, a, err := sc.ParseAddress("", s)
		r.Chain = string(ch)
		if err != nil {
			if r.Chain == "" {
				r.Chain = string(chains.Bitcoin)
				if strings.HasPrefix(s, "0x") {
					r.Chain = string(chains.Ethereum)
				}
			}
			var ie *screening.InputError
			if errors.As(err, &ie) {
				err = errors.New(ie.Msg)
			}
			r.Error = err.Error()
			results = append(results, r)
			continue
		}
		res := sc.Screen(c.Context, l, ch, a, s)
		if len(res.Hits) > 0 {
			r.Sanctioned = &screenHit{listedOf(ch, res.Hits[0]), snap}
			anyHit = true
		}
		if cl := res.Cluster; cl != nil {
			id := cl.ID
			r.Cluster, r.ClusterSize = &id, cl.Size
			for _, h := range cl.Sanctioned {
				hc, _, err := sc.ParseAddress(string(ch), h.Address)
				if err != nil {
					hc = ch
				}
				r.ClusterHits = append(r.ClusterHits, screenHit{listedOf(hc, h), snap})
				anyHit = true
			}
			for _, lb := range cl.Labels {
				r.ClusterLabels = append(r.ClusterLabels, labelOf(ch, lb.Address, lb))
			}
		}
		for _, lb := range res.Labels {
			r.Labels = append(r.Labels, labelOf(ch, s, lb))
		}
		if c.Bool("exposure") {
			if r.Exposure, err = sc.Exposures(c.Context, st, l, ch, a, c.Int("hops")); err != nil {
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
		fmt.Fprintf(tw, "ADDRESS\tCHAIN\tSANCTIONED\tCLUSTER\tLISTED IN CLUSTER\tLABELS\tCLUSTER LABELS\n")
		for _, r := range results {
			sanc, clu, inClu := "no", "-", "-"
			if r.Error != "" {
				sanc = "ERROR: " + r.Error
			}
			if h := r.Sanctioned; h != nil {
				sanc = fmt.Sprintf("YES: %s [%s] listed %s (OFAC %s, snapshot %d)", h.Entity, strings.Join(h.Programs, ", "), orDash(h.Listed), h.Ref, h.Snapshot)
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
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Address, r.Chain, sanc, clu, inClu, labelList(r.Labels), labelList(r.ClusterLabels))
		}
		tw.Flush()
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

func nonNil(ls []labels.Label) []labels.Label {
	if ls == nil {
		return []labels.Label{}
	}
	return ls
}

// labelList renders labels for a table cell: label [category] (source).
func labelList(ls []labels.Label) string {
	if len(ls) == 0 {
		return "-"
	}
	var parts []string
	for _, l := range ls {
		parts = append(parts, fmt.Sprintf("%s [%s] (%s)", l.Label, l.Category, l.Source))
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
