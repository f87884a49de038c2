package explore

import (
	"context"
	"errors"
	"fmt"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// Cluster is a cluster's record, a page of its members and the evidence
// that put them there: the links the clustering run stored from each
// member of the page (a transaction and the heuristic that read it).
type Cluster struct {
	Chain string `json:"chain"`
	ID    uint32 `json:"id"`
	Size  uint32 `json:"size"`
	// FlaggedMerge: the cluster was built through a multi-input merge of
	// two clusters over the guard's size (fundtrace cluster suspects).
	FlaggedMerge bool     `json:"flagged_merge"`
	Heuristics   []string `json:"heuristics"`
	Height       int64    `json:"clustered_to_height"`
	Members      []string `json:"members"`
	// Next is the cursor of the next page of members ("" at the end).
	Next     string     `json:"next,omitempty"`
	Evidence []Evidence `json:"evidence"`
}

// Evidence is one stored link: Address and Other are in one cluster
// because Heuristic read transaction TxHash.
type Evidence struct {
	Address   string `json:"address"`
	Other     string `json:"other"`
	Heuristic string `json:"heuristic"`
	TxHash    string `json:"tx_hash"`
}

// MaxEvidence bounds the links a page lists from each member.
const MaxEvidence = 20

// ErrNoClusters says the chain has not been clustered (fundtrace
// cluster); ErrNoMembers that its clusters predate members by cluster.
var (
	ErrNoClusters = errors.New("the chain has not been clustered (fundtrace cluster)")
	ErrNoMembers  = store.ErrNoMembers
)

// Cluster reads cluster id of chain c with the page of limit members
// after cursor after ("" the first).
func (e *Explorer) Cluster(ctx context.Context, c chains.Chain, id uint32, after string, limit int) (*Cluster, error) {
	p, err := Page{Limit: limit}.check()
	if err != nil {
		return nil, err
	}
	m, ok, err := e.st.ClusterMeta(ctx, c)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s: %w", c, ErrNoClusters)
	}
	as, next, err := e.st.ClusterMembers(ctx, c, id, after, p.Limit)
	if errors.Is(err, store.ErrBadCursor) {
		return nil, badInput("after", "%v", err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s cluster %d: %w", c, id, err)
	}
	format, hash, err := e.forms(ctx, c)
	if err != nil {
		return nil, err
	}
	j := &Cluster{Chain: string(c), ID: id, FlaggedMerge: m.IsFlagged(id), Heuristics: m.Heuristics, Height: m.Height,
		Members: make([]string, 0, len(as)), Next: next, Evidence: []Evidence{}}
	for i, a := range as {
		j.Members = append(j.Members, format(a))
		if i == 0 {
			if _, size, err := e.st.ClusterOf(ctx, c, a); err == nil {
				j.Size = size
			}
		}
		ls, err := e.st.ClusterLinks(ctx, c, a)
		if err != nil {
			return nil, err
		}
		for _, l := range ls[:min(len(ls), MaxEvidence)] {
			j.Evidence = append(j.Evidence, Evidence{Address: format(l.A), Other: format(l.B), Heuristic: l.Heuristic, TxHash: hash(l.Tx)})
		}
	}
	if j.Size == 0 && len(as) > 0 {
		return nil, &store.CorruptError{Key: fmt.Sprintf("%s cluster %d", c, id), Err: errors.New("a member without its cluster's size")}
	}
	return j, nil
}

// forms returns how chain c's addresses and transaction hashes are
// written.
func (e *Explorer) forms(ctx context.Context, c chains.Chain) (func(chains.Address) string, func(chains.Hash) string, error) {
	if v := AccountOf(c); v != nil {
		return v.Format, v.Hash, nil
	}
	net, err := e.Network(ctx)
	if err != nil {
		return nil, nil, err
	}
	return net.MustEncode, chains.Hash.String, nil
}
