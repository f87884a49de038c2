package screening

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fundtrace/fundtrace/cases"
	"github.com/fundtrace/fundtrace/explore"
	"github.com/fundtrace/fundtrace/store/embedded"
	"github.com/fundtrace/fundtrace/workbench"
)

// TestWorkbenchScale measures the workbench on a large case (not part of
// make test: it needs a store and a case file, e.g. the million-
// transaction chain make bench-scale caches):
//
//	FUNDTRACE_WORKBENCH_STORE=$PWD/.cache/bench-scale/btc-300-45/store \
//	FUNDTRACE_WORKBENCH_CASE=$PWD/.cache/bench-scale/btc-300-45/sim/case.csv \
//	go test ./screening -run TestWorkbenchScale -v -timeout 30m
//
// (absolute paths: go test runs in the package's folder, where a
// relative store path would name a new, empty store).
//
// It traces the case in the server, then in headless Chromium opens the
// case page (the first render: the aggregated graph fetched and drawn),
// expands groups and highlights victims one after another, and prints
// each latency (the page's own measure, from the request to the graph
// drawn) with the median and the 95th percentile. The goal is a p95
// under 200 ms.
func TestWorkbenchScale(t *testing.T) {
	dir, file := os.Getenv("FUNDTRACE_WORKBENCH_STORE"), os.Getenv("FUNDTRACE_WORKBENCH_CASE")
	if dir == "" || file == "" {
		t.Skip("set FUNDTRACE_WORKBENCH_STORE and FUNDTRACE_WORKBENCH_CASE to measure the workbench on a large case")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("FUNDTRACE_WORKBENCH_STORE: %v", err)
	}
	ctx, problems := browser(t)
	st, err := embedded.Open(dir, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	seeds, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := cases.New(context.Background(), st, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	start := time.Now()
	c, err := cs.Create(context.Background(), "scale", "bench", string(seeds))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("case %s: %d payments checked against the store in %s", c.ID, c.Payments, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	tr, err := cs.StartTrace(context.Background(), c.ID, "bench", cases.TraceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for tr.Status == cases.Running {
		time.Sleep(100 * time.Millisecond)
		_, tr, _ = cs.TraceFile(context.Background(), c.ID, tr.ID)
	}
	if tr.Status != cases.Done {
		t.Fatalf("trace: %+v", tr)
	}
	t.Logf("traced in %s: %d bytes of trace file", time.Since(start).Round(time.Millisecond), tr.Bytes)
	// The server's part alone: the graph built and regrouped.
	var serverMS []int
	for i := 0; i < 20; i++ {
		t0 := time.Now()
		g, err := cs.Graph(context.Background(), c.ID, tr.ID, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			t1 := time.Now()
			if _, err := cs.Graph(context.Background(), c.ID, tr.ID, nil, g.Victims[i*len(g.Victims)/20]); err != nil {
				t.Fatal(err)
			}
			serverMS = append(serverMS, int(time.Since(t1).Milliseconds()))
		} else {
			t.Logf("server: the graph read from the trace file and drawn in %d ms (%d nodes, %d edges)", time.Since(t0).Milliseconds(), len(g.Nodes), len(g.Edges))
		}
	}
	slices.Sort(serverMS)
	t.Logf("server: a victim highlighted in median %d ms, max %d ms", serverMS[len(serverMS)/2], serverMS[len(serverMS)-1])
	f := newFixtureOn(t, Config{Explore: explore.New(st), Cases: cs, UI: workbench.Handler(), Timeout: time.Minute}, st)
	drawn := func() int {
		var s string
		chromedp.Run(ctx, chromedp.Evaluate(`document.getElementById('graph-status').textContent`, &s))
		i := strings.Index(s, "drawn in ")
		if i < 0 {
			return -1
		}
		n, _ := strconv.Atoi(strings.Fields(s[i+len("drawn in "):])[0])
		return n
	}
	wait := func(cond string) chromedp.Action {
		return chromedp.Poll(`document.body.dataset.busy === '0' && (`+cond+`)`, nil, chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(5*time.Minute))
	}
	var nodes string
	err = chromedp.Run(ctx,
		chromedp.Navigate(f.srv.URL+"/"),
		chromedp.WaitVisible("#key", chromedp.ByID),
		chromedp.SendKeys("#key", f.key, chromedp.ByID),
		chromedp.Click(`#signin button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible("#new-case", chromedp.ByID),
		chromedp.Navigate(f.srv.URL+"/#/case/"+c.ID),
		wait(`document.querySelector('#graph canvas') !== null && document.getElementById('graph-status').textContent !== ''`),
		chromedp.Evaluate(`document.getElementById('graph').getAttribute('aria-label')`, &nodes))
	if err != nil {
		t.Fatalf("%v (%v)", err, problems())
	}
	t.Logf("first render: %d ms (%s)", drawn(), nodes)
	measure := func(name string, n int, act func(i int) []chromedp.Action) {
		var ms []int
		for i := 0; i < n; i++ {
			before := drawn()
			_ = before
			acts := append(act(i), wait(`true`))
			if err := chromedp.Run(ctx, acts...); err != nil {
				t.Fatalf("%s %d: %v (%v)", name, i, err, problems())
			}
			ms = append(ms, drawn())
		}
		s := slices.Clone(ms)
		slices.Sort(s)
		t.Logf("%s: %d times, median %d ms, p95 %d ms, max %d ms (%v)", name, len(s), s[len(s)/2], s[(len(s)*95+99)/100-1], s[len(s)-1], ms)
	}
	var victims []string
	chromedp.Run(ctx, chromedp.Evaluate(`Array.from(document.querySelectorAll('#victim option')).map(o => o.value).filter(Boolean)`, &victims))
	measure("highlight a victim", min(20, len(victims)), func(i int) []chromedp.Action {
		v := victims[i*len(victims)/20]
		return []chromedp.Action{chromedp.SetValue("#victim", v, chromedp.ByID), chromedp.Evaluate(`document.getElementById('victim').dispatchEvent(new Event('change')); true`, nil),
			wait(fmt.Sprintf(`document.getElementById('graph-status').textContent.includes(%q)`, v+"'s paths"))}
	})
	measure("expand a group", 10, func(i int) []chromedp.Action {
		return []chromedp.Action{chromedp.Evaluate(`(() => { const b = document.querySelectorAll('#groups button.expand'); const n = b.length; b[0].click(); return n; })()`, nil),
			wait(`document.querySelector('#graph canvas') !== null`)}
	})
	if p := problems(); len(p) > 1 {
		t.Errorf("the page raised: %v", p)
	}
}
