package screening

import (
	"slices"
	"strings"
	"testing"
)

// TestOpenAPIContract holds the service to its published document
// (/openapi.json, read with kin-openapi): the document is valid OpenAPI;
// every endpoint the server registers is in it with its method, and
// every operation it documents is served; and the answers to requests
// of every kind (screening one address and a batch, the compatible
// endpoint, the health check, errors of each status) validate against
// the document's schema for their status, so that a client generated
// from the document reads what the server sends. The explore API's
// answers are checked the same way in TestExplore.
func TestOpenAPIContract(t *testing.T) {
	c := newContract(t)
	f := newFixture(t, Config{MaxBatch: 5, MaxBody: 4096})
	// Registered ↔ documented.
	var documented []string
	for path, item := range c.doc.Paths.Map() {
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
	for _, r := range []struct {
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
		// A server without chain data: the explore API says so.
		{"GET", "/v1/btc/txs/" + strings.Repeat("00", 32), f.key, "", 503},
		{"GET", "/v1/search?q=x", f.key, "", 503},
	} {
		c.call(t, f.server, r.method, r.path, r.key, r.body, r.status)
	}
}
