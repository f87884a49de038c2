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
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/chains/tron"
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
	ClusterMeta(ctx context.Context, c chains.Chain) (store.ClusterMeta, bool, error)
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
	// byText finds listed addresses of every currency by their text
	// (sanctions.MatchText): a direct hit needs no chain data.
	byText map[string][]store.SanctionedAddress
	// chainState says, per indexed chain, whether the store holds its
	// blocks and clusters (ClusterStatus values), when the list was built;
	// flagged the clusters built through a flagged merge (cluster
	// suspects).
	chainState map[chains.Chain]string
	flagged    map[clusterKey]bool
	labels     map[key][]store.Label
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
	l := &List{listed: map[key][]store.SanctionedAddress{}, byText: map[string][]store.SanctionedAddress{}, labels: map[key][]store.Label{},
		listedIn: map[clusterKey][]store.SanctionedAddress{}, labeledIn: map[clusterKey][]store.Label{}, Built: time.Now().UTC(),
		chainState: map[chains.Chain]string{}, flagged: map[clusterKey]bool{}}
	for _, c := range chains.Indexed {
		st, err := s.chainStatus(ctx, c)
		if err != nil {
			return nil, err
		}
		l.chainState[c] = st
		if st == ClusterClustered {
			m, _, err := s.cs.ClusterMeta(ctx, c)
			if err != nil {
				return nil, fmt.Errorf("%s clusters: %w", c, err)
			}
			for _, id := range m.FlaggedClusters {
				l.flagged[clusterKey{c, id}] = true
			}
		}
	}
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
		// Snapshots of earlier versions named their files by the path
		// they were read from; a reader is told the file's name only.
		for i, src := range l.Snapshot.Sources {
			l.Snapshot.Sources[i] = baseName(src)
		}
		addrs, err := s.st.SnapshotAddresses(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("sanctions snapshot %d: %w", id, err)
		}
		for _, a := range addrs {
			k := key{a.Chain, a.Address}
			l.listed[k] = append(l.listed[k], a)
			t := sanctions.MatchText(a.Text)
			l.byText[t] = append(l.byText[t], a)
			if !sanctions.Indexed(a.Chain) {
				continue
			}
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

// batchClusters is what a store that answers many addresses' clusters in
// one query offers (ClickHouse: a query per address costs a round trip).
type batchClusters interface {
	ClustersOf(ctx context.Context, c chains.Chain, as []chains.Address) (map[chains.Address][2]uint32, error)
}

// Prefetch reads the clusters of the screened addresses among ps in
// queries of many addresses, when the store answers so, so that Screen
// answers them from the cache: a bulk screening's cost is then a few
// queries, not one per address. An error leaves them to be asked one by
// one.
func (s *Screener) Prefetch(ctx context.Context, ps []Parsed) error {
	bc, ok := s.cs.(batchClusters)
	if !ok {
		return nil
	}
	by := map[chains.Chain][]chains.Address{}
	for _, p := range ps {
		if p.Status == StatusScreened && p.Address != "" && sanctions.Indexed(p.Chain) {
			if _, hit := s.clusters.Load(key{p.Chain, p.Address}); !hit {
				by[p.Chain] = append(by[p.Chain], p.Address)
			}
		}
	}
	const chunk = 10_000
	for c, as := range by {
		for i := 0; i < len(as); i += chunk {
			part := as[i:min(i+chunk, len(as))]
			got, err := bc.ClustersOf(ctx, c, part)
			if err != nil {
				return err
			}
			for _, a := range part {
				if s.nCluster.Add(1) >= maxClusterCache {
					return nil
				}
				s.clusters.Store(key{c, a}, got[a]) // a zero size: none
			}
		}
	}
	return nil
}

// AsOf returns the List of the snapshot in force on day (YYYY-MM-DD):
// the one with the latest list date on or before it, whatever the order
// the lists were imported in.
func (s *Screener) AsOf(ctx context.Context, day string) (*List, error) {
	if _, err := time.Parse("2006-01-02", day); err != nil {
		return nil, &InputError{Field: "as_of", Msg: fmt.Sprintf("%q: want YYYY-MM-DD", day)}
	}
	sns, err := s.st.Snapshots(ctx)
	if err != nil {
		return nil, err
	}
	id := store.InForce(sns, day)
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

// The status of a screened string.
const (
	// StatusScreened: the string was read as an address (or matched a
	// listed address of any currency as written) and screened against
	// the list.
	StatusScreened = "screened"
	// StatusInvalid: it has the form of an address of a chain fundtrace
	// reads but is not one: a bad checksum, or another network than the
	// store's.
	StatusInvalid = "invalid"
	// StatusUnsupported: it is not an address of a chain fundtrace reads,
	// and no listed address of any currency is written so.
	StatusUnsupported = "unsupported"
	// StatusNoList: no sanctions list is imported; nothing was screened.
	StatusNoList = "no_list"
)

// Cluster statuses: what the store can say of an address's cluster.
const (
	ClusterClustered      = "clustered"         // its cluster is in Result.Cluster
	ClusterSingle         = "single"            // clustered chain; the address shares its cluster with no other
	ClusterNotClustered   = "not_clustered"     // the chain is indexed but fundtrace cluster has not run
	ClusterChainUnindexed = "chain_not_indexed" // the store holds none of the chain's blocks: no cluster or exposure answer
)

// Parsed is a string read for screening.
type Parsed struct {
	Text    string
	Chain   chains.Chain // "" unless Status is StatusScreened
	Address chains.Address
	Status  string // StatusScreened, StatusInvalid or StatusUnsupported
	Reason  string // why it is not StatusScreened
	Field   string // what is wrong: "address", or "chain" for a chain fundtrace does not read
}

// Parse reads a string for screening, for a chain ("btc", "eth", "tron",
// or "" to tell by its form): Bitcoin for the store's network, Ethereum
// with its EIP-55 checksum checked when mixed-case, TRON in any of its
// forms. It never fails: what cannot be read is StatusInvalid or
// StatusUnsupported, with the reason.
func (s *Screener) Parse(chain, text string) Parsed {
	text = strings.TrimSpace(text)
	p := Parsed{Text: text, Field: "address"}
	lower := strings.ToLower(text)
	if chain == "" {
		switch {
		case strings.HasPrefix(lower, "0x"):
			chain = "eth"
		case tron.LooksLike(text) || len(text) == 42 && strings.HasPrefix(text, "41"):
			chain = "tron"
		default:
			chain = "btc"
		}
	}
	var err error
	switch strings.ToLower(chain) {
	case "btc", "bitcoin":
		p.Chain = chains.Bitcoin
		if p.Address, err = s.net.ParseAddress(text); err != nil {
			p.Status, p.Reason = s.bitcoinProblem(text, err)
			p.Chain, p.Address = "", ""
			return p
		}
	case "eth", "ethereum":
		p.Chain = chains.Ethereum
		if p.Address, err = ethereum.ParseAddress(text); err != nil {
			p.Chain, p.Status, p.Reason = "", StatusInvalid, err.Error()
			if len(text) != 42 {
				p.Status = StatusUnsupported
			}
			return p
		}
	case "tron", "trx":
		p.Chain = chains.Tron
		if p.Address, err = tron.ParseAddress(text); err != nil {
			p.Chain, p.Status, p.Reason = "", StatusInvalid, err.Error()
			if !tron.LooksLike(text) {
				p.Status = StatusUnsupported
			}
			return p
		}
	default:
		p.Status, p.Field, p.Reason = StatusUnsupported, "chain", fmt.Sprintf("chain %q: fundtrace reads btc, eth and tron addresses (other currencies answer direct hits only, by the address as listed)", chain)
		return p
	}
	p.Status = StatusScreened
	return p
}

// bitcoinProblem says why text is not a Bitcoin address of the store's
// network: another network's address or one with a bad checksum is
// invalid; a string with no Bitcoin address's form is unsupported.
func (s *Screener) bitcoinProblem(text string, err error) (string, string) {
	for _, n := range bitcoin.Networks {
		if n.Name == s.net.Name || n.Params.Bech32HRPSegwit == s.net.Params.Bech32HRPSegwit && n.Params.PubKeyHashAddrID == s.net.Params.PubKeyHashAddrID {
			continue
		}
		if _, e := n.ParseAddress(text); e == nil {
			return StatusInvalid, fmt.Sprintf("%s is an address of the %s network; this store holds Bitcoin %s", text, n.Name, s.net.Name)
		}
	}
	if looksBitcoin(text) {
		return StatusInvalid, err.Error()
	}
	return StatusUnsupported, fmt.Sprintf("%q is not an address of a chain fundtrace reads (btc, eth, tron), and no listed address of any currency is written so", text)
}

// looksBitcoin reports whether s has a Bitcoin address's form (Base58 of
// an address's length, or a bech32 string with a Bitcoin prefix),
// whatever its checksum.
func looksBitcoin(s string) bool {
	l := strings.ToLower(s)
	for _, hrp := range []string{"bc1", "tb1", "bcrt1"} {
		if strings.HasPrefix(l, hrp) {
			return true
		}
	}
	if len(s) < 26 || len(s) > 35 || !strings.ContainsAny(s[:1], "123mn") {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", r) {
			return false
		}
	}
	return true
}

// ParseAddress reads an address as Parse does, failing with an
// InputError when it is not StatusScreened.
func (s *Screener) ParseAddress(chain, text string) (chains.Chain, chains.Address, error) {
	p := s.Parse(chain, text)
	if p.Status != StatusScreened {
		return "", "", &InputError{Field: p.Field, Msg: p.Reason}
	}
	return p.Chain, p.Address, nil
}

// chainStatus says what the store holds of chain c: ClusterChainUnindexed,
// ClusterNotClustered, or ClusterClustered when clusters were computed.
func (s *Screener) chainStatus(ctx context.Context, c chains.Chain) (string, error) {
	m, err := s.st.Meta(ctx, c)
	if err != nil {
		return "", fmt.Errorf("%s meta: %w", c, err)
	}
	if m.TipHeight < 0 {
		return ClusterChainUnindexed, nil
	}
	if s.cs == nil {
		return ClusterNotClustered, nil
	}
	_, ok, err := s.cs.ClusterMeta(ctx, c)
	if err != nil {
		return "", fmt.Errorf("%s clusters: %w", c, err)
	}
	if !ok {
		return ClusterNotClustered, nil
	}
	return ClusterClustered, nil
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
	ID   uint32 `json:"id"`
	Size uint32 `json:"size"`
	// FlaggedMerge: the cluster was built through a multi-input merge of
	// two clusters over the super-cluster guard's size; its same-cluster
	// answers deserve a look at fundtrace cluster suspects.
	FlaggedMerge bool    `json:"flagged_merge,omitempty"`
	Sanctioned   []Hit   `json:"sanctioned"` // other listed addresses in it
	Labels       []Label `json:"labels"`     // other addresses' labels
}

// ListRef says which list a result was screened against: the files by
// their base names and SHA-256, never by a path on the server.
type ListRef struct {
	Snapshot int64            `json:"snapshot"`
	Date     string           `json:"list_date,omitempty"`
	Imported string           `json:"imported,omitempty"`
	Sources  []string         `json:"sources,omitempty"`
	Files    []store.ListFile `json:"files,omitempty"`
}

// Ref names the list l is.
func (l *List) Ref() ListRef {
	return ListRef{Snapshot: l.Snapshot.ID, Date: l.Snapshot.Date, Imported: l.Snapshot.Imported, Sources: l.Snapshot.Sources, Files: l.Snapshot.Files}
}

// baseName is the last element of a path written on any system.
func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// Result is one address screened. Sanctioned and ClusterSanctioned are
// absent (never false) where the answer is unknown: an address not
// screened (Status), or a cluster the store cannot tell (ClusterStatus).
type Result struct {
	Chain   string `json:"chain"`
	Address string `json:"address"`
	Status  string `json:"status"`          // StatusScreened, StatusInvalid, StatusUnsupported, StatusNoList
	Error   string `json:"error,omitempty"` // why it was not screened
	Field   string `json:"-"`               // what Error is about: "address" or "chain"
	// Sanctioned: listed itself.
	Sanctioned *bool `json:"sanctioned,omitempty"`
	Hits       []Hit `json:"sanctions"`
	// ClusterHit: another address of its cluster is listed.
	ClusterHit    *bool    `json:"cluster_sanctioned,omitempty"`
	ClusterStatus string   `json:"cluster_status,omitempty"`
	Labels        []Label  `json:"labels"`
	Cluster       *Cluster `json:"cluster,omitempty"`
	List          ListRef  `json:"screened_against"`
	Exposure      any      `json:"exposure,omitempty"`
}

// Hit reports whether the result is a sanctions hit, direct or by cluster.
func (r *Result) Hit() bool {
	return r.Sanctioned != nil && *r.Sanctioned || r.ClusterHit != nil && *r.ClusterHit
}

// Screened reports whether the address was screened against a list.
func (r *Result) Screened() bool { return r.Status == StatusScreened }

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

// Screen screens one string, as Parse read it, against l: a direct hit
// on the chain's address, or on a listed address of any currency written
// as the string is; then labels and the cluster, where the store has them.
func (s *Screener) Screen(ctx context.Context, l *List, p Parsed) Result {
	r := Result{Chain: string(p.Chain), Address: p.Text, Status: p.Status, Error: p.Reason, Field: p.Field, Hits: []Hit{}, Labels: []Label{}, List: l.Ref()}
	noList := l.Snapshot.ID == 0
	seen := map[key]bool{}
	add := func(h store.SanctionedAddress) {
		if k := (key{h.Chain, h.Address}); !seen[k] {
			seen[k] = true
			r.Hits = append(r.Hits, hitOf(h))
		}
	}
	if p.Status == StatusScreened && !noList {
		for _, h := range l.listed[key{p.Chain, p.Address}] {
			add(h)
		}
	}
	// The same text listed for another currency (a BSV or BCH address
	// written as a Bitcoin one) is reported too, with its currency: a
	// compliance officer decides, the tool does not hide it.
	// A string with a bad checksum or of another network is not matched
	// by its text: it is not the listed address, and it says so (invalid).
	for _, h := range l.byText[sanctions.MatchText(p.Text)] {
		if p.Status == StatusInvalid {
			break
		}
		add(h)
		if r.Chain == "" {
			r.Chain = string(h.Chain)
			if h.Chain == "" {
				r.Chain = strings.ToLower(h.Code)
			}
		}
	}
	if p.Status != StatusScreened && len(r.Hits) == 0 {
		return r
	}
	// A string read as no chain's address that is written as a listed
	// one is screened: the list names it. Without a list nothing is
	// screened, but labels and the cluster are still shown.
	r.Status, r.Error, r.Field = StatusScreened, "", ""
	hit := len(r.Hits) > 0
	r.Sanctioned = &hit
	if noList {
		r.Status, r.Error, r.Sanctioned = StatusNoList, "no sanctions list is imported: nothing was screened (fundtrace sanctions import)", nil
	}
	c, a := p.Chain, p.Address
	if c == "" && hit {
		c = chains.Chain(r.Chain)
	}
	r.ClusterStatus = ClusterChainUnindexed
	if sanctions.Indexed(c) {
		r.ClusterStatus = l.chainState[c]
	}
	if a == "" || !sanctions.Indexed(c) {
		return r
	}
	for _, lb := range l.labels[key{c, a}] {
		r.Labels = append(r.Labels, labelOf(lb, false))
	}
	if r.ClusterStatus != ClusterClustered {
		return r
	}
	clusterHit := false
	if !noList {
		r.ClusterHit = &clusterHit
	}
	r.ClusterStatus = ClusterSingle
	if id, size, ok := s.cluster(ctx, c, a); ok && size > 1 {
		r.ClusterStatus = ClusterClustered
		ck := clusterKey{c, id}
		cl := &Cluster{ID: id, Size: size, FlaggedMerge: l.flagged[ck], Sanctioned: []Hit{}, Labels: []Label{}}
		for _, h := range l.listedIn[ck] {
			if h.Address != a {
				cl.Sanctioned = append(cl.Sanctioned, hitOf(h))
				clusterHit = true
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
