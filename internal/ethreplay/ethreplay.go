// Package ethreplay serves recorded Ethereum JSON-RPC responses from a
// local HTTP server, so that the indexer is tested against what real nodes
// answered: ethereum-etl's recorded responses (one file per call, named by
// method and parameters) and Erigon's RPC test cases (request and
// response in one file).
package ethreplay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Server answers JSON-RPC calls from recordings.
type Server struct {
	*httptest.Server
	mu      sync.Mutex
	answers map[string]json.RawMessage // key → response object ("result" or "error")
	methods map[string]bool
	// Calls counts the calls served, by method.
	Calls map[string]int
	// Hook, when set, may answer a call before the recordings are looked
	// at (return ok false to fall through).
	Hook func(method string, params []any) (resp json.RawMessage, ok bool)
	// FailNext makes the next so many HTTP requests fail with 503, as an
	// overloaded node or its proxy does.
	FailNext int
	// Requests counts the HTTP requests received.
	Requests int
}

// New starts an empty server on loopback.
func New() *Server {
	s := &Server{answers: map[string]json.RawMessage{}, methods: map[string]bool{}, Calls: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Key names a call as ethereum-etl's mock provider names its files:
// method, then each parameter lower-cased, joined by "_", objects as
// key_value pairs in key order. Tracer options other than the tracer's
// name are left out, so that any client's options match a recording.
func Key(method string, params []any) string {
	parts := []string{method}
	for _, p := range params {
		parts = append(parts, paramString(method, p))
	}
	if len(params) == 0 {
		parts = append(parts, "")
	}
	return strings.Join(parts, "_")
}

func paramString(method string, p any) string {
	switch v := p.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			if strings.HasPrefix(method, "debug_trace") && k != "tracer" {
				continue
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var out []string
		for _, k := range keys {
			out = append(out, k+"_"+paramString(method, v[k]))
		}
		return strings.Join(out, "_")
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, paramString(method, x))
		}
		return strings.Join(out, "_")
	case nil:
		return "none"
	default:
		return strings.ToLower(fmt.Sprint(v))
	}
}

// Add records the response object resp for a call.
func (s *Server) Add(method string, params []any, resp json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers[Key(method, params)] = resp
	s.methods[method] = true
}

// AddResult records a result for a call.
func (s *Server) AddResult(method string, params []any, result any) {
	b, err := json.Marshal(map[string]any{"result": result})
	if err != nil {
		panic(err)
	}
	s.Add(method, params, b)
}

// LoadETL loads an ethereum-etl test folder's web3_response.*.json files.
func (s *Server) LoadETL(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "web3_response.*.json"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no recorded responses in %s: %v", dir, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		key := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "web3_response."), ".json")
		s.answers[key] = b
		method, _, _ := strings.Cut(key, "_")
		s.methods[method] = true
	}
	return nil
}

// LoadErigon loads Erigon RPC test files (a JSON array of
// {request, response}).
func (s *Server) LoadErigon(files ...string) error {
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var cases []struct {
			Request struct {
				Method string `json:"method"`
				Params []any  `json:"params"`
			} `json:"request"`
			Response json.RawMessage `json:"response"`
		}
		if err := json.Unmarshal(b, &cases); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		for _, c := range cases {
			s.Add(c.Request.Method, c.Request.Params, c.Response)
		}
	}
	return nil
}

type request struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params []any           `json:"params"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.Requests++
	fail := s.FailNext > 0
	if fail {
		s.FailNext--
	}
	s.mu.Unlock()
	if fail {
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	dec := func(b []byte, v any) error {
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		return d.Decode(v)
	}
	w.Header().Set("Content-Type", "application/json")
	if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '[' {
		var reqs []request
		if err := dec(body, &reqs); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Write([]byte{'['})
		for i := range reqs {
			if i > 0 {
				w.Write([]byte{','})
			}
			w.Write(s.answer(&reqs[i]))
		}
		w.Write([]byte{']'})
		return
	}
	var req request
	if err := dec(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Write(s.answer(&req))
}

// answer builds the response to one call: the recording with the call's
// id, or a "method not found" error for a method nothing was recorded
// for, or a plain error for a recorded method with other parameters.
func (s *Server) answer(req *request) json.RawMessage {
	s.mu.Lock()
	s.Calls[req.Method]++
	hook := s.Hook
	s.mu.Unlock()
	id := req.ID
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	// The call's id goes in as the object's last member, which a JSON
	// decoder takes over any id the recording had; the recording itself
	// is sent as recorded, not re-encoded (answers run to megabytes).
	wrap := func(resp json.RawMessage) json.RawMessage {
		t := bytes.TrimSpace(resp)
		if len(t) < 2 || t[0] != '{' || t[len(t)-1] != '}' {
			return resp // not an object: a deliberately broken answer is sent as is
		}
		out := make([]byte, 0, len(t)+40)
		out = append(out, t[:len(t)-1]...)
		if len(bytes.TrimSpace(t[1:len(t)-1])) > 0 {
			out = append(out, ',')
		}
		out = append(out, `"jsonrpc":"2.0","id":`...)
		out = append(out, id...)
		return append(out, '}')
	}
	if hook != nil {
		if resp, ok := hook(req.Method, normalise(req.Params)); ok {
			return wrap(resp)
		}
	}
	s.mu.Lock()
	resp, ok := s.answers[Key(req.Method, normalise(req.Params))]
	known := s.methods[req.Method]
	s.mu.Unlock()
	if ok {
		return wrap(resp)
	}
	if !known {
		return wrap(json.RawMessage(fmt.Sprintf(`{"error":{"code":-32601,"message":"the method %s does not exist/is not available"}}`, req.Method)))
	}
	return wrap(json.RawMessage(fmt.Sprintf(`{"error":{"code":-32000,"message":"no recorded response for %s"}}`, Key(req.Method, normalise(req.Params)))))
}

// normalise turns json.Numbers back into plain values.
func normalise(ps []any) []any {
	out := make([]any, len(ps))
	for i, p := range ps {
		if n, ok := p.(json.Number); ok {
			out[i] = n.String()
			continue
		}
		out[i] = p
	}
	return out
}
