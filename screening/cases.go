package screening

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/fundtrace/fundtrace/cases"
	"github.com/fundtrace/fundtrace/report"
	"github.com/fundtrace/fundtrace/store"
)

// The workbench's cases: create and list them, read one with its notes,
// set its seeds, write notes, run traces in the background and fetch
// their files. Reads need a key; writes a key that is not read-only.

// maxCaseBody is the largest body a case request may carry: a case file
// of cases.MaxSeeds and its JSON escaping.
const maxCaseBody = 2*cases.MaxSeeds + 4096

func (s *Server) caseRoutes() {
	for _, r := range []struct {
		pattern, route string
		write          bool
		h              caseHandler
	}{
		{"GET /v1/cases", "cases_list", false, s.casesList},
		{"POST /v1/cases", "cases_create", true, s.caseCreate},
		{"GET /v1/cases/{id}", "case_get", false, s.caseGet},
		{"POST /v1/cases/{id}/seeds", "case_seeds", true, s.caseSeeds},
		{"POST /v1/cases/{id}/notes", "case_note", true, s.caseNote},
		{"POST /v1/cases/{id}/info", "case_info", true, s.caseInfo},
		{"POST /v1/cases/{id}/trace", "case_trace", true, s.caseTrace},
		{"GET /v1/cases/{id}/traces/{trace}", "case_trace_status", false, s.caseTraceStatus},
		{"GET /v1/cases/{id}/traces/{trace}/file", "case_trace_file", false, s.caseTraceFile},
		{"GET /v1/cases/{id}/traces/{trace}/graph", "case_trace_graph", false, s.caseTraceGraph},
		{"GET /v1/cases/{id}/traces/{trace}/report", "case_report", false, s.caseBundle("report", (*cases.Service).Report)},
		{"GET /v1/cases/{id}/traces/{trace}/freeze", "case_freeze", false, s.caseBundle("freeze", (*cases.Service).Freeze)},
	} {
		s.handle(r.pattern, r.route, true, s.withCases(r.write, r.h))
	}
}

// caseHandler answers a request with the server's cases.
type caseHandler func(w http.ResponseWriter, r *http.Request, cs *cases.Service)

// withCases answers 503 when the server keeps no cases, and refuses a
// write from a read-only key; else h answers.
func (s *Server) withCases(write bool, h caseHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Cases == nil {
			writeError(w, http.StatusServiceUnavailable, "no_data", "", "this server keeps no cases")
			return
		}
		if write && keyOf(r).ReadOnly {
			writeError(w, http.StatusForbidden, "read_only", "", "this API key is read-only: it cannot write cases, notes or traces")
			return
		}
		h(w, r, s.cfg.Cases)
	}
}

func (s *Server) caseInfo(w http.ResponseWriter, r *http.Request, cs *cases.Service) {
	var info report.CaseInfo
	if !s.readJSON(w, r, 64<<10, &info) {
		return
	}
	c, err := cs.SetInfo(r.Context(), r.PathValue("id"), info)
	if err != nil {
		s.caseFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// caseBundle answers a zip that build writes: the report bundle or the
// freezing requests of a done trace, ?date= (else the case
// information's) and ?lang=.
func (s *Server) caseBundle(kind string, build func(*cases.Service, context.Context, string, string, cases.BundleOptions, io.Writer) error) caseHandler {
	return func(w http.ResponseWriter, r *http.Request, cs *cases.Service) {
		id, tid := r.PathValue("id"), r.PathValue("trace")
		var buf bytes.Buffer
		o := cases.BundleOptions{Date: r.URL.Query().Get("date"), Lang: r.URL.Query().Get("lang")}
		if err := build(cs, r.Context(), id, tid, o, &buf); err != nil {
			s.caseFail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/zip")
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", id+"-"+tid+"-"+kind+".zip"))
		w.Header().Set("Content-Length", fmt.Sprint(buf.Len()))
		w.Write(buf.Bytes())
	}
}

// caseFail answers a cases error.
func (s *Server) caseFail(w http.ResponseWriter, r *http.Request, err error) {
	var ie *cases.InputError
	var ce *cases.ConflictError
	switch {
	case errors.As(err, &ie):
		writeError(w, http.StatusBadRequest, "bad_request", ie.Field, ie.Msg)
	case errors.As(err, &ce):
		writeError(w, http.StatusConflict, "conflict", "", ce.Msg)
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "", err.Error())
	default:
		s.fail(w, r, err)
	}
}

// readJSON reads a JSON body of at most limit bytes into v, unknown
// fields refused; false when it answered an error.
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	var buf bytes.Buffer
	late, err := readWithin(&buf, http.MaxBytesReader(w, r.Body, limit), s.cfg.Timeout)
	if late {
		s.slowBody(w, s.cfg.Timeout)
		return false
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "", fmt.Sprintf("the body is larger than %d bytes", limit))
		return false
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "", "reading the body: "+err.Error())
		return false
	}
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil || dec.More() {
		msg := "more than one JSON value"
		if err != nil {
			msg = err.Error()
		}
		writeError(w, http.StatusBadRequest, "bad_json", "", "the body is not the JSON expected: "+msg)
		return false
	}
	return true
}

// CasesAnswer is GET /v1/cases.
type CasesAnswer struct {
	Cases []cases.Case `json:"cases"`
}

func (s *Server) casesList(w http.ResponseWriter, r *http.Request, cs *cases.Service) {
	list, err := cs.List(r.Context())
	if err != nil {
		s.caseFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, CasesAnswer{Cases: list})
}

type caseRequest struct {
	Title string `json:"title"`
	Seeds string `json:"seeds"`
}

func (s *Server) caseCreate(w http.ResponseWriter, r *http.Request, cs *cases.Service) {
	var req caseRequest
	if !s.readJSON(w, r, maxCaseBody, &req) {
		return
	}
	c, err := cs.Create(r.Context(), req.Title, keyOf(r).Name, req.Seeds)
	if err != nil {
		s.caseFail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/cases/"+c.ID)
	writeJSON(w, http.StatusCreated, c)
}

// CaseAnswer is GET /v1/cases/{id}: the case and its notes.
type CaseAnswer struct {
	Case  *cases.Case  `json:"case"`
	Notes []cases.Note `json:"notes"`
}

func (s *Server) caseGet(w http.ResponseWriter, r *http.Request, cs *cases.Service) {
	c, err := cs.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.caseFail(w, r, err)
		return
	}
	notes, err := cs.Notes(r.Context(), c.ID)
	if err != nil {
		s.caseFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, CaseAnswer{Case: c, Notes: notes})
}

func (s *Server) caseSeeds(w http.ResponseWriter, r *http.Request, cs *cases.Service) {
	var req struct {
		Seeds string `json:"seeds"`
	}
	if !s.readJSON(w, r, maxCaseBody, &req) {
		return
	}
	c, err := cs.SetSeeds(r.Context(), r.PathValue("id"), req.Seeds)
	if err != nil {
		s.caseFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) caseNote(w http.ResponseWriter, r *http.Request, cs *cases.Service) {
	var req struct {
		Target cases.Target `json:"target"`
		Text   string       `json:"text"`
		Tags   []string     `json:"tags"`
	}
	if !s.readJSON(w, r, 64<<10, &req) {
		return
	}
	n, err := cs.AddNote(r.Context(), r.PathValue("id"), cases.Note{Target: req.Target, Text: req.Text, Tags: req.Tags, Author: keyOf(r).Name})
	if err != nil {
		s.caseFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, n)
}

func (s *Server) caseTrace(w http.ResponseWriter, r *http.Request, cs *cases.Service) {
	var o cases.TraceOptions
	if r.ContentLength != 0 && !s.readJSON(w, r, 4096, &o) {
		return
	}
	t, err := cs.StartTrace(r.Context(), r.PathValue("id"), keyOf(r).Name, o)
	if err != nil {
		s.caseFail(w, r, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/v1/cases/%s/traces/%s", r.PathValue("id"), t.ID))
	writeJSON(w, http.StatusAccepted, t)
}

func (s *Server) caseTraceStatus(w http.ResponseWriter, r *http.Request, cs *cases.Service) {
	_, t, err := cs.TraceFile(r.Context(), r.PathValue("id"), r.PathValue("trace"))
	if err != nil {
		s.caseFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) caseTraceFile(w http.ResponseWriter, r *http.Request, cs *cases.Service) {
	path, t, err := cs.TraceFile(r.Context(), r.PathValue("id"), r.PathValue("trace"))
	if err != nil {
		s.caseFail(w, r, err)
		return
	}
	if path == "" {
		writeError(w, http.StatusConflict, "not_done", "", fmt.Sprintf("trace %s is %s: no file", t.ID, t.Status))
		return
	}
	f, err := os.Open(path)
	if err != nil {
		s.fail(w, r, fmt.Errorf("trace file of %s: %w", t.ID, err))
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", r.PathValue("id")+"-"+t.ID+".json"))
	w.Header().Set("X-Content-SHA256", t.SHA256)
	http.ServeContent(w, r, "", timeOf(t.Finished), f)
}

// timeOf reads an RFC 3339 time; the zero time when it cannot.
func timeOf(s string) time.Time {
	t, _ := time.Parse(time.RFC3339, s)
	return t
}

func (s *Server) caseTraceGraph(w http.ResponseWriter, r *http.Request, cs *cases.Service) {
	q := r.URL.Query()
	g, err := cs.Graph(r.Context(), r.PathValue("id"), r.PathValue("trace"), q["expand"], q.Get("victim"))
	if err != nil {
		s.caseFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, g)
}
