package main

import (
	"bytes"
	"encoding/json"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
// are shown as missing.
func TestReportBundle(t *testing.T) {
	st := reportStore(t)
	dir := t.TempDir()
	prices := filepath.Join(dir, "prices.csv")
	// Hand-made prices for two of the scenario's days only.
	os.WriteFile(prices, []byte("date,asset,price,currency\n2024-01-04,BTC,44000.50,USD\n2024-01-04,BTC,40100,EUR\n2024-01-05,BTC,43500,USD\n"), 0o644)
	args := func(out string) []string {
		return []string{"--store", st, "report", "--case", "../../testdata/sim/btc/case.csv", "--through-mixers", "--out", out,
			"--prices", prices, "--fiat", "EUR", "--date", "2024-02-01", "--case-ref", "OP-PIG-7"}
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
	if len(files) < 8 {
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
	// A deposit on a priced day: USD = satoshis × price / 10^8, to the cent.
	var priced, unpriced bool
	for _, d := range tr.Deposits {
		day := d.Time[:10]
		sats, _ := new(big.Rat).SetString(d.Haircut)
		switch day {
		case "2024-01-04":
			usd := new(big.Rat).Mul(sats, big.NewRat(4400050, 100))
			usd.Quo(usd, big.NewRat(1e8, 1))
			if !strings.Contains(h, ">"+usd.FloatString(2)+"<") {
				t.Fatalf("deposit %s %s: USD %s not in the report", d.Tx, d.Time, usd.FloatString(2))
			}
			priced = true
		case "2024-01-05":
		default:
			unpriced = true
		}
	}
	if !priced || !unpriced || !strings.Contains(h, "missing") {
		t.Fatalf("priced %v, unpriced %v", priced, unpriced)
	}
	for _, want := range []string{"<svg", "Flow graph", "Heuristics, parameters and their measured accuracy", "OP-PIG-7", "Hop 1", tr.Exchanges[0].Exchange} {
		if !strings.Contains(h, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	// The manifest records the inputs.
	var man struct {
		Tips      []struct{ Chain string } `json:"store_tips"`
		Case      struct{ SHA256 string }  `json:"case_file"`
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
	if len(man.Tips) != 1 || len(man.Case.SHA256) != 64 || man.Sanctions.Date != "2024-05-03" || len(man.Labels) == 0 || len(man.Files) != len(files)-1 {
		t.Fatalf("manifest: %d tips, case %q, sanctions %q, %d label sets, %d files of %d: %s", len(man.Tips), man.Case.SHA256, man.Sanctions.Date, len(man.Labels), len(man.Files), len(files), mb[:200])
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
	// A trace from another version, a corrupt one, a backward one.
	bad := filepath.Join(dir, "bad.json")
	for body, says := range map[string]string{`{"schema":"fundtrace-trace/0"}`: "re-run the trace", `{"deposits":`: "not a trace file",
		`{"schema":"fundtrace-trace/1","direction":"backward"}`: "forward"} {
		os.WriteFile(bad, []byte(body), 0o644)
		if _, _, err := run(t, "report", "--trace", bad, "--out", filepath.Join(dir, "x")); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("%s: %v, want %q", body, err, says)
		}
	}
	if _, _, err := run(t, "report", "--out", dir); err == nil || !strings.Contains(err.Error(), "--trace or --case") {
		t.Errorf("no input: %v", err)
	}
	checkRendered(t, a, tr)
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
	if _, _, err := run(t, "--store", st, "report", "--trace", tf, "--out", dir); err != nil {
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
// by headless Chromium (its DOM and a screenshot), the PDFs by poppler.
func checkRendered(t *testing.T, dir string, tr *tracefile.Trace) {
	chromium, err1 := exec.LookPath("chromium")
	pdftotext, err2 := exec.LookPath("pdftotext")
	pdftoppm, err3 := exec.LookPath("pdftoppm")
	if err1 != nil || err2 != nil || err3 != nil {
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
	if !strings.Contains(dom, "<svg") || strings.Count(dom, "<rect") < len(tr.Exchanges) || !strings.Contains(dom, "Transactions by hop") {
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
	text := func(p string) string {
		out, err := exec.Command(pdftotext, "-layout", p, "-").Output()
		if err != nil {
			t.Fatalf("pdftotext %s: %v", p, err)
		}
		return string(out)
	}
	pdf := text(filepath.Join(dir, "report.pdf"))
	for _, want := range []string{"Summary", "Flow graph", "Deposits at exchanges", "Transactions by hop", tr.Exchanges[0].Exchange, tr.Deposits[0].Tx[:20]} {
		if !strings.Contains(pdf, want) {
			t.Errorf("report.pdf lacks %q", want)
		}
	}
	png := filepath.Join(t.TempDir(), "page")
	if out, err := exec.Command(pdftoppm, "-png", "-r", "60", "-f", "1", "-l", "2", filepath.Join(dir, "report.pdf"), png).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v %s", err, out)
	}
	if ps, _ := filepath.Glob(png + "*.png"); len(ps) != 2 {
		t.Fatalf("pdftoppm pages %v", ps)
	}
	for _, ex := range tr.Exchanges {
		letter := text(filepath.Join(dir, "freeze", report.FileName(ex.Exchange)+".pdf"))
		if !strings.Contains(letter, "Request to freeze") || !strings.Contains(letter, ex.Addresses[0].Address) || !strings.Contains(letter, "OP-PIG-7") {
			t.Errorf("the letter to %s lacks its request, its first deposit address or the case reference", ex.Exchange)
		}
	}
}
