package screening

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/fundtrace/fundtrace/cases"
	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/explore"
	"github.com/fundtrace/fundtrace/labels"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/store/clickhouse"
	"github.com/fundtrace/fundtrace/workbench"
)

// browser starts headless Chromium for a test, or skips it (fails under
// FUNDTRACE_TEST_RENDER=1, as make test sets) when there is none. It
// returns a context whose actions run in one tab, and the console
// errors and exceptions the page raised.
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("FUNDTRACE_TEST_RENDER") == "1" {
			t.Fatal("FUNDTRACE_TEST_RENDER=1 but chromium is missing: run scripts/ensure-render.sh")
		}
		t.Skip("chromium not installed: the workbench is not checked in a browser (make test installs it)")
	}
	// The profile folder is removed after the browser is gone (a
	// t.TempDir would be removed while Chromium still writes to it).
	profile, err := os.MkdirTemp("", "fundtrace-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Chromium's helper processes outlive the browser by a moment and
		// may write its cache index again after the folder is removed:
		// remove it for a while.
		for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
			os.RemoveAll(profile)
		}
		os.RemoveAll(profile)
	})
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.UserDataDir(profile),
		chromedp.WindowSize(1400, 1000), chromedp.Flag("disable-gpu", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancel3)
	var mu sync.Mutex
	var problems []string
	chromedp.ListenTarget(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Error())
		case *log.EventEntryAdded:
			if e.Entry.Level == log.LevelError {
				problems = append(problems, "console: "+e.Entry.Text)
			}
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.APITypeError {
				problems = append(problems, "console.error")
			}
		}
	})
	if err := chromedp.Run(ctx, log.Enable()); err != nil {
		t.Fatal(err)
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

// artifacts is where a browser test keeps its screenshots and DOM:
// $FUNDTRACE_ARTIFACTS when set, else a folder under the system's
// temporary one (named in the log).
func artifacts(t *testing.T) string {
	dir := os.Getenv("FUNDTRACE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "fundtrace-artifacts")
	}
	dir = filepath.Join(dir, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots and DOM in %s", dir)
	return dir
}

// mustRegtest reads a regtest address.
func mustRegtest(t *testing.T, s string) chains.Address {
	a, err := bitcoin.NetworkByName("regtest").ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// contrastJS lists the texts of the page whose colour has less than 4.5:1
// contrast with the background behind them (the first opaque one up the
// tree), by WCAG's relative luminance.
const contrastJS = `(() => {
  const rgb = (s) => (s.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => { const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const bg = (el) => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor); if (c.length < 4 || c[3] > 0) return c; } return [255, 255, 255]; };
  const bad = [];
  for (const el of document.querySelectorAll('main *, header *')) {
    if (!Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
    const st = getComputedStyle(el);
    if (st.display === 'none' || st.visibility === 'hidden') continue;
    const a = lum(rgb(st.color)), b = lum(bg(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) bad.push(el.tagName + ' "' + el.textContent.trim().slice(0, 30) + '" ' + ratio.toFixed(2));
  }
  return bad;
})()`

// TestWorkbenchInBrowser drives the workbench in headless Chromium as an
// investigator would: signs in with a key, opens a case from the shipped
// scenario's case file (its title written as markup), runs the trace and
// watches it finish, sees the flow graph, expands a group, highlights a
// victim's paths, writes a note holding a script, fetches the trace file,
// moves by keyboard, signs out. It checks what a person would see (the
// DOM; screenshots kept) and that nothing the page was given ran as
// markup or script, and that the page raised no error (a
// Content-Security-Policy violation among them).
func TestWorkbenchInBrowser(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { workbenchInBrowser(t, exploreStore(t)) })
	t.Run("clickhouse", func(t *testing.T) {
		if chServer == nil {
			if os.Getenv("FUNDTRACE_TEST_CLICKHOUSE") == "1" {
				t.Fatal("FUNDTRACE_TEST_CLICKHOUSE=1 but no server was started")
			}
			t.Skip("no ClickHouse server (make test starts one)")
		}
		st, err := clickhouse.Open(context.Background(), "clickhouse://"+chServer.Addr()+fmt.Sprintf("/ft_workbench_%d", os.Getpid()), clickhouse.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fillTestStore(t, st)
		fillExplore(t, st)
		workbenchInBrowser(t, st)
	})
}

func workbenchInBrowser(t *testing.T, st store.Store) {
	ctx, problems := browser(t)
	cs, err := cases.New(context.Background(), st, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	// A label written as markup, on a miner's address (Miner 1's coinbase
	// in the simulator's truth: outside the case, whose trace it leaves as
	// it is).
	const payee = "bcrt1qe9jgm3msecvs4duwcs22c58dgsfu8h8z29vw53"
	const miner = "bcrt1q02adm5hcee05pva57r0x6xjt5cvsk3azup787w"
	labelText := `<img id=lbl src=x onerror="window.pwned=2">Mule`
	prev := labels.Network
	labels.Network = bitcoin.NetworkByName("regtest")
	ls, probs, err := labels.ReadCSV(strings.NewReader("chain,address,label,category,source\nbtc,"+miner+`,"<img id=lbl src=x onerror=""window.pwned=2"">Mule",miner,test`+"\n"), "test")
	labels.Network = prev
	if err != nil || len(probs) > 0 || len(ls) != 1 || ls[0].Label != labelText {
		t.Fatalf("the markup label: %+v %v %v", ls, probs, err)
	}
	if err := st.AddLabels(context.Background(), ls); err != nil {
		t.Fatal(err)
	}
	f := newFixtureOn(t, Config{Explore: explore.New(st), Cases: cs, UI: workbench.Handler()}, st)
	url := f.srv.URL
	out := artifacts(t)
	shot := func(name string) chromedp.Action {
		return chromedp.ActionFunc(func(ctx context.Context) error {
			var png []byte
			if err := chromedp.FullScreenshot(&png, 100).Do(ctx); err != nil {
				return err
			}
			var dom string
			if err := chromedp.OuterHTML("html", &dom).Do(ctx); err != nil {
				return err
			}
			os.WriteFile(filepath.Join(out, name+".png"), png, 0o644)
			return os.WriteFile(filepath.Join(out, name+".html"), []byte(dom), 0o644)
		})
	}
	// The page's policy: nothing from outside the server, no inline script.
	resp, err := http.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Fatalf("the page's Content-Security-Policy: %q", csp)
	}
	seeds, err := os.ReadFile(filepath.Join(simDir, "btc", "case.csv"))
	if err != nil {
		t.Fatal(err)
	}
	title := `Op <img src=x id=injected> "Pig" 7`
	note := `<script>window.pwned = 1</script><b>bold?</b>`
	var h1, status, graphStatus, noteText, focused, listed string
	var injected, pwned, canvases, nodesBefore, nodesAfter int
	run := func(name string, actions ...chromedp.Action) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := chromedp.Run(sctx, actions...); err != nil {
			var main string
			chromedp.Run(ctx, chromedp.Evaluate(`document.getElementById('main').textContent.slice(0, 300)`, &main))
			t.Fatalf("%s: %v (page problems: %v; the page says %q)", name, err, problems(), main)
		}
	}
	// idle waits until the page has no call pending and cond holds.
	idle := func(cond string) chromedp.Action {
		return chromedp.Poll(`document.body.dataset.busy === '0' && (`+cond+`)`, nil, chromedp.WithPollingInterval(50*time.Millisecond))
	}
	nodes := `parseInt(document.getElementById('graph').getAttribute('aria-label').split(': ')[1])`
	run("sign in",
		chromedp.Navigate(url+"/"),
		chromedp.WaitVisible("#key", chromedp.ByID),
		shot("01-sign-in"),
		chromedp.SendKeys("#key", f.key, chromedp.ByID),
		chromedp.Click(`#signin button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible("#new-case", chromedp.ByID))
	run("open a case",
		chromedp.SendKeys("#case-title", title, chromedp.ByID),
		chromedp.SetValue("#case-seeds", string(seeds), chromedp.ByID),
		chromedp.Click(`#new-case button[type=submit]`, chromedp.ByQuery),
		idle(`document.getElementById('run-trace') !== null`),
		chromedp.Evaluate(`document.querySelector('h1').textContent`, &h1),
		chromedp.Evaluate(`document.querySelectorAll('#injected, main img').length`, &injected))
	run("run the trace",
		chromedp.Click("#run-trace", chromedp.ByID),
		idle(`document.querySelector('#traces .status-done') !== null && document.querySelector('#graph canvas') !== null && document.getElementById('deposits') !== null`),
		chromedp.Evaluate(`document.querySelector('#traces .status-done').textContent`, &status),
		chromedp.Evaluate(`document.querySelectorAll('#graph canvas').length`, &canvases),
		chromedp.Evaluate(nodes, &nodesBefore),
		shot("02-case-graph"))
	run("expand a group", // by its button: the keyboard's way
		chromedp.Click(`#trace-view details summary`, chromedp.ByQuery),
		chromedp.Click(`#groups button.expand`, chromedp.ByQuery),
		idle(nodes+` !== `+fmt.Sprint(nodesBefore)),
		chromedp.Evaluate(nodes, &nodesAfter),
		shot("03-expanded"))
	run("highlight a victim",
		chromedp.SetValue("#victim", "victim 62 payment 0", chromedp.ByID),
		chromedp.Evaluate(`document.getElementById('victim').dispatchEvent(new Event('change')); true`, nil),
		idle(`document.getElementById('graph-status').textContent.includes("payment 0's paths")`),
		chromedp.Evaluate(`document.getElementById('graph-status').textContent`, &graphStatus),
		shot("04-highlight"))
	var hop string
	var explored int
	run("follow a next hop", // beyond the trace, from the chain
		chromedp.SetValue("#hop-address", payee, chromedp.ByID),
		chromedp.Click(`#hop-form button[type=submit]`, chromedp.ByQuery),
		idle(`document.getElementById('hop-status').textContent !== ''`),
		chromedp.Evaluate(`document.getElementById('hop-status').textContent`, &hop),
		chromedp.Evaluate(`document.getElementById('hop-status').textContent.split(' ')[0] | 0`, &explored),
		shot("04b-next-hop"))
	// What the chain says: the addresses paid by the transactions that
	// spent the payee's outputs, as btcd reads the block files.
	outs, _, blockTxs := simBlocks(t)
	next, spenders := map[string]bool{}, 0
	for _, tx := range blockTxs {
		spends := false
		for _, in := range tx.TxIn {
			if o := outs[in.PreviousOutPoint]; len(o.addrs) == 1 && o.addrs[0] == payee {
				spends = true
			}
		}
		if !spends {
			continue
		}
		spenders++
		h := tx.TxHash()
		for i := range tx.TxOut {
			for _, a := range outs[wire.OutPoint{Hash: h, Index: uint32(i)}].addrs {
				if a != payee {
					next[a] = true
				}
			}
		}
	}
	if want := fmt.Sprintf("%d addresses next, from %d spending transactions", len(next), spenders); spenders > 12 || !strings.HasPrefix(hop, want) || explored != len(next) {
		t.Errorf("next hop: %q, the chain says %q", hop, want)
	}
	run("write a note", // holding a script: shown as text, never run
		chromedp.SetValue("#note-ref", "bcrt1qe9jgm3msecvs4duwcs22c58dgsfu8h8z29vw53", chromedp.ByID),
		chromedp.SetValue("#note-text", note, chromedp.ByID),
		chromedp.Click(`#note-form button[type=submit]`, chromedp.ByQuery),
		idle(`document.querySelector('.note-text') !== null`),
		chromedp.Evaluate(`document.querySelector('.note-text').textContent`, &noteText),
		chromedp.Evaluate(`(window.pwned || 0) + document.querySelectorAll('#notes script, #notes b').length`, &pwned),
		shot("05-note"))
	// The miner's page: its label, written as markup, shows as text.
	var labelShown string
	var lbl int
	run("a label written as markup",
		chromedp.Evaluate(`location.hash = '#/btc/address/`+miner+`'; true`, nil),
		idle(`document.querySelector('main .panel') !== null`),
		chromedp.Evaluate(`document.querySelector('main .panel').textContent`, &labelShown),
		chromedp.Evaluate(`document.querySelectorAll('#lbl').length + (window.pwned || 0)`, &lbl),
		shot("05b-label"),
		chromedp.Evaluate(`location.hash = '#/case/case-1'; true`, nil),
		idle(`document.getElementById('note-form') !== null && document.querySelector('#graph canvas') !== null`))
	// A transaction's page and a cluster's, as the chain and the store
	// say them: the case's first payment's outputs, the payee's cluster's
	// members.
	tx := strings.Split(strings.Split(string(seeds), "\n")[1], ",")[1]
	id, clusterSize, err := st.ClusterOf(context.Background(), chains.Bitcoin, mustRegtest(t, payee))
	if err != nil {
		t.Fatal(err)
	}
	var outputs, members int
	run("a transaction and a cluster",
		chromedp.Evaluate(`location.hash = '#/btc/tx/`+tx+`'; true`, nil),
		idle(`document.querySelectorAll('main table').length === 2`),
		chromedp.Evaluate(`document.querySelectorAll('main table')[1].querySelectorAll('tr').length - 1`, &outputs),
		chromedp.Evaluate(`location.hash = '#/btc/cluster/`+fmt.Sprint(id)+`'; true`, nil),
		idle(`document.querySelector('main ul') !== null`),
		chromedp.Evaluate(`document.querySelectorAll('main ul li').length`, &members),
		shot("05c-cluster"),
		chromedp.Evaluate(`location.hash = '#/case/case-1'; true`, nil),
		idle(`document.getElementById('note-form') !== null && document.querySelector('#graph canvas') !== null`))
	_, _, txs := simBlocks(t)
	if outputs != len(txs[tx].TxOut) || members != int(min(clusterSize, 100)) {
		t.Errorf("transaction page: %d outputs (the chain: %d); cluster page: %d members (the store: %d)", outputs, len(txs[tx].TxOut), members, clusterSize)
	}
	if lbl != 0 || !strings.Contains(labelShown, labelText) {
		t.Errorf("the label shows as %q (%d elements made or scripts run), want its text %q", labelShown, lbl, labelText)
	}
	// Readable contrast: every text on the case page at least 4.5:1
	// against its background (WCAG AA), its colours as the browser
	// computes them; and Tab walks through the controls.
	var lowContrast []string
	run("contrast and Tab",
		chromedp.Evaluate(contrastJS, &lowContrast),
		chromedp.Evaluate(`document.activeElement.blur(); true`, nil),
		chromedp.KeyEvent(kb.Tab), chromedp.Evaluate(`document.activeElement.tagName + '#' + document.activeElement.id`, &focused))
	if len(lowContrast) > 0 {
		t.Errorf("text below 4.5:1 contrast: %v", lowContrast)
	}
	if !strings.HasPrefix(focused, "A") && !strings.HasPrefix(focused, "INPUT") && !strings.HasPrefix(focused, "BUTTON") {
		t.Errorf("Tab from the page's start focused %q, not a control", focused)
	}
	run("search from the keyboard", // / goes to the search box
		idle(`true`),
		chromedp.Evaluate(`document.activeElement.blur(); true`, nil),
		chromedp.KeyEvent("/"),
		chromedp.Evaluate(`document.activeElement.id`, &focused),
		// (chromedp types the / too, which a person's browser does not
		// once the page took the key: clear it.)
		chromedp.Evaluate(`document.getElementById('q').value = ''; true`, nil),
		chromedp.KeyEvent("Exchange B\r"),
		idle(`document.getElementById('search-results') !== null`),
		chromedp.Evaluate(`document.getElementById('search-results').textContent`, &listed),
		shot("06-search"))
	if h1 != title || injected != 0 {
		t.Errorf("the case's title shows as %q, %d injected elements; want the text %q", h1, injected, title)
	}
	if !strings.HasPrefix(status, "done") || canvases == 0 {
		t.Errorf("trace status %q, %d canvases", status, canvases)
	}
	if nodesAfter <= nodesBefore {
		t.Errorf("expanding a group: %d nodes before, %d after", nodesBefore, nodesAfter)
	}
	if !strings.Contains(graphStatus, "flows on victim 62 payment 0's paths") || strings.Contains(graphStatus, " 0 flows on") {
		t.Errorf("highlight: %q", graphStatus)
	}
	if noteText != note || pwned != 0 {
		t.Errorf("the note shows as %q (%d script or markup elements, or it ran); want the text %q", noteText, pwned, note)
	}
	if focused != "q" || !strings.Contains(listed, "Exchange B hot wallet") {
		t.Errorf("keyboard: / focused %q; search listed %q", focused, listed)
	}
	// The case's information, then the report as the page's link fetches
	// it (a zip).
	var zipHead string
	run("download the report",
		chromedp.Navigate(url+"/#/case/case-1"),
		idle(`document.getElementById('info-form') !== null`),
		chromedp.SetValue("#info-agency", "Cyber Bureau", chromedp.ByID),
		chromedp.SetValue("#info-investigator", "Kim", chromedp.ByID),
		chromedp.SetValue("#info-email", "kim@example.org", chromedp.ByID),
		chromedp.SetValue("#info-date", "2026-12-05", chromedp.ByID),
		chromedp.Click(`#info-form button[type=submit]`, chromedp.ByQuery),
		idle(`document.querySelector('a.bundle-report') !== null`),
		chromedp.Evaluate(`fetch(document.querySelector('a.bundle-report').href).then(r => r.ok ? r.arrayBuffer() : new ArrayBuffer(0)).then(b => String.fromCharCode(...new Uint8Array(b.slice(0, 2))))`, &zipHead,
			func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }),
		shot("07-report"))
	if zipHead != "PK" {
		t.Errorf("the report link fetched %q, not a zip", zipHead)
	}
	// The trace file, as the page's link fetches it (the session cookie).
	var size int
	run("fetch the trace file, sign out",
		chromedp.Navigate(url+"/#/case/case-1"),
		idle(`document.querySelector('#traces a[download]') !== null`),
		chromedp.Evaluate(`fetch(document.querySelector('#traces a[download]').href).then(r => r.ok ? r.text() : '').then(t => t.length)`, &size, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
			return p.WithAwaitPromise(true)
		}),
		chromedp.Click("#signout", chromedp.ByID),
		chromedp.WaitVisible("#key", chromedp.ByID),
		shot("08-signed-out"))
	c, err := cs.Get(context.Background(), "case-1")
	if err != nil || len(c.Traces) != 1 || int64(size) != c.Traces[0].Bytes {
		t.Errorf("the trace file fetched from the page: %d bytes; the record %+v (%v)", size, c, err)
	}
	// After signing out the session is gone: the API refuses the page.
	var code int
	chromedp.Run(ctx, chromedp.Evaluate(`fetch('/v1/cases').then(r => r.status)`, &code, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	if code != 401 {
		t.Errorf("after signing out, /v1/cases answers %d", code)
	}
	for _, p := range problems() {
		if !strings.Contains(p, "401") { // the refused fetch above logs its status
			t.Errorf("the page raised: %s", p)
		}
	}
}
