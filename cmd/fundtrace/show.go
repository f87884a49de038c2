package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/explore"
	"github.com/fundtrace/fundtrace/investigate"
	"github.com/fundtrace/fundtrace/labels"
	"github.com/fundtrace/fundtrace/store"
)

func showCommand() *cli.Command {
	return &cli.Command{
		Name:  "show",
		Usage: "show a transaction, an address or a block from the store",
		Subcommands: []*cli.Command{
			{
				Name:      "tx",
				Usage:     "a transaction: inputs with the addresses and values they spend, outputs and who spent them; for Ethereum (0x hash) and TRON its outcome, fee and transfers",
				UsageText: "fundtrace show tx TXID|0xHASH [--json]",
				Flags:     []cli.Flag{jsonFlag},
				Action:    runShowTx,
			},
			{
				Name:      "address",
				Usage:     "an address's history: every payment to it and the transaction that spent it; for Ethereum (0x address) and TRON (T… address) every transfer from or to it",
				UsageText: "fundtrace show address ADDRESS|0xADDRESS|TADDRESS [--limit N] [--json]",
				Flags: []cli.Flag{
					jsonFlag,
					&cli.IntFlag{Name: "limit", Usage: "show at most N entries (0: all)"},
				},
				Action: runShowAddress,
			},
			{
				Name:      "block",
				Usage:     "a block by height or hash, of Bitcoin, Ethereum or TRON (--chain; default: the chain the store holds, or what a 0x hash says)",
				UsageText: "fundtrace show block HEIGHT|HASH [--chain btc|eth|tron] [--json]",
				Flags:     []cli.Flag{jsonFlag, &cli.StringFlag{Name: "chain", Usage: "btc, eth or tron", DefaultText: "the only chain the store holds; btc, then eth, when it holds several; eth for a 0x hash"}},
				Action:    runShowBlock,
			},
		},
	}
}

// btcNetwork returns the network of the store's Bitcoin data, which
// decides how addresses are written and parsed.
func btcNetwork(c *cli.Context, st store.Store) (*bitcoin.Network, error) {
	return investigate.BitcoinNetwork(c.Context, st)
}

func oneArg(c *cli.Context, what string) (string, error) {
	pos, err := args(c)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", fmt.Errorf("want exactly one %s, got %d arguments (see fundtrace help %s)", what, len(pos), c.Command.FullName())
	}
	return pos[0], nil
}

func runShowTx(c *cli.Context) error {
	arg, err := oneArg(c, "transaction id")
	if err != nil {
		return err
	}
	if isETHHash(arg) {
		st, err := openStore(c, readStore)
		if err != nil {
			return err
		}
		defer st.Close()
		return showAccountTx(c, st, chains.Ethereum, arg)
	}
	h, err := chains.ParseHash(arg)
	if err != nil {
		return err
	}
	st, err := openStore(c, readStore)
	if err != nil {
		return err
	}
	defer st.Close()
	// A bare 64-hex id is Bitcoin's or TRON's: the chain that has it.
	if m, err := st.Meta(c.Context, chains.Bitcoin); err == nil && m.TipHeight < 0 {
		return showAccountTx(c, st, chains.Tron, arg)
	}
	j, err := explore.New(st).BitcoinTx(c.Context, h)
	if errors.Is(err, store.ErrNotFound) {
		if err := showAccountTx(c, st, chains.Tron, arg); !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return fmt.Errorf("transaction %s is not in the store", h)
	}
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, j)
	}
	printTx(c.App.Writer, j)
	return nil
}

func printTx(w io.Writer, j *explore.Tx) {
	fmt.Fprintf(w, "Transaction  %s\n", j.Hash)
	fmt.Fprintf(w, "Block        %d  %s  %s\n", j.BlockHeight, j.BlockHash, formatTime(j.BlockTime))
	fmt.Fprintf(w, "Position     %d in block; %d bytes, %d vbytes; version %d, locktime %d\n", j.Position, j.Size, j.VSize, j.Version, j.LockTime)
	if j.Coinbase {
		fmt.Fprintf(w, "Coinbase     yes (new coins and fees: %s BTC)\n", formatBTC(j.OutputValue))
	} else {
		fmt.Fprintf(w, "In / out     %s BTC / %s BTC, fee %s BTC\n", formatBTC(j.InputValue), formatBTC(j.OutputValue), formatBTC(j.Fee))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\nINPUT\tSPENDS\tADDRESS\tVALUE (BTC)\n")
	for _, in := range j.Inputs {
		if in.Coinbase {
			fmt.Fprintf(tw, "%d\tcoinbase\t\t\n", in.Index)
			continue
		}
		fmt.Fprintf(tw, "%d\t%s:%d\t%s\t%s\n", in.Index, in.PrevHash, in.PrevIndex, addrCell(in.Addresses, in.Type), formatBTC(in.Value))
	}
	tw.Flush()
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\nOUTPUT\tADDRESS\tTYPE\tVALUE (BTC)\tSPENT BY\n")
	for _, o := range j.Outputs {
		spent := "unspent"
		if o.SpentBy != nil {
			spent = fmt.Sprintf("%s:%d (block %d)", o.SpentBy.TxHash, o.SpentBy.Vin, o.SpentBy.Height)
		} else if o.Type == chains.ScriptNullData.String() {
			spent = "unspendable"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", o.Index, addrCell(o.Addresses, o.Type), o.Type, formatBTC(o.Value), spent)
	}
	tw.Flush()
}

func addrCell(as []string, typ string) string {
	if len(as) == 0 {
		if typ == chains.ScriptNullData.String() {
			return "(OP_RETURN)"
		}
		return "-"
	}
	return strings.Join(as, ",")
}

// addressJSON is show address's answer on Bitcoin: the address's
// totals and history, and who it belongs to.
type addressJSON struct {
	*explore.Address
	attributionJSON
}

// attributionJSON is what show address says of an address's owner, on
// every chain: its cluster and the labels of it and its cluster.
type attributionJSON struct {
	// Cluster is the address's cluster (fundtrace cluster), when computed.
	Cluster     *uint32 `json:"cluster_id,omitempty"`
	ClusterSize uint32  `json:"cluster_size,omitempty"`
	// ClusterFlagged: built through a multi-input merge of two clusters
	// over the guard's size (fundtrace cluster suspects).
	ClusterFlagged bool           `json:"cluster_flagged_merge,omitempty"`
	Labels         []labels.Label `json:"labels,omitempty"`
	ClusterLabels  []labels.Label `json:"cluster_labels,omitempty"`
}

// attributionOf reads a's cluster (when the chain is clustered) and
// labels.
func attributionOf(ctx context.Context, st store.Store, c chains.Chain, a chains.Address) (attributionJSON, error) {
	var j attributionJSON
	if id, size, err := st.ClusterOf(ctx, c, a); err == nil {
		j.Cluster, j.ClusterSize = &id, size
		if m, ok, err := st.ClusterMeta(ctx, c); err == nil && ok {
			j.ClusterFlagged = m.IsFlagged(id)
		}
	}
	var err error
	j.Labels, j.ClusterLabels, err = investigate.NewAttribution(st).Labels(ctx, c, a)
	return j, err
}

// print writes the attribution: the cluster line (clusterFmt, given the
// id and size), the flagged merge's warning, the labels.
func (j attributionJSON) print(w io.Writer, clusterFmt, flagged string) {
	if j.Cluster != nil {
		fmt.Fprintf(w, clusterFmt, *j.Cluster, j.ClusterSize)
		if j.ClusterFlagged {
			fmt.Fprintln(w, flagged)
		}
	}
	if len(j.Labels) > 0 {
		fmt.Fprintf(w, "Labels       %s\n", labelList(j.Labels))
	}
	if len(j.ClusterLabels) > 0 {
		fmt.Fprintf(w, "In cluster   %s\n", labelList(j.ClusterLabels))
	}
}

func runShowAddress(c *cli.Context) error {
	arg, err := oneArg(c, "address")
	if err != nil {
		return err
	}
	st, err := openStore(c, readStore)
	if err != nil {
		return err
	}
	defer st.Close()
	switch chainOfAddress(arg) {
	case chains.Ethereum:
		return showAccountAddress(c, st, ethView, arg)
	case chains.Tron:
		return showAccountAddress(c, st, tronView, arg)
	}
	net, err := btcNetwork(c, st)
	if err != nil {
		return err
	}
	addr, err := net.ParseAddress(arg)
	if err != nil {
		return err
	}
	page := explore.Page{Limit: c.Int("limit"), All: c.Int("limit") == 0}
	a, err := explore.New(st).BitcoinAddress(c.Context, addr, page)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("address %s has never been paid in the indexed blocks", arg)
	}
	if err != nil {
		return err
	}
	j := addressJSON{Address: a}
	if j.attributionJSON, err = attributionOf(c.Context, st, chains.Bitcoin, addr); err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, j)
	}
	w := c.App.Writer
	fmt.Fprintf(w, "Address      %s (btc %s)\n", j.Address.Address, net.Name)
	fmt.Fprintf(w, "First seen   block %d\n", j.FirstSeen)
	fmt.Fprintf(w, "Received     %s BTC in %d outputs\n", formatBTC(j.Received), j.Outputs)
	fmt.Fprintf(w, "Sent         %s BTC\n", formatBTC(j.Sent))
	fmt.Fprintf(w, "Balance      %s BTC in %d unspent outputs\n", formatBTC(j.Balance), j.UnspentOutput)
	j.print(w, "Cluster      %d, %d addresses (fundtrace cluster export lists them; cluster explain says why)\n",
		"             built through a multi-input merge of two large clusters: see fundtrace cluster suspects before relying on it")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "HEIGHT\tTIME (UTC)\tRECEIVED IN\tVALUE (BTC)\tSPENT IN\tSPENT AT HEIGHT\n")
	for _, e := range j.History {
		spent, at := "unspent", ""
		if e.SpentBy != nil {
			spent, at = fmt.Sprintf("%s:%d", e.SpentBy.TxHash, e.SpentBy.Vin), strconv.FormatInt(e.SpentBy.Height, 10)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s:%d\t%s\t%s\t%s\n", e.Height, formatTime(e.Time), e.TxHash, e.Vout, formatBTC(e.Value), spent, at)
	}
	tw.Flush()
	if j.Truncated {
		fmt.Fprintf(w, "(showing %d of %d entries; --limit 0 shows all)\n", len(j.History), j.Outputs)
	}
	return nil
}

// blockChain is the chain show block reads: --chain, else what a 0x hash
// says, else the only chain the store holds (Bitcoin before Ethereum
// before TRON when it holds several).
func blockChain(c *cli.Context, st store.Store, arg string) (chains.Chain, error) {
	if c.String("chain") == "" && strings.HasPrefix(arg, "0x") {
		return chains.Ethereum, nil
	}
	return indexedChain(c, st)
}

type blockJSON struct {
	Chain        string   `json:"chain"`
	Height       int64    `json:"height"`
	Hash         string   `json:"hash"`
	PrevHash     string   `json:"previous_hash"`
	MerkleRoot   string   `json:"merkle_root"`
	Time         int64    `json:"time"`
	Bits         uint32   `json:"bits,omitempty"`
	Size         uint32   `json:"size"`
	Transactions []string `json:"transactions"`
}

func runShowBlock(c *cli.Context) error {
	arg, err := oneArg(c, "block height or hash")
	if err != nil {
		return err
	}
	st, err := openStore(c, readStore)
	if err != nil {
		return err
	}
	defer st.Close()
	ch, err := blockChain(c, st, arg)
	if err != nil {
		return err
	}
	var (
		b     chains.Block
		txids []chains.Hash
	)
	if h, perr := strconv.ParseInt(arg, 10, 64); perr == nil {
		b, txids, err = st.BlockByHeight(c.Context, ch, h)
	} else if hash, herr := chains.ParseHash(arg); herr == nil {
		b, txids, err = st.BlockByHash(c.Context, ch, hash)
	} else {
		return fmt.Errorf("%q is neither a block height nor a block hash", arg)
	}
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%s block %s is not in the store", ch, arg)
	}
	if err != nil {
		return err
	}
	hex := func(h chains.Hash) string { return h.String() }
	if ch == chains.Ethereum {
		hex = func(h chains.Hash) string { return "0x" + h.String() }
	}
	j := blockJSON{Chain: string(ch), Height: b.Height, Hash: hex(b.Hash), PrevHash: hex(b.PrevHash), MerkleRoot: hex(b.MerkleRoot),
		Time: b.Time, Bits: b.Bits, Size: b.Size, Transactions: []string{}}
	for _, t := range txids {
		j.Transactions = append(j.Transactions, hex(t))
	}
	if ch == chains.Ethereum {
		j.Bits = 0
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, j)
	}
	w := c.App.Writer
	fmt.Fprintf(w, "Block        %d  %s\n", j.Height, j.Hash)
	fmt.Fprintf(w, "Previous     %s\n", j.PrevHash)
	if ch == chains.Ethereum {
		fmt.Fprintf(w, "Tx root      %s\n", j.MerkleRoot)
	} else {
		fmt.Fprintf(w, "Merkle root  %s\n", j.MerkleRoot)
	}
	fmt.Fprintf(w, "Time         %s\n", formatTime(j.Time))
	fmt.Fprintf(w, "Size         %d bytes, %d transactions\n", j.Size, len(j.Transactions))
	for i, t := range j.Transactions {
		fmt.Fprintf(w, "  %4d  %s\n", i, t)
	}
	return nil
}
