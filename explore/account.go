package explore

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/chains/tron"
)

// Account is how an account chain's addresses, hashes and amounts are
// written and read.
type Account struct {
	Chain    chains.Chain
	Native   string // ETH, TRX
	Decimals uint8
	Format   func(chains.Address) string
	Asset    func(chains.Address) string // a token's id: its contract, or a TRC-10 id
	Parse    func(string) (chains.Address, error)
	Hash     func(chains.Hash) string
}

// Ethereum and Tron are the account chains' forms.
var (
	Ethereum = &Account{Chain: chains.Ethereum, Native: "ETH", Decimals: 18, Format: ethereum.FormatAddress, Asset: ethereum.FormatAddress,
		Parse: ethereum.ParseAddress, Hash: func(h chains.Hash) string { return "0x" + h.String() }}
	Tron = &Account{Chain: chains.Tron, Native: "TRX", Decimals: 6, Format: tron.Encode, Asset: tron.FormatAsset,
		Parse: tron.ParseAddress, Hash: chains.Hash.String}
)

// AccountOf is account chain c's form; nil for a UTXO chain.
func AccountOf(c chains.Chain) *Account {
	switch c {
	case chains.Ethereum:
		return Ethereum
	case chains.Tron:
		return Tron
	}
	return nil
}

// Transfer is one movement of an asset on an account chain.
type Transfer struct {
	Kind     string `json:"kind"`
	Height   int64  `json:"height"`
	Time     string `json:"time"`
	TxHash   string `json:"tx_hash,omitempty"`
	TxIndex  uint32 `json:"tx_index"`
	Position string `json:"position"`
	Asset    string `json:"asset"` // "ETH" or "TRX", the token contract, or a TRC-10 id
	Symbol   string `json:"symbol,omitempty"`
	Decimals *uint8 `json:"decimals,omitempty"`
	From     string `json:"from"`
	To       string `json:"to"`
	Amount   string `json:"amount"` // base units (wei, sun, token units), exact
	TokenID  string `json:"token_id,omitempty"`
	Success  bool   `json:"success"`
}

// FormatTime writes a block time as the views do (RFC 3339, UTC).
func FormatTime(unix int64) string { return time.Unix(unix, 0).UTC().Format(time.RFC3339) }

func bigString(v *big.Int) string {
	if v == nil {
		return "0"
	}
	return v.String()
}

// tokens describes a chain's tokens as the store knows them, each read
// once per answer.
type tokens struct {
	e  *Explorer
	c  chains.Chain
	by map[chains.Address]chains.Token
}

// describe returns token asset's symbol and decimals ("" and nil when the
// store does not know them).
func (tk *tokens) describe(ctx context.Context, asset chains.Address) (string, *uint8) {
	tok, ok := tk.by[asset]
	if !ok {
		tok, _ = tk.e.st.Token(ctx, tk.c, asset)
		if tk.by == nil {
			tk.by = map[chains.Address]chains.Token{}
		}
		tk.by[asset] = tok
	}
	if !tok.HasDecimals {
		return tok.Symbol, nil
	}
	d := tok.Decimals
	return tok.Symbol, &d
}

// transfers writes ts in v's forms, each token with its symbol and
// decimals.
func (e *Explorer) transfers(ctx context.Context, v *Account, ts []chains.Transfer, tk *tokens) []Transfer {
	out := make([]Transfer, 0, len(ts))
	for _, t := range ts {
		j := Transfer{Kind: t.Kind.String(), Height: t.Height, Time: FormatTime(t.Time), TxIndex: t.TxIndex, Position: t.Position,
			Asset: v.Native, From: v.Format(t.From), To: v.Format(t.To), Amount: bigString(t.Amount), Success: t.Success}
		if t.TxHash != (chains.Hash{}) {
			j.TxHash = v.Hash(t.TxHash)
		}
		if t.Asset != "" {
			j.Asset = v.Asset(t.Asset)
			j.Symbol, j.Decimals = tk.describe(ctx, t.Asset)
		}
		if t.TokenID != nil {
			j.TokenID = t.TokenID.String()
		}
		out = append(out, j)
	}
	return out
}

// AccountTx is an Ethereum or TRON transaction: its outcome, fee and
// transfers. The chain-specific fields are named as each chain's users
// know them (wei and gas, sun and energy).
type AccountTx struct {
	Chain    string `json:"chain"`
	Hash     string `json:"hash"`
	Height   int64  `json:"height"`
	Position uint32 `json:"position"`
	Time     string `json:"time"`
	Contract string `json:"contract,omitempty"` // TRON: TransferContract, TriggerSmartContract, ...
	From     string `json:"from"`
	To       string `json:"to,omitempty"`
	Created  string `json:"created,omitempty"`
	// Ethereum
	ValueWei    string  `json:"value_wei,omitempty"`
	Nonce       *uint64 `json:"nonce,omitempty"`
	GasUsed     *uint64 `json:"gas_used,omitempty"`
	GasPriceWei string  `json:"gas_price_wei,omitempty"`
	FeeWei      string  `json:"fee_wei,omitempty"`
	// TRON
	ValueSun    string  `json:"value_sun,omitempty"`
	Energy      *uint64 `json:"energy_used,omitempty"`
	FeeLimitSun *uint64 `json:"fee_limit_sun,omitempty"`
	FeeSun      string  `json:"fee_sun,omitempty"` // TRX burnt

	Success  bool       `json:"success"`
	Transfer []Transfer `json:"transfers"`
}

// AccountTx reads transaction h of account chain c; ErrNotFound when the
// store does not have it.
func (e *Explorer) AccountTx(ctx context.Context, c chains.Chain, h chains.Hash) (*AccountTx, error) {
	v := AccountOf(c)
	tx, ts, err := e.st.AccountTx(ctx, c, h)
	if err != nil {
		return nil, fmt.Errorf("%s transaction %s: %w", c, v.Hash(h), err)
	}
	j := &AccountTx{Chain: string(c), Hash: v.Hash(h), Height: tx.Height, Position: tx.Position, Time: FormatTime(tx.Time),
		From: v.Format(tx.From), To: v.Format(tx.To), Created: v.Format(tx.Created), Success: tx.Success, Transfer: e.transfers(ctx, v, ts, &tokens{e: e, c: c})}
	if c == chains.Tron {
		energy, limit := tx.GasUsed, tx.Gas
		j.Contract, j.ValueSun, j.Energy, j.FeeLimitSun, j.FeeSun = tron.ContractType(tx.Type).String(), bigString(tx.Value), &energy, &limit, bigString(tx.Fee)
	} else {
		nonce, gas := tx.Nonce, tx.GasUsed
		j.ValueWei, j.Nonce, j.GasUsed, j.GasPriceWei, j.FeeWei = bigString(tx.Value), &nonce, &gas, bigString(tx.GasPrice), bigString(tx.Fee)
	}
	return j, nil
}

// Balance is an account's net of one asset over the indexed blocks.
type Balance struct {
	Asset    string `json:"asset"`
	Symbol   string `json:"symbol,omitempty"`
	Decimals *uint8 `json:"decimals,omitempty"`
	Received string `json:"received"`
	Sent     string `json:"sent"` // fees included, for the native coin
	Balance  string `json:"balance"`
}

// AccountAddress is an account chain address's balances over the indexed
// blocks and a page of its transfers, in chain order.
type AccountAddress struct {
	Chain      string    `json:"chain"`
	Address    string    `json:"address"`
	Balances   []Balance `json:"balances,omitempty"`
	Count      int       `json:"transfer_count,omitempty"`
	Truncated  bool      `json:"truncated,omitempty"`
	Offset     int       `json:"offset,omitempty"`
	NextOffset *int      `json:"next_offset,omitempty"`

	Transfers []Transfer `json:"transfers"`
}

// AccountAddress reads address a of account chain c: every transfer
// from or to it that succeeded counts in its balances, and the page p
// of them all (failed ones too: evidence of an attempt) is listed.
// ErrNotFound when no transfer names it.
func (e *Explorer) AccountAddress(ctx context.Context, c chains.Chain, a chains.Address, p Page) (*AccountAddress, error) {
	p, err := p.check()
	if err != nil {
		return nil, err
	}
	v := AccountOf(c)
	ts, err := e.st.Transfers(ctx, c, a, 0)
	if err != nil {
		return nil, err
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("%s address %s: %w", c, v.Format(a), ErrNotFound)
	}
	j := &AccountAddress{Chain: string(c), Address: v.Format(a), Count: len(ts), Offset: p.Offset}
	type sums struct{ in, out big.Int }
	by := map[chains.Address]*sums{}
	var assets []chains.Address
	for _, t := range ts {
		if !t.Success || t.Amount == nil {
			continue
		}
		s := by[t.Asset]
		if s == nil {
			s = &sums{}
			by[t.Asset] = s
			assets = append(assets, t.Asset)
		}
		if t.To == a {
			s.in.Add(&s.in, t.Amount)
		}
		if t.From == a {
			s.out.Add(&s.out, t.Amount)
		}
	}
	slices.SortFunc(assets, func(x, y chains.Address) int { return strings.Compare(string(x), string(y)) })
	tk := &tokens{e: e, c: c}
	for _, asset := range assets {
		s := by[asset]
		b := Balance{Asset: v.Native, Received: s.in.String(), Sent: s.out.String(), Balance: new(big.Int).Sub(&s.in, &s.out).String()}
		if asset != "" {
			b.Asset = v.Asset(asset)
			b.Symbol, b.Decimals = tk.describe(ctx, asset)
		}
		j.Balances = append(j.Balances, b)
	}
	lo, hi := p.window(len(ts))
	j.Truncated = lo > 0 || hi < len(ts)
	if hi < len(ts) {
		j.NextOffset = &hi
	}
	j.Transfers = e.transfers(ctx, v, ts[lo:hi], tk)
	return j, nil
}
