package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/btcsuite/btcd/wire"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/explore"
	"github.com/fundtrace/fundtrace/ingest/btc"
	"github.com/fundtrace/fundtrace/internal/chtest"
	"github.com/fundtrace/fundtrace/internal/testchain"
	"github.com/fundtrace/fundtrace/store/clickhouse"
	"github.com/fundtrace/fundtrace/store/embedded"
	"github.com/fundtrace/fundtrace/store/storetest"
)

// TestMain lets the test binary act as the fundtrace command, so that
// tests can run it as a real child process and kill it.
func TestMain(m *testing.M) {
	if os.Getenv("FUNDTRACE_TEST_CHILD") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(chtest.Main(m, &chServer))
}

// chServer is the ClickHouse server of the ClickHouse tests, when enabled.
var chServer *chtest.Server

const realBlocks = "../../testdata/btc/blocks"

// run executes the app in-process and returns stdout, stderr and error.
func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter = &out, &errb
	err := runApp(context.Background(), app, append([]string{"fundtrace"}, args...))
	return out.String(), errb.String(), err
}

// TestGlobalFlagsEitherSide: --store, --cluster and --verbose work before
// or after the command, in either form, and nothing after "--" moves.
func TestGlobalFlagsEitherSide(t *testing.T) {
	app := newApp()
	for in, want := range map[string]string{
		"status --store X":                          "--store X status",
		"status --store=X --json":                   "--store=X status --json",
		"--store X status":                          "--store X status",
		"trace --case c.csv --verbose --out t.json": "--verbose trace --case c.csv --out t.json",
		"index btc --blocks b --cluster C":          "--cluster C index btc --blocks b",
		"show address -- --store":                   "show address -- --store",
	} {
		got := strings.Join(hoistGlobalFlags(app, append([]string{"fundtrace"}, strings.Fields(in)...))[1:], " ")
		if got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
	st := filepath.Join(t.TempDir(), "store")
	runEach(t, st, []string{"index", "btc", "--blocks", "../../testdata/btc/blocks", "--to", "10"})
	out, _, err := run(t, "status", "--store", st, "--json")
	if err != nil || !strings.Contains(out, `"tip_height": 10`) {
		t.Fatalf("status --store after the command: %v\n%s", err, out)
	}
}

// runEach runs each command on the store st, failing the test at the
// first that fails.
func runEach(t *testing.T, st string, cmds ...[]string) {
	t.Helper()
	for _, args := range cmds {
		if _, _, err := run(t, append([]string{"--store", st}, args...)...); err != nil {
			t.Fatalf("%s %v: %v", st, args, err)
		}
	}
}

func TestCLI(t *testing.T) {
	st := filepath.Join(t.TempDir(), "store")
	if _, _, err := run(t, "--store", st, "index", "btc", "--blocks", realBlocks); err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, "--store", st, "status", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var status struct {
		Chains []struct {
			Chain        string `json:"chain"`
			Network      string `json:"network"`
			TipHeight    int64  `json:"tip_height"`
			TipHash      string `json:"tip_hash"`
			Blocks       int64  `json:"blocks"`
			Transactions int64  `json:"transactions"`
			Addresses    int64  `json:"addresses"`
			Stale        *int64 `json:"stale_blocks_skipped"`
		} `json:"chains"`
	}
	if err := json.Unmarshal([]byte(out), &status); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	c := status.Chains[0]
	if c.Chain != "btc" || c.Network != "mainnet" || c.TipHeight != 599 || c.Blocks != 600 || c.Stale == nil ||
		c.TipHash != lastBlockHash(t) || c.Transactions != 616 {
		t.Errorf("status %+v", c)
	}

	out, _, err = run(t, "--store", st, "show", "tx", "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var tx explore.Tx
	if err := json.Unmarshal([]byte(out), &tx); err != nil {
		t.Fatal(err)
	}
	if tx.BlockHeight != 170 || tx.Inputs[0].Addresses[0] != "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S" || tx.Inputs[0].Value != 50e8 ||
		tx.Outputs[0].Addresses[0] != "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3" || tx.Outputs[0].Value != 10e8 ||
		tx.Outputs[1].SpentBy == nil || tx.Outputs[1].SpentBy.Height != 181 {
		t.Errorf("show tx: %s", out)
	}
	out, _, err = run(t, "--store", st, "show", "tx", "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16")
	if err != nil || !strings.Contains(out, "10.00000000") || !strings.Contains(out, "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3") {
		t.Errorf("show tx table: %v\n%s", err, out)
	}

	out, _, err = run(t, "--store", st, "show", "address", "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var addr addressJSON
	if err := json.Unmarshal([]byte(out), &addr); err != nil {
		t.Fatal(err)
	}
	if addr.FirstSeen != 170 || addr.Received < 10e8 || addr.History[0].TxHash != "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16" {
		t.Errorf("show address: %s", out)
	}
	if out, _, err = run(t, "--store", st, "show", "block", "170"); err != nil || !strings.Contains(out, "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16") {
		t.Errorf("show block: %v %s", err, out)
	}

	for _, bad := range [][]string{
		{"show", "tx", "00000000000000000000000000000000000000000000000000000000000000ff"},
		{"show", "tx", "xyz"},
		{"show", "address", "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm4"}, // bad checksum
		{"show", "address", "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"},
		{"show", "block", "100000"},
		{"index", "btc", "--blocks", t.TempDir()},
	} {
		if _, _, err := run(t, append([]string{"--store", st}, bad...)...); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
	if _, _, err := run(t, "--store", filepath.Join(t.TempDir(), "nope"), "status"); err == nil || !strings.Contains(err.Error(), "no store") {
		t.Errorf("status of a missing store: %v", err)
	}
}

// lastBlockHash hashes the header of the last record of the shipped
// block files with btcd: block 599's hash as the chain has it.
func lastBlockHash(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join(realBlocks, "blk00001.dat"))
	if err != nil {
		t.Fatal(err)
	}
	var last []byte
	for off := 0; off < len(b); {
		l := int(binary.LittleEndian.Uint32(b[off+4:]))
		last = b[off+8 : off+8+l]
		off += 8 + l
	}
	var h wire.BlockHeader
	if err := h.Deserialize(bytes.NewReader(last)); err != nil {
		t.Fatal(err)
	}
	return h.BlockHash().String()
}

// TestHelpListsEveryCommand: every command is documented in help.
func TestHelpListsEveryCommand(t *testing.T) {
	out, _, err := run(t, "help")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range newApp().Commands {
		if !strings.Contains(out, c.Name) || c.Usage == "" {
			t.Errorf("help lacks %s", c.Name)
		}
		for _, s := range c.Subcommands {
			if s.Usage == "" {
				t.Errorf("%s %s has no usage text", c.Name, s.Name)
			}
		}
	}
}

// writeChain writes a generated regtest chain as block files and returns
// the folder and the chain's tip height.
func writeChain(t *testing.T, blocks, txs int) (string, int64) {
	dir := filepath.Join(t.TempDir(), "blocks")
	ch := testchain.Generate(testchain.Config{Seed: 42, Blocks: blocks, TxsPerBlock: txs})
	fw := &bitcoin.FileWriter{Dir: dir, Magic: wire.TestNet, MaxFileSize: 8 << 20}
	for _, b := range ch.Blocks {
		if err := fw.Write(testchain.Serialize(b)); err != nil {
			t.Fatal(err)
		}
	}
	fw.Close()
	return dir, int64(len(ch.Blocks) - 1)
}

// killDuringIndex runs "fundtrace index" into store as a child process
// and SIGKILLs it once it has committed past each of four target heights
// (it logs after each commit, so the kill lands mid-ingest whatever the
// machine's speed: the process is somewhere in its next batch), checking
// after each kill with tipOf that the store holds a whole, advancing tip.
// It then lets a last run finish.
func killDuringIndex(t *testing.T, store, blocks string, tip int64, tipOf func() int64) {
	killDuringIndexBatches(t, store, blocks, "10", tip, tipOf)
}

// killDuringIndexBatches is killDuringIndex with batches of batch blocks.
func killDuringIndexBatches(t *testing.T, store, blocks, batch string, tip int64, tipOf func() int64) {
	killDuringRun(t, []string{"--store", store, "index", "btc", "--blocks", blocks, "--batch-blocks", batch, "--progress-every", "0"},
		[]string{"--store", store, "index", "btc", "--blocks", blocks}, tip, tipOf)
}

// killDuringRun is killDuringIndex for any index command line (args), which
// must log "height=N" after each commit; final is the last, uninterrupted run.
func killDuringRun(t *testing.T, args, final []string, tip int64, tipOf func() int64) {
	lastTip := int64(-1)
	for _, target := range []int64{tip / 5, tip * 2 / 5, tip * 3 / 5, tip * 4 / 5} {
		target += rand.Int64N(tip / 20)
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "FUNDTRACE_TEST_CHILD=1")
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stderr)
		killed := false
		for sc.Scan() {
			_, h, ok := strings.Cut(sc.Text(), " height=")
			if !ok {
				continue
			}
			n, _ := strconv.ParseInt(strings.Fields(h)[0], 10, 64)
			if n >= target && !killed {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
		}
		err = cmd.Wait()
		if !killed || err == nil {
			t.Fatalf("run for target %d was not killed (%v)", target, err)
		}
		got := tipOf()
		t.Logf("killed past height %d; store tip %d", target, got)
		if got < target || got <= lastTip || got >= tip {
			t.Fatalf("after the kill the tip is %d (target %d, previous %d, end %d)", got, target, lastTip, tip)
		}
		lastTip = got
	}
	if out, _, err := run(t, final...); err != nil {
		t.Fatalf("final run: %v %s", err, out)
	}
}

// TestKillDuringIndex kills a real fundtrace process (SIGKILL) at
// moments mid-ingest, restarts it each time, and checks that the store
// ends exactly, key for key, as an uninterrupted run leaves it. It does
// so twice: with batches of 10 blocks, which the store commits through
// its write-ahead log, and of 130 blocks (6 MB of entries), which it
// writes as table files and ingests, as it does the indexer's default
// batches; the uninterrupted run is one 64 MiB batch, ingested.
func TestKillDuringIndex(t *testing.T) {
	blocks, tip := writeChain(t, 1500, 100)
	dir := t.TempDir()
	ref := filepath.Join(dir, "ref")
	if _, _, err := run(t, "--store", ref, "index", "btc", "--blocks", blocks); err != nil {
		t.Fatal(err)
	}
	for _, batch := range []string{"10", "130"} {
		t.Run("batch-blocks-"+batch, func(t *testing.T) {
			st := filepath.Join(dir, "killed-"+batch)
			killDuringIndexBatches(t, st, blocks, batch, tip, func() int64 { return storeTip(t, st) })
			sameStores(t, ref, st)
		})
	}
}

// TestKillDuringIndexClickHouse does the same against a real ClickHouse
// server: after the kills, every table holds exactly the rows of the
// chain (no duplicates, no gaps) and every lookup answers as the
// embedded store's.
func TestKillDuringIndexClickHouse(t *testing.T) {
	if chServer == nil {
		t.Skip("no ClickHouse server")
	}
	blocks, tip := writeChain(t, 120, 20)
	uri := "clickhouse://" + chServer.Addr() + "/killed"
	ctx := context.Background()
	open := func() *clickhouse.Store {
		st, err := clickhouse.Open(ctx, uri, clickhouse.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	killDuringIndex(t, uri, blocks, tip, func() int64 {
		st := open()
		defer st.Close()
		m, err := st.Meta(ctx, chains.Bitcoin)
		if err != nil {
			t.Fatal(err)
		}
		return m.TipHeight
	})
	st := open()
	defer st.Close()
	m, err := st.Meta(ctx, chains.Bitcoin)
	if err != nil {
		t.Fatal(err)
	}
	counts, err := st.CountRows(ctx, "blocks", "block_hashes", "tx_records", "txid_places", "spenders")
	if err != nil {
		t.Fatal(err)
	}
	for table, want := range map[string]int64{"blocks": tip + 1, "block_hashes": tip + 1, "tx_records": m.Txs, "txid_places": m.Txs, "spenders": m.Inputs} {
		if int64(counts[table]) != want {
			t.Errorf("%s holds %d rows, want %d", table, counts[table], want)
		}
	}
	em, err := embedded.Open(filepath.Join(t.TempDir(), "ref"), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	if _, err := btc.Index(ctx, em, btc.IndexConfig{Dir: blocks}); err != nil {
		t.Fatal(err)
	}
	if me, _ := em.Meta(ctx, chains.Bitcoin); me.Txs != m.Txs || me.Outputs != m.Outputs || me.Inputs != m.Inputs || me.Addresses != m.Addresses {
		t.Fatalf("counters differ: clickhouse %+v, embedded %+v", m, me)
	}
	if storetest.Answers(t, em) != storetest.Answers(t, st) {
		t.Fatal("after the kills the ClickHouse store answers differently from an uninterrupted embedded index")
	}
}

func storeTip(t *testing.T, path string) int64 {
	return chainTip(t, path, chains.Bitcoin)
}

func chainTip(t *testing.T, path string, c chains.Chain) int64 {
	t.Helper()
	s, err := embedded.Open(path, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, err := s.Meta(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return m.TipHeight
}

// sameStores fails unless the embedded stores at ref and got hold the
// same keys and values, metadata included.
func sameStores(t *testing.T, ref, got string) {
	t.Helper()
	a, b := dumpStore(t, ref), dumpStore(t, got)
	if len(a) != len(b) {
		t.Fatalf("killed store has %d keys, uninterrupted %d", len(b), len(a))
	}
	for k, v := range a {
		if b[k] != v {
			t.Fatalf("stores differ at key %x", k)
		}
	}
	// Bitcoin's transaction records sit in a file beside the keys: a kill
	// between writing records and committing them must leave nothing
	// behind once the store has been opened again (dumpStore opened it).
	fa, errA := os.ReadFile(filepath.Join(ref, "txs-btc.dat"))
	fb, errB := os.ReadFile(filepath.Join(got, "txs-btc.dat"))
	if (errA == nil) != (errB == nil) || !bytes.Equal(fa, fb) {
		t.Fatalf("transaction files differ: %d bytes (%v) after the kills, %d (%v) uninterrupted", len(fb), errB, len(fa), errA)
	}
}

// dumpStore returns every key and value, metadata included: after the
// kills the counters must match too.
func dumpStore(t *testing.T, path string) map[string]string {
	t.Helper()
	s, err := embedded.Open(path, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := map[string]string{}
	if err := s.Dump(context.Background(), func(k, v []byte) error { m[string(k)] = string(v); return nil }); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCompletionAndMan: the shell scripts and the manual page come from
// the command definitions; --json turns errors into JSON too.
func TestCompletionAndMan(t *testing.T) {
	for shell, want := range map[string]string{"bash": "complete -o bashdefault", "zsh": "#compdef fundtrace"} {
		out, _, err := run(t, "completion", shell)
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("completion %s: %v, lacks %q", shell, err, want)
		}
	}
	// fish's is made by urfave/cli from the definitions; in a process that
	// has run other apps (this test binary) its shared help command has
	// grown subcommands of its own, so it is checked on an app never run.
	if out, err := newApp().ToFishCompletion(); err != nil || !strings.Contains(out, "poison-pairs") {
		t.Errorf("completion fish: %v, lacks --poison-pairs", err)
	}
	if _, _, err := run(t, "completion", "tcsh"); err == nil {
		t.Error("completion tcsh: no error")
	}
	out, err := newApp().ToManWithSection(1) // what fundtrace man prints
	if err != nil || !strings.HasPrefix(strings.TrimLeft(out, "\n"), ".nh\n.TH fundtrace 1") || !strings.Contains(out, "freeze") {
		t.Errorf("man: %v\n%.200s", err, out)
	}
	for args, want := range map[string]bool{"fundtrace status --json": true, "fundtrace --json=true status": true, "fundtrace status": false, "fundtrace show tx -- --json": false} {
		if wantsJSON(strings.Fields(args)) != want {
			t.Errorf("wantsJSON(%q) != %v", args, want)
		}
	}
}

// TestHelp: fundtrace help CMD lists a command's subcommands, and no
// flag's default is printed twice.
func TestHelp(t *testing.T) {
	out, _, err := run(t, "help", "cluster")
	if err != nil || !strings.Contains(out, "COMMANDS:") || !strings.Contains(out, "explain") {
		t.Fatalf("help cluster: %v\n%s", err, out)
	}
	for _, cmd := range newApp().Commands {
		paths := [][]string{{cmd.Name}}
		for _, sub := range cmd.Subcommands {
			paths = append(paths, []string{cmd.Name, sub.Name})
		}
		for _, p := range paths {
			out, _, err := run(t, append(p, "--help")...)
			if err != nil {
				t.Fatalf("%v --help: %v", p, err)
			}
			for _, line := range strings.Split(out, "\n") {
				if strings.Count(line, "(default") > 1 {
					t.Errorf("%v --help prints a default twice: %s", p, line)
				}
			}
		}
	}
}

// TestReportError: with --json an error is one JSON object on stdout,
// unless the command's JSON already reports it; without, a line on stderr.
func TestReportError(t *testing.T) {
	for _, c := range []struct {
		args           []string
		err            error
		stdout, stderr string
	}{
		{[]string{"fundtrace", "status", "--json"}, errors.New("no store"), `"error": "no store"`, ""},
		{[]string{"fundtrace", "screen", "x", "--json"}, shownError{errNotScreened{1, 1}}, "", ""},
		{[]string{"fundtrace", "status"}, errors.New("no store"), "", "fundtrace: no store\n"},
		{[]string{"fundtrace", "status", "--json"}, nil, "", ""},
	} {
		var out, errw bytes.Buffer
		reportError(&out, &errw, c.args, c.err, exitCode(c.err))
		if (c.stdout == "") != (out.Len() == 0) || !strings.Contains(out.String(), c.stdout) || errw.String() != c.stderr {
			t.Errorf("%v %v: stdout %q, stderr %q", c.args, c.err, out.String(), errw.String())
		}
	}
	var ns errNotScreened
	if !errors.As(shownError{errNotScreened{1, 2}}, &ns) || exitCode(shownError{errNotScreened{1, 2}}) != 1 {
		t.Error("a shown error keeps what it wraps and its exit status")
	}
}
