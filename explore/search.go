package explore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/tron"
	"github.com/fundtrace/fundtrace/store"
)

// Hit is one thing a search found.
type Hit struct {
	Kind  string `json:"kind"` // address, tx, block, label (and case, which the server adds)
	Chain string `json:"chain,omitempty"`
	ID    string `json:"id"`   // the address, hash, height or case id
	Text  string `json:"text"` // what it is, in a few words
	// Path is the API path that reads it ("" for a block).
	Path string `json:"path,omitempty"`
}

// MaxQuery is the longest search string read.
const MaxQuery = 200

// Search finds what q names in the store: a transaction by its hash on
// any chain, an address that an indexed block pays or names, a block by
// its height, and labels whose name, owner or category contains q (at
// least three characters; case does not matter). At most limit hits.
// Labels are read in one pass over the label table.
func (e *Explorer) Search(ctx context.Context, q string, limit int) ([]Hit, error) {
	q = strings.TrimSpace(q)
	if q == "" || len(q) > MaxQuery {
		return nil, badInput("q", "want a search string of 1 to %d characters", MaxQuery)
	}
	p, err := Page{Limit: limit}.check()
	if err != nil {
		return nil, err
	}
	hits := []Hit{}
	indexed := map[chains.Chain]bool{}
	for _, c := range chains.Indexed {
		if m, err := e.st.Meta(ctx, c); err == nil && m.TipHeight >= 0 {
			indexed[c] = true
		}
	}
	hex := strings.TrimPrefix(strings.TrimPrefix(q, "0x"), "0X")
	if h, err := chains.ParseHash(hex); err == nil && len(hex) == 64 {
		for _, c := range chains.Indexed {
			if !indexed[c] {
				continue
			}
			var found bool
			if c == chains.Bitcoin {
				_, err = e.st.Tx(ctx, c, h)
			} else {
				_, _, err = e.st.AccountTx(ctx, c, h)
			}
			switch {
			case err == nil:
				found = true
			case !isNotFound(err):
				return nil, err
			}
			if found {
				id := h.String()
				if v := AccountOf(c); v != nil {
					id = v.Hash(h)
				}
				hits = append(hits, Hit{Kind: "tx", Chain: string(c), ID: id, Text: fmt.Sprintf("%s transaction", c), Path: fmt.Sprintf("/v1/%s/txs/%s", c, id)})
			}
		}
	}
	for _, c := range chains.Indexed {
		if !indexed[c] {
			continue
		}
		hit, err := e.findAddress(ctx, c, q)
		if err != nil {
			return nil, err
		}
		if hit != nil {
			hits = append(hits, *hit)
		}
	}
	if h, err := strconv.ParseInt(q, 10, 64); err == nil && h >= 0 {
		for _, c := range chains.Indexed {
			if !indexed[c] {
				continue
			}
			b, txids, err := e.st.BlockByHeight(ctx, c, h)
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return nil, err
			}
			hits = append(hits, Hit{Kind: "block", Chain: string(c), ID: strconv.FormatInt(h, 10),
				Text: fmt.Sprintf("%s block %d, %s, %d transactions", c, h, FormatTime(b.Time), len(txids))})
		}
	}
	if len(q) >= 3 && len(hits) < p.Limit {
		more, err := e.searchLabels(ctx, strings.ToLower(q), p.Limit-len(hits))
		if err != nil {
			return nil, err
		}
		hits = append(hits, more...)
	}
	return hits[:min(len(hits), p.Limit)], nil
}

// findAddress returns a hit when q is an address of chain c that the
// store has seen.
func (e *Explorer) findAddress(ctx context.Context, c chains.Chain, q string) (*Hit, error) {
	var (
		a    chains.Address
		text string
		err  error
	)
	if v := AccountOf(c); v != nil {
		if c == chains.Tron && !tron.LooksLike(q) || c == chains.Ethereum && !(len(q) == 42 && strings.HasPrefix(strings.ToLower(q), "0x")) {
			return nil, nil
		}
		if a, err = v.Parse(q); err != nil {
			return nil, nil
		}
		ts, err := e.st.Transfers(ctx, c, a, 1)
		if err != nil || len(ts) == 0 {
			return nil, err
		}
		text = v.Format(a)
	} else {
		net, err := e.Network(ctx)
		if err != nil {
			return nil, err
		}
		if a, err = net.ParseAddress(q); err != nil {
			return nil, nil
		}
		if _, err := e.st.FirstSeen(ctx, c, a); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, nil
			}
			return nil, err
		}
		text = net.MustEncode(a)
	}
	return &Hit{Kind: "address", Chain: string(c), ID: text, Text: fmt.Sprintf("%s address", c), Path: fmt.Sprintf("/v1/%s/addresses/%s", c, text)}, nil
}

// searchLabels returns up to n labels whose name, owner or category
// contains q (lower case), or whose address is q.
func (e *Explorer) searchLabels(ctx context.Context, q string, n int) ([]Hit, error) {
	ls, ok := e.st.(store.LabelStore)
	if !ok {
		return nil, nil
	}
	var hits []Hit
	stop := errors.New("enough")
	err := ls.EachLabel(ctx, func(l store.Label) error {
		if !strings.Contains(strings.ToLower(l.Label), q) && !strings.Contains(strings.ToLower(l.Actor), q) &&
			!strings.Contains(strings.ToLower(l.Category), q) && strings.ToLower(l.Text) != q {
			return nil
		}
		text := l.Label
		if l.Actor != "" && l.Actor != l.Label {
			text += " (" + l.Actor + ")"
		}
		text += ", " + l.Category
		hits = append(hits, Hit{Kind: "label", Chain: string(l.Chain), ID: l.Text, Text: text, Path: fmt.Sprintf("/v1/%s/addresses/%s", l.Chain, l.Text)})
		if len(hits) == n {
			return stop
		}
		return nil
	})
	if err != nil && !errors.Is(err, stop) {
		return nil, err
	}
	return hits, nil
}
