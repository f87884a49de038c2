package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fundtrace/fundtrace/internal/csvtest"
	"github.com/fundtrace/fundtrace/internal/shareddata"
	"github.com/fundtrace/fundtrace/report"
	"github.com/fundtrace/fundtrace/tracefile"
)

// reportStore indexes, clusters and labels the shipped Bitcoin scenario
// and imports a real OFAC list, as an investigator's store would be.
func reportStore(t *testing.T) string {
	t.Helper()
	const scen = "../../testdata/sim/btc"
	st := t.TempDir() + "/store"
	runEach(t, st,
		[]string{"index", "btc", "--blocks", scen + "/blocks"},
		[]string{"cluster"},
		[]string{"labels", "import", scen + "/labels.csv"},
		[]string{"sanctions", "import", shareddata.Path(t, "sanctions", "ofac", "legacy-csv", "git-scrape", "sdn_2024-05-03.csv.gz"), "--date", "2024-05-03", "--allow-truncated"},
	)
	return st
}

// TestReportBundle: the report of the shipped scenario's case, twice from
// the same inputs: byte-identical bundles; verify confirms one and names
// the file changed in a tampered copy; prices known are applied (a
// deposit's USD is its satoshis times that day's price), prices missing
// are empty cells with their reason; the letters carry the sender, the
// date and the reference of the case information and no placeholder.
func TestReportBundle(t *testing.T) {
	st := reportStore(t)
	dir := t.TempDir()
	prices := filepath.Join(dir, "prices.csv")
	// Hand-made prices for two of the scenario's days only.
	os.WriteFile(prices, []byte("date,asset,price,currency\n2024-01-04,BTC,44000.50,USD\n2024-01-04,BTC,40100,EUR\n2024-01-05,BTC,43500,USD\n"), 0o644)
	const caseInfo = "../../testdata/sim/btc/case-info.yaml"
	args := func(out string) []string {
		return []string{"--store", st, "report", "--case", "../../testdata/sim/btc/case.csv", "--through-mixers", "--out", out,
			"--prices", prices, "--fiat", "EUR", "--case-info", caseInfo}
	}
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if _, _, err := run(t, args(a)...); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, args(b)...); err != nil {
		t.Fatal(err)
	}
	var files []string
	filepath.Walk(a, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			rel, _ := filepath.Rel(a, p)
			files = append(files, rel)
		}
		return nil
	})
	if len(files) < 10 {
		t.Fatalf("bundle: %v", files)
	}
	for _, f := range files {
		x, _ := os.ReadFile(filepath.Join(a, f))
		y, err := os.ReadFile(filepath.Join(b, f))
		if err != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs on the same inputs", f)
		}
	}
	tr, err := tracefile.Read(filepath.Join(a, "trace.json"))
	if err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(filepath.Join(a, "report.html"))
	h := string(html)
	if strings.Contains(h, `src="http`) || strings.Contains(h, `href="http`) || strings.Contains(h, "url(") || strings.Contains(h, "<script") || strings.Contains(h, "<link") || strings.Contains(h, "@import") {
		t.Fatal("report.html refers to something outside itself")
	}
	// A deposit on a priced day: USD = satoshis × price / 10^8, to the
	// cent, in deposits.csv; a day without a price: empty, with why.
	rows := csvtest.Read(t, filepath.Join(a, "deposits.csv"))
	if len(rows) != len(tr.Deposits) {
		t.Fatalf("deposits.csv has %d rows, the trace %d deposits", len(rows), len(tr.Deposits))
	}
	var priced, unpriced bool
	for i, d := range tr.Deposits {
		r := rows[i]
		if r["txid"] != d.Tx || r["haircut_base_units"] != d.Haircut || r["victim"] != d.Victim {
			t.Fatalf("deposits.csv row %d: %v, the trace's deposit %+v", i+1, r, d)
		}
		sats, _ := new(big.Rat).SetString(d.Haircut)
		switch d.Time[:10] {
		case "2024-01-04":
			usd := new(big.Rat).Mul(sats, big.NewRat(4400050, 100))
			usd.Quo(usd, big.NewRat(1e8, 1))
			if r["haircut_usd"] != usd.FloatString(2) || r["price_status"] != "priced" {
				t.Fatalf("deposit %s %s: USD %q, want %s", d.Tx, d.Time, r["haircut_usd"], usd.FloatString(2))
			}
			priced = true
		case "2024-01-05":
		default:
			if r["haircut_usd"] != "" || r["price_status"] != "no BTC price for "+d.Time[:10] {
				t.Fatalf("deposit on %s without a price: %q %q", d.Time[:10], r["haircut_usd"], r["price_status"])
			}
			unpriced = true
		}
	}
	if !priced || !unpriced {
		t.Fatalf("priced %v, unpriced %v", priced, unpriced)
	}
	// transactions.csv: one row per flow, a numeric column never holds a word.
	flows := csvtest.Read(t, filepath.Join(a, "transactions.csv"))
	if len(flows) != len(tr.Flows) {
		t.Fatalf("transactions.csv has %d rows, the trace %d flows", len(flows), len(tr.Flows))
	}
	for _, r := range flows {
		for _, c := range []string{"value_base_units", "haircut_base_units", "fifo_base_units", "haircut_usd", "fifo_usd", "value_in_asset"} {
			if v := r[c]; v != "" {
				if _, ok := new(big.Rat).SetString(v); !ok {
					t.Fatalf("transactions.csv: %s is %q", c, v)
				}
			}
		}
	}
	for _, want := range []string{"<svg", "OP-PIG-7", "Example Police Agency", "Flow graph (aggregated)", "Method: heuristics, models and their measured accuracy", "Annex A", tr.Exchanges[0].Exchange} {
		if !strings.Contains(h, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	// The manifest records the inputs.
	var man struct {
		Tips      []struct{ Chain string } `json:"store_tips"`
		Case      struct{ SHA256 string }  `json:"case_file"`
		CaseInfo  struct{ SHA256 string }  `json:"case_info"`
		Sanctions struct {
			Date string `json:"list_date"`
		} `json:"sanctions_snapshot"`
		Labels []struct{ Source string } `json:"label_sets"`
		Files  []struct{ Path, SHA256 string }
	}
	mb, _ := os.ReadFile(filepath.Join(a, "manifest.json"))
	if err := json.Unmarshal(mb, &man); err != nil {
		t.Fatal(err)
	}
	if len(man.Tips) != 1 || len(man.Case.SHA256) != 64 || len(man.CaseInfo.SHA256) != 64 || man.Sanctions.Date != "2024-05-03" || len(man.Labels) == 0 || len(man.Files) != len(files)-1 {
		t.Fatalf("manifest: %d tips, case %q, sanctions %q, %d label sets, %d files of %d: %s", len(man.Tips), man.Case.SHA256, man.Sanctions.Date, len(man.Labels), len(man.Files), len(files), mb[:200])
	}
	// The request for machines: who asks, what, and the deposits.
	var req report.Request
	if err := json.Unmarshal(mustRead(t, filepath.Join(a, "freeze", report.FileName(tr.Exchanges[0].Exchange)+".json")), &req); err != nil {
		t.Fatal(err)
	}
	if req.Schema != report.RequestSchema || req.Date != "2024-02-01" || req.Requester == nil || req.Requester.Agency != "Example Police Agency" ||
		len(req.Requester.Reply) == 0 || req.Requester.Reply[0] != "cyber-fraud@example.org" || len(req.Asks) != 3 || len(req.Deposits) == 0 || len(req.Payments) == 0 {
		t.Fatalf("freeze request JSON: %+v", req)
	}
	if out, _, err := run(t, "--store", st, "verify", a); err != nil || !strings.Contains(out, "verified") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	// Verified by another fundtrace version: the version alone is no
	// difference, and verify says whose bundle it is (in JSON too).
	was := version
	version = "v0.0.0-other"
	out, _, err := run(t, "verify", a, "--store", st, "--json")
	version = was
	var vj struct {
		Verified    bool     `json:"verified"`
		Differences []string `json:"differences"`
		Notes       []string `json:"notes"`
	}
	if err != nil || json.Unmarshal([]byte(out), &vj) != nil || !vj.Verified || len(vj.Differences) != 0 || len(vj.Notes) != 1 || !strings.Contains(vj.Notes[0], "v0.0.0-other") {
		t.Fatalf("verify by another version: %v\n%s", err, out)
	}
	// Tampered: the changed file is named.
	os.WriteFile(filepath.Join(b, "transactions.csv"), append(mustRead(t, filepath.Join(b, "transactions.csv")), '\n'), 0o644)
	out, _, err = run(t, "--store", st, "verify", b)
	if err == nil || !strings.Contains(out, "transactions.csv") {
		t.Fatalf("tampered bundle: %v\n%s", err, out)
	}
	// A manifest naming a file outside the bundle is refused.
	c := filepath.Join(dir, "c")
	copyDir(t, a, c)
	var raw map[string]any
	json.Unmarshal(mb, &raw)
	raw["files"].([]any)[0].(map[string]any)["path"] = "../../../etc/passwd"
	evil, _ := json.Marshal(raw)
	os.WriteFile(filepath.Join(c, "manifest.json"), evil, 0o644)
	if out, _, err := run(t, "--store", st, "verify", c); err == nil || !strings.Contains(err.Error(), "outside the bundle") {
		t.Fatalf("manifest path outside the bundle: %v\n%s", err, out)
	}
	// --out into a folder that holds anything is refused, unless --force.
	if _, _, err := run(t, args(a)...); err == nil || !strings.Contains(err.Error(), "is not empty") {
		t.Fatalf("report --out into a full folder: %v", err)
	}
	if _, _, err := run(t, append(args(a), "--force")...); err != nil {
		t.Fatalf("report --out --force: %v", err)
	}
	// Without case information: no letter (no sender to answer), the
	// requests for machines still, and the report says why; without a
	// date at all, no report (nothing reads the clock).
	noci := filepath.Join(dir, "noci")
	if _, _, err := run(t, "--store", st, "report", "--trace", filepath.Join(a, "trace.json"), "--out", noci, "--date", "2024-02-01"); err != nil {
		t.Fatal(err)
	}
	if ls, _ := filepath.Glob(filepath.Join(noci, "freeze", "*.pdf")); len(ls) != 0 {
		t.Fatalf("letters without a sender: %v", ls)
	}
	if js, _ := filepath.Glob(filepath.Join(noci, "freeze", "*.json")); len(js) != len(tr.Exchanges) {
		t.Fatalf("requests for machines: %v", js)
	}
	if !strings.Contains(string(mustRead(t, filepath.Join(noci, "report.html"))), "Freezing letters were not written") {
		t.Fatal("the report does not say why no letter was written")
	}
	if _, _, err := run(t, "--store", st, "report", "--trace", filepath.Join(a, "trace.json"), "--out", filepath.Join(dir, "nodate")); err == nil || !strings.Contains(err.Error(), "date") {
		t.Fatalf("a report without a date: %v", err)
	}
	badci := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badci, []byte("agency: X\nemial: typo@example.org\n"), 0o644)
	if _, _, err := run(t, "--store", st, "report", "--trace", filepath.Join(a, "trace.json"), "--out", filepath.Join(dir, "badci"), "--case-info", badci, "--date", "2024-02-01"); err == nil || !strings.Contains(err.Error(), "emial") {
		t.Fatalf("a misspelt case-information field: %v", err)
	}
	// A trace from another version, a corrupt one, a backward one.
	bad := filepath.Join(dir, "bad.json")
	for body, says := range map[string]string{`{"schema":"fundtrace-trace/0"}`: "re-run the trace", `{"deposits":`: "not a trace file",
		`{"schema":"fundtrace-trace/1","direction":"backward","nodes":[]}`: "forward", `{"schema":"fundtrace-trace/1","direction":"backward"}`: "forward"} {
		os.WriteFile(bad, []byte(body), 0o644)
		if _, _, err := run(t, "report", "--trace", bad, "--out", filepath.Join(dir, "x"), "--date", "2024-02-01"); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("%s: %v, want %q", body, err, says)
		}
	}
	if _, _, err := run(t, "report", "--out", dir); err == nil || !strings.Contains(err.Error(), "--trace or --case") {
		t.Errorf("no input: %v", err)
	}
	// The case feeds attribution: the deposit addresses the trace
	// established become labels, whose source is the trace file's SHA-256
	// and the case, and which show and screen then give.
	lj, _, err := run(t, "--store", st, "labels", "import", "--from-trace", filepath.Join(a, "trace.json"), "--case-ref", "OP-PIG-7", "--json")
	if err != nil {
		t.Fatal(err)
	}
	deps := map[string]string{}
	for _, d := range tr.Deposits {
		deps[d.Address] = d.Exchange
	}
	if !strings.Contains(lj, fmt.Sprintf(`"imported": %d`, len(deps))) {
		t.Fatalf("labels import --from-trace: want %d deposit addresses labeled:\n%s", len(deps), lj)
	}
	sum := sha256.Sum256(mustRead(t, filepath.Join(a, "trace.json")))
	for addr, ex := range deps {
		out, _, err := run(t, "--store", st, "show", "address", addr)
		if err != nil || !strings.Contains(out, ex+" [exchange] (trace sha256:"+hex.EncodeToString(sum[:])+" case OP-PIG-7)") {
			t.Fatalf("show address %s after labels import --from-trace: %v\n%s", addr, err, out)
		}
		break
	}
	// The same in Korean: the summary and the letters (fonts-nanum).
	ko := filepath.Join(dir, "ko")
	if _, _, err := run(t, "--store", st, "report", "--trace", filepath.Join(a, "trace.json"), "--out", ko, "--case-info", caseInfo, "--lang", "ko"); err != nil {
		if strings.Contains(err.Error(), "fonts-nanum") && os.Getenv("FUNDTRACE_TEST_RENDER") != "1" {
			t.Log("no Korean font installed: the Korean report not checked (make test installs fonts-nanum)")
			ko = ""
		} else {
			t.Fatal(err)
		}
	}
	checkRendered(t, a, ko, tr)
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReportNoExchange: a case whose money reaches no exchange (a coin
// never spent) still gets a report, which says so.
func TestReportNoExchange(t *testing.T) {
	st := reportStore(t)
	// The last block's coinbase: never spent.
	js, _, err := run(t, "--store", st, "show", "block", "302", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var blk struct {
		Txs []string `json:"transactions"`
	}
	if err := json.Unmarshal([]byte(js), &blk); err != nil || len(blk.Txs) == 0 {
		t.Fatalf("%v %s", err, js)
	}
	tf := filepath.Join(t.TempDir(), "t.json")
	if _, _, err := run(t, "--store", st, "trace", blk.Txs[0]+":0", "--out", tf); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, _, err := run(t, "--store", st, "report", "--trace", tf, "--out", dir, "--date", "2024-02-01"); err != nil {
		t.Fatal(err)
	}
	h := string(mustRead(t, filepath.Join(dir, "report.html")))
	if !strings.Contains(h, "No exchange was reached") {
		t.Fatal("the report does not say that no exchange was reached")
	}
	if fs, _ := filepath.Glob(filepath.Join(dir, "freeze", "*")); len(fs) != 0 {
		t.Fatalf("freezing requests without an exchange: %v", fs)
	}
}

// checkRendered looks at the report as a person would: the HTML rendered
// by headless Chromium (its DOM and a screenshot), the PDFs by poppler:
// every page of the summary rendered, the summary at most five pages, no
// text under 7 pt or off the page, the letters with their sender; ko, when
// set, is the same bundle in Korean.
func checkRendered(t *testing.T, dir, ko string, tr *tracefile.Trace) {
	chromium, err1 := exec.LookPath("chromium")
	pdftotext, err2 := exec.LookPath("pdftotext")
	pdftoppm, err3 := exec.LookPath("pdftoppm")
	pdftohtml, err4 := exec.LookPath("pdftohtml")
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		if os.Getenv("FUNDTRACE_TEST_RENDER") == "1" {
			t.Fatal("FUNDTRACE_TEST_RENDER=1 but chromium or poppler-utils is missing: run scripts/ensure-render.sh")
		}
		t.Log("chromium or poppler-utils not installed: rendering not checked (make test installs them)")
		return
	}
	abs, _ := filepath.Abs(filepath.Join(dir, "report.html"))
	home := t.TempDir()
	chrome := func(args ...string) []byte {
		cmd := exec.Command(chromium, append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + home, "--no-first-run"}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+home)
		var out bytes.Buffer
		cmd.Stdout = &out
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("chromium %v: %v", args, err)
			}
		case <-time.After(90 * time.Second):
			cmd.Process.Kill()
			t.Fatal("chromium did not finish in 90 s")
		}
		return out.Bytes()
	}
	dom := string(chrome("--dump-dom", "file://"+abs))
	if !strings.Contains(dom, "<svg") || strings.Count(dom, "<rect") < len(tr.Exchanges) || !strings.Contains(dom, "Annex B: deposits per exchange") {
		t.Fatalf("rendered DOM lacks the graph or tables (%d bytes)", len(dom))
	}
	for _, tot := range []string{"total-haircut-BTC", "total-fifo-BTC"} {
		if !strings.Contains(dom, tot) {
			t.Errorf("rendered DOM lacks %s", tot)
		}
	}
	shot := filepath.Join(t.TempDir(), "shot.png")
	chrome("--screenshot="+shot, "--window-size=1400,1800", "file://"+abs)
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 20_000 {
		t.Fatalf("screenshot: %v", err)
	}
	pageText := func(p string, page int) string {
		args := []string{"-layout"}
		if page > 0 {
			args = append(args, "-f", fmt.Sprint(page), "-l", fmt.Sprint(page))
		}
		out, err := exec.Command(pdftotext, append(args, p, "-")...).Output()
		if err != nil {
			t.Fatalf("pdftotext %s: %v", p, err)
		}
		return string(out)
	}
	// Every text of a PDF at 7 pt or more, and on its page (pdftohtml's
	// XML gives each font's size, at zoom 3 in thirds of a point rounded,
	// and each text's box).
	checkFonts := func(p string) int {
		out, err := exec.Command(pdftohtml, "-xml", "-i", "-stdout", "-zoom", "3", p).Output()
		if err != nil {
			t.Fatalf("pdftohtml %s: %v", p, err)
		}
		var doc struct {
			Pages []struct {
				Width float64 `xml:"width,attr"`
				Fonts []struct {
					Size float64 `xml:"size,attr"`
				} `xml:"fontspec"`
				Texts []struct {
					Top    float64 `xml:"top,attr"`
					Left   float64 `xml:"left,attr"`
					Width  float64 `xml:"width,attr"`
					Height float64 `xml:"height,attr"`
					Text   string  `xml:",chardata"`
				} `xml:"text"`
			} `xml:"page"`
		}
		if err := xml.Unmarshal(out, &doc); err != nil {
			t.Fatalf("pdftohtml %s: %v", p, err)
		}
		for i, pg := range doc.Pages {
			for _, f := range pg.Fonts {
				if f.Size < 21 {
					t.Errorf("%s page %d: text of %.1f pt (under 7)", p, i+1, f.Size/3)
				}
			}
			for _, x := range pg.Texts {
				if x.Left < 0 || x.Left+x.Width > pg.Width+1 {
					t.Errorf("%s page %d: %q runs off the page (%.0f..%.0f of %.0f)", p, i+1, x.Text, x.Left, x.Left+x.Width, pg.Width)
				}
			}
		}
		return len(doc.Pages)
	}
	// The summary: at most five pages, each rendered.
	summary := func(dir string, wants ...string) {
		pdf := filepath.Join(dir, "report.pdf")
		pages := checkFonts(pdf)
		annex := 0
		for p := 1; p <= pages && annex == 0; p++ {
			txt := pageText(pdf, p)
			if strings.Contains(txt, "Annex A") || strings.Contains(txt, "부록 A") {
				annex = p
			}
		}
		if annex == 0 || annex > 6 {
			t.Errorf("%s: the summary runs to page %d of %d (at most five pages)", pdf, annex-1, pages)
		}
		png := filepath.Join(t.TempDir(), "page")
		if out, err := exec.Command(pdftoppm, "-png", "-r", "50", "-f", "1", "-l", fmt.Sprint(annex-1), pdf, png).CombinedOutput(); err != nil {
			t.Fatalf("pdftoppm: %v %s", err, out)
		}
		if ps, _ := filepath.Glob(png + "*.png"); len(ps) != annex-1 {
			t.Fatalf("pdftoppm rendered %d summary pages, want %d", len(ps), annex-1)
		}
		all := pageText(pdf, 0)
		for _, want := range wants {
			if !strings.Contains(all, want) {
				t.Errorf("%s lacks %q", pdf, want)
			}
		}
	}
	summary(dir, "What was traced", "Flow graph (aggregated)", "Annex B: deposits per exchange", "Example Police Agency", tr.Exchanges[0].Exchange, tr.Deposits[0].Tx[:20])
	// One letter per language rendered, every page of it.
	renderAll := func(p string) {
		png := filepath.Join(t.TempDir(), "letter")
		if out, err := exec.Command(pdftoppm, "-png", "-r", "40", p, png).CombinedOutput(); err != nil {
			t.Fatalf("pdftoppm %s: %v %s", p, err, out)
		}
		if ps, _ := filepath.Glob(png + "*.png"); len(ps) == 0 {
			t.Fatalf("pdftoppm rendered no page of %s", p)
		}
	}
	renderAll(filepath.Join(dir, "freeze", report.FileName(tr.Exchanges[0].Exchange)+".pdf"))
	for _, ex := range tr.Exchanges {
		p := filepath.Join(dir, "freeze", report.FileName(ex.Exchange)+".pdf")
		checkFonts(p)
		letter := pageText(p, 0)
		for _, want := range []string{"Request to freeze", ex.Addresses[0].Address, "OP-PIG-7", "Example Police Agency", "Date: 2024-02-01", "cyber-fraud@example.org", "Alex Kim"} {
			if !strings.Contains(letter, want) {
				t.Errorf("the letter to %s lacks %q", ex.Exchange, want)
			}
		}
		if strings.Contains(letter, "[") {
			t.Errorf("the letter to %s has a placeholder", ex.Exchange)
		}
	}
	if ko == "" {
		return
	}
	summary(ko, "자금 흐름 보고서", "거래소에 도달한 자금", "Example Police Agency")
	p := filepath.Join(ko, "freeze", report.FileName(tr.Exchanges[0].Exchange)+".pdf")
	checkFonts(p)
	renderAll(p)
	if letter := pageText(p, 0); !strings.Contains(letter, "동결 요청") || !strings.Contains(letter, tr.Exchanges[0].Addresses[0].Address) {
		t.Error("the Korean letter lacks its request or its first deposit address")
	}
}
