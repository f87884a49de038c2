// Command fundtrace traces cryptocurrency flows and screens addresses.
//
// Run "fundtrace help" for the commands, "fundtrace help COMMAND" for one.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/store/clickhouse"
	"github.com/fundtrace/fundtrace/store/embedded"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

var (
	storeFlag = &cli.StringFlag{
		Name:    "store",
		Usage:   "store to use: a folder for the embedded store (created if missing), or clickhouse://host:9000/database",
		Value:   "fundtrace-data",
		EnvVars: []string{"FUNDTRACE_STORE"},
	}
	clusterFlag = &cli.StringFlag{
		Name:    "cluster",
		Usage:   "with a clickhouse:// store: create tables ON CLUSTER as sharded local tables plus Distributed tables, and use those",
		EnvVars: []string{"FUNDTRACE_CLUSTER"},
	}
	jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print JSON for machines instead of a table"}
)

func newApp() *cli.App {
	app := &cli.App{
		Name:    "fundtrace",
		Usage:   "trace cryptocurrency flows and screen addresses",
		Version: version,
		Description: `fundtrace indexes blockchains into a store, then answers questions about
transactions and addresses from it. Start with:

   fundtrace index btc --blocks ~/.bitcoin/blocks
   fundtrace status
   fundtrace show address 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa

The store is a folder (--store, or $FUNDTRACE_STORE; default ./fundtrace-data),
or a ClickHouse database: --store clickhouse://host:9000/database [--cluster NAME]
(clickhouse://host:8123/database?protocol=http for a server that offers only its
HTTP interface).
The global flags (--store, --cluster, --verbose) go before or after the command.

Commands that print results take --json; with it, an error is printed as a
JSON object too ({"error": ..., "exit_code": ...}, on standard output).

Exit status: 0 done; 1 an error (for screen: also an address that could not
be screened, which is never reported clean); 2 a sanctions hit (screen);
130 interrupted (the work done so far is kept; run the command again to
resume).`,
		Flags: []cli.Flag{
			storeFlag,
			clusterFlag,
			&cli.BoolFlag{Name: "verbose", Usage: "log debug detail"},
		},
		Before: func(c *cli.Context) error {
			level := slog.LevelInfo
			if c.Bool("verbose") {
				level = slog.LevelDebug
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: level})))
			return nil
		},
		Commands: []*cli.Command{
			indexCommand(),
			showCommand(),
			statusCommand(),
			storeCommand(),
			simulateCommand(),
			clusterCommand(),
			sanctionsCommand(),
			screenCommand(),
			labelsCommand(),
			traceCommand(),
			freezeCommand(),
			reportCommand(),
			verifyCommand(),
			serveCommand(),
			apikeyCommand(),
			completionCommand(),
			manCommand(),
		},
		EnableBashCompletion: true,
		ExitErrHandler:       func(*cli.Context, error) {},
	}
	// fundtrace help CMD lists CMD's subcommands, as CMD --help does:
	// urfave/cli's template lists them by category, which "help CMD" has
	// not worked out, so it would list none.
	for _, cmd := range app.Commands {
		if len(cmd.Subcommands) > 0 && cmd.CustomHelpTemplate == "" {
			cmd.CustomHelpTemplate = strings.Replace(cli.SubcommandHelpTemplate, `{{template "visibleCommandCategoryTemplate" .}}`,
				`{{template "visibleCommandTemplate" .}}`, 1)
		}
	}
	return app
}

// stopGrace is how long a command may take to stop after SIGTERM or
// SIGINT cancelled its context before the process ends anyway: a command
// stops at its next check of the context (an index at its next block, a
// server once its requests in flight are answered); one that does not
// check (a simulation being generated) is ended. Stores are written in
// whole, synced units, so ending a writer loses no committed work.
const stopGrace = 30 * time.Second

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "fundtrace: %v: stopping (send it again to stop at once)\n", s)
		cancel()
		select {
		case <-sigs:
		case <-time.After(stopGrace):
		}
		fmt.Fprintln(os.Stderr, "fundtrace: stopped before the command finished; what it had committed is kept, and running it again resumes")
		os.Exit(130)
	}()
	app := newApp()
	app.Writer, app.ErrWriter = os.Stdout, os.Stderr
	stopProfile := startProfile(os.Getenv("FUNDTRACE_CPUPROFILE"))
	stopHeap := startHeapProfile(os.Getenv("FUNDTRACE_MEMPROFILE"))
	err := runApp(ctx, app, os.Args)
	stopHeap()
	stopProfile()
	code := exitCode(err)
	reportError(os.Stdout, os.Stderr, os.Args, err, code)
	os.Exit(code)
}

// reportError prints a command's error as the user asked: a line on
// stderr, or with --json a JSON object on stdout, so that a script reads
// it as JSON too. Nothing is printed for a sanctions hit or an error the
// JSON output already reports (an address not screened, a rejected label
// row, a bundle that differs): stdout then stays one JSON document.
func reportError(stdout, stderr io.Writer, args []string, err error, code int) {
	var shown shownError
	switch {
	case err == nil || code == 2: // a hit: the table or JSON already says which
	case wantsJSON(args):
		if !errors.As(err, &shown) {
			writeJSON(stdout, map[string]any{"error": oneLine(err), "exit_code": code})
		}
	default:
		fmt.Fprintln(stderr, "fundtrace:", oneLine(err))
	}
}

// shownError is an error the command's JSON output already reports: it
// sets the exit status and is not printed again.
type shownError struct{ error }

func (e shownError) Unwrap() error { return e.error }

// wantsJSON says whether the command line asks for JSON output.
func wantsJSON(args []string) bool {
	for _, a := range args[1:] {
		if a == "--" {
			return false
		}
		if a == "--json" || a == "-json" || a == "--json=true" {
			return true
		}
	}
	return false
}

// runApp runs the command; a panic (a bug) becomes an error, so that no
// user sees a Go stack trace.
func runApp(ctx context.Context, app *cli.App, args []string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if os.Getenv("FUNDTRACE_TRACEBACK") == "1" {
				os.Stderr.Write(debug.Stack())
			}
			err = fmt.Errorf("internal error: %v (a bug in fundtrace: please report it with the command that led to it; FUNDTRACE_TRACEBACK=1 prints where)", p)
		}
	}()
	return app.RunContext(ctx, hoistGlobalFlags(app, args))
}

// hoistGlobalFlags moves the global flags (--store, --cluster, --verbose)
// given after the command to before it, where urfave/cli reads them: users
// write them either side, as with kubectl or git -C ("fundtrace status
// --store X"). Arguments after "--" are left alone.
func hoistGlobalFlags(app *cli.App, args []string) []string {
	takesValue := map[string]bool{}
	for _, f := range app.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	name := func(a string) (string, bool) {
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			return "", false
		}
		n, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		_, ok := takesValue[n]
		return n, ok
	}
	if len(args) < 2 {
		return args
	}
	var global, rest []string
	command := false
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		n, ok := name(a)
		switch {
		case ok && command:
			global = append(global, a)
			if takesValue[n] && !strings.Contains(a, "=") && i+1 < len(args) {
				i++
				global = append(global, args[i])
			}
			continue
		case ok:
			rest = append(rest, a)
			if takesValue[n] && !strings.Contains(a, "=") && i+1 < len(args) {
				i++
				rest = append(rest, args[i])
			}
			continue
		case !strings.HasPrefix(a, "-"):
			command = true
		}
		rest = append(rest, a)
	}
	return append(append([]string{args[0]}, global...), rest...)
}

// oneLine is an error as the user reads it: one line, and for a damaged
// store file, the file and what to do.
func oneLine(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	if f, ok := embedded.Damaged(err); ok {
		msg += fmt.Sprintf(" (store file %s is damaged: fundtrace store check verifies every file; restore the store from a backup or index again)", f)
	}
	return msg
}

// exitCode is the process's exit status for a command's error: 0 for
// none, 2 for a sanctions hit, 130 when interrupted, 1 for anything
// else, an address that could not be screened among it.
func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errSanctionsHit):
		return 2
	case errors.Is(err, context.Canceled):
		return 130
	}
	return 1
}

// access is how a command uses the store.
type access int

const (
	// readStore: the store must exist; it is opened read-only, shared
	// with other readers, and is never created or changed (read-only
	// media work).
	readStore access = iota
	// writeStore: the store must exist, and is written.
	writeStore
	// createStore: the store is created if missing, and written.
	createStore
)

// openStore opens the store named by --store, as the command uses it:
// only commands that create stores may create one, so that a typo does
// not silently make an empty store, and read commands open it read-only.
func openStore(c *cli.Context, how access) (store.Store, error) {
	return openStoreCache(c, how, 0, 0)
}

// openStoreCache is openStore with an embedded store's block cache and
// memtables of the sizes given (0: the store's defaults).
func openStoreCache(c *cli.Context, how access, cacheBytes, memTableBytes int64) (store.Store, error) {
	loc := c.String(storeFlag.Name)
	if strings.HasPrefix(loc, "clickhouse://") {
		return clickhouse.Open(c.Context, loc, clickhouse.Options{Cluster: c.String(clusterFlag.Name), Logger: slog.Default()})
	}
	if strings.Contains(loc, "://") {
		return nil, fmt.Errorf("store %q: want a folder or clickhouse://host:port/database", loc)
	}
	if c.String(clusterFlag.Name) != "" {
		return nil, fmt.Errorf("--cluster needs a clickhouse:// store, not the folder %s", loc)
	}
	if how != createStore {
		if _, err := os.Stat(loc); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no store at %s: index a chain first (fundtrace index), or pass --store", loc)
		}
	}
	o := embedded.Options{Logger: slog.Default(), ReadOnly: how == readStore, CacheBytes: cacheBytes, MemTableBytes: memTableBytes}
	return embedded.Open(loc, o)
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// args returns the command's positional arguments, first applying any
// of its flags that follow them: urfave/cli stops parsing flags at the
// first positional argument, but users write "show tx TXID --json".
func args(c *cli.Context) ([]string, error) {
	var pos []string
	in := c.Args().Slice()
	for i := 0; i < len(in); i++ {
		a := in[i]
		if a == "--" {
			pos = append(pos, in[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		var flag cli.Flag
		for _, f := range c.Command.Flags {
			for _, n := range f.Names() {
				if n == name {
					flag = f
				}
			}
		}
		if flag == nil {
			return nil, fmt.Errorf("unknown flag %s (see fundtrace help %s)", a, c.Command.FullName())
		}
		if _, isBool := flag.(*cli.BoolFlag); isBool && !hasVal {
			val, hasVal = "true", true
		}
		if !hasVal {
			if i+1 >= len(in) {
				return nil, fmt.Errorf("flag %s needs a value", a)
			}
			i++
			val = in[i]
		}
		if err := c.Set(name, val); err != nil {
			return nil, fmt.Errorf("flag %s: %w", a, err)
		}
	}
	return pos, nil
}

// startProfile writes a CPU profile of the command to path, when set
// ($FUNDTRACE_CPUPROFILE): how docs/benchmarks.md finds where a whole
// process spends its time. It returns the function that ends it.
func startProfile(path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fundtrace: FUNDTRACE_CPUPROFILE:", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// startHeapProfile writes a heap profile of the command to path, when
// set ($FUNDTRACE_MEMPROFILE), each time the live heap has grown a tenth
// past the last one written (checked each second), and at the end if
// none was: the profile then shows what the heap held near its peak,
// which one taken at exit would not. It returns the function that ends
// it.
func startHeapProfile(path string) func() {
	if path == "" {
		return func() {}
	}
	write := func() {
		f, err := os.Create(path)
		if err == nil {
			err = pprof.Lookup("heap").WriteTo(f, 0)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "fundtrace: FUNDTRACE_MEMPROFILE:", err)
		}
	}
	done, stopped := make(chan struct{}), make(chan struct{})
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var last uint64
	go func() {
		defer close(stopped)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				if last == 0 {
					write()
				}
				return
			case <-t.C:
			}
			metrics.Read(sample)
			if live := sample[0].Value.Uint64(); live > last+last/10 {
				last = live
				write()
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}
