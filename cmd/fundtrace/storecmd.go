package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func storeCommand() *cli.Command {
	return &cli.Command{
		Name:  "store",
		Usage: "manage the store itself",
		Subcommands: []*cli.Command{{
			Name:      "migrate",
			Usage:     "create the store, or bring its schema up to this version of fundtrace",
			UsageText: "fundtrace --store clickhouse://host:9000/db [--cluster NAME] store migrate",
			Description: `Creates the database and tables, or applies the schema migrations the store
lacks, and prints the schema version. Every command also does this on first
use; run it ahead to create a ClickHouse schema before indexing. A store whose
schema is newer than this fundtrace is refused, never written.`,
			Action: func(c *cli.Context) error {
				st, err := openStore(c, false) // opening migrates
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
