package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/cluster"
	"github.com/fundtrace/fundtrace/heuristics"
	"github.com/fundtrace/fundtrace/store"
)

func clusterCommand() *cli.Command {
	return &cli.Command{
		Name:  "cluster",
		Usage: "group addresses (Bitcoin, Ethereum) into entities with named heuristics, and explain why two addresses are together",
		UsageText: "fundtrace cluster [--heuristics multi-input,change-fresh,...] [--guard-size N] [--json]\n" +
			"fundtrace cluster explain ADDRESS ADDRESS [--json]\n" +
			"fundtrace cluster suspects [--chain btc|eth] [--json]\n" +
			"fundtrace cluster export [--out FILE]",
		Description: `Applies the heuristics to every transaction in the store and stores a
cluster id for every address, with every link as evidence. Heuristics:
  multi-input    all inputs of a transaction are one owner's (CoinJoins are detected and skipped)
  change-fresh   the only output to a never-before-paid address is the payer's change
  change-script  the only output whose script type matches the inputs' is the change
  change-round   of two outputs, the one that is not a round amount is the change (low confidence)
  change-optimal the only output smaller than every input is the change
  deposit        (eth) addresses that empty themselves into one collector soon
                 after money arrives, with enough others doing the same, are
                 that collector's (exchange deposit addresses and hot wallet)
Run it again after indexing more blocks: with the same heuristics only the
new blocks are read; with other heuristics (or parameters) everything is
recomputed. A cluster's id is the index of its first-seen address.

The super-cluster guard (--guard-size, default 10,000 addresses): a change
heuristic's link that would merge two clusters each larger than that is
held back, and a multi-input merge of two is made but flagged; fundtrace
cluster suspects lists both with their evidence, and show address, screen
and reports mark the clusters a flagged merge built.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "chain", Usage: "btc, eth or tron", DefaultText: "the chain the store holds; btc when it holds several"},
			&cli.StringFlag{Name: "heuristics", Usage: "comma-separated heuristics to apply", DefaultText: "multi-input,change-fresh for btc, deposit for eth and tron"},
			&cli.Int64Flag{Name: "window", Usage: "deposit heuristic (eth, tron): most blocks between money arriving and being forwarded", Value: 1000},
			&cli.IntFlag{Name: "min-forwarders", Usage: "deposit heuristic (eth, tron): distinct forwarders a collector (hot wallet) needs", Value: 3},
			&cli.IntFlag{Name: "guard-size", Usage: "super-cluster guard: hold back a change link between two clusters of more than this many addresses each, flag a multi-input merge of two (0: off)", Value: cluster.DefaultGuardSize},
			jsonFlag,
		},
		Action: runCluster,
		Subcommands: []*cli.Command{
			{
				Name:      "explain",
				Usage:     "the shortest chain of evidence linking two addresses (each step a transaction and the heuristic that linked them), or that they are not linked",
				UsageText: "fundtrace cluster explain ADDRESS ADDRESS [--chain btc|eth|tron] [--json]",
				Description: `Each step is a link one heuristic made, with its transaction. On Ethereum
and TRON the deposit heuristic's link says which address forwarded what
it received to which collector (a hot wallet), in which transaction, and
how many forwarders that collector has (at least --min-forwarders of the
cluster run, within its --window).`,
				Flags:  []cli.Flag{jsonFlag, &cli.StringFlag{Name: "chain", Usage: "btc, eth or tron", DefaultText: "the chain of the addresses given, or the only chain the store has clusters of (btc when several)"}},
				Action: runClusterExplain,
			},
			{
				Name:      "suspects",
				Usage:     "the links the super-cluster guard held back, and the multi-input merges of two large clusters it flagged, with their evidence",
				UsageText: "fundtrace cluster suspects [--chain btc|eth|tron] [--json]",
				Description: `fundtrace cluster holds back a change-heuristic link that would merge two
clusters each larger than --guard-size (default 10,000 addresses): one
wrong change guess there would make one entity of two exchanges. It keeps
a multi-input merge of two such clusters, but flags it, and show address,
screen and reports mark the clusters such a merge built. This lists both,
each with its transaction, heuristic and the sizes of the two clusters.`,
				Flags:  []cli.Flag{jsonFlag, &cli.StringFlag{Name: "chain", Usage: "btc, eth or tron", DefaultText: "the chain of the addresses given, or the only chain the store has clusters of (btc when several)"}},
				Action: runClusterSuspects,
			},
			{
				Name:      "export",
				Usage:     "every address with its cluster id and the cluster's size, as CSV",
				UsageText: "fundtrace cluster export [--chain btc|eth|tron] [--out FILE]",
				Flags:     []cli.Flag{&cli.StringFlag{Name: "out", Usage: "file to write", DefaultText: "standard output"}, &cli.StringFlag{Name: "chain", Usage: "btc, eth or tron", DefaultText: "the chain of the addresses given, or the only chain the store has clusters of (btc when several)"}},
				Action:    runClusterExport,
			},
		},
	}
}

func runCluster(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("unknown cluster subcommand %q (see fundtrace help cluster)", c.Args().First())
	}
	// Clustering reads the store in sequential passes: a small cache.
	// Its blocks are allocated outside Go's heap, and each first use of
	// a page of them is a page fault (on a virtual machine, tens of
	// microseconds): an incremental run's moves read 8,000 blocks at a
	// million transactions, which filled a 32 MiB cache with fresh pages,
	// 0.2 s of a 0.9 s run; at 8 MiB evicted blocks' memory is reused.
	// The full run's passes were no slower (14.3–15.9 s against
	// 16.0–16.4 s at a million transactions). Its memtables stay 32 MiB.
	st, err := openStoreCache(c, writeStore, 8<<20, 32<<20)
	if err != nil {
		return err
	}
	defer st.Close()
	chain, err := indexedChain(c, st)
	if err != nil {
		return err
	}
	spec := c.String("heuristics")
	if spec == "" {
		spec = heuristics.MultiInput + "," + heuristics.ChangeFresh
		if chain.IsAccount() {
			spec = heuristics.DepositName
		}
	}
	var set []string
	for _, h := range strings.Split(spec, ",") {
		if h = strings.TrimSpace(h); h != "" {
			set = append(set, h)
		}
	}
	cluster.DepositParams = heuristics.Deposit{Window: c.Int64("window"), MinCount: c.Int("min-forwarders")}
	if err := intRange("guard-size", int64(c.Int("guard-size")), 0, 1<<31-1); err != nil {
		return err
	}
	prog := newProgressLine(c)
	show := func(p cluster.Progress) {
		of := "of " + group(p.Total)
		if p.Stage == "transactions" || p.Stage == "blocks" {
			of = "at height " + group(p.Done) + " of " + group(p.Total)
			prog.show(fmt.Sprintf("cluster %s: %s", p.Stage, of), "Clustering", "chain", chain, "pass", p.Stage, "height", p.Done, "tip", p.Total)
			return
		}
		prog.show(fmt.Sprintf("cluster %s: %s %s", p.Stage, group(p.Done), of), "Clustering", "chain", chain, "pass", p.Stage, "done", p.Done, "of", p.Total)
	}
	sum, err := cluster.RunWith(c.Context, st, chain, set, cluster.Options{GuardSize: c.Int("guard-size"), Progress: show})
	prog.done()
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	m := sum.Meta
	held, flagged := len(m.Suspects), len(m.Flagged)
	if c.Bool("json") {
		m.Suspects, m.Flagged = nil, nil // cluster suspects lists them
		return writeJSON(c.App.Writer, struct {
			store.ClusterMeta
			Incremental bool   `json:"incremental"`
			FromHeight  int64  `json:"from_height"`
			Changed     int    `json:"addresses_written"`
			Held        int    `json:"links_held_back"`
			Flagged     int    `json:"merges_flagged"`
			Recomputed  string `json:"recomputed_because,omitempty"`
		}{m, sum.Incremental, sum.From, sum.Changed, held, flagged, sum.Recomputed})
	}
	how := "computed"
	if sum.Incremental {
		how = fmt.Sprintf("extended from block %d", sum.From)
	}
	if sum.Recomputed != "" {
		fmt.Fprintf(c.App.Writer, "recomputing from the first block: %s\n", sum.Recomputed)
	}
	fmt.Fprintf(c.App.Writer, "%s clusters %s up to block %d with %s: %s addresses in %s clusters; links %s; %s assignments written\n",
		chain, how, m.Height, strings.Join(m.Heuristics, ", "), group(m.Addresses), group(m.Clusters), countList(m.Links), group(int64(sum.Changed)))
	if held+flagged > 0 {
		fmt.Fprintf(c.App.Writer, "super-cluster guard (%s addresses): %d change links held back, %d multi-input merges of two larger clusters flagged (fundtrace cluster suspects)\n",
			group(m.GuardSize), held, flagged)
	}
	return nil
}

// suspectJSON is one held-back link or flagged merge.
type suspectJSON struct {
	Kind      string `json:"kind"` // held_back or flagged
	Heuristic string `json:"heuristic"`
	Tx        string `json:"tx"`
	Height    int64  `json:"height"`
	A         string `json:"a"`
	SizeA     uint32 `json:"size_a"`
	B         string `json:"b"`
	SizeB     uint32 `json:"size_b"`
}

func runClusterSuspects(c *cli.Context) error {
	st, err := openStore(c, readStore)
	if err != nil {
		return err
	}
	defer st.Close()
	chain, err := clusteredChain(c, st, "")
	if err != nil {
		return err
	}
	m, ok, err := st.ClusterMeta(c.Context, chain)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("the store holds no %s clusters: run fundtrace cluster --chain %s first", chain, chain)
	}
	cd, err := codecOf(c, st, chain)
	if err != nil {
		return err
	}
	encode := func(a []byte) string { return cd.format(chains.Address(a)) }
	out := []suspectJSON{}
	for kind, list := range map[string][]store.ClusterSuspect{"held_back": m.Suspects, "flagged": m.Flagged} {
		for _, x := range list {
			out = append(out, suspectJSON{kind, x.Heuristic, x.Tx, x.Height, encode(x.A), x.SizeA, encode(x.B), x.SizeB})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Height != out[j].Height {
			return out[i].Height < out[j].Height
		}
		if out[i].Tx != out[j].Tx {
			return out[i].Tx < out[j].Tx
		}
		return out[i].Kind < out[j].Kind
	})
	if c.Bool("json") {
		return writeJSON(c.App.Writer, struct {
			Chain     string        `json:"chain"`
			GuardSize int64         `json:"guard_size"`
			Suspects  []suspectJSON `json:"suspects"`
			NotKept   int64         `json:"not_kept"`
		}{string(chain), m.GuardSize, out, m.Dropped})
	}
	w := c.App.Writer
	if m.GuardSize == 0 {
		fmt.Fprintf(w, "%s clusters were computed without the super-cluster guard (--guard-size 0)\n", chain)
	}
	if len(out) == 0 {
		fmt.Fprintf(w, "no link joined two %s clusters of more than %s addresses each\n", chain, group(m.GuardSize))
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "KIND\tHEURISTIC\tHEIGHT\tTRANSACTION\tADDRESS A\tCLUSTER SIZE\tADDRESS B\tCLUSTER SIZE\n")
	for _, x := range out {
		kind := "held back"
		if x.Kind == "flagged" {
			kind = "merged, flagged"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d\t%s\t%d\n", kind, x.Heuristic, x.Height, x.Tx, x.A, x.SizeA, x.B, x.SizeB)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if m.Dropped > 0 {
		fmt.Fprintf(w, "%d more not kept (at most %d of each kind are)\n", m.Dropped, store.MaxSuspects)
	}
	return nil
}

func runClusterExplain(c *cli.Context) error {
	pos, err := args(c)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return fmt.Errorf("want two addresses, got %d arguments", len(pos))
	}
	st, err := openStore(c, readStore)
	if err != nil {
		return err
	}
	defer st.Close()
	chain, err := clusteredChain(c, st, pos[0])
	if err != nil {
		return err
	}
	cd, err := codecOf(c, st, chain)
	if err != nil {
		return err
	}
	var as [2]chains.Address
	for i, s := range pos {
		if as[i], err = cd.parse(s); err != nil {
			return fmt.Errorf("%s address %q: %w", chain, s, err)
		}
	}
	path, err := cluster.Explain(c.Context, st, chain, as[0], as[1])
	if err != nil {
		return fmt.Errorf("%s: %w", chain, err)
	}
	type stepJSON struct {
		From       string `json:"from"`
		To         string `json:"to"`
		Heuristic  string `json:"heuristic"`
		Txid       string `json:"txid"`
		Confidence string `json:"confidence"`
		// The deposit heuristic's evidence: the other end forwarded what it
		// received to Collector (a hot wallet), as Forwarders addresses in
		// all did.
		Collector  string `json:"collector,omitempty"`
		Forwarders int    `json:"collector_forwarders,omitempty"`
	}
	var window int64
	var minFw int
	if m, ok, err := st.ClusterMeta(c.Context, chain); err == nil && ok && len(m.State) > 0 {
		var ds heuristics.DepositState
		if json.Unmarshal(m.State, &ds) == nil {
			window, minFw = ds.Window, ds.MinCount
		}
	}
	txText := func(h chains.Hash) string {
		if chain == chains.Ethereum {
			return "0x" + h.String()
		}
		return h.String()
	}
	// A stored link does not keep which end was the collector: it is the
	// end with more deposit links (a collector has at least the minimum
	// forwarders; a deposit address forwards to one collector).
	depositLinks := map[chains.Address]int{}
	countLinks := func(a chains.Address) (int, error) {
		if n, ok := depositLinks[a]; ok {
			return n, nil
		}
		links, err := st.ClusterLinks(c.Context, chain, a)
		if err != nil {
			return 0, err
		}
		n := 0
		for _, x := range links {
			if x.Heuristic == heuristics.DepositName {
				n++
			}
		}
		depositLinks[a] = n
		return n, nil
	}
	steps := []stepJSON{}
	for _, l := range path {
		sj := stepJSON{From: cd.format(l.A), To: cd.format(l.B), Heuristic: l.Heuristic, Txid: txText(l.Tx), Confidence: heuristics.Confidence[l.Heuristic]}
		if l.Heuristic == heuristics.DepositName {
			na, err := countLinks(l.A)
			if err != nil {
				return err
			}
			nb, err := countLinks(l.B)
			if err != nil {
				return err
			}
			sj.Collector, sj.Forwarders = sj.From, na
			if nb > na {
				sj.Collector, sj.Forwarders = sj.To, nb
			}
		}
		steps = append(steps, sj)
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, struct {
			Chain  string     `json:"chain"`
			Linked bool       `json:"linked"`
			Steps  []stepJSON `json:"steps"`
		}{string(chain), path != nil, steps})
	}
	w := c.App.Writer
	if path == nil {
		fmt.Fprintf(w, "%s and %s are not linked by the stored %s clusters\n", pos[0], pos[1], chain)
		return nil
	}
	fmt.Fprintf(w, "%s and %s are one entity: %d step(s)\n", pos[0], pos[1], len(steps))
	for i, s := range steps {
		if s.Heuristic == heuristics.DepositName {
			fwd := s.To
			if s.Collector == s.To {
				fwd = s.From
			}
			fmt.Fprintf(w, "%d. %s forwarded what it received to the collector %s (deposit heuristic)\n   first in transaction %s; the collector has %d such forwarders",
				i+1, fwd, s.Collector, s.Txid, s.Forwarders)
			if minFw > 0 {
				fmt.Fprintf(w, " (at least %d needed, each forwarding within %d blocks of the money arriving)", minFw, window)
			}
			fmt.Fprintf(w, "\n   (%s)\n", s.Confidence)
			continue
		}
		fmt.Fprintf(w, "%d. %s — %s — %s\n   in transaction %s (%s)\n", i+1, s.From, s.Heuristic, s.To, s.Txid, s.Confidence)
	}
	return nil
}

func runClusterExport(c *cli.Context) error {
	st, err := openStore(c, readStore)
	if err != nil {
		return err
	}
	defer st.Close()
	chain, err := clusteredChain(c, st, "")
	if err != nil {
		return err
	}
	cd, err := codecOf(c, st, chain)
	if err != nil {
		return err
	}
	var out io.Writer = c.App.Writer
	if p := c.String("out"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		defer f.Close()
		bw := bufio.NewWriter(f)
		defer bw.Flush()
		out = bw
	}
	cw := csv.NewWriter(out)
	cw.Write([]string{"address", "cluster_id", "cluster_size"})
	// A store that streams its rows (the embedded store, in address
	// order) is read so; LoadClusters (first-seen order) otherwise.
	each := st.LoadClusters
	if st, ok := st.(interface {
		EachClusterRow(ctx context.Context, c chains.Chain, fn func(r store.ClusterRow) error) error
	}); ok {
		each = st.EachClusterRow
	}
	err = each(c.Context, chain, func(r store.ClusterRow) error {
		return cw.Write([]string{cd.format(r.Address), strconv.FormatUint(uint64(r.Cluster), 10), strconv.FormatUint(uint64(r.Size), 10)})
	})
	cw.Flush()
	if err != nil {
		return err
	}
	return cw.Error()
}
