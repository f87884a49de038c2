// Package pebblelog routes Pebble's messages to slog, for each Pebble
// database fundtrace opens (the embedded store, the indexer's table of
// unspent outputs).
package pebblelog

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// Logger is a pebble.Logger. Pebble's notes go to L at debug level
// (Pebble is chatty about compactions; the user cares about fundtrace's
// progress), its errors at error level; a nil L discards both.
type Logger struct {
	L *slog.Logger
	// What names the database in a fatal error's line.
	What string
}

func (p Logger) Infof(format string, args ...any) {
	if p.L != nil {
		p.L.Debug(fmt.Sprintf(format, args...), "component", "pebble")
	}
}

func (p Logger) Errorf(format string, args ...any) {
	if p.L != nil {
		p.L.Error(fmt.Sprintf(format, args...), "component", "pebble")
	}
}

// Fatalf is Pebble's word that the database cannot go on (a commit that
// could not be written: a full disk, a failing device). Pebble must not
// be used after it, and a panic would show the user a Go stack trace:
// the process ends with one line instead. What was committed before is
// on disk.
func (p Logger) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "fundtrace: %s failed and cannot go on: %s\n", p.What, strings.TrimPrefix(fmt.Sprintf(format, args...), "pebble: "))
	os.Exit(1)
}
