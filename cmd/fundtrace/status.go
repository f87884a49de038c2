package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "what the store holds, per chain: tip, blocks, transactions, addresses, stale blocks skipped",
		UsageText: "fundtrace [--store DIR] status [--json]",
		Flags:     []cli.Flag{jsonFlag},
		Action:    runStatus,
	}
}

type statusJSON struct {
	Store  string       `json:"store"`
	Chains []store.Meta `json:"chains"`
}

func runStatus(c *cli.Context) error {
	st, err := openStore(c, readStore)
	if err != nil {
		return err
	}
	defer st.Close()
	out := statusJSON{Store: st.Path(), Chains: []store.Meta{}}
	for _, ch := range chains.Indexed {
		m, err := st.Meta(c.Context, ch)
		if err != nil {
			return err
		}
		if m.TipHeight < 0 && m.Network == "" {
			continue
		}
		m.TipHex = ""
		if m.TipHeight >= 0 {
			m.TipHex = m.TipHash.String()
		}
		out.Chains = append(out.Chains, m)
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, out)
	}
	w := c.App.Writer
	fmt.Fprintf(w, "Store %s\n", out.Store)
	if len(out.Chains) == 0 {
		fmt.Fprintln(w, "(empty: run fundtrace index)")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "CHAIN\tNETWORK\tTIP HEIGHT\tTIP HASH\tBLOCKS\tTRANSACTIONS\tTRANSFERS\tADDRESSES\tSTALE SKIPPED\t\n")
	for _, m := range out.Chains {
		addrs := group(m.Addresses)
		if m.AddressesPending {
			// An index run stopped before counting its new addresses.
			addrs += " (count pending: run index)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t\n", m.Chain, m.Network, m.TipHeight, m.TipHex,
			group(m.Blocks), group(m.Txs), group(m.Transfers), addrs, m.StaleSkipped)
	}
	return tw.Flush()
}
