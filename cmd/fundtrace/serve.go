package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fundtrace/fundtrace/cases"
	"github.com/fundtrace/fundtrace/explore"
	"github.com/fundtrace/fundtrace/sanctions"
	"github.com/fundtrace/fundtrace/screening"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/workbench"
)

var keysFlag = &cli.StringFlag{Name: "keys", Value: "fundtrace-keys.json", EnvVars: []string{"FUNDTRACE_KEYS"},
	Usage: "the API key file (keys stored hashed; fundtrace apikey manages it)"}

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:      "serve",
		Usage:     "serve the workbench (a page at /), the screening and explore APIs over HTTP (JSON; API keys; Prometheus metrics)",
		UsageText: "fundtrace serve [--listen 127.0.0.1:8080] [--keys FILE] [--tls-cert F --tls-key F] [--max-batch N] [--rate N] [--timeout D]",
		Description: `The workbench (docs/workbench.md) is the page at /: sign in with an API key.
Endpoints (docs/screening-api.md; the OpenAPI document is at /openapi.json):
  GET  /v1/screen/{chain}/{address}[?as_of=DAY&exposure=N]
  POST /v1/screen[?as_of=DAY&exposure=N]   {"addresses": ["…", {"chain": "eth", "address": "0x…"}]}
  GET  /api/v1/address/{address}           the free sanctions-screening API's shape: {"identifications": [...]}
  POST /v1/admin/sanctions[?date=DAY]      body: an OFAC sdn_advanced.xml (admin keys)
  GET  /v1/{chain}/addresses/{address}[?offset=N&limit=N&exposure=N]
                                           an address's totals, a page of its history, its screening
  GET  /v1/{chain}/txs/{hash}              a transaction (inputs, outputs and spenders; transfers)
  GET  /v1/{chain}/clusters/{id}[?after=CURSOR&limit=N]
                                           a cluster: a page of members, their evidence, its labels and hits
  GET  /v1/search?q=TEXT                   a hash, an address, a block height or a label
  GET  /v1/cases, POST /v1/cases           the workbench's cases: list; open one {"title", "seeds": "case.csv text"}
  GET  /v1/cases/{id}                      a case: its seeds, traces and notes
  POST /v1/cases/{id}/seeds, /notes        set its seeds; add a note on an address, transaction or flow
  POST /v1/cases/{id}/trace                trace its payments in the background {"models", "max_hops", "through_mixers"}
  GET  /v1/cases/{id}/traces/{trace}[/file] the trace's status and progress; its fundtrace-trace file
  GET  /healthz, /metrics, /openapi.json   (no key needed)
Every other request needs an API key (fundtrace apikey create) in the
X-API-Key header; each key is rate limited; a read-only key (apikey create
--read-only) writes no case, note or trace. The sanctions snapshot in force
and the labels are held in memory and swapped whole when a new snapshot is
imported (over HTTP, or into a ClickHouse store by another process: the
store is checked every --reload). SIGTERM or SIGINT stops the server after
the requests in flight have finished.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8080", Usage: "address to listen on"},
			keysFlag,
			&cli.StringFlag{Name: "tls-cert", Usage: "serve HTTPS with this certificate (PEM)"},
			&cli.StringFlag{Name: "tls-key", Usage: "the certificate's private key (PEM)"},
			&cli.IntFlag{Name: "max-batch", Value: 1000, Usage: "most addresses in one POST /v1/screen"},
			&cli.Int64Flag{Name: "max-body", Value: 1 << 20, Usage: "largest request body in bytes"},
			&cli.Float64Flag{Name: "rate", Value: 2000, Usage: "requests a second per API key (a key's own rate overrides it)"},
			&cli.DurationFlag{Name: "timeout", Value: 10 * time.Second, Usage: "longest a request may take"},
			&cli.IntFlag{Name: "max-exposure-hops", Value: 6, Usage: "the most hops ?exposure= may ask for"},
			&cli.DurationFlag{Name: "reload", Value: 5 * time.Second, Usage: "how often to look for a new sanctions snapshot and API key changes"},
			&cli.StringFlag{Name: "cases-dir", Usage: "where the cases' trace files are written (the cases and notes themselves are kept in the store)", DefaultText: "the store's folder name + \"-cases\"; fundtrace-cases for ClickHouse"},
		},
		Action: runServe,
	}
}

func runServe(c *cli.Context) error {
	if (c.String("tls-cert") == "") != (c.String("tls-key") == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	keys, err := screening.LoadKeys(c.String(keysFlag.Name))
	if err != nil {
		return err
	}
	if keys.Count() == 0 {
		slog.Warn("No API key in force: every screening request will be refused (create one with fundtrace apikey create)", "keys", c.String(keysFlag.Name))
	}
	// Written: POST /v1/admin/sanctions imports into the store.
	st, sc, err := openScreener(c, writeStore)
	if err != nil {
		return err
	}
	defer st.Close()
	l := sc.Current()
	if l.Snapshot.ID == 0 {
		slog.Warn("No sanctions list imported: screening requests are answered 503 no_list, and /healthz 503, until one is (fundtrace sanctions import, or POST /v1/admin/sanctions)")
	}
	dir := c.String("cases-dir")
	if dir == "" {
		dir = "fundtrace-cases"
		if !strings.Contains(st.Path(), "://") {
			dir = strings.TrimRight(st.Path(), "/\\") + "-cases"
		}
	}
	cs, err := cases.New(c.Context, st, dir, slog.Default())
	if err != nil {
		return err
	}
	defer cs.Close()
	cs.Version = version // what a case's report records
	srv := screening.NewServer(sc, screening.Config{Keys: keys, MaxBatch: c.Int("max-batch"), MaxBody: c.Int64("max-body"), Timeout: c.Duration("timeout"),
		Rate: c.Float64("rate"), MaxExposureHops: c.Int("max-exposure-hops"), Data: st, Explore: explore.New(st), Cases: cs, UI: workbench.Handler(), Logger: slog.Default(),
		Import: func(ctx context.Context, path, date string, force bool) (store.SanctionsSnapshot, error) {
			res, err := sanctions.Import(ctx, st, []string{path}, sanctions.ImportOptions{Date: date, Force: force})
			if err != nil {
				return store.SanctionsSnapshot{}, err
			}
			return res.Snapshot, nil
		}})
	ln, err := net.Listen("tcp", c.String("listen"))
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: c.Duration("timeout") + 30*time.Second,
		WriteTimeout: c.Duration("timeout") + 5*time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(slog.Default().Handler(), slog.LevelWarn)}
	scheme := "http"
	if c.String("tls-cert") != "" {
		cert, err := tls.LoadX509KeyPair(c.String("tls-cert"), c.String("tls-key"))
		if err != nil {
			return fmt.Errorf("TLS certificate: %w", err)
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		scheme = "https"
	}
	watch, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	go srv.Watch(watch, c.Duration("reload"))
	done := make(chan error, 1)
	go func() {
		if hs.TLSConfig != nil {
			done <- hs.ServeTLS(ln, "", "")
		} else {
			done <- hs.Serve(ln)
		}
	}()
	slog.Info("Serving the screening API", "url", scheme+"://"+ln.Addr().String(), "snapshot", l.Snapshot.ID, "list_date", l.Snapshot.Date,
		"listed_addresses", l.Snapshot.Addresses, "api_keys", keys.Count())
	select {
	case err := <-done:
		return err
	case <-c.Context.Done():
	}
	// SIGTERM or SIGINT: stop accepting, let the requests in flight finish.
	slog.Info("Shutting down: finishing the requests in flight")
	ctx, cancel := context.WithTimeout(context.Background(), c.Duration("timeout")+30*time.Second)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	slog.Info("Stopped")
	return nil
}

// openScreener opens the store and loads the sanctions list in force and
// the labels for screening.
func openScreener(c *cli.Context, how access) (store.Store, *screening.Screener, error) {
	st, err := openStore(c, how)
	if err != nil {
		return nil, nil, err
	}
	sc, err := screening.New(c.Context, st)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, sc, nil
}

func apikeyCommand() *cli.Command {
	return &cli.Command{
		Name:  "apikey",
		Usage: "create, list and revoke the screening API's keys",
		Subcommands: []*cli.Command{
			{
				Name:      "create",
				Usage:     "create a key and print it (the only time it is shown: only its hash is kept)",
				UsageText: "fundtrace apikey create --name WHO [--admin | --read-only] [--rate N] [--keys FILE] [--json]",
				Flags: []cli.Flag{keysFlag, jsonFlag,
					&cli.StringFlag{Name: "name", Required: true, Usage: "who the key is for"},
					&cli.BoolFlag{Name: "admin", Usage: "the key may also import sanctions lists over HTTP"},
					&cli.BoolFlag{Name: "read-only", Usage: "the key reads (screens, explores, opens cases) but writes no case, note or trace"},
					&cli.Float64Flag{Name: "rate", Usage: "requests a second for this key", DefaultText: "the server's --rate"},
				},
				Action: func(c *cli.Context) error {
					secret, k, err := screening.CreateKey(c.String(keysFlag.Name), c.String("name"), screening.KeyOptions{Admin: c.Bool("admin"), ReadOnly: c.Bool("read-only"), Rate: c.Float64("rate")})
					if err != nil {
						return err
					}
					if c.Bool("json") {
						k.Hash = ""
						return writeJSON(c.App.Writer, struct {
							Secret string `json:"key"`
							screening.APIKey
						}{secret, k})
					}
					fmt.Fprintf(c.App.Writer, "%s\n", secret)
					fmt.Fprintf(c.App.ErrWriter, "created key %s for %s in %s; it is shown only this once\n", k.ID, k.Name, c.String(keysFlag.Name))
					return nil
				},
			},
			{
				Name:      "list",
				Usage:     "list the keys (ids, names, when created and revoked; never the keys)",
				UsageText: "fundtrace apikey list [--keys FILE] [--json]",
				Flags:     []cli.Flag{keysFlag, jsonFlag},
				Action: func(c *cli.Context) error {
					ks, err := screening.ListKeys(c.String(keysFlag.Name))
					if err != nil {
						return err
					}
					if c.Bool("json") {
						for i := range ks {
							ks[i].Hash = ""
						}
						return writeJSON(c.App.Writer, ks)
					}
					tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
					fmt.Fprintf(tw, "ID\tNAME\tCREATED\tREVOKED\tRATE\tADMIN\tREAD-ONLY\n")
					for _, k := range ks {
						rate := "default"
						if k.Rate > 0 {
							rate = fmt.Sprint(k.Rate)
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\t%v\n", k.ID, k.Name, k.Created, dash(k.Revoked), rate, k.Admin, k.ReadOnly)
					}
					return tw.Flush()
				},
			},
			{
				Name:      "revoke",
				Usage:     "revoke a key by id (or unique name); a running server refuses it within --reload",
				UsageText: "fundtrace apikey revoke ID|NAME [--keys FILE] [--json]",
				Flags:     []cli.Flag{keysFlag, jsonFlag},
				Action: func(c *cli.Context) error {
					which, err := oneArg(c, "key id or name")
					if err != nil {
						return err
					}
					k, err := screening.RevokeKey(c.String(keysFlag.Name), which)
					if err != nil {
						return err
					}
					if c.Bool("json") {
						k.Hash = ""
						return writeJSON(c.App.Writer, k)
					}
					fmt.Fprintf(c.App.Writer, "revoked key %s (%s) at %s\n", k.ID, k.Name, k.Revoked)
					return nil
				},
			},
		},
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
