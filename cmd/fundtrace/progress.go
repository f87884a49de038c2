package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fundtrace/fundtrace/chains"
)

// progressLine shows a long command's progress on standard error as index
// does: one line rewritten in place on a terminal (at most ten times a
// second), a log line at most every ten seconds when output is piped, so
// that a run of many minutes says where it is without flooding a log.
type progressLine struct {
	w       io.Writer
	tty     bool
	every   time.Duration
	last    time.Time
	printed bool
}

func newProgressLine(c *cli.Context) *progressLine {
	p := &progressLine{w: c.App.ErrWriter, tty: c.App.ErrWriter == os.Stderr && isTerminal(os.Stderr), every: 10 * time.Second}
	if p.tty {
		p.every = 100 * time.Millisecond
	}
	return p
}

// show shows text (on a terminal) or logs msg with attrs (piped), unless
// it showed something less than a moment ago.
func (p *progressLine) show(text, msg string, attrs ...any) {
	if time.Since(p.last) < p.every {
		return
	}
	p.last = time.Now()
	if p.tty {
		fmt.Fprintf(p.w, "\r%s   ", text)
		p.printed = true
		return
	}
	slog.Info(msg, attrs...)
}

// done ends the rewritten line, if any.
func (p *progressLine) done() {
	if p.printed {
		fmt.Fprintln(p.w)
		p.printed = false
	}
}

// hop shows a trace's progress hop by hop (investigate.Options.OnHop).
func (p *progressLine) hop(c chains.Chain, hop, frontier, followed int) {
	p.show(fmt.Sprintf("trace %s: hop %d, %s in the frontier, %s followed", c, hop, group(int64(frontier)), group(int64(followed))),
		"Tracing", "chain", c, "hop", hop, "frontier", frontier, "followed", followed)
}

// step shows which file a report renders (report.Input.OnStep). Unlike a
// hop it is always shown: there are only a few, each can take a while.
func (p *progressLine) step(file string) {
	p.last = time.Time{}
	p.show("report: rendering "+file, "Rendering", "file", file)
}
