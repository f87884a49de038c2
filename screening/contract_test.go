package screening

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// TestOpenAPIContract holds the service to its published document
// (/openapi.json, read with kin-openapi): the document is valid OpenAPI;
// every endpoint the server registers is in it with its method, and
// every operation it documents is served; and the answers to requests
// of every kind (screening one address and a batch, the compatible
// endpoint, the health check, errors of each status) validate against
// the document's schema for their status, so that a client generated
// from the document reads what the server sends.
func TestOpenAPIContract(t *testing.T) {
	ctx := context.Background()
	doc, err := openapi3.NewLoader().LoadFromData(openAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("openapi.json is not valid OpenAPI: %v", err)
	}
	f := newFixture(t, Config{MaxBatch: 5, MaxBody: 4096})
	// Registered ↔ documented.
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	for _, r := range f.server.routes {
		if !slices.Contains(documented, r) {
			t.Errorf("%s is served but not in openapi.json", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(f.server.routes, d) {
			t.Errorf("%s is in openapi.json but not served", d)
		}
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		method, path, key, body string
		status                  int
	}{
		{"GET", "/v1/screen/eth/" + lifshits, f.key, "", 200},
		{"GET", "/v1/screen/btc/1BoatSLRHtKNngkdXEeobR76b53LETtpyT", f.key, "", 200},
		{"GET", "/v1/screen/btc/hello", f.key, "", 400},
		{"GET", "/v1/screen/eth/" + lifshits, "", "", 401},
		{"POST", "/v1/screen", f.key, `{"addresses": ["1BoatSLRHtKNngkdXEeobR76b53LETtpyT", {"chain": "eth", "address": "` + lifshits + `"}]}`, 200},
		{"POST", "/v1/screen", f.key, `{"addresses": "x"}`, 400},
		{"POST", "/v1/screen", f.key, `{"addresses": [` + strings.Repeat(`"1BoatSLRHtKNngkdXEeobR76b53LETtpyT",`, 5) + `"1BoatSLRHtKNngkdXEeobR76b53LETtpyT"]}`, 413},
		{"POST", "/v1/screen", f.key, `{"addresses": ["` + strings.Repeat("1", 5000) + `"]}`, 413},
		{"GET", "/api/v1/address/" + lifshits, f.key, "", 200},
		{"GET", "/healthz", "", "", 200},
		{"GET", "/openapi.json", "", "", 200},
	} {
		req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
		if c.key != "" {
			req.Header.Set("X-API-Key", c.key)
		}
		if c.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		w := httptest.NewRecorder()
		f.server.ServeHTTP(w, req)
		if w.Code != c.status {
			t.Errorf("%s %s: status %d, want %d: %s", c.method, c.path, w.Code, c.status, w.Body.String())
			continue
		}
		route, params, err := router.FindRoute(httptest.NewRequest(c.method, "http://localhost"+c.path, nil))
		if err != nil {
			t.Fatalf("%s %s: not found in the document: %v", c.method, c.path, err)
		}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: w.Code, Header: w.Header(),
			Body: io.NopCloser(bytes.NewReader(w.Body.Bytes())), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			t.Errorf("%s %s → %d: the answer does not match openapi.json: %v\n%s", c.method, c.path, w.Code, err, w.Body.String())
		}
	}
}
