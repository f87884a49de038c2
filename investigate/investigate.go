// Package investigate is the application layer between the tracer and
// the command line: it reads a case (seeds given one by one, as an
// address's payments, or as a case file), runs a trace on a store and
// builds the trace file (tracefile.Trace) with its flow graph's nodes
// labeled and clustered, summarises the deposits per exchange, and
// re-runs a trace file's trace to say how the two differ. The command
// line keeps the flags and the printing.
package investigate

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math/big"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/chains/tron"
	"github.com/fundtrace/fundtrace/labels"
	"github.com/fundtrace/fundtrace/tracer"
)

// Investigation traces victims' payments on one store: it reads seeds
// (given one by one, as an address's payments, or from a case file),
// traces them under its options and builds the trace file, attributing
// addresses through the store's labels and clusters. Its caches (the
// network, labels, clusters, tokens) live as long as it does: one
// command's worth.
type Investigation struct {
	opts    Options
	st      Store
	attr    *Attribution
	net     *bitcoin.Network
	ab      AccountStore
	indexed map[chains.Chain]bool // account chains checked to hold blocks
}

// New is an investigation over st with options o.
func New(st Store, o Options) *Investigation {
	return &Investigation{st: st, attr: NewAttribution(st), opts: o}
}

func (iv *Investigation) btcNet(ctx context.Context) (*bitcoin.Network, error) {
	if iv.net == nil {
		n, err := BitcoinNetwork(ctx, iv.st)
		if err != nil {
			return nil, err
		}
		iv.net = n
	}
	return iv.net, nil
}

func (iv *Investigation) account(ctx context.Context, ac *accountChain) (AccountStore, error) {
	ab, ok := iv.st.(AccountStore)
	if !ok {
		return nil, fmt.Errorf("the store %s keeps no account chains", iv.st.Path())
	}
	if !iv.indexed[ac.chain] {
		m, err := ab.Meta(ctx, ac.chain)
		if err != nil {
			return nil, err
		}
		if m.TipHeight < 0 {
			return nil, fmt.Errorf("the store %s holds no %s blocks yet: run %s first", iv.st.Path(), ac.name, ac.index)
		}
		if iv.indexed == nil {
			iv.indexed = map[chains.Chain]bool{}
		}
		iv.indexed[ac.chain] = true
	}
	iv.ab = ab
	return ab, nil
}

// AddSeed reads one seed as a user writes it: TXID:VOUT (Bitcoin), 0xHASH
// or 0xHASH:LOGINDEX (Ethereum), tron:TXID or tron:TXID:LOGINDEX (TRON),
// checked against the store.
func (iv *Investigation) AddSeed(ctx context.Context, seeds *Seeds, s string) error {
	var ac *accountChain
	rest := s
	switch {
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		ac = ethChain
	case strings.HasPrefix(strings.ToLower(s), "tron:"):
		ac, rest = tronChain, s[len("tron:"):]
	}
	if ac != nil {
		ab, err := iv.account(ctx, ac)
		if err != nil {
			return err
		}
		hs, li, _ := strings.Cut(rest, ":")
		h, err := chains.ParseHash(hs)
		if err != nil {
			return fmt.Errorf("seed %q: %w", s, err)
		}
		var pos *string
		if li != "" {
			p := li
			if _, err := strconv.ParseUint(li, 10, 32); err == nil {
				p = "log:" + li
			}
			pos = &p
		}
		tr, err := tracer.FindAccountSeed(ctx, ab, ac.chain, h, pos, nil, nil, nil)
		if err != nil {
			return fmt.Errorf("seed %d (%s): %w", seeds.Len()+1, s, err)
		}
		seeds.add(ac.chain, tracer.Seed{Transfer: tr, Ref: s})
		return nil
	}
	hs, vs, ok := strings.Cut(s, ":")
	h, err := chains.ParseHash(hs)
	n, err2 := strconv.ParseUint(vs, 10, 32)
	if !ok || err != nil || err2 != nil {
		return fmt.Errorf("seed %q: want TXID:VOUT (Bitcoin), 0xHASH or 0xHASH:LOGINDEX (Ethereum), tron:TXID or tron:TXID:LOGINDEX (TRON)", s)
	}
	op := chains.Outpoint{Hash: h, Index: uint32(n)}
	txs, err := iv.st.Txs(ctx, chains.Bitcoin, []chains.Hash{h})
	if err != nil {
		return fmt.Errorf("seed %d (%s): %w", seeds.Len()+1, s, err)
	}
	if int(op.Index) >= len(txs[0].Outputs) {
		return fmt.Errorf("seed %d (%s): transaction %s has %d outputs", seeds.Len()+1, s, h, len(txs[0].Outputs))
	}
	seeds.BTC = append(seeds.BTC, tracer.Seed{Outpoint: op, Ref: s})
	return nil
}

// AddAddressSeeds makes every payment to the address s within [from,
// until] (Unix seconds; 0 open) a seed.
func (iv *Investigation) AddAddressSeeds(ctx context.Context, seeds *Seeds, s string, from, until int64) error {
	n := 0
	var ac *accountChain
	switch {
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		ac = ethChain
	case tron.LooksLike(s) || len(s) == 42 && strings.HasPrefix(s, "41"):
		ac = tronChain
	}
	if ac != nil {
		ab, err := iv.account(ctx, ac)
		if err != nil {
			return err
		}
		a, err := ac.parse(s)
		if err != nil {
			return fmt.Errorf("--address %s: %w", s, err)
		}
		hist, _, err := ab.TransfersOf(ctx, ac.chain, []chains.Address{a}, 0, -1, 0)
		if err != nil {
			return err
		}
		for _, t := range hist[0] {
			if t.To != a || t.From == a || !t.Success || t.Amount == nil || t.Amount.Sign() <= 0 || t.Kind == chains.TransferERC721 ||
				(from > 0 && t.Time < from) || (until > 0 && t.Time > until) {
				continue
			}
			seeds.add(ac.chain, tracer.Seed{Transfer: t, Ref: fmt.Sprintf("%s@%s", s, ac.tx(t.TxHash))})
			n++
		}
	} else {
		net, err := iv.btcNet(ctx)
		if err != nil {
			return err
		}
		a, err := net.ParseAddress(s)
		if err != nil {
			return fmt.Errorf("--address %s: %w", s, err)
		}
		hist, err := iv.st.AddressHistory(ctx, chains.Bitcoin, a, 0)
		if err != nil {
			return fmt.Errorf("--address %s: %w", s, err)
		}
		for _, e := range hist {
			if (from > 0 && e.Time < from) || (until > 0 && e.Time > until) {
				continue
			}
			op := chains.Outpoint{Hash: e.TxHash, Index: e.Vout}
			seeds.BTC = append(seeds.BTC, tracer.Seed{Outpoint: op, Ref: s + "@" + op.String()})
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("--address %s: no payment to it in the store within the time window", s)
	}
	return nil
}

// ReadCase reads a case file's seeds: CSV with chain, tx, address,
// amount, time, victim, and optionally asset and log_index; a row that
// names no payment in the store is an error naming the file and line.
func (iv *Investigation) ReadCase(ctx context.Context, seeds *Seeds, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return iv.ReadCaseFrom(ctx, seeds, p, f)
}

// ReadCaseFrom reads a case file's rows from in as ReadCase does; p
// names it in errors.
func (iv *Investigation) ReadCaseFrom(ctx context.Context, seeds *Seeds, p string, in io.Reader) error {
	r := csv.NewReader(in)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if len(recs) == 0 {
		return fmt.Errorf("%s: empty", p)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, need := range []string{"chain", "tx", "address"} {
		if _, ok := col[need]; !ok {
			return fmt.Errorf("%s: header lacks %q (chain, tx, address, amount, time, victim)", p, need)
		}
	}
	// The rows' transactions are read at once, a chain at a time (a
	// store query per row costs a ClickHouse round trip each); a row
	// whose transaction is not among them is looked up alone, for its
	// error.
	btcTxids, acctTxids := caseTxids(recs[1:], col)
	pre := map[chains.Hash]*chains.Tx{}
	if len(btcTxids) > 0 {
		if txs, err := iv.st.Txs(ctx, chains.Bitcoin, btcTxids); err == nil {
			for _, tx := range txs {
				pre[tx.Hash] = tx
			}
		}
	}
	preAcct, err := iv.prefetchAccountTxs(ctx, acctTxids)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	for i, rec := range recs[1:] {
		line := i + 2
		get := func(k string) string {
			if j, ok := col[k]; ok && j < len(rec) {
				return strings.TrimSpace(rec[j])
			}
			return ""
		}
		fail := func(format string, a ...any) error {
			return fmt.Errorf("%s line %d: %w", p, line, fmt.Errorf(format, a...))
		}
		victim := get("victim")
		if victim == "" {
			victim = fmt.Sprintf("%s line %d", p, line)
		}
		if _, err := ParseWhen(get("time"), false); err != nil {
			return fail("time %v", err)
		}
		switch ch := get("chain"); ch {
		case "btc", "bitcoin":
			net, err := iv.btcNet(ctx)
			if err != nil {
				return fail("%w", err)
			}
			h, err := chains.ParseHash(get("tx"))
			if err != nil {
				return fail("tx: %w", err)
			}
			a, err := net.ParseAddress(get("address"))
			if err != nil {
				return fail("address: %v", err)
			}
			txs := []*chains.Tx{pre[h]}
			if txs[0] == nil {
				if txs, err = iv.st.Txs(ctx, chains.Bitcoin, []chains.Hash{h}); err != nil {
					return fail("transaction %s is not in the store: %v", h, err)
				}
			}
			found := false
			for _, o := range txs[0].Outputs {
				if o.Address() != a {
					continue
				}
				if amt := get("amount"); amt != "" && amt != strconv.FormatInt(o.Value, 10) {
					continue
				}
				seeds.BTC = append(seeds.BTC, tracer.Seed{Outpoint: chains.Outpoint{Hash: h, Index: o.Index}, Ref: victim})
				found = true
				break
			}
			if !found {
				return fail("transaction %s has no output of %s to %s", h, get("amount"), get("address"))
			}
		case "eth", "ethereum", "tron", "trx":
			ac := accountChainOf(ch)
			ab, err := iv.account(ctx, ac)
			if err != nil {
				return fail("%w", err)
			}
			h, err := chains.ParseHash(strings.TrimPrefix(get("tx"), "0x"))
			if err != nil {
				return fail("tx: %w", err)
			}
			to, err := ac.parse(get("address"))
			if err != nil {
				return fail("address: %v", err)
			}
			var pos *string
			if li := get("log_index"); li != "" {
				if _, err := strconv.ParseUint(li, 10, 32); err != nil {
					return fail("log_index %q: %v", li, err)
				}
				p := "log:" + li
				pos = &p
			}
			var asset *chains.Address
			if s := get("asset"); s != "" {
				a, err := iv.assetByName(ctx, ac, s)
				if err != nil {
					return fail("%w", err)
				}
				asset = &a
			}
			var amount *big.Int
			if s := get("amount"); s != "" {
				v, ok := new(big.Int).SetString(s, 10)
				if !ok {
					return fail("amount %q: want base units (wei, sun, token units) as a whole number", s)
				}
				amount = v
			}
			tr, err := tracer.FindAccountSeed(ctx, preAcct.of(ab), ac.chain, h, pos, &to, asset, amount)
			if err != nil {
				return fail("%w", err)
			}
			seeds.add(ac.chain, tracer.Seed{Transfer: tr, Ref: victim})
		default:
			return fail("chain %q: want btc, eth or tron", ch)
		}
	}
	return nil
}

// prefetched holds account-chain transactions read at once.
type prefetched map[chains.Chain]map[chains.Hash]prefetchedTx

type prefetchedTx struct {
	tx *chains.AccountTx
	ts []chains.Transfer
}

// caseTxids collects the transactions the case rows name, in one pass:
// Bitcoin's, and each account chain's.
func caseTxids(rows [][]string, col map[string]int) (btc []chains.Hash, acct map[*accountChain][]chains.Hash) {
	ci, ti := col["chain"], col["tx"] // ReadCaseFrom has checked the header has both
	acct = map[*accountChain][]chains.Hash{}
	for _, rec := range rows {
		if ci >= len(rec) || ti >= len(rec) {
			continue
		}
		name, tx := strings.TrimSpace(rec[ci]), strings.TrimSpace(rec[ti])
		if name == "btc" || name == "bitcoin" {
			if h, err := chains.ParseHash(tx); err == nil {
				btc = append(btc, h)
			}
		} else if ac := accountChainOf(name); ac != nil {
			if h, err := chains.ParseHash(strings.TrimPrefix(tx, "0x")); err == nil {
				acct[ac] = append(acct[ac], h)
			}
		}
	}
	return btc, acct
}

// prefetchAccountTxs reads the transactions want names, in one
// AccountTxs call per account chain.
func (iv *Investigation) prefetchAccountTxs(ctx context.Context, want map[*accountChain][]chains.Hash) (prefetched, error) {
	pre := prefetched{}
	for ac, hs := range want {
		ab, err := iv.account(ctx, ac)
		if err != nil {
			continue // each of its rows says so
		}
		txs, tss, err := ab.AccountTxs(ctx, ac.chain, hs)
		if err != nil {
			return nil, err
		}
		m := map[chains.Hash]prefetchedTx{}
		for i, tx := range txs {
			if tx != nil {
				m[hs[i]] = prefetchedTx{tx, tss[i]}
			}
		}
		pre[ac.chain] = m
	}
	return pre, nil
}

// of answers AccountTx from what was read at once, and from ab for a
// transaction that was not (for its error).
func (p prefetched) of(ab AccountStore) tracer.AccountSource {
	return prefetchedSource{ab, p}
}

type prefetchedSource struct {
	AccountStore
	pre prefetched
}

func (s prefetchedSource) AccountTx(ctx context.Context, c chains.Chain, h chains.Hash) (*chains.AccountTx, []chains.Transfer, error) {
	if t, ok := s.pre[c][h]; ok {
		return t.tx, t.ts, nil
	}
	return s.AccountStore.AccountTx(ctx, c, h)
}

// assetByName reads a case's asset column: the native coin (ETH, TRX), a
// token contract, a TRC-10 id, or the symbol of a token the store knows
// (labels with category token name them).
func (iv *Investigation) assetByName(ctx context.Context, ac *accountChain, s string) (chains.Address, error) {
	a, ok, err := ac.parseAsset(s)
	if err != nil || ok {
		return a, err
	}
	if iv.attr.lst != nil {
		var found []chains.Address
		err := iv.attr.lst.EachLabel(ctx, func(l labels.Label) error {
			if l.Chain == ac.chain && l.Category == "token" {
				t, err := iv.ab.Token(ctx, ac.chain, l.Address)
				if err == nil && t.HasSymbol && strings.EqualFold(t.Symbol, s) {
					found = append(found, l.Address)
				}
			}
			return nil
		})
		if err != nil {
			return "", err
		}
		if len(found) == 1 {
			return found[0], nil
		}
	}
	return "", fmt.Errorf("asset %q: give %s or the token's contract address (a symbol is read only for tokens labeled with category token)", s, ac.native)
}

// labeler answers the tracer from the store's labels and clusters: the
// most confident label of the address, else of its cluster.
func (iv *Investigation) labeler(ctx context.Context, ch chains.Chain) tracer.Labeler {
	return iv.labelerOf(ctx, ch, true)
}

// ownLabeler answers from the address's own labels only (the tracer's
// sweep targets: see tracer.Config.SweepTargets).
func (iv *Investigation) ownLabeler(ctx context.Context, ch chains.Chain) tracer.Labeler {
	return iv.labelerOf(ctx, ch, false)
}

func (iv *Investigation) labelerOf(ctx context.Context, ch chains.Chain, byCluster bool) tracer.Labeler {
	cache := map[chains.Address][3]string{}
	return func(a chains.Address) (string, string, bool) {
		if v, ok := cache[a]; ok {
			return v[0], v[1], v[2] != ""
		}
		own, cl, err := iv.attr.Labels(ctx, ch, a)
		if err != nil {
			cache[a] = [3]string{}
			return "", "", false
		}
		ls := own
		if len(ls) == 0 && byCluster {
			ls = cl
		}
		if len(ls) == 0 {
			cache[a] = [3]string{}
			return "", "", false
		}
		sort.SliceStable(ls, func(i, j int) bool { return ls[i].Confidence > ls[j].Confidence })
		name := ls[0].Label
		if ls[0].Actor != "" {
			name = ls[0].Actor
		}
		cache[a] = [3]string{ls[0].Category, name, "y"}
		return ls[0].Category, name, true
	}
}

// Seeds are the seeds of one trace, by chain.
type Seeds struct {
	BTC  []tracer.Seed
	ETH  []tracer.Seed
	TRON []tracer.Seed
}

// Len is the number of seeds.
func (s *Seeds) Len() int { return len(s.BTC) + len(s.ETH) + len(s.TRON) }

// add adds an account chain's seed.
func (s *Seeds) add(c chains.Chain, seed tracer.Seed) {
	if c == chains.Tron {
		s.TRON = append(s.TRON, seed)
	} else {
		s.ETH = append(s.ETH, seed)
	}
}

// Options are a trace's settings (the command's flags, or a trace
// file's parameters when verify runs it again).
type Options struct {
	// OnHop, when set, is told as each hop of a chain's trace starts
	// (for progress): see tracer.Config.OnHop.
	OnHop                   func(c chains.Chain, hop, frontier, followed int)
	MaxHops, MaxNodes       int
	ThroughMixers, Backward bool
	MinAmount               *big.Int // nil: each asset's default
}

// ParseWhen reads RFC 3339 or YYYY-MM-DD (a day: its start, or with
// end its last second) as Unix seconds; "" is 0.
func ParseWhen(s string, end bool) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.Unix(), nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return 0, fmt.Errorf("%q: want RFC 3339 (2024-05-01T12:00:00Z) or YYYY-MM-DD", s)
	}
	if end {
		return t.Unix() + 86399, nil
	}
	return t.Unix(), nil
}
