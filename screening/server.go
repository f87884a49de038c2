package screening

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"

	"github.com/fundtrace/fundtrace/cases"
	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/explore"
	"github.com/fundtrace/fundtrace/store"
)

// Config tunes the HTTP service.
type Config struct {
	Keys            *Keys
	MaxBatch        int           // most addresses in one POST /v1/screen (default 1,000)
	MaxBody         int64         // largest request body in bytes (default 1 MiB; sanctions uploads: 256 MiB)
	Timeout         time.Duration // per request (default 10 s)
	Rate            float64       // requests a second per key, unless the key says otherwise (default 2,000)
	Burst           int           // default: Rate (at least 1)
	MaxExposureHops int           // the most ?exposure= may ask (default 6)
	// Data is the store, for exposure; nil disables ?exposure.
	Data ChainData
	// Import, when set, imports an uploaded sanctions file (POST
	// /v1/admin/sanctions, admin keys only) into the store.
	// With force false it must refuse a list that drops most of the
	// addresses listed now (the wrong file, or a truncated one).
	Import func(ctx context.Context, path, date string, force bool) (store.SanctionsSnapshot, error)
	// Explore answers the explore API (/v1/{chain}/…, /v1/search); nil:
	// those answer 503.
	Explore *explore.Explorer
	// Cases keeps the workbench's cases (/v1/cases…); nil: those answer
	// 503.
	Cases *cases.Service
	// UI serves the workbench's page at / and its files under /ui/ (package
	// workbench); nil: / answers the JSON 404.
	UI     http.Handler
	Logger *slog.Logger
}

// Server is the screening service's HTTP handler.
type Server struct {
	cfg      Config
	sc       *Screener
	mux      *http.ServeMux
	limiters sync.Map // key id → *rate.Limiter
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	screened *prometheus.CounterVec
	importMu sync.Mutex
	routes   []string // "METHOD /path" of every endpoint, as registered
	sessions *sessions
}

// NewServer builds the handler.
func NewServer(sc *Screener, cfg Config) *Server {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1000
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 2000
	}
	if cfg.Burst <= 0 {
		cfg.Burst = max(int(cfg.Rate), 1)
	}
	if cfg.MaxExposureHops <= 0 {
		cfg.MaxExposureHops = 6
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, sc: sc, mux: http.NewServeMux(), reg: prometheus.NewRegistry(), sessions: newSessions()}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fundtrace_http_requests_total", Help: "HTTP requests by route and status code."}, []string{"route", "code"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "fundtrace_http_request_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1, 5}}, []string{"route"})
	s.screened = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fundtrace_screened_addresses_total", Help: "Addresses screened, by outcome."}, []string{"outcome"})
	snapshot := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "fundtrace_sanctions_snapshot", Help: "The id of the sanctions snapshot in force."},
		func() float64 { return float64(sc.Current().Snapshot.ID) })
	listed := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "fundtrace_sanctions_addresses", Help: "Listed addresses in the snapshot in force."},
		func() float64 { return float64(sc.Current().Snapshot.Addresses) })
	s.reg.MustRegister(s.requests, s.latency, s.screened, snapshot, listed, prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))

	s.handle("GET /v1/screen/{chain}/{address}", "screen", true, s.screenOne)
	s.handle("POST /v1/screen", "screen_batch", true, s.screenBatch)
	s.handle("GET /api/v1/address/{address}", "compat_address", true, s.compat)
	s.handle("POST /v1/admin/sanctions", "admin_sanctions", true, s.importSanctions)
	s.exploreRoutes()
	s.caseRoutes()
	s.sessionRoutes()
	s.handle("GET /healthz", "healthz", false, s.healthz)
	s.handle("GET /openapi.json", "openapi", false, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPI)
	})
	metrics := promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})
	s.handle("GET /metrics", "metrics", false, metrics.ServeHTTP)
	// The other methods on known paths: a JSON 405 (the router's own is text).
	allowed := map[string]string{"/v1/screen/{chain}/{address}": "GET", "/v1/screen": "POST", "/api/v1/address/{address}": "GET",
		"/v1/admin/sanctions": "POST", "/healthz": "GET", "/openapi.json": "GET", "/metrics": "GET", "/v1/search": "GET", "/v1/session": "GET, POST, DELETE",
		"/v1/cases": "GET, POST", "/v1/cases/{id}": "GET", "/v1/cases/{id}/seeds": "POST", "/v1/cases/{id}/notes": "POST", "/v1/cases/{id}/trace": "POST",
		"/v1/cases/{id}/traces/{trace}": "GET", "/v1/cases/{id}/traces/{trace}/file": "GET",
		"/v1/cases/{id}/traces/{trace}/graph": "GET", "/v1/cases/{id}/info": "POST",
		"/v1/cases/{id}/traces/{trace}/report": "GET", "/v1/cases/{id}/traces/{trace}/freeze": "GET"}
	for _, c := range exploreChains {
		for _, p := range []string{"/addresses/{address}", "/txs/{hash}", "/clusters/{id}"} {
			allowed["/v1/"+string(c)+p] = "GET"
		}
	}
	for path, allow := range allowed {
		s.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "", fmt.Sprintf("%s %s: use %s", r.Method, r.URL.Path, allow))
		})
	}
	if cfg.UI != nil {
		s.mux.Handle("GET /{$}", cfg.UI)
		s.mux.Handle("GET /ui/", cfg.UI)
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "", fmt.Sprintf("no such endpoint: %s %s (see /openapi.json)", r.Method, r.URL.Path))
	})
	return s
}

// ServeHTTP serves a request. Every answer, errors included, tells
// browsers not to guess its type and caches not to keep it: a screening
// answer is valid for the list in force when it was given, no longer.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	// The API's answers are data, never a page: nothing in them runs or
	// loads (the workbench's page sets its own policy).
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	s.mux.ServeHTTP(w, r)
}

// statusWriter remembers the status code for the metrics.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

type ctxKey struct{}

// keyOf is the API key a request was authenticated with.
func keyOf(r *http.Request) APIKey {
	k, _ := r.Context().Value(ctxKey{}).(APIKey)
	return k
}

// handle wraps a handler with the service's rules: authentication and a
// rate limit per key, a body size limit, a deadline, metrics, and a JSON
// 500 if it panics (which would be a bug).
func (s *Server) handle(pattern, route string, auth bool, h http.HandlerFunc) {
	s.handleAs(pattern, pattern, route, auth, h)
}

// handleAs is handle for a pattern documented as another (a path
// registered chain by chain, documented with a {chain} parameter).
func (s *Server) handleAs(pattern, documented, route string, auth bool, h http.HandlerFunc) {
	if !slices.Contains(s.routes, documented) {
		s.routes = append(s.routes, documented)
	}
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				s.cfg.Logger.Error("Request panicked", "route", route, "panic", p)
				writeError(sw, http.StatusInternalServerError, "internal", "", "internal error")
			}
			s.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
			s.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}()
		if auth {
			secret := r.Header.Get("X-API-Key")
			if secret == "" {
				if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
					secret = strings.TrimSpace(b)
				}
			}
			var key APIKey
			if secret != "" {
				var ok bool
				if key, ok = s.cfg.Keys.Check(secret); !ok {
					writeError(sw, http.StatusUnauthorized, "unauthorized", "", "the API key is not valid (unknown or revoked)")
					return
				}
			} else {
				var status int
				var code, msg string
				if key, status, code, msg = s.sessionKey(r); status != 0 {
					writeError(sw, status, code, "", msg)
					return
				}
			}
			lim := s.limiter(key)
			if !lim.Allow() {
				sw.Header().Set("Retry-After", "1")
				writeError(sw, http.StatusTooManyRequests, "rate_limited", "", fmt.Sprintf("more than %g requests a second for this key", float64(lim.Limit())))
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, key))
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
		defer cancel()
		h(sw, r.WithContext(ctx))
	})
}

func (s *Server) limiter(k APIKey) *rate.Limiter {
	if l, ok := s.limiters.Load(k.ID); ok {
		return l.(*rate.Limiter)
	}
	r, b := s.cfg.Rate, s.cfg.Burst
	if k.Rate > 0 {
		r, b = k.Rate, max(int(k.Rate), 1)
	}
	l, _ := s.limiters.LoadOrStore(k.ID, rate.NewLimiter(rate.Limit(r), b))
	return l.(*rate.Limiter)
}

// apiError is every error the service returns.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
		// Status is set when an address could not be screened: invalid,
		// unsupported or no_list.
		Status string `json:"status,omitempty"`
		Items  []any  `json:"items,omitempty"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, field, msg string, items ...any) {
	var e apiError
	e.Error.Code, e.Error.Message, e.Error.Field, e.Error.Items = code, msg, field, items
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":{"code":"internal","message":"encoding the answer failed"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// inputError answers an InputError (400) or, for anything else, a store
// failure (500: the request was fine, the service was not).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ie *InputError
	if errors.As(err, &ie) {
		writeError(w, http.StatusBadRequest, "bad_request", ie.Field, ie.Error())
		return
	}
	if errors.Is(err, context.DeadlineExceeded) {
		writeError(w, http.StatusServiceUnavailable, "timeout", "", fmt.Sprintf("the request took longer than %s", s.cfg.Timeout))
		return
	}
	s.cfg.Logger.Error("Request failed", "path", r.URL.Path, "key", keyOf(r).ID, "err", err)
	writeError(w, http.StatusInternalServerError, "internal", "", "the store failed to answer; see the server's log")
}

// options reads ?as_of= and ?exposure= .
func (s *Server) options(r *http.Request) (*List, int, error) {
	q := r.URL.Query()
	l := s.sc.Current()
	if d := q.Get("as_of"); d != "" {
		var err error
		if l, err = s.sc.AsOf(r.Context(), d); err != nil {
			return nil, 0, err
		}
	}
	hops := 0
	if e := q.Get("exposure"); e != "" {
		n, err := strconv.Atoi(e)
		if err != nil || n < 1 || n > s.cfg.MaxExposureHops {
			return nil, 0, &InputError{Field: "exposure", Msg: fmt.Sprintf("%q: want a number of hops from 1 to %d", e, s.cfg.MaxExposureHops)}
		}
		if s.cfg.Data == nil {
			return nil, 0, &InputError{Field: "exposure", Msg: "this server has no chain data to compute exposure from"}
		}
		hops = n
	}
	return l, hops, nil
}

// screen screens one parsed string, with its exposure within hops when
// asked and the chain is indexed.
func (s *Server) screen(ctx context.Context, l *List, p Parsed, hops int) (Result, error) {
	res := s.sc.Screen(ctx, l, p)
	if hops > 0 && res.Screened() {
		if res.ClusterStatus == ClusterChainUnindexed {
			res.Exposure = map[string]string{"status": ClusterChainUnindexed, "message": fmt.Sprintf("the store holds no %s blocks: no exposure can be computed", res.Chain)}
		} else {
			es, err := withDeadline(ctx, func(ctx context.Context) ([]Exposure, error) {
				return s.sc.Exposures(ctx, s.cfg.Data, l, chains.Chain(res.Chain), p.Address, hops)
			})
			if err != nil {
				return res, err
			}
			res.Exposure = es
		}
	}
	switch {
	case !res.Screened():
		s.screened.WithLabelValues(res.Status).Inc()
	case res.Sanctioned != nil && *res.Sanctioned:
		s.screened.WithLabelValues("sanctioned").Inc()
	case res.ClusterHit != nil && *res.ClusterHit:
		s.screened.WithLabelValues("cluster_sanctioned").Inc()
	default:
		s.screened.WithLabelValues("clear").Inc()
	}
	return res, nil
}

// withDeadline runs fn and returns when it does or when ctx ends,
// whichever is first: a walk of the chain that outlives the request's
// deadline is answered with the deadline's error (503 timeout) and left
// to notice the cancelled context on its own.
func withDeadline[T any](ctx context.Context, fn func(context.Context) (T, error)) (T, error) {
	type answer struct {
		v   T
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		v, err := fn(ctx)
		ch <- answer{v, err}
	}()
	select {
	case a := <-ch:
		return a.v, a.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// notScreened answers a single-address request whose address could not
// be screened: 400 for a string that is not an address, 503 when no list
// is imported. Neither says "sanctioned": false.
func (s *Server) notScreened(w http.ResponseWriter, res Result) {
	if res.Status == StatusNoList {
		writeError(w, http.StatusServiceUnavailable, StatusNoList, "", res.Error)
		return
	}
	var e apiError
	e.Error.Code, e.Error.Message, e.Error.Field, e.Error.Status = "bad_request", res.Error, res.Field, res.Status
	writeJSON(w, http.StatusBadRequest, e)
}

func (s *Server) screenOne(w http.ResponseWriter, r *http.Request) {
	l, hops, err := s.options(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.sc.Parse(r.PathValue("chain"), r.PathValue("address"))
	res, err := s.screen(r.Context(), l, p, hops)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !res.Screened() {
		s.notScreened(w, res)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// batchRequest is POST /v1/screen's body. Each address is a string (its
// chain told by its form) or {"chain": "...", "address": "..."}.
type batchRequest struct {
	Addresses []json.RawMessage `json:"addresses"`
}

type batchItem struct {
	Chain   string `json:"chain"`
	Address string `json:"address"`
}

type itemError struct {
	Index   int    `json:"index"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (s *Server) screenBatch(w http.ResponseWriter, r *http.Request) {
	l, hops, err := s.options(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var buf bytes.Buffer
	late, err := readWithin(&buf, http.MaxBytesReader(w, r.Body, s.cfg.MaxBody), s.cfg.Timeout)
	if late {
		s.slowBody(w, s.cfg.Timeout)
		return
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "", fmt.Sprintf("the body is larger than %d bytes", s.cfg.MaxBody))
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "", "reading the body: "+err.Error())
		return
	}
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	var req batchRequest
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_json", "", "the body is not the JSON expected ({\"addresses\": [...]}): "+err.Error())
		return
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "bad_json", "", "the body holds more than one JSON value")
		return
	}
	if len(req.Addresses) == 0 {
		writeError(w, http.StatusBadRequest, "bad_request", "addresses", "no addresses to screen")
		return
	}
	if len(req.Addresses) > s.cfg.MaxBatch {
		writeError(w, http.StatusRequestEntityTooLarge, "batch_too_large", "addresses", fmt.Sprintf("%d addresses; at most %d in one request", len(req.Addresses), s.cfg.MaxBatch))
		return
	}
	if l.Snapshot.ID == 0 {
		writeError(w, http.StatusServiceUnavailable, StatusNoList, "", "no sanctions list is imported: nothing was screened (fundtrace sanctions import)")
		return
	}
	items := make([]Parsed, len(req.Addresses))
	var bad []any
	for i, raw := range req.Addresses {
		var it batchItem
		if err := json.Unmarshal(raw, &it.Address); err != nil {
			d := json.NewDecoder(strings.NewReader(string(raw)))
			d.DisallowUnknownFields()
			if err := d.Decode(&it); err != nil {
				bad = append(bad, itemError{i, "addresses", "want an address string or {\"chain\", \"address\"}: " + err.Error()})
				continue
			}
		}
		items[i] = s.sc.Parse(it.Chain, it.Address)
	}
	if len(bad) > 0 {
		writeError(w, http.StatusBadRequest, "bad_request", "addresses", fmt.Sprintf("%d of the %d items are neither an address string nor {\"chain\", \"address\"}; nothing was screened", len(bad), len(items)), bad...)
		return
	}
	// Every item is answered with its own status: one address that
	// cannot be screened does not hold back the others' answers, and is
	// never reported as clear.
	out := struct {
		Results     []Result `json:"results"`
		Screened    int      `json:"screened"`
		NotScreened int      `json:"not_screened"`
		Hits        int      `json:"hits"`
		List        ListRef  `json:"screened_against"`
	}{Results: make([]Result, len(items)), List: l.Ref()}
	for i, p := range items {
		res, err := s.screen(r.Context(), l, p, hops)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out.Results[i] = res
		switch {
		case !res.Screened():
			out.NotScreened++
		case res.Hit():
			out.Hits++
			out.Screened++
		default:
			out.Screened++
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// compatIdentification is one entry of the widely used free sanctions
// screening API's answer.
type compatIdentification struct {
	Category    string `json:"category"`
	Name        string `json:"name"`
	Description string `json:"description"`
	URL         string `json:"url"`
}

// compat answers GET /api/v1/address/{address} in the shape of the free
// sanctions-screening API that payment systems already call, so they can
// switch by changing the base URL: {"identifications": [...]}, empty when
// the address is not listed.
func (s *Server) compat(w http.ResponseWriter, r *http.Request) {
	l := s.sc.Current()
	res, _ := s.screen(r.Context(), l, s.sc.Parse("", r.PathValue("address")), 0)
	if !res.Screened() {
		// The free API answers any string with a list; an empty one for a
		// string that was not screened would read as "not sanctioned".
		s.notScreened(w, res)
		return
	}
	out := struct {
		Identifications []compatIdentification `json:"identifications"`
	}{Identifications: []compatIdentification{}}
	for _, h := range res.Hits {
		name := "SANCTIONS: OFAC SDN " + h.Entity
		if h.Listed != "" {
			name += " " + h.Listed
		}
		name += " " + h.Address
		desc := fmt.Sprintf("This specific address %s within the cryptocurrency %s is listed on the OFAC SDN list (entity %s", h.Address, h.Currency, h.Entity)
		if len(h.Programs) > 0 {
			desc += ", programs " + strings.Join(h.Programs, ", ")
		}
		desc += fmt.Sprintf("; fundtrace snapshot %d", l.Snapshot.ID)
		if l.Snapshot.Date != "" {
			desc += " of " + l.Snapshot.Date
		}
		desc += ")."
		url := "https://sanctionssearch.ofac.treas.gov/"
		if h.Ref != "" {
			url = "https://sanctionssearch.ofac.treas.gov/Details.aspx?id=" + h.Ref
		}
		out.Identifications = append(out.Identifications, compatIdentification{Category: "sanctions", Name: name, Description: desc, URL: url})
	}
	writeJSON(w, http.StatusOK, out)
}

// healthz says whether the service can screen: without a sanctions list
// it cannot, and says so with 503, so that a load balancer takes it out
// of rotation rather than let it answer requests it cannot screen.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	l := s.sc.Current()
	status, code := "ok", http.StatusOK
	if l.Snapshot.ID == 0 {
		status, code = StatusNoList, http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"status": status, "snapshot": l.Snapshot.ID, "list_date": l.Snapshot.Date,
		"listed_addresses": l.Snapshot.Addresses, "loaded": l.Built.Format(time.RFC3339), "api_keys": s.cfg.Keys.Count()})
}

// importSanctions takes an OFAC advanced XML file (sdn_advanced.xml) as
// the body, imports it into the store as a new snapshot and swaps it in.
// A list that would drop most of the addresses listed now is refused
// unless ?force=true.
func (s *Server) importSanctions(w http.ResponseWriter, r *http.Request) {
	if !keyOf(r).Admin {
		writeError(w, http.StatusForbidden, "forbidden", "", "importing sanctions lists needs an admin key (fundtrace apikey create --admin)")
		return
	}
	if s.cfg.Import == nil {
		writeError(w, http.StatusNotImplemented, "not_enabled", "", "this server does not import sanctions lists")
		return
	}
	date := r.URL.Query().Get("date")
	if date != "" {
		if _, err := time.Parse("2006-01-02", date); err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", "date", fmt.Sprintf("%q: want YYYY-MM-DD", date))
			return
		}
	}
	dir, err := os.MkdirTemp("", "fundtrace-import-")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "sdn_advanced.xml")
	f, err := os.Create(p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	late, err := readWithin(f, http.MaxBytesReader(w, r.Body, 256<<20), uploadTimeout)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if late {
		s.slowBody(w, uploadTimeout)
		return
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", "", "the file is larger than 256 MiB")
			return
		}
		writeError(w, http.StatusBadRequest, "bad_request", "", "reading the upload: "+err.Error())
		return
	}
	// Imports one at a time; the new list is swapped in whole when done.
	s.importMu.Lock()
	defer s.importMu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Minute)
	defer cancel()
	sn, err := s.cfg.Import(ctx, p, date, r.URL.Query().Get("force") == "true")
	if err != nil {
		// The upload is stored under a temporary name: say "the upload",
		// never the server's path.
		msg := strings.ReplaceAll(err.Error(), p, "the upload")
		msg = strings.ReplaceAll(msg, filepath.Base(p), "the upload")
		writeError(w, http.StatusBadRequest, "bad_list", "", "the file was not imported: "+msg)
		return
	}
	if _, err := s.sc.Reload(ctx, false); err != nil {
		s.fail(w, r, err)
		return
	}
	s.cfg.Logger.Info("Sanctions list imported over HTTP", "snapshot", sn.ID, "list_date", sn.Date, "addresses", sn.Addresses, "key", keyOf(r).ID)
	writeJSON(w, http.StatusOK, sn)
}

// uploadTimeout is how long a sanctions list upload may take to arrive.
const uploadTimeout = 5 * time.Minute

// readWithin copies body into dst unless it takes longer than d: a
// client trickling its body in is answered (408) rather than holding a
// handler until the server's own read timeout. On time-out the copy is
// left to end when the connection closes (the answer says
// "Connection: close"); dst is not to be used after.
func readWithin(dst io.Writer, body io.Reader, d time.Duration) (late bool, err error) {
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(dst, body)
		done <- err
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case err := <-done:
		return false, err
	case <-t.C:
		return true, nil
	}
}

func (s *Server) slowBody(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Connection", "close")
	writeError(w, http.StatusRequestTimeout, "request_timeout", "", fmt.Sprintf("the request body did not arrive within %s", d))
}

// Watch reloads the key file and, when another process imported a new
// sanctions snapshot into the store, the List, every interval until ctx
// ends.
func (s *Server) Watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.cfg.Keys.reload(false); err != nil {
			s.cfg.Logger.Warn("API key file not reloaded", "err", err)
		}
		if changed, err := s.sc.Reload(ctx, false); err != nil {
			s.cfg.Logger.Warn("Sanctions list not reloaded", "err", err)
		} else if changed {
			l := s.sc.Current()
			s.cfg.Logger.Info("Sanctions list swapped in", "snapshot", l.Snapshot.ID, "list_date", l.Snapshot.Date, "addresses", l.Snapshot.Addresses)
		}
	}
}
