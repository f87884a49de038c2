package screening

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/internal/shareddata"
	"github.com/fundtrace/fundtrace/sanctions"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/store/embedded"
)

// lifshits is OFAC entry 29702's ETH address, listed correctly only
// after 2021 (the 2021-07-07 list carried it one digit short).
const lifshits = "0xa7e5d5a720f06526557c513402f2e6b5fa20b008"

// importFile imports an OFAC file as a snapshot of st.
func importFile(t testing.TB, st store.SanctionsStore, path, date string) store.SanctionsSnapshot {
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
	fillTestStore(t, st)
	return st
}

// fillTestStore imports the real OFAC lists of 2021-07-07 and 2024-05-03
// (the later in force) and a label into st.
func fillTestStore(t testing.TB, st store.Store) {
	t.Helper()
	importFile(t, st, shareddata.Path(t, "sanctions", "ofac", "legacy-csv", "2021-07-07_watchman-bench", "sdn.csv.gz"), "2021-07-07")
	importFile(t, st, shareddata.Path(t, "sanctions", "ofac", "legacy-csv", "git-scrape", "sdn_2024-05-03.csv.gz"), "2024-05-03")
	a, _ := ethereum.ParseAddress("0x28c6c06298d514db089934071355e5743bf21d60")
	if err := st.AddLabels(context.Background(), []store.Label{{Chain: chains.Ethereum, Address: a, Text: "0x28c6c06298d514db089934071355e5743bf21d60",
		Label: "Binance 14", Category: "exchange", Source: "etherscan", Confidence: 90}}); err != nil {
		t.Fatal(err)
	}
}

type fixture struct {
	srv    *httptest.Server
	key    string
	admin  string
	keys   string
	sc     *Screener
	st     store.Store
	server *Server
}

func newFixture(t testing.TB, cfg Config) *fixture {
	t.Helper()
	return newFixtureOn(t, cfg, testStore(t))
}

func newFixtureOn(t testing.TB, cfg Config, st store.Store) *fixture {
	t.Helper()
	return newFixtureView(t, cfg, st, st)
}

// newFixtureView serves st as view shows it (a wrapper that slows or
// changes some of its answers).
func newFixtureView(t testing.TB, cfg Config, st store.Store, view Store) *fixture {
	t.Helper()
	sc, err := New(context.Background(), view)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "keys.json")
	key, _, err := CreateKey(path, "acme payments", KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	admin, _, err := CreateKey(path, "ops", KeyOptions{Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Keys, err = LoadKeys(path); err != nil {
		t.Fatal(err)
	}
	if d, ok := view.(ChainData); ok {
		cfg.Data = d // a wrapper that is not the whole store serves no exposure
	}
	cfg.Import = func(ctx context.Context, path, date string, force bool) (store.SanctionsSnapshot, error) {
		res, err := sanctions.Import(ctx, st, []string{path}, sanctions.ImportOptions{Date: date, Force: force})
		if err != nil {
			return store.SanctionsSnapshot{}, err
		}
		return res.Snapshot, nil
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
		{"bad item", "POST", "/v1/screen", "", `{"addresses": ["1BoatSLRHtKNngkdXEeobR76b53LETtpyT", 7]}`, 400, "bad_request", "addresses", "1 of the 2"},
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
	// An item that is not an address is answered in its place with its
	// status and the reason, never "sanctioned": false; the other items
	// are screened.
	code, m := f.do(t, "POST", "/v1/screen", f.key, strings.NewReader(`{"addresses": ["1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "`+mixed+`", "hello"]}`))
	rs, _ := m["results"].([]any)
	if code != 200 || len(rs) != 3 || m["not_screened"] != float64(2) || m["screened"] != float64(1) {
		t.Fatalf("batch with bad items: %d %v", code, m)
	}
	for i, want := range []string{"screened", "invalid", "unsupported"} {
		r := rs[i].(map[string]any)
		_, has := r["sanctioned"]
		if r["status"] != want || has != (want == "screened") {
			t.Errorf("item %d: %v; want status %s and sanctioned only when screened", i, r, want)
		}
	}
	if !strings.Contains(fmt.Sprint(rs[1].(map[string]any)["error"]), "checksum") {
		t.Errorf("item 1 does not say why: %v", rs[1])
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
// pause against the 2021 list (which lacks it), the 2024 list is imported
// and swapped in: every answer is consistent with the one list it names.
func TestAtomicSwap(t *testing.T) {
	st, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	importFile(t, st, shareddata.Path(t, "sanctions", "ofac", "legacy-csv", "2021-07-07_watchman-bench", "sdn.csv.gz"), "2021-07-07")
	f := newFixtureOn(t, Config{Rate: 1e9}, st)
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
				if m["sanctioned"] != listed || m["status"] != "screened" {
					wrong.Add(1)
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	importFile(t, f.st, shareddata.Path(t, "sanctions", "ofac", "legacy-csv", "git-scrape", "sdn_2024-05-03.csv.gz"), "2024-05-03")
	if changed, err := f.sc.Reload(context.Background(), false); err != nil || !changed {
		t.Fatalf("reload: %v %v", changed, err)
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	if wrong.Load() > 0 || answers.Load() < 20 {
		t.Fatalf("%d inconsistent answers of %d", wrong.Load(), answers.Load())
	}
	if f.sc.Current().Snapshot.ID != 2 {
		t.Fatalf("snapshot %d in force", f.sc.Current().Snapshot.ID)
	}
}

// TestAdminImport: an admin key uploads OFAC's advanced XML (the real
// consolidated list of 2020-03-17). Older than the list in force
// (2024-05-03), it is stored as history and answers as_of, and the 2024
// list stays in force. An empty upload and a file that is not a list are
// refused and change nothing.
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
	code, m := f.do(t, "POST", "/v1/admin/sanctions", f.admin, strings.NewReader(string(b)))
	if code != 200 || m["id"] != float64(3) || m["list_date"] != "2020-03-17" {
		t.Fatalf("%d %v", code, m)
	}
	if f.sc.Current().Snapshot.ID != 2 {
		t.Fatalf("snapshot %d in force; an older list must be history", f.sc.Current().Snapshot.ID)
	}
	if code, m = f.do(t, "GET", "/v1/screen/eth/"+lifshits+"?as_of=2020-06-01", f.key, nil); code != 200 ||
		m["screened_against"].(map[string]any)["snapshot"] != float64(3) || m["sanctioned"] != false {
		t.Fatalf("as_of the 2020 list: %d %v", code, m)
	}
	// Named by base name and SHA-256, never by the server's path.
	files, _ := m["screened_against"].(map[string]any)["files"].([]any)
	if len(files) != 1 || len(files[0].(map[string]any)["sha256"].(string)) != 64 || strings.ContainsAny(fmt.Sprint(m["screened_against"]), `/\`) {
		t.Fatalf("list named as %v", m["screened_against"])
	}
	code, m = f.do(t, "POST", "/v1/admin/sanctions?date=2024-06-01", f.admin, strings.NewReader(""))
	if code != 400 || !strings.Contains(fmt.Sprint(m), "empty") {
		t.Fatalf("empty upload: %d %v", code, m)
	}
	code, m = f.do(t, "POST", "/v1/admin/sanctions?force=true", f.admin, strings.NewReader("not xml"))
	if code != 400 || m["error"].(map[string]any)["code"] != "bad_list" || strings.Contains(fmt.Sprint(m), os.TempDir()) {
		t.Fatalf("bad upload: %d %v", code, m)
	}
	if f.sc.Current().Snapshot.ID != 2 {
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

// TestDirectHitsAnyCurrency: direct hits need no chain data. The 2024-05-03
// list's TRX, USDT-on-TRON, Litecoin and Monero addresses are hits on
// every route, including the compat endpoint, on a store that indexes no
// chain; the cluster status says the chain is not indexed.
func TestDirectHitsAnyCurrency(t *testing.T) {
	f := newFixture(t, Config{})
	const trx = "TMStbg5fgb4uTV7fK1gEYF9hKAzP3siPsG"
	code, m := f.do(t, "GET", "/api/v1/address/"+trx, f.key, nil)
	ids, _ := m["identifications"].([]any)
	if code != 200 || len(ids) != 1 || !strings.Contains(fmt.Sprint(ids[0]), "TRX") {
		t.Fatalf("compat, TRON: %d %v", code, m)
	}
	code, m = f.do(t, "GET", "/v1/screen/tron/"+trx, f.key, nil)
	if code != 200 || m["sanctioned"] != true || m["chain"] != "tron" || m["cluster_status"] != "chain_not_indexed" {
		t.Fatalf("GET tron: %d %v", code, m)
	}
	xmr := "884Bz8UH63aYsjVdkfWfScRYWZGGNbjFL7pztqvWNSrtYT4reFSwyvkCj9KEGUtheHhhMUj87ciTBFyzoesrMJ4L1FvSoxL"
	code, m = f.do(t, "POST", "/v1/screen", f.key, strings.NewReader(`{"addresses": ["TX5GV4DyfxNB3rPkzZJhmqZ1efVmL4rEqG", "LaizKtS5DUhPuP1nTQcc83MS7HwK6vk85z", "`+xmr+`"]}`))
	rs, _ := m["results"].([]any)
	if code != 200 || len(rs) != 3 || m["hits"] != float64(3) {
		t.Fatalf("batch: %d %v", code, m)
	}
	for i, chain := range []string{"tron", "ltc", "xmr"} {
		r := rs[i].(map[string]any)
		if r["sanctioned"] != true || r["chain"] != chain || r["status"] != "screened" {
			t.Errorf("item %d: %v, want a hit on %s", i, r, chain)
		}
	}
	// A TRON address that is not listed was screened: clear, with 200.
	if code, m = f.do(t, "GET", "/api/v1/address/TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", f.key, nil); code != 200 || len(m["identifications"].([]any)) != 0 {
		t.Fatalf("compat, unlisted TRON: %d %v", code, m)
	}
	// A string that is not an address is never answered with an empty list.
	if code, m = f.do(t, "GET", "/api/v1/address/hello", f.key, nil); code != 400 || m["error"].(map[string]any)["status"] != "unsupported" {
		t.Fatalf("compat, not an address: %d %v", code, m)
	}
}

// TestNoList: a server with no sanctions list answers that it cannot
// screen (503 no_list), never "sanctioned": false.
func TestNoList(t *testing.T) {
	st, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := newFixtureOn(t, Config{}, st)
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/screen/btc/1BoatSLRHtKNngkdXEeobR76b53LETtpyT", ""},
		{"POST", "/v1/screen", `{"addresses": ["1BoatSLRHtKNngkdXEeobR76b53LETtpyT"]}`},
		{"GET", "/api/v1/address/1BoatSLRHtKNngkdXEeobR76b53LETtpyT", ""},
	} {
		var body io.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		}
		code, m := f.do(t, c.method, c.path, f.key, body)
		if code != 503 || m["error"].(map[string]any)["code"] != "no_list" {
			t.Errorf("%s %s: %d %v", c.method, c.path, code, m)
		}
	}
	if code, m := f.do(t, "GET", "/healthz", "", nil); code != 503 || m["status"] != "no_list" {
		t.Errorf("healthz without a list: %d %v", code, m)
	}
}

// TestResponseHeaders: every answer, errors included, carries nosniff and
// no-store.
func TestResponseHeaders(t *testing.T) {
	f := newFixture(t, Config{})
	for _, path := range []string{"/v1/screen/btc/1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "/healthz", "/nowhere", "/openapi.json", "/v1/screen/btc/hello"} {
		req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
		req.Header.Set("X-API-Key", f.key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: headers %v", path, resp.Header)
		}
	}
}

// TestSlowBody: a batch whose body trickles in is answered 408 once the
// request timeout has passed, not held until the server's read timeout.
func TestSlowBody(t *testing.T) {
	f := newFixture(t, Config{Timeout: 400 * time.Millisecond})
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"addresses": ["1BoatSLRHtKNngkdXEeobR76b53LETtpyT"]}`
	fmt.Fprintf(conn, "POST /v1/screen HTTP/1.1\r\nHost: x\r\nX-API-Key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", f.key, len(body))
	start := time.Now()
	go func() {
		for i := 0; i < len(body); i++ {
			if _, err := conn.Write([]byte{body[i]}); err != nil {
				return
			}
			time.Sleep(150 * time.Millisecond)
		}
	}()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a trickling body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || time.Since(start) > 3*time.Second {
		t.Fatalf("%d after %s; want 408 soon after the 400 ms timeout", resp.StatusCode, time.Since(start))
	}
}

// slowChain is a store that claims a Bitcoin chain and whose reads take
// far longer than a request may, ignoring the request's context, as a
// walk of a large chain does.
type slowChain struct {
	*embedded.Store
	delay time.Duration
}

func (s slowChain) Meta(ctx context.Context, c chains.Chain) (store.Meta, error) {
	m, err := s.Store.Meta(ctx, c)
	if c == chains.Bitcoin {
		m.TipHeight, m.Network = 100, "mainnet"
	}
	return m, err
}

func (s slowChain) AddressHistory(ctx context.Context, c chains.Chain, a chains.Address, limit int) ([]store.HistoryEntry, error) {
	time.Sleep(s.delay)
	return nil, nil
}

// TestExposureTimeout: ?exposure= that outlives the request timeout is
// answered 503 timeout at the deadline, not with an empty reply later.
func TestExposureTimeout(t *testing.T) {
	st := testStore(t)
	f := newFixtureView(t, Config{Timeout: 300 * time.Millisecond}, st, slowChain{st, 3 * time.Second})
	start := time.Now()
	code, m := f.do(t, "GET", "/v1/screen/btc/1BoatSLRHtKNngkdXEeobR76b53LETtpyT?exposure=2", f.key, nil)
	if code != 503 || m["error"].(map[string]any)["code"] != "timeout" || time.Since(start) > 2*time.Second {
		t.Fatalf("%d %v after %s; want 503 timeout at about 300 ms", code, m, time.Since(start))
	}
}

// junk is an endless text node inside a <Sanctions> element, made as it
// is read.
type junk struct{ n, size int }

func (j *junk) Read(p []byte) (int, error) {
	if j.n >= j.size {
		return 0, io.EOF
	}
	head := "<Sanctions>"
	i := 0
	for ; i < len(p) && j.n < j.size; i, j.n = i+1, j.n+1 {
		if j.n < len(head) {
			p[i] = head[j.n]
		} else {
			p[i] = 'a'
		}
	}
	return i, nil
}

// TestJunkUploadMemory: a 128 MB upload that is one endless XML text node
// is refused, and parsing it allocates a small fraction of its size
// (before, the XML decoder held the whole node: a 200 MB upload took
// 586 MB).
func TestJunkUploadMemory(t *testing.T) {
	f := newFixture(t, Config{})
	const size = 128 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	req, _ := http.NewRequest("POST", f.srv.URL+"/v1/admin/sanctions?date=2024-06-01", &junk{size: size})
	req.ContentLength = size
	req.Header.Set("X-API-Key", f.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d MiB upload: %d, %s; %d MiB allocated", size>>20, resp.StatusCode, strings.TrimSpace(string(b)), alloc>>20)
	if resp.StatusCode != 400 || !strings.Contains(string(b), "not OFAC") {
		t.Fatalf("junk upload: %d %s", resp.StatusCode, b)
	}
	if alloc > size/4 {
		t.Fatalf("parsing a %d MiB junk upload allocated %d MiB", size>>20, alloc>>20)
	}
	if f.sc.Current().Snapshot.ID != 2 {
		t.Fatal("the junk upload changed the list in force")
	}
}
