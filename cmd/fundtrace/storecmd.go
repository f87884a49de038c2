package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/fundtrace/fundtrace/store/embedded"
)

func storeCommand() *cli.Command {
	return &cli.Command{
		Name:  "store",
		Usage: "manage the store itself",
		Subcommands: []*cli.Command{{
			Name:      "check",
			Usage:     "verify every file of an embedded store: every table block's checksum and every transaction record's",
			UsageText: "fundtrace --store DIR store check [--json]",
			Description: `Reads the whole store, read-only: every entry of every table (Pebble checks
each block's checksum as it reads it) and every transaction record the
tables point at (against its CRC-32C). Exits 0 when all is whole; 1 with
the damaged file named at the first damage found. A damaged store is
restored from a backup, or indexed again into a new folder.`,
			Flags: []cli.Flag{jsonFlag},
			Action: func(c *cli.Context) error {
				st, err := openStore(c, readStore)
				if err != nil {
					return err
				}
				defer st.Close()
				em, ok := st.(*embedded.Store)
				if !ok {
					return errors.New("store check verifies an embedded store's files; a ClickHouse server checks its own parts (CHECK TABLE)")
				}
				r, err := em.Check(c.Context)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					return writeJSON(c.App.Writer, struct {
						Store     string `json:"store"`
						OK        bool   `json:"ok"`
						Files     int    `json:"files"`
						Bytes     int64  `json:"bytes"`
						Keys      int64  `json:"entries"`
						TxRecords int64  `json:"transaction_records"`
					}{st.Path(), true, len(r.Files), r.Bytes, r.Keys, r.TxRecords})
				}
				fmt.Fprintf(c.App.Writer, "%s: whole: %d files (%d bytes), %d entries, %d transaction records verified\n", st.Path(), len(r.Files), r.Bytes, r.Keys, r.TxRecords)
				return nil
			},
		}, {
			Name:      "migrate",
			Usage:     "create the store, or bring its schema up to this version of fundtrace",
			UsageText: "fundtrace --store clickhouse://host:9000/db [--cluster NAME] store migrate",
			Description: `Creates the database and tables, or applies the schema migrations the store
lacks, and prints the schema version. Every command also does this on first
use; run it ahead to create a ClickHouse schema before indexing. A store whose
schema is newer than this fundtrace is refused, never written.`,
			Action: func(c *cli.Context) error {
				st, err := openStore(c, createStore) // opening migrates
				if err != nil {
					return err
				}
				defer st.Close()
				v, err := st.SchemaVersion(c.Context)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "%s: schema version %d\n", st.Path(), v)
				return nil
			},
		}},
	}
}
