package main

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

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
		UsageText: "fundtrace cluster [--heuristics multi-input,change-fresh,...] [--json]\n" +
			"fundtrace cluster explain ADDRESS ADDRESS [--json]\n" +
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
recomputed. A cluster's id is the index of its first-seen address.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "chain", Usage: "btc or eth", Value: "btc"},
			&cli.StringFlag{Name: "heuristics", Usage: "comma-separated heuristics to apply (default: multi-input,change-fresh for btc, deposit for eth)"},
			&cli.Int64Flag{Name: "window", Usage: "eth deposit heuristic: most blocks between money arriving and being forwarded", Value: 1000},
			&cli.IntFlag{Name: "min-forwarders", Usage: "eth deposit heuristic: distinct forwarders a collector (hot wallet) needs", Value: 3},
			jsonFlag,
		},
		Action: runCluster,
		Subcommands: []*cli.Command{
			{
				Name:      "explain",
				Usage:     "the shortest chain of evidence linking two addresses (each step a transaction and the heuristic that linked them), or that they are not linked",
				UsageText: "fundtrace cluster explain ADDRESS ADDRESS [--json]",
				Flags:     []cli.Flag{jsonFlag},
				Action:    runClusterExplain,
			},
			{
				Name:      "export",
				Usage:     "every address with its cluster id and the cluster's size, as CSV",
				UsageText: "fundtrace cluster export [--out FILE]",
				Flags:     []cli.Flag{&cli.StringFlag{Name: "out", Usage: "file to write (default: standard output)"}},
				Action:    runClusterExport,
			},
		},
	}
}

func runCluster(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("unknown cluster subcommand %q (see fundtrace help cluster)", c.Args().First())
	}
	st, cs, err := openAs[cluster.Store](c, writeStore)
	if err != nil {
		return err
	}
	defer st.Close()
	chain, err := chains.ParseChain(c.String("chain"))
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
	sum, err := cluster.Run(c.Context, cs, chain, set)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, struct {
			store.ClusterMeta
			Incremental bool  `json:"incremental"`
			FromHeight  int64 `json:"from_height"`
			Changed     int   `json:"addresses_written"`
		}{sum.Meta, sum.Incremental, sum.From, sum.Changed})
	}
	how := "computed"
	if sum.Incremental {
		how = fmt.Sprintf("extended from block %d", sum.From)
	}
	fmt.Fprintf(c.App.Writer, "%s clusters %s up to block %d with %s: %s addresses in %s clusters; links %v; %s assignments written\n",
		chain, how, sum.Meta.Height, strings.Join(sum.Meta.Heuristics, ", "), group(sum.Meta.Addresses), group(sum.Meta.Clusters), sum.Meta.Links, group(int64(sum.Changed)))
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
	st, cs, err := openAs[cluster.Store](c, readStore)
	if err != nil {
		return err
	}
	defer st.Close()
	net, err := btcNetwork(c, st)
	if err != nil {
		return err
	}
	var as [2]chains.Address
	for i, s := range pos {
		if as[i], err = net.ParseAddress(s); err != nil {
			return err
		}
	}
	path, err := cluster.Explain(c.Context, cs, chains.Bitcoin, as[0], as[1])
	if err != nil {
		return err
	}
	type stepJSON struct {
		From, To, Heuristic, Txid, Confidence string
	}
	steps := []stepJSON{}
	for _, l := range path {
		steps = append(steps, stepJSON{net.MustEncode(l.A), net.MustEncode(l.B), l.Heuristic, l.Tx.String(), heuristics.Confidence[l.Heuristic]})
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, struct {
			Linked bool       `json:"linked"`
			Steps  []stepJSON `json:"steps"`
		}{path != nil, steps})
	}
	w := c.App.Writer
	if path == nil {
		fmt.Fprintf(w, "%s and %s are not linked by the stored clusters\n", pos[0], pos[1])
		return nil
	}
	fmt.Fprintf(w, "%s and %s are one entity: %d step(s)\n", pos[0], pos[1], len(steps))
	for i, s := range steps {
		fmt.Fprintf(w, "%d. %s — %s — %s\n   in transaction %s (%s)\n", i+1, s.From, s.Heuristic, s.To, s.Txid, s.Confidence)
	}
	return nil
}

func runClusterExport(c *cli.Context) error {
	st, cs, err := openAs[cluster.Store](c, readStore)
	if err != nil {
		return err
	}
	defer st.Close()
	net, err := btcNetwork(c, st)
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
	err = cs.LoadClusters(c.Context, chains.Bitcoin, func(r store.ClusterRow) error {
		a, err := net.EncodeAddress(r.Address)
		if err != nil {
			return err
		}
		return cw.Write([]string{a, strconv.FormatUint(uint64(r.Cluster), 10), strconv.FormatUint(uint64(r.Size), 10)})
	})
	cw.Flush()
	if err != nil {
		return err
	}
	return cw.Error()
}
