// Package explore reads what a person looking at a chain asks for — a
// transaction, an address with its history, a cluster with its members
// and evidence — and gives it as the views that fundtrace show prints
// and the workbench's explore API (/v1/{chain}/…) answers: one reading
// of the store, one set of field names, for both.
package explore

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/investigate"
	"github.com/fundtrace/fundtrace/store"
)

// Store is what the views read: blocks, both kinds of chain, clusters.
type Store interface {
	store.ChainReader
	store.UTXOReader
	store.AccountReader
	store.ClusterStore
	Path() string
}

// ErrNotFound says the store has no such transaction, address, cluster
// or block; errors wrapping it name what was asked.
var ErrNotFound = store.ErrNotFound

// InputError is a request the views cannot read: a malformed hash,
// address, id or cursor. Field names the part.
type InputError struct {
	Field string
	Msg   string
}

func (e *InputError) Error() string { return e.Msg }

func badInput(field, format string, args ...any) error {
	return &InputError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Explorer gives the views of one store. It is safe for concurrent use.
type Explorer struct {
	st Store

	mu  sync.Mutex
	net *bitcoin.Network // once the store holds Bitcoin blocks
}

// New returns an Explorer of st.
func New(st Store) *Explorer { return &Explorer{st: st} }

// Network is the Bitcoin network the store holds, which decides how its
// addresses are written and read.
func (e *Explorer) Network(ctx context.Context) (*bitcoin.Network, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.net != nil {
		return e.net, nil
	}
	n, err := investigate.BitcoinNetwork(ctx, e.st)
	if err != nil {
		return nil, err
	}
	e.net = n
	return n, nil
}

// Page asks for part of a long list: Limit entries (0: the default, at
// most MaxLimit) after Offset of them, or All of them (the CLI's
// choice; the API's pages are bounded).
type Page struct {
	Offset, Limit int
	All           bool
}

// DefaultLimit and MaxLimit bound a page.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

func (p Page) check() (Page, error) {
	if p.Offset < 0 {
		return p, badInput("offset", "offset %d: want 0 or more", p.Offset)
	}
	if p.Limit < 0 || p.Limit > MaxLimit {
		return p, badInput("limit", "limit %d: want 1 to %d", p.Limit, MaxLimit)
	}
	if p.Limit == 0 {
		p.Limit = DefaultLimit
	}
	return p, nil
}

// window returns the part of n entries p covers.
func (p Page) window(n int) (lo, hi int) {
	lo = min(p.Offset, n)
	if p.All {
		return lo, n
	}
	return lo, min(lo+p.Limit, n)
}

// isNotFound reports whether err says something is not in the store.
func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// ParseChain reads a chain's name as the API's paths write it.
func ParseChain(s string) (chains.Chain, error) {
	c, err := chains.ParseChain(s)
	if err != nil || !c.IsAccount() && c != chains.Bitcoin {
		return "", badInput("chain", "chain %q: want btc, eth or tron", s)
	}
	return c, nil
}
