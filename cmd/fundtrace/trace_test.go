package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fundtrace/fundtrace/internal/shareddata"
	"github.com/fundtrace/fundtrace/internal/simtest"

	"github.com/fundtrace/fundtrace/internal/csvtest"
	"github.com/fundtrace/fundtrace/tracefile"
)

// TestTraceAndFreeze runs the main job on the shipped scenario as a
// newcomer would: index, cluster, import the labels, trace the victims'
// payments from the case file, write the freezing requests. The deposits
// found must be exchange deposit addresses in the scenario's truth.
func TestTraceAndFreeze(t *testing.T) {
	const scen = "../../testdata/sim/btc"
	st := t.TempDir() + "/store"
	runEach(t, st,
		[]string{"index", "btc", "--blocks", scen + "/blocks"},
		[]string{"cluster"},
		[]string{"labels", "import", scen + "/labels.csv"},
	)
	out := filepath.Join(t.TempDir(), "trace.json")
	if _, _, err := run(t, "--store", st, "trace", "--case", scen+"/case.csv", "--through-mixers", "--out", out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var tr tracefile.Trace
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(scen + "/truth/addresses.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	role := map[string]string{}
	for _, r := range recs[1:] {
		role[r[0]] = r[2]
	}
	if payments := len(csvtest.Read(t, scen+"/case.csv")); len(tr.Seeds) != payments || len(tr.Deposits) == 0 {
		t.Fatalf("%d seeds of the case file's %d payments, %d deposits", len(tr.Seeds), payments, len(tr.Deposits))
	}
	// The flow graph leads to every deposit: each is a seed or the output
	// of a flow, and every flow's output pays the address it names.
	reached := map[string]string{}
	for _, f := range tr.Flows {
		reached[f.Outpoint] = f.To
	}
	for _, sd := range tr.Seeds {
		reached[sd.Outpoint] = "seed"
	}
	if tr.Schema != tracefile.Schema || tr.Direction != "forward" || len(tr.Exchanges) == 0 || len(tr.Nodes) == 0 || len(tr.PeelChains) == 0 {
		t.Fatalf("schema %q direction %q, %d exchanges, %d nodes, %d peel chains", tr.Schema, tr.Direction, len(tr.Exchanges), len(tr.Nodes), len(tr.PeelChains))
	}
	// Money followed through the scenario's CoinJoins is marked so, and
	// only there: the mixes the truth lists, and Whirlpool's Tx0s (they
	// pay the coordinator's fee address, which labels.csv names).
	cjs := map[string]bool{}
	for _, r := range csvtest.Read(t, scen+"/truth/coinjoins.csv") {
		cjs[r["txid"]] = true
	}
	mixer := map[string]bool{}
	for _, r := range csvtest.Read(t, scen+"/labels.csv") {
		if r["category"] == "mixer" {
			mixer[r["address"]] = true
		}
	}
	tx0 := map[string]bool{}
	for _, f := range tr.Flows {
		if mixer[f.To] {
			tx0[f.Tx] = true
		}
	}
	marked := 0
	for _, f := range tr.Flows {
		if f.CoinJoin {
			if cjs[f.Tx] {
				marked++
			} else if !tx0[f.Tx] {
				t.Fatalf("flow through %s marked CoinJoin; neither a mix of the truth nor a Tx0", f.Tx)
			}
		}
	}
	if marked == 0 {
		t.Fatal("no flow marked as going through a CoinJoin of the truth")
	}
	// Every deposit address is a node of the graph, with its role.
	roles := map[string]string{}
	for _, n := range tr.Nodes {
		roles[n.Address] = n.Role
	}
	for _, d := range tr.Deposits {
		if role[d.Address] != "deposit" {
			t.Fatalf("%s reported as a deposit of %s; the truth says %q", d.Address, d.Exchange, role[d.Address])
		}
		if to, ok := reached[d.Outpoint]; !ok || (to != "seed" && to != d.Address) {
			t.Fatalf("deposit %s is not reached by the flow graph (%q)", d.Outpoint, to)
		}
		if roles[d.Address] != "deposit" {
			t.Fatalf("deposit address %s is a %q node", d.Address, roles[d.Address])
		}
	}
	dir := t.TempDir()
	msg, _, err := run(t, "freeze", "--trace", out, "--out", dir)
	if err != nil || !strings.Contains(msg, "deposits") {
		t.Fatalf("freeze: %v %s", err, msg)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
	if len(files) == 0 {
		t.Fatal("no freezing request written")
	}
	// Bad input: each a clear error naming what is wrong.
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{strings.Repeat("ab", 32) + ":0"}, "seed 1"},
		{[]string{"nonsense"}, "want TXID:VOUT"},
		{[]string{tr.Seeds[0].Outpoint[:64] + ":99"}, "outputs"},
		{[]string{"--case", scen + "/case.csv", "--model", "lifo"}, `"lifo"`},
		{[]string{"--case", scen + "/case.csv", "--backward", "--through-mixers"}, "--through-mixers"},
		{[]string{"--case", scen + "/case.csv", "--from", "2024-01-02"}, "--address"},
		{[]string{"--address", tr.Seeds[0].Address, "--from", "2024-02-01", "--until", "2024-01-01"}, "before --from"},
		{[]string{"--address", tr.Seeds[0].Address, "--from", "yesterday"}, "YYYY-MM-DD"},
		{[]string{"0x" + strings.Repeat("ab", 32)}, "Ethereum"},
	} {
		if _, _, err := run(t, append([]string{"--store", st, "trace"}, bad.args...)...); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("trace %v: %v, want an error saying %q", bad.args, err, bad.want)
		}
	}
	// A frontier that explodes is bounded, and the trace says where it
	// stopped and why.
	js, _, err := run(t, "--store", st, "trace", "--case", scen+"/case.csv", "--model", "poison", "--through-mixers", "--max-nodes", "50", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var bounded tracefile.Trace
	if err := json.Unmarshal([]byte(js), &bounded); err != nil {
		t.Fatal(err)
	}
	if bounded.StopCounts["max-nodes"] == 0 || bounded.Stats[0].Visited > 50 {
		t.Fatalf("--max-nodes 50: stops %v, %d followed", bounded.StopCounts, bounded.Stats[0].Visited)
	}
	// An address seed with a time window: the victim's payment is the
	// only payment to the scam's address on its day.
	js, _, err = run(t, "--store", st, "trace", "--address", tr.Seeds[0].Address, "--from", tr.Seeds[0].Time, "--until", tr.Seeds[0].Time, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var byAddr tracefile.Trace
	if err := json.Unmarshal([]byte(js), &byAddr); err != nil {
		t.Fatal(err)
	}
	if len(byAddr.Seeds) != 1 || byAddr.Seeds[0].Outpoint != tr.Seeds[0].Outpoint {
		t.Fatalf("address seeds %+v, want %s", byAddr.Seeds, tr.Seeds[0].Outpoint)
	}
	// A trace file of another version is refused with a message.
	old := filepath.Join(t.TempDir(), "old.json")
	os.WriteFile(old, []byte(`{"chain":"btc","deposits":[]}`), 0o644)
	if _, _, err := run(t, "freeze", "--trace", old, "--out", t.TempDir()); err == nil || !strings.Contains(err.Error(), "schema") {
		t.Fatalf("old trace file: %v", err)
	}
	os.WriteFile(old, []byte(`{"schema":`), 0o644)
	if _, _, err := run(t, "freeze", "--trace", old, "--out", t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a trace file") {
		t.Fatalf("corrupt trace file: %v", err)
	}
}

// TestTraceETH: the Ethereum scenario served over JSON-RPC, indexed,
// labeled, clustered, and traced from its case file (ETH and the token
// followed separately), forward to deposit addresses the truth lists and
// backward to the exchanges the victims bought at. Clustered: a deposit
// address is then in its exchange's cluster, and whoever pays it must not
// be taken for a deposit address sweeping into the exchange.
func TestTraceETH(t *testing.T) {
	const scen = "../../testdata/sim/eth"
	url, w := simtest.ServeETH(t, scen)
	st := t.TempDir() + "/store"
	runEach(t, st,
		[]string{"index", "eth", "--rpc", url, "--confirmations", "0"},
		[]string{"labels", "import", scen + "/labels.csv"},
		[]string{"cluster", "--chain", "eth"},
	)
	// show block reads Ethereum blocks: the store holds no other chain.
	want := w.Blocks[len(w.Blocks)/2]
	js, _, err := run(t, "--store", st, "show", "block", fmt.Sprint(want.Number), "--json")
	var blk struct {
		Chain, Hash  string
		Transactions []string
	}
	if err != nil || json.Unmarshal([]byte(js), &blk) != nil || blk.Chain != "eth" || blk.Hash != want.Hash.Hex() || len(blk.Transactions) != len(want.Txs) {
		t.Fatalf("show block %d: %v\n%s\nwant %s with %d transactions", want.Number, err, js, want.Hash.Hex(), len(want.Txs))
	}
	if js, _, err = run(t, "--store", st, "show", "block", want.Hash.Hex(), "--json"); err != nil || !strings.Contains(js, want.Hash.Hex()) {
		t.Fatalf("show block by hash: %v\n%s", err, js)
	}
	out := filepath.Join(t.TempDir(), "trace.json")
	if _, _, err := run(t, "--store", st, "trace", "--case", scen+"/case.csv", "--out", out); err != nil {
		t.Fatal(err)
	}
	tr, err := readTrace(out)
	if err != nil {
		t.Fatal(err)
	}
	truth := map[[3]string]bool{}
	for _, r := range csvtest.Read(t, scen+"/truth/exposures.csv") {
		truth[[3]string{r["deposit_address"], r["tx_hash"], r["asset"]}] = true
	}
	assets := map[string]bool{}
	for _, d := range tr.Deposits {
		asset := "ETH"
		if d.Asset != "ETH" {
			asset = "USDT"
		}
		assets[d.Asset] = true
		if !truth[[3]string{d.Address, d.Tx, asset}] {
			t.Fatalf("deposit %+v is not one the truth lists", d)
		}
	}
	if len(tr.Seeds) != 12 || len(tr.Deposits) < len(truth)*95/100 || len(assets) != 2 || tr.Assets["ETH"].Decimals != 18 {
		t.Fatalf("%d seeds, %d deposits of %d in the truth, assets %v %+v", len(tr.Seeds), len(tr.Deposits), len(truth), assets, tr.Assets)
	}
	dir := t.TempDir()
	if msg, _, err := run(t, "freeze", "--trace", out, "--out", dir); err != nil || !strings.Contains(msg, "deposits") {
		t.Fatalf("freeze: %v %s", err, msg)
	}
	// Poison per deposit on an account chain: every victim the truth puts
	// at a deposit the trace reached is in that deposit's set.
	pout, pairs := filepath.Join(t.TempDir(), "poison.json"), filepath.Join(t.TempDir(), "pairs.csv")
	if _, _, err := run(t, "--store", st, "trace", "--case", scen+"/case.csv", "--model", "haircut,fifo,poison", "--out", pout, "--poison-pairs", pairs); err != nil {
		t.Fatal(err)
	}
	ptr, err := readTrace(pout)
	if err != nil {
		t.Fatal(err)
	}
	seedOf := map[string]int{}
	for i, sd := range ptr.Seeds {
		seedOf[sd.Tx] = i
	}
	sets := map[[2]string]map[int]bool{}
	npairs := 0
	for _, p := range ptr.Poisoned {
		ids, err := tracefile.ParseRanges(p.Seeds, len(ptr.Seeds))
		if err != nil {
			t.Fatal(err)
		}
		k := [2]string{p.Tx, p.Address}
		if sets[k] == nil {
			sets[k] = map[int]bool{}
		}
		for _, i := range ids {
			sets[k][i] = true
		}
		npairs += len(ids)
	}
	paymentTx := map[string]string{}
	for _, r := range csvtest.Read(t, scen+"/truth/victim_payments.csv") {
		paymentTx[r["victim_payment_id"]] = r["tx_hash"]
	}
	checked := 0
	for _, r := range csvtest.Read(t, scen+"/truth/exposures.csv") {
		set, ok := sets[[2]string{r["tx_hash"], r["deposit_address"]}]
		if !ok {
			continue
		}
		checked++
		if !set[seedOf[paymentTx[r["victim_payment_id"]]]] {
			t.Errorf("the truth has victim payment %s's money in %s; its poison set leaves the victim out", r["victim_payment_id"], r["tx_hash"])
		}
	}
	t.Logf("eth: %d poisoned deposits, %d pairs; %d truth exposures at them, each in its set", len(ptr.Poisoned), npairs, checked)
	if checked == 0 || len(csvtest.Read(t, pairs)) != npairs {
		t.Fatalf("%d truth exposures at poisoned deposits; %d pairs written, the sets hold %d", checked, len(csvtest.Read(t, pairs)), npairs)
	}
	// The report: both assets, the token in its own decimals, prices
	// missing (none given) shown as missing.
	rep := t.TempDir()
	if _, _, err := run(t, "--store", st, "report", "--trace", out, "--out", rep, "--date", "2024-02-01"); err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(filepath.Join(rep, "report.html"))
	tok := tr.Assets[tokenAsset(tr)]
	if tok.Decimals != 6 || !strings.Contains(string(html), " "+tok.Symbol+"<") || !strings.Contains(string(html), " ETH<") || !strings.Contains(string(html), "no price") {
		t.Fatalf("ETH report: token %+v", tok)
	}
	// Backward from the same payments: the victims' money came from the
	// exchanges they bought at.
	js, _, err = run(t, "--store", st, "trace", "--case", scen+"/case.csv", "--backward", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var back tracefile.Trace
	if err := json.Unmarshal([]byte(js), &back); err != nil {
		t.Fatal(err)
	}
	exchanges := 0
	for _, o := range back.Origins {
		if o.Category == "exchange" {
			exchanges++
		}
	}
	if back.Direction != "backward" || exchanges == 0 {
		t.Fatalf("backward: %s, %d origins at exchanges of %d", back.Direction, exchanges, len(back.Origins))
	}
	// One seed by hash and log index: the token payment's Transfer log.
	var tokenSeed tracefile.Seed
	for _, s := range tr.Seeds {
		if s.Asset != "ETH" {
			tokenSeed = s
			break
		}
	}
	js, _, err = run(t, "--store", st, "trace", tokenSeed.Tx+":"+strings.TrimPrefix(tokenSeed.Position, "log:"), "--json")
	if err != nil {
		t.Fatal(err)
	}
	var one tracefile.Trace
	if err := json.Unmarshal([]byte(js), &one); err != nil || len(one.Seeds) != 1 || one.Seeds[0].Amount != tokenSeed.Amount {
		t.Fatalf("seed by log index: %v %+v", err, one.Seeds)
	}
	if _, _, err := run(t, "--store", st, "trace", tokenSeed.Tx+":9999"); err == nil || !strings.Contains(err.Error(), "no successful transfer") {
		t.Fatalf("unknown log index: %v", err)
	}
	// Exposure of the scam's address the first victim paid (in ETH): it
	// sent victims' money on to exchanges and received it, through the
	// victims, from the exchanges they bought at; neither more than the
	// victims paid it.
	scam := tr.Seeds[0]
	importList2021(t, st)
	js, _, err = run(t, "--store", st, "screen", "--exposure", "--hops", "6", scam.Address, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var scr []struct {
		Exposure []struct {
			Category string `json:"category"`
			Asset    string `json:"asset"`
			Sent     string `json:"sent"`
			Received string `json:"received"`
		} `json:"exposure"`
	}
	if err := json.Unmarshal([]byte(js), &scr); err != nil || len(scr) != 1 {
		t.Fatalf("%v: %s", err, js)
	}
	paid := new(big.Int)
	for _, s := range tr.Seeds {
		if s.Address == scam.Address && s.Asset == "ETH" {
			v, _ := new(big.Int).SetString(s.Amount, 10)
			paid.Add(paid, v)
		}
	}
	sent, recv := new(big.Int), new(big.Int)
	for _, e := range scr[0].Exposure {
		if e.Category == "exchange" && e.Asset == "ETH" {
			v, _ := new(big.Int).SetString(e.Sent, 10)
			sent.Add(sent, v)
			v, _ = new(big.Int).SetString(e.Received, 10)
			recv.Add(recv, v)
		}
	}
	if sent.Sign() <= 0 || recv.Sign() <= 0 || sent.Cmp(paid) > 0 {
		t.Fatalf("exposure to exchanges in ETH: sent %s, received %s; the victims paid %s", sent, recv, paid)
	}
}

// TestScreenExposure: the scam's address a victim paid (from the case
// file) sent money on to exchanges and received it, through the victims,
// from exchanges (the victims bought there); neither can exceed what the
// address received.
func TestScreenExposure(t *testing.T) {
	const scen = "../../testdata/sim/btc"
	st := t.TempDir() + "/store"
	runEach(t, st, []string{"index", "btc", "--blocks", scen + "/blocks"}, []string{"labels", "import", scen + "/labels.csv"})
	b, err := os.ReadFile(scen + "/case.csv")
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.Split(strings.Split(string(b), "\n")[1], ",")[2]
	importList2021(t, st)
	out, _, err := run(t, "--store", st, "screen", "--exposure", "--hops", "6", addr, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res []struct {
		Exposure []struct {
			Category string `json:"category"`
			Sent     int64  `json:"sent_sats"`
			Received int64  `json:"received_sats"`
		} `json:"exposure"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 1 {
		t.Fatalf("%v: %s", err, out)
	}
	js, _, err := run(t, "--store", st, "show", "address", addr, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Received int64 `json:"total_received"`
	}
	if err := json.Unmarshal([]byte(js), &a); err != nil {
		t.Fatal(err)
	}
	var sent, recv int64
	for _, e := range res[0].Exposure {
		if e.Category == "exchange" {
			sent += e.Sent
			recv += e.Received
		}
	}
	if sent <= 0 || recv <= 0 || sent > a.Received || recv > a.Received {
		t.Fatalf("exposure to exchanges: sent %d, received %d, of %d the address received", sent, recv, a.Received)
	}
}

func tokenAsset(tr *tracefile.Trace) string {
	for id := range tr.Assets {
		if id != "ETH" && id != "BTC" {
			return id
		}
	}
	return ""
}

// TestTraceOnClickHouse: the main job through the command line on a
// ClickHouse store — index, cluster, labels, trace, report — finds the
// same deposits with the same amounts as on the embedded store.
func TestTraceOnClickHouse(t *testing.T) {
	if chServer == nil {
		t.Skip("no ClickHouse server (make test starts one)")
	}
	const scen = "../../testdata/sim/btc"
	deposits := func(st string) string {
		runEach(t, st,
			[]string{"index", "btc", "--blocks", scen + "/blocks"},
			[]string{"cluster"},
			[]string{"labels", "import", scen + "/labels.csv"},
		)
		js, _, err := run(t, "--store", st, "trace", "--case", scen+"/case.csv", "--through-mixers", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var tr tracefile.Trace
		if err := json.Unmarshal([]byte(js), &tr); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, d := range tr.Deposits {
			fmt.Fprintf(&b, "%s %s %s %s %s %s\n", d.Exchange, d.Address, d.Outpoint, d.Victim, d.Haircut, d.FIFO)
		}
		return b.String()
	}
	emb := deposits(t.TempDir() + "/store")
	ch := deposits("clickhouse://" + chServer.Addr() + "/trace_cli")
	if emb != ch || len(emb) < 1000 {
		t.Fatalf("deposits differ:\nembedded:\n%s\nclickhouse:\n%s", emb, ch)
	}
	if _, _, err := run(t, "--store", "clickhouse://"+chServer.Addr()+"/trace_cli", "report", "--case", scen+"/case.csv", "--through-mixers", "--out", t.TempDir(), "--date", "2024-02-01"); err != nil {
		t.Fatalf("report on ClickHouse: %v", err)
	}
}

// importList2021 imports OFAC's complete legacy CSV set of 2021-07-07
// (sdn.csv with its sdn_comments.csv): screening answers only against a
// list.
func importList2021(t *testing.T, st string) {
	t.Helper()
	d := shareddata.Path(t, "sanctions", "ofac", "legacy-csv", "2021-07-07_watchman-bench")
	if _, _, err := run(t, "--store", st, "sanctions", "import", d+"/sdn.csv.gz", d+"/sdn_comments.csv", "--date", "2021-07-07"); err != nil {
		t.Fatal(err)
	}
}

// TestTracePoisonPerDeposit: with the poison model, each deposit poison
// reaches is listed once with the set of victims whose money touched it,
// --poison-pairs writes those pairs out, and the sets hold what the
// simulator's truth says: every victim whose money (haircut or FIFO)
// reached a deposit touched it. Without the model nothing is poisoned
// and every deposit row carries money.
func TestTracePoisonPerDeposit(t *testing.T) {
	const scen = "../../testdata/sim/btc"
	st := t.TempDir() + "/store"
	runEach(t, st,
		[]string{"index", "btc", "--blocks", scen + "/blocks"},
		[]string{"labels", "import", scen + "/labels.csv"},
	)
	dir := t.TempDir()
	out, pairs := filepath.Join(dir, "trace.json"), filepath.Join(dir, "pairs.csv")
	if _, _, err := run(t, "--store", st, "trace", "--case", scen+"/case.csv", "--through-mixers", "--model", "haircut,fifo,poison",
		"--out", out, "--poison-pairs", pairs); err != nil {
		t.Fatal(err)
	}
	tr, err := readTrace(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Poisoned) == 0 {
		t.Fatal("no poisoned deposits")
	}
	seedOf := map[string]int{} // outpoint → seed index
	for i, s := range tr.Seeds {
		seedOf[s.Outpoint] = i
	}
	sets := map[string]map[int]bool{} // deposit outpoint → seeds
	want := 0
	for _, p := range tr.Poisoned {
		ids, err := tracefile.ParseRanges(p.Seeds, len(tr.Seeds))
		if err != nil || len(ids) != p.Victims || sets[p.Outpoint] != nil {
			t.Fatalf("poisoned %s: seeds %q (%v), victims %d", p.Outpoint, p.Seeds, err, p.Victims)
		}
		sets[p.Outpoint] = map[int]bool{}
		for _, i := range ids {
			sets[p.Outpoint][i] = true
		}
		want += len(ids)
	}
	// Money implies contact: each deposit row's victim is in its set...
	for _, d := range tr.Deposits {
		if d.Victim == tracefile.OtherVictims {
			continue
		}
		if !sets[d.Outpoint][indexOfVictim(t, tr, d.Victim)] {
			t.Fatalf("deposit %s carries %s's money (haircut %s, FIFO %s) but poison says it never touched it", d.Outpoint, d.Victim, d.Haircut, d.FIFO)
		}
	}
	// ...and so is every victim the truth says paid into a deposit the
	// trace reached.
	payment := map[string]string{} // victim_payment_id → outpoint
	for _, r := range csvtest.Read(t, scen+"/truth/victim_payments.csv") {
		payment[r["victim_payment_id"]] = r["txid"] + ":" + r["vout"]
	}
	checked := 0
	for _, r := range csvtest.Read(t, scen+"/truth/exposures.csv") {
		set, ok := sets[r["txid"]+":"+r["vout"]]
		if !ok {
			continue
		}
		checked++
		if !set[seedOf[payment[r["victim_payment_id"]]]] {
			t.Errorf("the truth has victim payment %s's money in %s:%s; its poison set leaves the victim out", r["victim_payment_id"], r["txid"], r["vout"])
		}
	}
	if checked == 0 {
		t.Fatal("no deposit of the truth was reached")
	}
	t.Logf("%d poisoned deposits, %d victim-deposit pairs; %d truth exposures at them, each in its set", len(tr.Poisoned), want, checked)
	rows := csvtest.Read(t, pairs)
	if len(rows) != want {
		t.Fatalf("--poison-pairs wrote %d pairs; the sets hold %d", len(rows), want)
	}
	for _, r := range rows[:min(len(rows), 500)] {
		var n int
		fmt.Sscan(r["seed"], &n)
		if n < 1 || n > len(tr.Seeds) || tr.Seeds[n-1].Victim != r["victim"] || !sets[r["outpoint"]][n-1] {
			t.Fatalf("pair %v: not in the trace's sets", r)
		}
	}
	// The deposit addresses' summaries count each victim once.
	for _, ex := range tr.Exchanges {
		for _, a := range ex.Addresses {
			u := map[int]bool{}
			for _, p := range tr.Poisoned {
				if p.Address == a.Address && p.Exchange == ex.Exchange {
					for i := range sets[p.Outpoint] {
						u[i] = true
					}
				}
			}
			if a.PoisonVictims != len(u) {
				t.Fatalf("%s: poison_victims %d, the sets hold %d", a.Address, a.PoisonVictims, len(u))
			}
		}
	}
	// Without the poison model: no sets, and no row without money.
	if _, _, err := run(t, "--store", st, "trace", "--case", scen+"/case.csv", "--through-mixers", "--out", out); err != nil {
		t.Fatal(err)
	}
	if tr, err = readTrace(out); err != nil {
		t.Fatal(err)
	}
	if len(tr.Poisoned) != 0 {
		t.Fatalf("%d poisoned deposits without the poison model", len(tr.Poisoned))
	}
	for _, d := range tr.Deposits {
		if (d.Haircut == "0" && d.FIFO == "0") || d.Poison != "0" {
			t.Fatalf("deposit row %+v: carries no money, or poison without the model", d)
		}
	}
	if _, _, err := run(t, "--store", st, "trace", "--case", scen+"/case.csv", "--poison-pairs", pairs); err == nil || !strings.Contains(err.Error(), "poison") {
		t.Fatalf("--poison-pairs without the poison model: %v", err)
	}
}

func indexOfVictim(t *testing.T, tr *tracefile.Trace, victim string) int {
	t.Helper()
	for i, s := range tr.Seeds {
		if s.Victim == victim {
			return i
		}
	}
	t.Fatalf("deposit row of victim %q, not a seed", victim)
	return -1
}
