// Command fundtrace traces cryptocurrency flows and screens addresses.
//
// Run "fundtrace help" for the commands, "fundtrace help COMMAND" for one.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/fundtrace/fundtrace/store/embedded"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitError carries a process exit code through urfave/cli.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

var (
	storeFlag = &cli.StringFlag{
		Name:    "store",
		Usage:   "store to use: a folder for the embedded store (created if missing)",
		Value:   "fundtrace-data",
		EnvVars: []string{"FUNDTRACE_STORE"},
	}
	jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print JSON for machines instead of a table"}
)

func newApp() *cli.App {
	return &cli.App{
		Name:    "fundtrace",
		Usage:   "trace cryptocurrency flows and screen addresses",
		Version: version,
		Description: `fundtrace indexes blockchains into a store, then answers questions about
transactions and addresses from it. Start with:

   fundtrace index btc --blocks ~/.bitcoin/blocks
   fundtrace status
   fundtrace show address 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa

The store is a folder (--store, or $FUNDTRACE_STORE; default ./fundtrace-data).`,
		Flags: []cli.Flag{
			storeFlag,
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
		},
		EnableBashCompletion: true,
		ExitErrHandler:       func(*cli.Context, error) {},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := newApp()
	app.Writer, app.ErrWriter = os.Stdout, os.Stderr
	if err := app.RunContext(ctx, os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "fundtrace:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		if errors.Is(err, context.Canceled) {
			os.Exit(130)
		}
		os.Exit(1)
	}
}

// openStore opens the store named by --store. Read-only commands pass
// mustExist so that a typo does not silently create an empty store.
func openStore(c *cli.Context, mustExist bool) (*embedded.Store, error) {
	loc := c.String(storeFlag.Name)
	if strings.Contains(loc, "://") {
		return nil, fmt.Errorf("store %q: only the embedded store (a folder) is supported by this build", loc)
	}
	if mustExist {
		if _, err := os.Stat(loc); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no store at %s: index a chain first (fundtrace index), or pass --store", loc)
		}
	}
	return embedded.Open(loc, embedded.Options{Logger: slog.Default()})
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
