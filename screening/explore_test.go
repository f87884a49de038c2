package screening

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/cluster"
	"github.com/fundtrace/fundtrace/explore"
	"github.com/fundtrace/fundtrace/heuristics"
	"github.com/fundtrace/fundtrace/ingest/btc"
	"github.com/fundtrace/fundtrace/ingest/eth"
	"github.com/fundtrace/fundtrace/internal/csvtest"
	"github.com/fundtrace/fundtrace/internal/simtest"
	"github.com/fundtrace/fundtrace/labels"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/store/embedded"
	"github.com/fundtrace/fundtrace/store/storetest"
)

const simDir = "../testdata/sim"

// exploreStore is testStore (two OFAC lists, a label) with the shipped
// simulated chains indexed and clustered: Bitcoin (multi-input and
// change-fresh), Ethereum (deposit), TRON, and their labels.
func exploreStore(t testing.TB) *embedded.Store {
	t.Helper()
	st := testStore(t)
	fillExplore(t, st)
	return st
}

// fillExplore indexes, clusters and labels the shipped simulated chains
// into st.
func fillExplore(t testing.TB, st store.Store) {
	t.Helper()
	ctx := context.Background()
	if _, err := btc.Index(ctx, st, btc.IndexConfig{Dir: filepath.Join(simDir, "btc", "blocks")}); err != nil {
		t.Fatal(err)
	}
	url, _ := simtest.ServeETH(t, filepath.Join(simDir, "eth"))
	cl, err := ethereum.Dial(ctx, url, ethereum.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := eth.Index(ctx, st, cl, eth.IndexConfig{Confirmations: 0}); err != nil {
		t.Fatal(err)
	}
	storetest.IndexTron(t, st, 50)
	for _, c := range []struct {
		chain chains.Chain
		set   []string
	}{{chains.Bitcoin, []string{heuristics.MultiInput, heuristics.ChangeFresh}}, {chains.Ethereum, []string{heuristics.DepositName}}} {
		if _, err := cluster.Run(ctx, st, c.chain, c.set); err != nil {
			t.Fatal(err)
		}
	}
	prev := labels.Network
	labels.Network = bitcoin.NetworkByName("regtest")
	defer func() { labels.Network = prev }()
	for _, c := range []string{"btc", "eth", "tron"} {
		f, err := os.Open(filepath.Join(simDir, c, "labels.csv"))
		if err != nil {
			t.Fatal(err)
		}
		ls, probs, err := labels.ReadCSV(f, "simulation")
		f.Close()
		if err != nil || len(probs) > 0 {
			t.Fatalf("%s labels: %v %v", c, probs, err)
		}
		if err := st.AddLabels(ctx, ls); err != nil {
			t.Fatal(err)
		}
	}
}

// contract validates answers against /openapi.json.
type contract struct {
	doc    *openapi3.T
	router routers.Router
}

func newContract(t testing.TB) *contract {
	t.Helper()
	ctx := context.Background()
	doc, err := openapi3.NewLoader().LoadFromData(openAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("openapi.json is not valid OpenAPI: %v", err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &contract{doc: doc, router: router}
}

// call sends a request to s, checks its status and that the answer
// validates against the document's schema for it, and returns the body.
func (c *contract) call(t testing.TB, s http.Handler, method, path, key, body string, status int) []byte {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	if w.Code != status {
		t.Errorf("%s %s: status %d, want %d: %.600s", method, path, w.Code, status, w.Body.String())
		return nil
	}
	route, params, err := c.router.FindRoute(httptest.NewRequest(method, "http://localhost"+path, nil))
	if err != nil {
		t.Fatalf("%s %s: not found in the document: %v", method, path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: w.Code, Header: w.Header(),
		Body: io.NopCloser(bytes.NewReader(w.Body.Bytes())), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s %s → %d: the answer does not match openapi.json: %v\n%.600s", method, path, w.Code, err, w.Body.String())
	}
	return w.Body.Bytes()
}

// get is call for a GET that must answer 200, decoded into v.
func (c *contract) get(t testing.TB, s http.Handler, path, key string, v any) {
	t.Helper()
	b := c.call(t, s, "GET", path, key, "", http.StatusOK)
	if b == nil {
		t.FailNow()
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// simBlocks reads the simulated Bitcoin chain's block files with btcd
// (not fundtrace's decoder): every output's value and addresses, and
// which outputs were spent.
type simOutput struct {
	value int64
	addrs []string
}

func simBlocks(t testing.TB) (outs map[wire.OutPoint]simOutput, spent map[wire.OutPoint]bool, txs map[string]*wire.MsgTx) {
	t.Helper()
	outs, spent, txs = map[wire.OutPoint]simOutput{}, map[wire.OutPoint]bool{}, map[string]*wire.MsgTx{}
	b, err := os.ReadFile(filepath.Join(simDir, "btc", "blocks", "blk00000.dat"))
	if err != nil {
		t.Fatal(err)
	}
	for len(b) >= 8 {
		n := binary.LittleEndian.Uint32(b[4:8])
		var blk wire.MsgBlock
		if err := blk.Deserialize(bytes.NewReader(b[8 : 8+n])); err != nil {
			t.Fatal(err)
		}
		b = b[8+n:]
		for _, tx := range blk.Transactions {
			h := tx.TxHash()
			txs[h.String()] = tx
			for _, in := range tx.TxIn {
				spent[in.PreviousOutPoint] = true
			}
			for i, o := range tx.TxOut {
				_, as, _, _ := txscript.ExtractPkScriptAddrs(o.PkScript, &chaincfg.RegressionNetParams)
				so := simOutput{value: o.Value}
				for _, a := range as {
					so.addrs = append(so.addrs, a.EncodeAddress())
				}
				outs[wire.OutPoint{Hash: h, Index: uint32(i)}] = so
			}
		}
	}
	return outs, spent, txs
}

// caseRows reads a shipped scenario's case file: the simulator's own
// record of the victims' payments.
func caseRows(t testing.TB, chain string) []map[string]string {
	return csvtest.Read(t, filepath.Join(simDir, chain, "case.csv"))
}

// TestExplore: the explore API's answers on the shipped simulated chains,
// against what the chains themselves say: Bitcoin transactions and
// address totals as btcd reads the block files, account chains' victim
// payments as the simulator recorded them; clusters paged whole, every
// member's own answer naming the cluster; search; errors. Every answer
// validates against /openapi.json.
func TestExplore(t *testing.T) {
	st := exploreStore(t)
	f := newFixtureOn(t, Config{Explore: explore.New(st)}, st)
	s, key, c := f.server, f.key, newContract(t)
	outs, spent, txs := simBlocks(t)

	// A Bitcoin victim payment: its transaction as btcd reads it.
	pay := caseRows(t, "btc")[0]
	var tx explore.Tx
	c.get(t, s, "/v1/btc/txs/"+pay["tx"], key, &tx)
	want := txs[pay["tx"]]
	if want == nil || len(tx.Outputs) != len(want.TxOut) || len(tx.Inputs) != len(want.TxIn) || tx.Hash != pay["tx"] {
		t.Fatalf("tx %s: %d outputs, %d inputs; btcd reads %v", pay["tx"], len(tx.Outputs), len(tx.Inputs), want != nil)
	}
	var in int64
	for i, ti := range want.TxIn {
		o := outs[ti.PreviousOutPoint]
		if tx.Inputs[i].Value != o.value || strings.Join(tx.Inputs[i].Addresses, ",") != strings.Join(o.addrs, ",") {
			t.Errorf("input %d: %d %v, btcd %d %v", i, tx.Inputs[i].Value, tx.Inputs[i].Addresses, o.value, o.addrs)
		}
		in += o.value
	}
	paid := false
	for i, o := range want.TxOut {
		if tx.Outputs[i].Value != o.Value {
			t.Errorf("output %d: %d, btcd %d", i, tx.Outputs[i].Value, o.Value)
		}
		if strings.Join(tx.Outputs[i].Addresses, ",") == pay["address"] && strconv.FormatInt(o.Value, 10) == pay["amount"] {
			paid = true
		}
		h := want.TxHash()
		if (tx.Outputs[i].SpentBy != nil) != spent[wire.OutPoint{Hash: h, Index: uint32(i)}] {
			t.Errorf("output %d: spent %v, the chain says %v", i, tx.Outputs[i].SpentBy != nil, !spent[wire.OutPoint{Hash: h, Index: uint32(i)}])
		}
	}
	if !paid || tx.InputValue != in || tx.Fee != in-tx.OutputValue {
		t.Errorf("tx %s: the case's payment of %s to %s paid: %v; in %d (btcd %d), fee %d", pay["tx"], pay["amount"], pay["address"], paid, tx.InputValue, in, tx.Fee)
	}

	// The payee's totals and history, paged, as btcd's outputs add up.
	var recv, sent int64
	n, unspent := 0, 0
	for op, o := range outs {
		if len(o.addrs) == 1 && o.addrs[0] == pay["address"] {
			n++
			recv += o.value
			if spent[op] {
				sent += o.value
			} else {
				unspent++
			}
		}
	}
	var first AddressAnswer
	c.get(t, s, "/v1/btc/addresses/"+pay["address"]+"?limit=1", key, &first)
	a := first.UTXO
	if !first.Seen || a == nil || a.Received != recv || a.Sent != sent || a.Balance != recv-sent || a.Outputs != n || a.UnspentOutput != unspent {
		t.Fatalf("address %s: %+v; btcd: %d outputs, received %d, spent %d, %d unspent", pay["address"], a, n, recv, sent, unspent)
	}
	if first.Screening.Status != StatusScreened || first.Screening.Sanctioned == nil || *first.Screening.Sanctioned {
		t.Errorf("address %s: screening %+v", pay["address"], first.Screening)
	}
	got := len(a.History)
	for next := a.NextOffset; next != nil; {
		var p AddressAnswer
		c.get(t, s, fmt.Sprintf("/v1/btc/addresses/%s?limit=1&offset=%d", pay["address"], *next), key, &p)
		got += len(p.UTXO.History)
		next = p.UTXO.NextOffset
	}
	if got != n || len(a.History) != 1 || (n > 1) != a.Truncated {
		t.Errorf("address %s: %d history entries over pages of one, btcd %d", pay["address"], got, n)
	}

	// Its cluster, paged whole: the size, every member once, and each
	// member's own answer names the cluster.
	if first.Screening.Cluster == nil {
		t.Fatalf("address %s: no cluster: %+v", pay["address"], first.Screening)
	}
	hot := struct {
		id   uint32
		size uint32
	}{first.Screening.Cluster.ID, first.Screening.Cluster.Size}
	if hot.size < 3 {
		t.Fatalf("address %s: a cluster of %d, want one of three or more to page", pay["address"], hot.size)
	}
	members, after, pages := map[string]bool{}, "", 0
	var cl ClusterAnswer
	for {
		var p ClusterAnswer
		c.get(t, s, fmt.Sprintf("/v1/btc/clusters/%d?limit=2&after=%s", hot.id, url.QueryEscape(after)), key, &p)
		if pages == 0 {
			cl = p
		}
		pages++
		for _, m := range p.Members {
			if members[m] {
				t.Fatalf("cluster %d: %s listed twice", hot.id, m)
			}
			members[m] = true
		}
		if p.Next == "" {
			break
		}
		after = p.Next
	}
	if uint32(len(members)) != hot.size || cl.Size != hot.size || pages != int(hot.size+1)/2 {
		t.Fatalf("cluster %d: %d members over %d pages, size %d (screening says %d)", hot.id, len(members), pages, cl.Size, hot.size)
	}
	if len(cl.Evidence) == 0 || cl.Evidence[0].Heuristic == "" {
		t.Errorf("cluster %d: evidence %v", hot.id, cl.Evidence)
	}
	// Its labels are the label file's rows of its members.
	lf, err := os.ReadFile(filepath.Join(simDir, "btc", "labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	labeled := 0
	for _, line := range strings.Split(string(lf), "\n") {
		if f := strings.Split(line, ","); len(f) > 2 && members[f[1]] {
			labeled++
		}
	}
	if len(cl.Labels) != labeled {
		t.Errorf("cluster %d: %d labels, the label file has %d of its members", hot.id, len(cl.Labels), labeled)
	}
	checked := 0
	for m := range members {
		if checked++; checked > 5 {
			break
		}
		var ans AddressAnswer
		c.get(t, s, "/v1/btc/addresses/"+m, key, &ans)
		if ans.Screening.Cluster == nil || ans.Screening.Cluster.ID != hot.id {
			t.Errorf("member %s: its own answer names cluster %+v, not %d", m, ans.Screening.Cluster, hot.id)
		}
	}
	// The evidence's transaction has both addresses among its own.
	ev := cl.Evidence[0]
	var etx explore.Tx
	c.get(t, s, "/v1/btc/txs/"+ev.TxHash, key, &etx)
	var seen []string
	for _, in := range etx.Inputs {
		seen = append(seen, in.Addresses...)
	}
	for _, o := range etx.Outputs {
		seen = append(seen, o.Addresses...)
	}
	if all := strings.Join(seen, " "); !strings.Contains(all, ev.Address) || !strings.Contains(all, ev.Other) {
		t.Errorf("evidence %+v: the transaction names %s", ev, all)
	}

	// Account chains: the victims' payments as the simulator recorded
	// them, in the transaction and in the payee's transfers and balance.
	for _, chain := range []string{"eth", "tron"} {
		pay := caseRows(t, chain)[0]
		var atx explore.AccountTx
		c.get(t, s, "/v1/"+chain+"/txs/"+pay["tx"], key, &atx)
		found := false
		for _, tr := range atx.Transfer {
			if strings.EqualFold(tr.To, pay["address"]) && tr.Amount == pay["amount"] && strings.EqualFold(tr.Asset, pay["asset"]) && tr.Success {
				found = true
			}
		}
		if !found || atx.Chain != chain {
			t.Errorf("%s tx %s: the case's payment of %s %s to %s is not among %+v", chain, pay["tx"], pay["amount"], pay["asset"], pay["address"], atx.Transfer)
		}
		var ans AddressAnswer
		c.get(t, s, "/v1/"+chain+"/addresses/"+pay["address"]+"?limit=1000", key, &ans)
		if !ans.Seen || ans.Account == nil || ans.Account.Count < 1 {
			t.Fatalf("%s address %s: %+v", chain, pay["address"], ans)
		}
		// Its balance of the asset is what its successful transfers say.
		var in, out big.Int
		for _, tr := range ans.Account.Transfers {
			v, _ := new(big.Int).SetString(tr.Amount, 10)
			if !tr.Success || !strings.EqualFold(tr.Asset, pay["asset"]) {
				continue
			}
			if strings.EqualFold(tr.To, pay["address"]) {
				in.Add(&in, v)
			}
			if strings.EqualFold(tr.From, pay["address"]) {
				out.Add(&out, v)
			}
		}
		ok := false
		for _, b := range ans.Account.Balances {
			if strings.EqualFold(b.Asset, pay["asset"]) && b.Received == in.String() && b.Sent == out.String() {
				ok = true
			}
		}
		if !ok || ans.Account.Count > 1000 || in.Cmp(big.NewInt(0)) <= 0 {
			t.Errorf("%s address %s: balances %+v; its transfers say %s in, %s out", chain, pay["address"], ans.Account.Balances, &in, &out)
		}
	}

	// Search.
	for _, q := range []struct{ q, kind, chain string }{
		{pay["tx"], "tx", "btc"}, {pay["address"], "address", "btc"}, {"Exchange B", "label", "btc"}, {"150", "block", "btc"},
		{caseRows(t, "eth")[0]["tx"], "tx", "eth"}, {caseRows(t, "tron")[0]["address"], "address", "tron"},
	} {
		var ans SearchAnswer
		c.get(t, s, "/v1/search?q="+url.QueryEscape(q.q), key, &ans)
		found := false
		for _, h := range ans.Hits {
			found = found || h.Kind == q.kind && h.Chain == q.chain
		}
		if !found {
			t.Errorf("search %q: %+v, want a %s %s", q.q, ans.Hits, q.chain, q.kind)
		}
	}

	// What is not there, and what cannot be read.
	for _, e := range []struct {
		path   string
		status int
	}{
		{"/v1/btc/txs/" + strings.Repeat("00", 32), 404},
		{"/v1/btc/txs/xyz", 400},
		{"/v1/eth/txs/0x" + strings.Repeat("11", 32), 404},
		{"/v1/btc/clusters/4000000000", 404},
		{"/v1/btc/clusters/x", 400},
		{fmt.Sprintf("/v1/btc/clusters/%d?after=zz", hot.id), 400},
		{"/v1/tron/clusters/0", 409},
		{"/v1/btc/addresses/hello", 400},
		{"/v1/btc/addresses/" + pay["address"] + "?limit=5000", 400},
		{"/v1/search?q=", 400},
		{"/v1/search?q=" + strings.Repeat("a", 300), 400},
	} {
		c.call(t, s, "GET", e.path, key, "", e.status)
	}
	c.call(t, s, "GET", "/v1/btc/txs/"+pay["tx"], "", "", 401)
}
