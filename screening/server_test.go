package screening

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/internal/shareddata"
	"github.com/fundtrace/fundtrace/sanctions"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/store/embedded"
)

// lifshits is OFAC entry 29702's ETH address, listed correctly only
// after 2021 (the 2021-07-07 list carried it one digit short).
const lifshits = "0xa7e5d5a720f06526557c513402f2e6b5fa20b008"

// importFile imports an OFAC file as a snapshot of st.
func importFile(t testing.TB, st *embedded.Store, path, date string) store.SanctionsSnapshot {
	t.Helper()
	l, err := sanctions.Load([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	l.Date = date
	sn, addrs := sanctions.Snapshot(l)
	sn.Imported = "2026-01-01T00:00:00Z"
	sn, err = st.AddSnapshot(context.Background(), sn, addrs)
	if err != nil {
		t.Fatal(err)
	}
	return sn
}

// testStore is an embedded store with the real OFAC lists of 2021-07-07
// and 2024-05-03 (the later in force) and two labels.
func testStore(t testing.TB) *embedded.Store {
	t.Helper()
	st, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	importFile(t, st, shareddata.Path(t, "sanctions", "ofac", "legacy-csv", "2021-07-07_watchman-bench", "sdn.csv.gz"), "2021-07-07")
	importFile(t, st, shareddata.Path(t, "sanctions", "ofac", "legacy-csv", "git-scrape", "sdn_2024-05-03.csv.gz"), "2024-05-03")
	a, _ := sanctions.ParseEthereum("0x28c6c06298d514db089934071355e5743bf21d60")
	if err := st.AddLabels(context.Background(), []store.Label{{Chain: chains.Ethereum, Address: a, Text: "0x28c6c06298d514db089934071355e5743bf21d60",
		Label: "Binance 14", Category: "exchange", Source: "etherscan", Confidence: 90}}); err != nil {
		t.Fatal(err)
	}
	return st
}

type fixture struct {
	srv    *httptest.Server
	key    string
	admin  string
	keys   string
	sc     *Screener
	st     *embedded.Store
	server *Server
}

func newFixture(t testing.TB, cfg Config) *fixture {
	t.Helper()
	st := testStore(t)
	sc, err := New(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "keys.json")
	key, _, err := CreateKey(path, "acme payments", false, 0)
	if err != nil {
		t.Fatal(err)
	}
	admin, _, err := CreateKey(path, "ops", true, 0)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Keys, err = LoadKeys(path); err != nil {
		t.Fatal(err)
	}
	cfg.Data = st
	cfg.Import = func(ctx context.Context, path, date string, force bool) (store.SanctionsSnapshot, error) {
		l, err := sanctions.Load([]string{path})
		if err != nil {
			return store.SanctionsSnapshot{}, err
		}
		if date != "" {
			l.Date = date
		}
		sn, addrs := sanctions.Snapshot(l)
		if len(addrs) == 0 && !force {
			return sn, fmt.Errorf("no addresses: not imported")
		}
		return st.AddSnapshot(ctx, sn, addrs)
	}
	s := NewServer(sc, cfg)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, key: key, admin: admin, keys: path, sc: sc, st: st, server: s}
}

func (f *fixture) do(t testing.TB, method, path, key string, body io.Reader) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: %d, not JSON: %s", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, m
}

// TestScreenRealList: screening against the real OFAC list of 2024-05-03:
// the LIFSHITS address is a hit with its entity and programs; as of 2022
// (the 2021 list in force) it is not; an address no list names is clear;
// and the compatible endpoint answers in the free API's shape.
func TestScreenRealList(t *testing.T) {
	f := newFixture(t, Config{})
	code, m := f.do(t, "GET", "/v1/screen/eth/"+strings.ToUpper(lifshits[2:3])+lifshits[3:], f.key, nil)
	if code != 400 {
		// Without 0x it is not an Ethereum address at all.
		t.Fatalf("address without 0x: %d %v", code, m)
	}
	code, m = f.do(t, "GET", "/v1/screen/eth/"+lifshits, f.key, nil)
	if code != 200 || m["sanctioned"] != true {
		t.Fatalf("%d %v", code, m)
	}
	hit := m["sanctions"].([]any)[0].(map[string]any)
	if hit["entity"] != "LIFSHITS, Artem Mikhaylovich" || hit["ofac_ref"] != "29702" || !strings.Contains(fmt.Sprint(hit["programs"]), "CYBER2") {
		t.Fatalf("hit %v", hit)
	}
	if sa := m["screened_against"].(map[string]any); sa["list_date"] != "2024-05-03" {
		t.Fatalf("screened against %v", sa)
	}
	code, m = f.do(t, "GET", "/v1/screen/eth/"+lifshits+"?as_of=2022-01-01", f.key, nil)
	if code != 200 || m["sanctioned"] != false || m["screened_against"].(map[string]any)["list_date"] != "2021-07-07" {
		t.Fatalf("as of 2022: %d %v", code, m)
	}
	code, m = f.do(t, "GET", "/v1/screen/btc/1BoatSLRHtKNngkdXEeobR76b53LETtpyT", f.key, nil)
	if code != 200 || m["sanctioned"] != false || len(m["sanctions"].([]any)) != 0 {
		t.Fatalf("clear address: %d %v", code, m)
	}
	code, m = f.do(t, "GET", "/v1/screen/eth/0x28c6c06298d514db089934071355e5743bf21d60", f.key, nil)
	if code != 200 || len(m["labels"].([]any)) != 1 || m["labels"].([]any)[0].(map[string]any)["source"] != "etherscan" {
		t.Fatalf("labels with provenance: %d %v", code, m)
	}
	code, m = f.do(t, "GET", "/api/v1/address/"+lifshits, f.key, nil)
	ids, _ := m["identifications"].([]any)
	if code != 200 || len(ids) != 1 || ids[0].(map[string]any)["category"] != "sanctions" ||
		!strings.Contains(ids[0].(map[string]any)["name"].(string), "LIFSHITS") || !strings.Contains(ids[0].(map[string]any)["url"].(string), "29702") {
		t.Fatalf("compatible endpoint: %d %v", code, m)
	}
	code, m = f.do(t, "GET", "/api/v1/address/1BoatSLRHtKNngkdXEeobR76b53LETtpyT", f.key, nil)
	if ids, ok := m["identifications"].([]any); code != 200 || !ok || len(ids) != 0 {
		t.Fatalf("compatible endpoint, clear: %d %v", code, m)
	}
	// A batch: the answers in order, against one list.
	body := `{"addresses": ["1BoatSLRHtKNngkdXEeobR76b53LETtpyT", {"chain": "eth", "address": "` + lifshits + `"}]}`
	code, m = f.do(t, "POST", "/v1/screen", f.key, strings.NewReader(body))
	rs, _ := m["results"].([]any)
	if code != 200 || len(rs) != 2 || rs[0].(map[string]any)["sanctioned"] != false || rs[1].(map[string]any)["sanctioned"] != true {
		t.Fatalf("batch: %d %v", code, m)
	}
}

// TestEveryListedAddressIsAHit: every Bitcoin and Ethereum address that
// 0xB10C's lists (extracted independently from OFAC's XML of 2024-05-08)
// and the 2024-05-03 CSV both carry is a hit through the API. The CSV cuts
// long remarks short, so it lacks some; the test says how many.
func TestEveryListedAddressIsAHit(t *testing.T) {
	f := newFixture(t, Config{})
	// Which addresses the CSV carries whole is read from its text, not
	// from our parser: "Digital Currency Address - XBT <address>" with the
	// address ending there.
	fz, err := os.Open(shareddata.Path(t, "sanctions", "ofac", "legacy-csv", "git-scrape", "sdn_2024-05-03.csv.gz"))
	if err != nil {
		t.Fatal(err)
	}
	rawb, err := io.ReadAll(gunzip(t, fz))
	fz.Close()
	if err != nil {
		t.Fatal(err)
	}
	raw := strings.ToLower(string(rawb))
	inCSVAs := func(code, a string) bool {
		needle := strings.ToLower("digital currency address - " + code + " " + a)
		for off := 0; ; {
			i := strings.Index(raw[off:], needle)
			if i < 0 {
				return false
			}
			end := off + i + len(needle)
			if end == len(raw) || !strings.ContainsRune("abcdefghijklmnopqrstuvwxyz0123456789", rune(raw[end])) {
				return true
			}
			off = end
		}
	}
	hits, total, checked := 0, 0, 0
	for code, chain := range map[string]string{"XBT": "btc", "ETH": "eth"} {
		fh, err := os.Open(shareddata.Path(t, "sanctions", "ofac", "derived-address-lists", "0xB10C_2024-05-08", "sanctioned_addresses_"+code+".txt"))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			a := strings.TrimSpace(sc.Text())
			if a == "" {
				continue
			}
			total++
			if !inCSVAs(code, a) {
				continue
			}
			if a == "TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq" {
				// OFAC lists this Tron address under XBT (and 0xB10C's
				// list follows it): it is not a Bitcoin address, and the
				// API says so.
				if st, m := f.do(t, "GET", "/v1/screen/"+chain+"/"+a, f.key, nil); st != 400 {
					t.Errorf("%s: %d %v", a, st, m)
				}
				continue
			}
			checked++
			st, m := f.do(t, "GET", "/v1/screen/"+chain+"/"+a, f.key, nil)
			if st != 200 || m["sanctioned"] != true {
				t.Errorf("%s %s: %d %v", chain, a, st, m)
				continue
			}
			hits++
		}
		fh.Close()
	}
	t.Logf("%d of the %d XBT and ETH addresses of 0xB10C's lists are in the 2024-05-03 CSV; %d hits", checked, total, hits)
	if checked < 40 || hits != checked {
		t.Fatalf("%d hits of %d", hits, checked)
	}
}

// TestBadRequests: every bad request is a 4xx with a JSON error naming
// the problem — never a 500.
func TestBadRequests(t *testing.T) {
	f := newFixture(t, Config{MaxBatch: 3, MaxBody: 2000})
	mixed := "0xA7E5D5A720F06526557C513402F2E6B5FA20b008" // a wrong EIP-55 checksum
	cases := []struct {
		name, method, path, key, body string
		code                          int
		errCode, field, says          string
	}{
		{"no key", "GET", "/v1/screen/btc/1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "-", "", 401, "unauthorized", "", "X-API-Key"},
		{"bad key", "GET", "/v1/screen/btc/1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "ftk_nope", "", 401, "unauthorized", "", "not valid"},
		{"bad checksum", "GET", "/v1/screen/eth/" + mixed, "", "", 400, "bad_request", "address", "checksum"},
		{"testnet address", "GET", "/v1/screen/btc/tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "", "", 400, "bad_request", "address", "network"},
		{"unknown chain", "GET", "/v1/screen/doge/DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L", "", "", 400, "bad_request", "chain", "doge"},
		{"not an address", "GET", "/v1/screen/btc/hello", "", "", 400, "bad_request", "address", ""},
		{"bad as_of", "GET", "/v1/screen/btc/1BoatSLRHtKNngkdXEeobR76b53LETtpyT?as_of=yesterday", "", "", 400, "bad_request", "as_of", "YYYY-MM-DD"},
		{"as_of before any list", "GET", "/v1/screen/btc/1BoatSLRHtKNngkdXEeobR76b53LETtpyT?as_of=2001-01-01", "", "", 400, "bad_request", "as_of", "2001-01-01"},
		{"bad exposure", "GET", "/v1/screen/btc/1BoatSLRHtKNngkdXEeobR76b53LETtpyT?exposure=99", "", "", 400, "bad_request", "exposure", "hops"},
		{"malformed JSON", "POST", "/v1/screen", "", `{"addresses": [`, 400, "bad_json", "", "JSON"},
		{"unknown field", "POST", "/v1/screen", "", `{"address": ["x"]}`, 400, "bad_json", "", "address"},
		{"empty batch", "POST", "/v1/screen", "", `{"addresses": []}`, 400, "bad_request", "addresses", "no addresses"},
		{"oversized batch", "POST", "/v1/screen", "", `{"addresses": ["a","b","c","d"]}`, 413, "batch_too_large", "addresses", "at most 3"},
		{"oversized body", "POST", "/v1/screen", "", `{"addresses": ["` + strings.Repeat("1", 3000) + `"]}`, 413, "too_large", "", "2000 bytes"},
		{"bad item", "POST", "/v1/screen", "", `{"addresses": ["1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "` + mixed + `"]}`, 400, "bad_request", "addresses", "1 of the 2"},
		{"bad compat address", "GET", "/api/v1/address/0x1234", "", "", 400, "bad_request", "address", ""},
		{"not admin", "POST", "/v1/admin/sanctions", "", "<x/>", 403, "forbidden", "", "admin"},
		{"unknown endpoint", "GET", "/v2/whatever", "", "", 404, "not_found", "", "/openapi.json"},
		{"wrong method", "GET", "/v1/screen", "", "", 405, "method_not_allowed", "", "use POST"},
	}
	for _, c := range cases {
		key := f.key
		if c.key == "-" {
			key = ""
		} else if c.key != "" {
			key = c.key
		}
		var body io.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		}
		code, m := f.do(t, c.method, c.path, key, body)
		e, _ := m["error"].(map[string]any)
		if code != c.code || e == nil || e["code"] != c.errCode || (c.field != "" && e["field"] != c.field) || !strings.Contains(fmt.Sprint(e["message"]), c.says) {
			t.Errorf("%s: %d %v; want %d %s (field %s) saying %q", c.name, code, m, c.code, c.errCode, c.field, c.says)
		}
	}
	// A bad item's error says which item and what is wrong.
	_, m := f.do(t, "POST", "/v1/screen", f.key, strings.NewReader(`{"addresses": ["1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "`+mixed+`"]}`))
	items := m["error"].(map[string]any)["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["index"] != float64(1) || !strings.Contains(items[0].(map[string]any)["message"].(string), "checksum") {
		t.Fatalf("items %v", items)
	}
	// A revoked key stops working once the server re-reads the key file.
	if _, err := RevokeKey(f.keys, "acme payments"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // a different mtime on coarse clocks
	if err := f.server.cfg.Keys.reload(true); err != nil {
		t.Fatal(err)
	}
	if code, _ := f.do(t, "GET", "/v1/screen/btc/1BoatSLRHtKNngkdXEeobR76b53LETtpyT", f.key, nil); code != 401 {
		t.Fatalf("revoked key: %d", code)
	}
	// No secret in the key file.
	b, _ := os.ReadFile(f.keys)
	if strings.Contains(string(b), f.key) || strings.Contains(string(b), f.admin) {
		t.Fatal("the key file holds a key, not only its hash")
	}
}

// TestRateLimit: a key's requests beyond its rate are refused with 429 and
// Retry-After; another key is not affected.
func TestRateLimit(t *testing.T) {
	f := newFixture(t, Config{Rate: 5, Burst: 5})
	limited := 0
	for range 20 {
		if code, _ := f.do(t, "GET", "/v1/screen/btc/1BoatSLRHtKNngkdXEeobR76b53LETtpyT", f.key, nil); code == 429 {
			limited++
		}
	}
	if limited < 10 {
		t.Fatalf("%d of 20 requests limited at 5 a second", limited)
	}
	if code, _ := f.do(t, "GET", "/v1/screen/btc/1BoatSLRHtKNngkdXEeobR76b53LETtpyT", f.admin, nil); code != 200 {
		t.Fatalf("another key: %d", code)
	}
}

// TestAtomicSwap: while clients screen the LIFSHITS address without
// pause, the 2021 list (which lacks it) is imported as the newest and
// swapped in: every answer is consistent with the one list it names.
func TestAtomicSwap(t *testing.T) {
	f := newFixture(t, Config{Rate: 1e9})
	var wrong, answers atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, m := f.do(t, "GET", "/v1/screen/eth/"+lifshits, f.key, nil)
				if code != 200 {
					wrong.Add(1)
					continue
				}
				answers.Add(1)
				listed := m["screened_against"].(map[string]any)["list_date"] == "2024-05-03"
				if m["sanctioned"] != listed {
					wrong.Add(1)
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	importFile(t, f.st, shareddata.Path(t, "sanctions", "ofac", "legacy-csv", "2021-07-07_watchman-bench", "sdn.csv.gz"), "2021-07-07")
	if changed, err := f.sc.Reload(context.Background(), false); err != nil || !changed {
		t.Fatalf("reload: %v %v", changed, err)
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	if wrong.Load() > 0 || answers.Load() < 20 {
		t.Fatalf("%d inconsistent answers of %d", wrong.Load(), answers.Load())
	}
	if f.sc.Current().Snapshot.ID != 3 {
		t.Fatalf("snapshot %d in force", f.sc.Current().Snapshot.ID)
	}
}

// TestAdminImport: an admin key uploads OFAC's advanced XML (the real
// consolidated list of 2020-03-17) and the new snapshot is in force.
func TestAdminImport(t *testing.T) {
	f := newFixture(t, Config{})
	fh, err := os.Open(shareddata.Path(t, "sanctions", "ofac", "advanced-xml", "cons_advanced_2020-03-17.xml.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	b, err := io.ReadAll(gunzip(t, fh))
	if err != nil {
		t.Fatal(err)
	}
	// It lists no address: refused unless forced, since it would clear
	// every hit.
	code, m := f.do(t, "POST", "/v1/admin/sanctions?date=2020-03-17", f.admin, strings.NewReader(string(b)))
	if code != 400 || f.sc.Current().Snapshot.ID != 2 {
		t.Fatalf("a list without addresses: %d %v", code, m)
	}
	code, m = f.do(t, "POST", "/v1/admin/sanctions?date=2020-03-17&force=true", f.admin, strings.NewReader(string(b)))
	if code != 200 || m["id"] != float64(3) || m["list_date"] != "2020-03-17" {
		t.Fatalf("%d %v", code, m)
	}
	if f.sc.Current().Snapshot.ID != 3 {
		t.Fatalf("snapshot %d in force", f.sc.Current().Snapshot.ID)
	}
	code, m = f.do(t, "POST", "/v1/admin/sanctions?force=true", f.admin, strings.NewReader("not xml"))
	if code != 400 || m["error"].(map[string]any)["code"] != "bad_list" {
		t.Fatalf("bad upload: %d %v", code, m)
	}
	if f.sc.Current().Snapshot.ID != 3 {
		t.Fatal("a failed import changed the list in force")
	}
}

// TestHealthMetricsOpenAPI: the unauthenticated endpoints.
func TestHealthMetricsOpenAPI(t *testing.T) {
	f := newFixture(t, Config{})
	code, m := f.do(t, "GET", "/healthz", "", nil)
	if code != 200 || m["snapshot"] != float64(2) || m["list_date"] != "2024-05-03" {
		t.Fatalf("healthz %d %v", code, m)
	}
	f.do(t, "GET", "/v1/screen/eth/"+lifshits, f.key, nil)
	resp, err := http.Get(f.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`fundtrace_http_requests_total{code="200",route="screen"} 1`, `fundtrace_screened_addresses_total{outcome="sanctioned"} 1`,
		"fundtrace_sanctions_snapshot 2", "fundtrace_http_request_seconds_bucket"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	code, m = f.do(t, "GET", "/openapi.json", "", nil)
	paths, _ := m["paths"].(map[string]any)
	if code != 200 || m["openapi"] != "3.0.3" || paths["/v1/screen/{chain}/{address}"] == nil || paths["/api/v1/address/{address}"] == nil {
		t.Fatalf("openapi %d", code)
	}
}

// FuzzScreenRequest: whatever the body and path, the answer is 200, 400
// or 413 with JSON — never a 500, never a crash.
func FuzzScreenRequest(f *testing.F) {
	fx := newFixture(f, Config{MaxBatch: 5, MaxBody: 4096, Rate: 1e9})
	for _, s := range []string{`{"addresses": ["1BoatSLRHtKNngkdXEeobR76b53LETtpyT"]}`, `{"addresses": [{"chain": "eth", "address": "` + lifshits + `"}]}`,
		`{"addresses": [1, null, {}]}`, `[]`, `{"addresses": "x"}`, "\x00", `{"addresses": [{"chain": "btc", "address": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "x": 1}]}`} {
		f.Add(s, "btc/1BoatSLRHtKNngkdXEeobR76b53LETtpyT")
	}
	f.Fuzz(func(t *testing.T, body, path string) {
		for _, req := range []*http.Request{
			httptest.NewRequest("POST", "/v1/screen", strings.NewReader(body)),
			newGet(path),
		} {
			if req == nil {
				continue
			}
			req.Header.Set("X-API-Key", fx.key)
			w := httptest.NewRecorder()
			fx.server.ServeHTTP(w, req)
			// Besides answers and errors, the router's own redirects of
			// unclean paths (/v1/screen/. → /v1/screen) and 405s.
			redirect := w.Code == 301 || w.Code == 307 || w.Code == 308
			if w.Code != 200 && w.Code != 400 && w.Code != 413 && w.Code != 404 && w.Code != 405 && !redirect {
				t.Fatalf("%s %q: %d %s", req.Method, req.URL, w.Code, w.Body)
			}
			if !redirect && !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%s %q: not JSON: %s", req.Method, req.URL, w.Body)
			}
		}
	})
}

func newGet(path string) (r *http.Request) {
	defer func() {
		if recover() != nil {
			r = nil // not a URL a client could send
		}
	}()
	return httptest.NewRequest("GET", "/v1/screen/"+path, nil)
}

func gunzip(t testing.TB, r io.Reader) io.Reader {
	t.Helper()
	z, err := gzip.NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	return z
}
