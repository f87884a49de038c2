package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// emptyOut makes sure dir can take a command's output: it is created
// when missing, and a folder that already holds anything is refused
// unless force, so that --out / or a typo never writes files among
// others (or over them).
func emptyOut(dir string, force bool) error {
	ents, err := os.ReadDir(dir)
	switch {
	case os.IsNotExist(err):
		return os.MkdirAll(dir, 0o755)
	case err != nil:
		return fmt.Errorf("--out %s: %w", dir, err)
	case len(ents) > 0 && !force:
		abs, _ := filepath.Abs(dir)
		return fmt.Errorf("--out %s (%s) is not empty (%d entries): refusing to write into it (--force to write anyway)", dir, abs, len(ents))
	}
	return nil
}

// intRange checks a numeric flag against the values it can take.
func intRange(name string, v, lo, hi int64) error {
	if v < lo || v > hi {
		return fmt.Errorf("--%s %d: want %d to %d", name, v, lo, hi)
	}
	return nil
}

// formatBTC renders satoshis as BTC with all eight decimals, exactly:
// integer arithmetic only, so no amount is ever rounded.
func formatBTC(sat int64) string {
	sign := ""
	if sat < 0 {
		sign, sat = "-", -sat
	}
	return fmt.Sprintf("%s%d.%08d", sign, sat/1e8, sat%1e8)
}

// formatTime renders a Unix time as UTC RFC 3339, the form courts and
// exchanges read without ambiguity about time zones.
func formatTime(unix int64) string {
	return time.Unix(unix, 0).UTC().Format(time.RFC3339)
}

// group renders n with thousands separators.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
