package screening

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/explore"
	"github.com/fundtrace/fundtrace/store"
)

// The explore API (the workbench's reads, GraphSense-like): an address
// with its history and screening, a transaction, a cluster with its
// members and evidence, a search. Each answers from package explore's
// views; what the screening service knows (the list in force, labels,
// the cluster's listed and labeled members) is added here.

// exploreChains are the chains whose paths are registered one by one
// (GET /v1/btc/addresses/{address}, …): a {chain} wildcard there would
// overlap /v1/screen/{chain}/{address}.
var exploreChains = []chains.Chain{chains.Bitcoin, chains.Ethereum, chains.Tron}

func (s *Server) exploreRoutes() {
	for _, c := range exploreChains {
		s.handleAs("GET /v1/"+string(c)+"/addresses/{address}", "GET /v1/{chain}/addresses/{address}", "explore_address", true, s.exploring(c, s.exploreAddress))
		s.handleAs("GET /v1/"+string(c)+"/txs/{hash}", "GET /v1/{chain}/txs/{hash}", "explore_tx", true, s.exploring(c, s.exploreTx))
		s.handleAs("GET /v1/"+string(c)+"/clusters/{id}", "GET /v1/{chain}/clusters/{id}", "explore_cluster", true, s.exploring(c, s.exploreCluster))
	}
	s.handle("GET /v1/search", "search", true, s.exploring("", s.search))
}

// exploring answers 503 when the server has no chain data; else h
// answers, for chain c.
func (s *Server) exploring(c chains.Chain, h func(w http.ResponseWriter, r *http.Request, ex *explore.Explorer, c chains.Chain)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Explore == nil {
			writeError(w, http.StatusServiceUnavailable, "no_data", "", "this server has no chain data to explore")
			return
		}
		h(w, r, s.cfg.Explore, c)
	}
}

// exploreFail answers an explore error: 400 for a request it cannot
// read, 404 for what the store does not have, 409 for a chain not
// clustered (or clustered before clusters listed their members), else
// as fail does.
func (s *Server) exploreFail(w http.ResponseWriter, r *http.Request, err error) {
	var ie *explore.InputError
	switch {
	case errors.As(err, &ie):
		writeError(w, http.StatusBadRequest, "bad_request", ie.Field, ie.Msg)
	case errors.Is(err, explore.ErrNoClusters), errors.Is(err, explore.ErrNoMembers):
		writeError(w, http.StatusConflict, "not_clustered", "", err.Error())
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "", err.Error())
	default:
		s.fail(w, r, err)
	}
}

// page reads ?offset= and ?limit=.
func page(r *http.Request) (explore.Page, error) {
	var p explore.Page
	for _, f := range []struct {
		name string
		v    *int
	}{{"offset", &p.Offset}, {"limit", &p.Limit}} {
		if v := r.URL.Query().Get(f.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return p, &explore.InputError{Field: f.name, Msg: fmt.Sprintf("%s %q: want a number", f.name, v)}
			}
			*f.v = n
		}
	}
	return p, nil
}

// AddressAnswer is GET /v1/{chain}/addresses/{address}: the address's
// chain data (UTXO on Bitcoin, Account on Ethereum and TRON; neither, and
// Seen false, when no indexed block names it) and its screening against
// the list in force, with its labels, cluster and, on request, exposure.
type AddressAnswer struct {
	Chain     string                  `json:"chain"`
	Address   string                  `json:"address"`
	Seen      bool                    `json:"seen"`
	UTXO      *explore.Address        `json:"utxo,omitempty"`
	Account   *explore.AccountAddress `json:"account,omitempty"`
	Screening Result                  `json:"screening"`
}

func (s *Server) exploreAddress(w http.ResponseWriter, r *http.Request, ex *explore.Explorer, c chains.Chain) {
	p := s.sc.Parse(string(c), r.PathValue("address"))
	if p.Status != StatusScreened {
		writeError(w, http.StatusBadRequest, "bad_request", p.Field, p.Reason)
		return
	}
	pg, err := page(r)
	if err != nil {
		s.exploreFail(w, r, err)
		return
	}
	l, hops, err := s.options(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ans := AddressAnswer{Chain: string(c)}
	if c == chains.Bitcoin {
		ans.UTXO, err = ex.BitcoinAddress(r.Context(), p.Address, pg)
		if ans.UTXO != nil {
			ans.Address = ans.UTXO.Address
		}
	} else {
		ans.Account, err = ex.AccountAddress(r.Context(), c, p.Address, pg)
		if ans.Account != nil {
			ans.Address = ans.Account.Address
		}
	}
	switch {
	case err == nil:
		ans.Seen = true
	case !errors.Is(err, store.ErrNotFound):
		s.exploreFail(w, r, err)
		return
	default:
		ans.Address = p.Text
	}
	if ans.Screening, err = s.screen(r.Context(), l, p, hops); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ans)
}

func (s *Server) exploreTx(w http.ResponseWriter, r *http.Request, ex *explore.Explorer, c chains.Chain) {
	text := r.PathValue("hash")
	hex := strings.TrimPrefix(strings.TrimPrefix(text, "0x"), "0X")
	h, err := chains.ParseHash(hex)
	if err != nil || len(hex) != 64 {
		writeError(w, http.StatusBadRequest, "bad_request", "hash", fmt.Sprintf("%q is not a transaction hash (64 hex digits)", text))
		return
	}
	var v any
	if c == chains.Bitcoin {
		v, err = ex.BitcoinTx(r.Context(), h)
	} else {
		v, err = ex.AccountTx(r.Context(), c, h)
	}
	if err != nil {
		s.exploreFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// ClusterAnswer is GET /v1/{chain}/clusters/{id}: the cluster's page of
// members and evidence, and what the list in force and the labels say of
// all its members (not only the page's).
type ClusterAnswer struct {
	*explore.Cluster
	Sanctioned []Hit   `json:"sanctioned"`
	Labels     []Label `json:"labels"`
	List       ListRef `json:"screened_against"`
}

func (s *Server) exploreCluster(w http.ResponseWriter, r *http.Request, ex *explore.Explorer, c chains.Chain) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 32)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "id", fmt.Sprintf("cluster id %q: want a number", r.PathValue("id")))
		return
	}
	pg, err := page(r)
	if err != nil {
		s.exploreFail(w, r, err)
		return
	}
	cl, err := ex.Cluster(r.Context(), c, uint32(id), r.URL.Query().Get("after"), pg.Limit)
	if err != nil {
		s.exploreFail(w, r, err)
		return
	}
	l := s.sc.Current()
	ans := ClusterAnswer{Cluster: cl, Sanctioned: []Hit{}, Labels: []Label{}, List: l.Ref()}
	ck := clusterKey{c, uint32(id)}
	for _, h := range l.listedIn[ck] {
		ans.Sanctioned = append(ans.Sanctioned, hitOf(h))
	}
	for _, lb := range l.labeledIn[ck] {
		ans.Labels = append(ans.Labels, labelOf(lb, true))
	}
	writeJSON(w, http.StatusOK, ans)
}

// SearchAnswer is GET /v1/search.
type SearchAnswer struct {
	Query string        `json:"query"`
	Hits  []explore.Hit `json:"hits"`
}

func (s *Server) search(w http.ResponseWriter, r *http.Request, ex *explore.Explorer, _ chains.Chain) {
	pg, err := page(r)
	if err != nil {
		s.exploreFail(w, r, err)
		return
	}
	q := r.URL.Query().Get("q")
	hits, err := ex.Search(r.Context(), q, pg.Limit)
	if err != nil {
		s.exploreFail(w, r, err)
		return
	}
	// Cases whose id or title holds q.
	if s.cfg.Cases != nil && len(q) >= 3 {
		cs, err := s.cfg.Cases.List(r.Context())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		lq := strings.ToLower(strings.TrimSpace(q))
		for _, c := range cs {
			if len(hits) >= max(pg.Limit, explore.DefaultLimit) {
				break
			}
			if strings.Contains(strings.ToLower(c.ID), lq) || strings.Contains(strings.ToLower(c.Title), lq) {
				hits = append(hits, explore.Hit{Kind: "case", ID: c.ID, Text: c.Title, Path: "/v1/cases/" + c.ID})
			}
		}
	}
	writeJSON(w, http.StatusOK, SearchAnswer{Query: q, Hits: hits})
}
