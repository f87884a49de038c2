// Package simtest serves simulated chains to tests as their nodes would
// be served: an Ethereum scenario over JSON-RPC, a TRON one over the
// java-tron HTTP API, on loopback for the test's life.
package simtest

import (
	"net/http/httptest"
	"testing"

	"github.com/fundtrace/fundtrace/sim"
)

// ServeETH serves the Ethereum scenario written in dir and returns its
// URL and world (what the indexed data is checked against).
func ServeETH(t testing.TB, dir string) (string, *sim.ETHWorld) {
	t.Helper()
	w, err := sim.LoadETH(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Served as simulate serve-eth serves it: from the file, block by block.
	c, err := sim.OpenETHChain(dir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	h, err := sim.NewETHChainHandler(c)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL, w
}

// NewETH generates the Ethereum scenario cfg describes, writes it to a
// temporary folder as simulate eth would, and serves it from there:
// the folder (its truth files) and the URL.
func NewETH(t testing.TB, cfg sim.ETHConfig) (dir, url string) {
	t.Helper()
	dir = t.TempDir()
	if err := sim.WriteETH(sim.GenerateETH(cfg), dir); err != nil {
		t.Fatal(err)
	}
	url, _ = ServeETH(t, dir)
	return dir, url
}

// ServeETHWorld serves an Ethereum world (a generated one) and returns
// its URL.
func ServeETHWorld(t testing.TB, w *sim.ETHWorld) string {
	t.Helper()
	h, err := sim.NewETHHandler(w)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// ServeTron serves the TRON scenario written in dir and returns its URL
// and world (what the indexed data is checked against).
func ServeTron(t testing.TB, dir string) (string, *sim.TronWorld) {
	t.Helper()
	w, err := sim.LoadTron(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim.NewTronHandler(w))
	t.Cleanup(srv.Close)
	return srv.URL, w
}
