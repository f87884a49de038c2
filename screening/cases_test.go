package screening

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fundtrace/fundtrace/cases"
	"github.com/fundtrace/fundtrace/explore"
	"github.com/fundtrace/fundtrace/tracefile"
)

// TestCases: a case opened over the API with the shipped Bitcoin
// scenario's victims' payments, its trace run in the background
// and its file fetched; notes kept with their author, their text as
// written (markup included: escaping is the page's business); a
// read-only key reads but writes nothing; bad seeds are refused with the
// line that is wrong; a server stopped mid-trace marks it interrupted.
// Every answer validates against /openapi.json.
func TestCases(t *testing.T) {
	ctx := context.Background()
	st := exploreStore(t)
	dir := t.TempDir()
	cs, err := cases.New(ctx, st, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	f := newFixtureOn(t, Config{Explore: explore.New(st), Cases: cs}, st)
	s, key, c := f.server, f.key, newContract(t)
	ro, _, err := CreateKey(f.keys, "auditor", KeyOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cfg.Keys.reload(true); err != nil {
		t.Fatal(err)
	}
	csv, err := os.ReadFile(filepath.Join(simDir, "btc", "case.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(csv)), "\n")
	seeds := strings.Join(lines, "\n") + "\n"
	n := len(lines) - 1
	body := func(v any) string { b, _ := json.Marshal(v); return string(b) }

	c.call(t, s, "POST", "/v1/cases", ro, body(map[string]string{"title": "x"}), 403)
	c.call(t, s, "POST", "/v1/cases", key, body(map[string]string{"title": ""}), 400)
	bad := lines[0] + "\n" + strings.Replace(lines[1], lines[1][4:10], "000000", 1) + "\n"
	if b := c.call(t, s, "POST", "/v1/cases", key, body(map[string]string{"title": "bad", "seeds": bad}), 400); !strings.Contains(string(b), "line 2") {
		t.Errorf("a case file row naming no payment: %s, want its line named", b)
	}
	c.call(t, s, "POST", "/v1/cases", key, `{"title": "x", "sneaky": 1}`, 400)

	var cse cases.Case
	if err := json.Unmarshal(c.call(t, s, "POST", "/v1/cases", key, body(map[string]string{"title": "Op <Pig> 7", "seeds": seeds}), 201), &cse); err != nil {
		t.Fatal(err)
	}
	if cse.ID != "case-1" || cse.Payments != n || cse.CreatedBy != "acme payments" || cse.Title != "Op <Pig> 7" {
		t.Fatalf("created %+v", cse)
	}
	var found SearchAnswer
	c.get(t, s, "/v1/search?q=pig", ro, &found)
	if len(found.Hits) != 1 || found.Hits[0].Kind != "case" || found.Hits[0].ID != "case-1" {
		t.Errorf("search for the case's title: %+v", found)
	}
	var list CasesAnswer
	c.get(t, s, "/v1/cases", ro, &list)
	if len(list.Cases) != 1 || list.Cases[0].Seeds != "" || list.Cases[0].Payments != n {
		t.Fatalf("list: %+v", list)
	}

	// Notes: the author is the key's name; the text is kept as written.
	script := `<script>alert("x")</script> & "quotes"`
	c.call(t, s, "POST", "/v1/cases/case-1/notes", ro, body(map[string]any{"target": map[string]string{"kind": "address", "chain": "btc", "ref": "x"}, "text": "no"}), 403)
	c.call(t, s, "POST", "/v1/cases/case-1/notes", key, body(map[string]any{"target": map[string]string{"kind": "planet", "chain": "btc", "ref": "x"}, "text": "no"}), 400)
	c.call(t, s, "POST", "/v1/cases/case-9/notes", key, body(map[string]any{"target": map[string]string{"kind": "tx", "chain": "btc", "ref": "x"}, "text": "no"}), 404)
	addr := strings.Split(lines[1], ",")[2]
	c.call(t, s, "POST", "/v1/cases/case-1/notes", key, body(map[string]any{"target": map[string]string{"kind": "address", "chain": "btc", "ref": addr}, "text": script, "tags": []string{"mule"}}), 201)

	// A trace in the background; a second while it runs is refused.
	c.call(t, s, "POST", "/v1/cases/case-1/trace", ro, "", 403)
	c.call(t, s, "POST", "/v1/cases/case-1/trace", key, `{"models": ["karma"]}`, 400)
	var tr cases.Trace
	if err := json.Unmarshal(c.call(t, s, "POST", "/v1/cases/case-1/trace", key, `{"models": ["haircut", "fifo"], "through_mixers": true}`, 202), &tr); err != nil {
		t.Fatal(err)
	}
	if tr.Status != cases.Running || tr.ID != "trace-1" {
		t.Fatalf("started %+v", tr)
	}
	for deadline := time.Now().Add(time.Minute); tr.Status == cases.Running; {
		if time.Now().After(deadline) {
			t.Fatal("the trace did not end within a minute")
		}
		time.Sleep(20 * time.Millisecond)
		c.get(t, s, "/v1/cases/case-1/traces/trace-1", ro, &tr)
	}
	if tr.Status != cases.Done || tr.SHA256 == "" {
		t.Fatalf("trace ended %+v", tr)
	}
	req := httptest.NewRequest("GET", "/v1/cases/case-1/traces/trace-1/file", nil)
	req.Header.Set("X-API-Key", ro)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	sum := sha256.Sum256(w.Body.Bytes())
	if w.Code != 200 || hex.EncodeToString(sum[:]) != tr.SHA256 || w.Header().Get("X-Content-SHA256") != tr.SHA256 || int64(w.Body.Len()) != tr.Bytes {
		t.Fatalf("trace file: %d, %d bytes, sha256 %x; the record says %+v", w.Code, w.Body.Len(), sum, tr)
	}
	j, err := tracefile.Parse(w.Body.Bytes(), "trace-1")
	if err != nil {
		t.Fatal(err)
	}
	// The file traces the case's payments, as the case file names them.
	if len(j.Seeds) != n || !j.Params.ThroughMixers || len(j.Deposits) == 0 {
		t.Fatalf("trace file: %d seeds, through mixers %v, %d deposits", len(j.Seeds), j.Params.ThroughMixers, len(j.Deposits))
	}
	for i, sd := range j.Seeds {
		row := strings.Split(lines[i+1], ",")
		if sd.Tx != row[1] || sd.Address != row[2] || sd.Amount != row[3] || sd.Victim != row[5] {
			t.Errorf("seed %d: %+v, the case file's row %v", i, sd, row)
		}
	}

	// The graph: every victim a node; what the edges carry into each
	// exchange, per asset, is what the trace file's flows into its deposit
	// addresses carried.
	var g cases.Graph
	c.get(t, s, "/v1/cases/case-1/traces/trace-1/graph", ro, &g)
	victims := map[string]bool{}
	for _, sd := range j.Seeds {
		victims[sd.Victim] = true
	}
	if len(g.Victims) != len(victims) {
		t.Errorf("graph: %d victims, the trace %d", len(g.Victims), len(victims))
	}
	// (The flows into a deposit address, not the deposit rows: those are
	// each victim's share, rounded down, of what arrived.)
	exchangeOf := map[string]string{}
	for _, d := range j.Deposits {
		exchangeOf[d.Address] = d.Exchange
	}
	want := map[string]*big.Int{}
	for _, fl := range j.Flows {
		ex, in := exchangeOf[fl.To]
		if _, from := exchangeOf[fl.From[0]]; !in || from {
			continue
		}
		k := "exchange:" + ex + " " + fl.Asset
		if want[k] == nil {
			want[k] = new(big.Int)
		}
		v, _ := new(big.Int).SetString(fl.Haircut, 10)
		want[k].Add(want[k], v)
	}
	gotIn := map[string]*big.Int{}
	for _, e := range g.Edges {
		if strings.HasPrefix(e.Target, "exchange:") && !strings.HasPrefix(e.Source, "exchange:") {
			k := e.Target + " " + e.Asset
			if gotIn[k] == nil {
				gotIn[k] = new(big.Int)
			}
			v, _ := new(big.Int).SetString(e.Haircut, 10)
			gotIn[k].Add(gotIn[k], v)
		}
	}
	if fmt.Sprint(gotIn) != fmt.Sprint(want) {
		t.Errorf("into the exchanges: the graph's edges carry %v, the deposits %v", gotIn, want)
	}
	// Expanding the largest group shows its addresses; highlighting a
	// victim marks its paths, from its node to an exchange it reached.
	var big1 cases.GraphNode
	for _, n := range g.Nodes {
		if n.Kind != "victim" && n.Members > big1.Members {
			big1 = n
		}
	}
	var ex cases.Graph
	c.get(t, s, "/v1/cases/case-1/traces/trace-1/graph?expand="+url.QueryEscape(big1.ID)+"&victim="+url.QueryEscape(j.Deposits[0].Victim), ro, &ex)
	members := 0
	for _, n := range ex.Nodes {
		if n.Group == big1.ID {
			members++
		}
		if n.ID == big1.ID {
			t.Errorf("expanded group %s still drawn whole", big1.ID)
		}
	}
	if big1.Members < 2 || members != big1.Members {
		t.Errorf("expanding %s (%d members): %d addresses drawn", big1.ID, big1.Members, members)
	}
	h := ex.Highlight
	if h == nil || len(h.Edges) == 0 || !slices.Contains(h.Nodes, "victim:"+j.Deposits[0].Victim) || !slices.Contains(h.Nodes, "exchange:"+j.Deposits[0].Exchange) {
		t.Errorf("highlight of %s (a deposit at %s): %+v", j.Deposits[0].Victim, j.Deposits[0].Exchange, h)
	}
	// The timeline counts every flow and deposit of the file, by day.
	flows, deps := 0, 0
	for _, d := range g.Timeline {
		flows += d.Flows
		deps += d.Deposits
	}
	if flows != len(j.Flows) || deps != len(j.Deposits) {
		t.Errorf("timeline: %d flows, %d deposits; the trace file %d, %d", flows, deps, len(j.Flows), len(j.Deposits))
	}
	c.call(t, s, "GET", "/v1/cases/case-1/traces/trace-1/graph?expand=nothing", ro, "", 400)
	c.call(t, s, "GET", "/v1/cases/case-1/traces/trace-1/graph?victim=nobody", ro, "", 400)

	// The report bundle and the freezing requests: dated by the request or
	// the case's information, the notes inside, every file in the
	// manifest with its hash.
	c.call(t, s, "GET", "/v1/cases/case-1/traces/trace-1/report", ro, "", 400) // no date
	c.call(t, s, "POST", "/v1/cases/case-1/info", ro, `{"agency": "x"}`, 403)
	c.call(t, s, "POST", "/v1/cases/case-1/info", key, `{"agency": "x", "colour": "red"}`, 400)
	c.call(t, s, "POST", "/v1/cases/case-1/info", key, body(map[string]string{"reference": "OP-PIG-7", "agency": "Cyber Bureau", "investigator": "Kim",
		"email": "kim@example.org", "date": "2026-12-05"}), 200)
	zr := func(b []byte) map[string][]byte {
		z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]byte{}
		for _, f := range z.File {
			r, _ := f.Open()
			out[f.Name], _ = io.ReadAll(r)
			r.Close()
		}
		return out
	}
	rep := zr(c.call(t, s, "GET", "/v1/cases/case-1/traces/trace-1/report", ro, "", 200))
	var man struct {
		Files []struct {
			Path   string `json:"path"`
			SHA256 string `json:"sha256"`
		} `json:"files"`
	}
	if err := json.Unmarshal(rep["report/manifest.json"], &man); err != nil {
		t.Fatal(err)
	}
	listed := 0
	for _, mf := range man.Files {
		sum := sha256.Sum256(rep["report/"+mf.Path])
		if hex.EncodeToString(sum[:]) != mf.SHA256 {
			t.Errorf("report bundle: %s's hash differs from the manifest's", mf.Path)
		}
		listed++
	}
	if listed != len(rep)-1 || !bytes.Contains(rep["report/notes.csv"], []byte("mule")) || !bytes.Contains(rep["report/report.html"], []byte("notes.csv")) || !bytes.HasPrefix(rep["report/report.pdf"], []byte("%PDF")) ||
		!bytes.Equal(rep["report/trace.json"], w.Body.Bytes()) {
		t.Errorf("report bundle: %d files, %d in the manifest; notes %q", len(rep), listed, rep["report/notes.csv"])
	}
	letters := 0
	for n := range rep {
		if strings.HasPrefix(n, "report/freeze/") && strings.HasSuffix(n, ".pdf") {
			letters++
		}
	}
	fr := zr(c.call(t, s, "GET", "/v1/cases/case-1/traces/trace-1/freeze", ro, "", 200))
	exchanges := map[string]bool{}
	for _, d := range j.Deposits {
		exchanges[d.Exchange] = true
	}
	if len(fr) != 2*len(exchanges) || letters != len(exchanges) {
		t.Errorf("freezing requests: %d files, %d letters in the report, for %d exchanges", len(fr), letters, len(exchanges))
	}
	for n, b := range fr {
		if strings.HasSuffix(n, ".json") && !bytes.Contains(b, []byte("Cyber Bureau")) {
			t.Errorf("%s does not name the sender", n)
		}
	}

	var got CaseAnswer
	c.get(t, s, "/v1/cases/case-1", ro, &got)
	if len(got.Notes) != 1 || got.Notes[0].Text != script || got.Notes[0].Author != "acme payments" || got.Notes[0].Tags[0] != "mule" ||
		len(got.Case.Traces) != 1 || got.Case.Seeds != seeds {
		t.Fatalf("case: %+v", got)
	}
	c.call(t, s, "GET", "/v1/cases/case-1/traces/trace-9", key, "", 404)
	c.call(t, s, "GET", "/v1/cases/case-2", key, "", 404)

	// A server that stopped mid-trace: the next one says it was
	// interrupted.
	b, _ := st.Record(ctx, "case", "case-1")
	var rec cases.Case
	json.Unmarshal(b, &rec)
	rec.Traces = append(rec.Traces, cases.Trace{ID: "trace-2", Status: cases.Running})
	b, _ = json.Marshal(rec)
	if err := st.PutRecord(ctx, "case", "case-1", b); err != nil {
		t.Fatal(err)
	}
	cs2, err := cases.New(ctx, st, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs2.Close()
	again, err := cs2.Get(ctx, "case-1")
	if err != nil || again.Traces[1].Status != cases.Interrupted || again.Traces[0].Status != cases.Done {
		t.Fatalf("after a restart: %+v %v", again, err)
	}
}
