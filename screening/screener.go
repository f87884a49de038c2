// Package screening answers whether addresses are sanctioned, what they
// are labeled, which cluster they are in and what that cluster is known
// for — fast enough to sit in a payment system's path, and with what a
// compliance officer files: which list, which entity, as of when.
//
// A Screener keeps the sanctions snapshot in force and the labels in
// memory, as one immutable List swapped atomically when a new snapshot is
// imported: a request sees the old list or the new one, never half of
// either. The HTTP service (Server) sits on top.
package screening

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/sanctions"
	"github.com/fundtrace/fundtrace/store"
)

// Store is what screening reads: sanctions snapshots and labels, and
// (optionally, see ClusterStore) clusters.
type Store interface {
	Meta(ctx context.Context, c chains.Chain) (store.Meta, error)
	CurrentSnapshot(ctx context.Context) (int64, error)
	Snapshots(ctx context.Context) ([]store.SanctionsSnapshot, error)
	SnapshotAddresses(ctx context.Context, id int64) ([]store.SanctionedAddress, error)
	EachLabel(ctx context.Context, fn func(store.Label) error) error
}

// ClusterStore is a Store that also keeps clusters.
type ClusterStore interface {
	ClusterOf(ctx context.Context, c chains.Chain, a chains.Address) (id, size uint32, err error)
}

type key struct {
	chain chains.Chain
	addr  chains.Address
}

type clusterKey struct {
	chain chains.Chain
	id    uint32
}

// List is one sanctions snapshot with the labels, indexed for lookups.
// It never changes once built.
type List struct {
	Snapshot store.SanctionsSnapshot // ID 0: no list imported
	listed   map[key][]store.SanctionedAddress
	labels   map[key][]store.Label
	// By cluster: the listed and labeled addresses in each.
	listedIn  map[clusterKey][]store.SanctionedAddress
	labeledIn map[clusterKey][]store.Label
	Built     time.Time
}

// Screener screens addresses against the List in force.
type Screener struct {
	st  Store
	cs  ClusterStore // nil when the store keeps no clusters
	net *bitcoin.Network

	cur atomic.Pointer[List]

	mu   sync.Mutex
	past map[int64]*List // other snapshots asked for with as_of
	// clusters caches ClusterOf answers (a store query each) until the
	// next reload; bounded.
	clusters sync.Map
	nCluster atomic.Int64
}

// maxClusterCache bounds the cluster answers kept between reloads.
const maxClusterCache = 1 << 20

// New loads the snapshot in force and the labels.
func New(ctx context.Context, st Store) (*Screener, error) {
	s := &Screener{st: st, past: map[int64]*List{}}
	s.cs, _ = st.(ClusterStore)
	s.net = bitcoin.NetworkByName("mainnet")
	if m, err := st.Meta(ctx, chains.Bitcoin); err == nil && m.Network != "" {
		if n := bitcoin.NetworkByName(m.Network); n != nil {
			s.net = n
		}
	}
	if _, err := s.Reload(ctx, true); err != nil {
		return nil, err
	}
	return s, nil
}

// Current is the List in force.
func (s *Screener) Current() *List { return s.cur.Load() }

// Reload rebuilds the List when the store's current snapshot changed (or
// always, with force) and swaps it in; requests in flight keep the List
// they started with.
func (s *Screener) Reload(ctx context.Context, force bool) (bool, error) {
	id, err := s.st.CurrentSnapshot(ctx)
	if err != nil {
		return false, fmt.Errorf("current sanctions snapshot: %w", err)
	}
	if old := s.cur.Load(); !force && old != nil && old.Snapshot.ID == id {
		return false, nil
	}
	s.clusters.Clear()
	s.nCluster.Store(0)
	l, err := s.build(ctx, id)
	if err != nil {
		return false, err
	}
	s.cur.Store(l)
	s.mu.Lock()
	s.past = map[int64]*List{}
	s.mu.Unlock()
	return true, nil
}

func (s *Screener) build(ctx context.Context, id int64) (*List, error) {
	l := &List{listed: map[key][]store.SanctionedAddress{}, labels: map[key][]store.Label{},
		listedIn: map[clusterKey][]store.SanctionedAddress{}, labeledIn: map[clusterKey][]store.Label{}, Built: time.Now().UTC()}
	if id > 0 {
		sns, err := s.st.Snapshots(ctx)
		if err != nil {
			return nil, fmt.Errorf("sanctions snapshots: %w", err)
		}
		for _, sn := range sns {
			if sn.ID == id {
				l.Snapshot = sn
			}
		}
		addrs, err := s.st.SnapshotAddresses(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("sanctions snapshot %d: %w", id, err)
		}
		for _, a := range addrs {
			k := key{a.Chain, a.Address}
			l.listed[k] = append(l.listed[k], a)
			if cid, ok := s.clusterOf(ctx, a.Chain, a.Address); ok {
				ck := clusterKey{a.Chain, cid}
				l.listedIn[ck] = append(l.listedIn[ck], a)
			}
		}
	}
	err := s.st.EachLabel(ctx, func(lb store.Label) error {
		k := key{lb.Chain, lb.Address}
		l.labels[k] = append(l.labels[k], lb)
		if cid, ok := s.clusterOf(ctx, lb.Chain, lb.Address); ok {
			ck := clusterKey{lb.Chain, cid}
			l.labeledIn[ck] = append(l.labeledIn[ck], lb)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	return l, nil
}

// clusterOf returns a's cluster when it shares one with other addresses.
func (s *Screener) clusterOf(ctx context.Context, c chains.Chain, a chains.Address) (uint32, bool) {
	id, size, ok := s.cluster(ctx, c, a)
	return id, ok && size > 1
}

func (s *Screener) cluster(ctx context.Context, c chains.Chain, a chains.Address) (id, size uint32, ok bool) {
	if s.cs == nil {
		return 0, 0, false
	}
	k := key{c, a}
	if v, hit := s.clusters.Load(k); hit {
		p := v.([2]uint32)
		return p[0], p[1], p[1] > 0
	}
	id, size, err := s.cs.ClusterOf(ctx, c, a)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return 0, 0, false // a store error: answer without the cluster, ask again next time
		}
		id, size = 0, 0
	}
	if s.nCluster.Add(1) < maxClusterCache {
		s.clusters.Store(k, [2]uint32{id, size})
	}
	return id, size, size > 0
}

// AsOf returns the List of the newest snapshot whose list date is on or
// before day (YYYY-MM-DD).
func (s *Screener) AsOf(ctx context.Context, day string) (*List, error) {
	if _, err := time.Parse("2006-01-02", day); err != nil {
		return nil, &InputError{Field: "as_of", Msg: fmt.Sprintf("%q: want YYYY-MM-DD", day)}
	}
	sns, err := s.st.Snapshots(ctx)
	if err != nil {
		return nil, err
	}
	var id int64
	for _, sn := range sns {
		d := sn.Date
		if d == "" && len(sn.Imported) >= 10 {
			d = sn.Imported[:10]
		}
		if d <= day {
			id = sn.ID
		}
	}
	if id == 0 {
		return nil, &InputError{Field: "as_of", Msg: fmt.Sprintf("no sanctions snapshot dates from %s or earlier", day)}
	}
	if cur := s.cur.Load(); cur.Snapshot.ID == id {
		return cur, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.past[id]; l != nil {
		return l, nil
	}
	l, err := s.build(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(s.past) > 8 {
		s.past = map[int64]*List{}
	}
	s.past[id] = l
	return l, nil
}

// InputError is a request that cannot be answered as asked: it names the
// field and what is wrong with it.
type InputError struct {
	Field string
	Msg   string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Msg }

// ParseAddress reads an address for a chain ("btc", "eth", or "" to tell
// by its form): Bitcoin for the store's network, Ethereum with its
// EIP-55 checksum checked when mixed-case.
func (s *Screener) ParseAddress(chain, text string) (chains.Chain, chains.Address, error) {
	text = strings.TrimSpace(text)
	if chain == "" {
		chain = "btc"
		if strings.HasPrefix(text, "0x") || strings.HasPrefix(text, "0X") {
			chain = "eth"
		}
	}
	c, err := chains.ParseChain(chain)
	if err != nil {
		return "", "", &InputError{Field: "chain", Msg: fmt.Sprintf("%q: fundtrace screens btc and eth", chain)}
	}
	var a chains.Address
	switch c {
	case chains.Bitcoin:
		a, err = s.net.ParseAddress(text)
	case chains.Ethereum:
		a, err = sanctions.ParseEthereum(text)
	default:
		return "", "", &InputError{Field: "chain", Msg: fmt.Sprintf("%q: fundtrace screens btc and eth", chain)}
	}
	if err != nil {
		return "", "", &InputError{Field: "address", Msg: err.Error()}
	}
	return c, a, nil
}

// Hit is a listed address that matched.
type Hit struct {
	List     string   `json:"list"` // e.g. "OFAC SDN"
	Address  string   `json:"address"`
	Entity   string   `json:"entity"`
	Type     string   `json:"entity_type,omitempty"`
	Programs []string `json:"programs"`
	Listed   string   `json:"listed,omitempty"` // the listing date, when the list gives it
	Ref      string   `json:"ofac_ref,omitempty"`
	Currency string   `json:"currency"`
}

// Label is a label with where it came from.
type Label struct {
	Address    string `json:"address,omitempty"` // set for the cluster's labels
	Label      string `json:"label"`
	Category   string `json:"category"`
	Actor      string `json:"actor,omitempty"`
	Source     string `json:"source"`
	SourceDate string `json:"source_date,omitempty"`
	Imported   string `json:"imported,omitempty"`
	Confidence int    `json:"confidence"`
}

// Cluster is what the address's cluster is known for.
type Cluster struct {
	ID         uint32  `json:"id"`
	Size       uint32  `json:"size"`
	Sanctioned []Hit   `json:"sanctioned"` // other listed addresses in it
	Labels     []Label `json:"labels"`     // other addresses' labels
}

// ListRef says which list a result was screened against.
type ListRef struct {
	Snapshot int64    `json:"snapshot"`
	Date     string   `json:"list_date,omitempty"`
	Imported string   `json:"imported,omitempty"`
	Sources  []string `json:"sources,omitempty"`
}

// Result is one address screened.
type Result struct {
	Chain      string   `json:"chain"`
	Address    string   `json:"address"`
	Sanctioned bool     `json:"sanctioned"` // listed itself
	Hits       []Hit    `json:"sanctions"`
	ClusterHit bool     `json:"cluster_sanctioned"` // another address of its cluster is listed
	Labels     []Label  `json:"labels"`
	Cluster    *Cluster `json:"cluster,omitempty"`
	List       ListRef  `json:"screened_against"`
	Exposure   any      `json:"exposure,omitempty"`
}

// Hit reports whether the result is a sanctions hit, direct or by cluster.
func (r *Result) Hit() bool { return r.Sanctioned || r.ClusterHit }

func hitOf(a store.SanctionedAddress) Hit {
	programs := a.Programs
	if programs == nil {
		programs = []string{}
	}
	return Hit{List: "OFAC SDN", Address: a.Text, Entity: a.Entity, Type: a.Type, Programs: programs, Listed: a.Listed, Ref: a.Ref, Currency: a.Code}
}

func labelOf(l store.Label, withAddr bool) Label {
	out := Label{Label: l.Label, Category: l.Category, Actor: l.Actor, Source: l.Source, SourceDate: l.SourceDate, Imported: l.Imported, Confidence: l.Confidence}
	if withAddr {
		out.Address = l.Text
	}
	return out
}

// Screen screens one parsed address against l.
func (s *Screener) Screen(ctx context.Context, l *List, c chains.Chain, a chains.Address, text string) Result {
	r := Result{Chain: string(c), Address: text, Hits: []Hit{}, Labels: []Label{},
		List: ListRef{Snapshot: l.Snapshot.ID, Date: l.Snapshot.Date, Imported: l.Snapshot.Imported, Sources: l.Snapshot.Sources}}
	k := key{c, a}
	for _, h := range l.listed[k] {
		r.Hits = append(r.Hits, hitOf(h))
		r.Sanctioned = true
	}
	for _, lb := range l.labels[k] {
		r.Labels = append(r.Labels, labelOf(lb, false))
	}
	if id, size, ok := s.cluster(ctx, c, a); ok && size > 1 {
		cl := &Cluster{ID: id, Size: size, Sanctioned: []Hit{}, Labels: []Label{}}
		ck := clusterKey{c, id}
		for _, h := range l.listedIn[ck] {
			if h.Address != a {
				cl.Sanctioned = append(cl.Sanctioned, hitOf(h))
				r.ClusterHit = true
			}
		}
		for _, lb := range l.labeledIn[ck] {
			if lb.Address != a {
				cl.Labels = append(cl.Labels, labelOf(lb, true))
			}
		}
		r.Cluster = cl
	}
	return r
}

// Labeler answers the tracer (for exposure) from l: the most confident
// label of an address, else of its cluster.
func (s *Screener) Labeler(ctx context.Context, l *List) func(c chains.Chain) func(a chains.Address) (string, string, bool) {
	return func(c chains.Chain) func(a chains.Address) (string, string, bool) {
		return func(a chains.Address) (string, string, bool) {
			ls := l.labels[key{c, a}]
			if len(ls) == 0 {
				if id, ok := s.clusterOf(ctx, c, a); ok {
					ls = l.labeledIn[clusterKey{c, id}]
				}
			}
			if len(l.listed[key{c, a}]) > 0 && len(ls) == 0 {
				return "sanctioned", l.listed[key{c, a}][0].Entity, true
			}
			if len(ls) == 0 {
				return "", "", false
			}
			best := ls[0]
			for _, lb := range ls[1:] {
				if lb.Confidence > best.Confidence {
					best = lb
				}
			}
			name := best.Label
			if best.Actor != "" {
				name = best.Actor
			}
			return best.Category, name, true
		}
	}
}
