package cases

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fundtrace/fundtrace/prices"
	"github.com/fundtrace/fundtrace/report"
	"github.com/fundtrace/fundtrace/tracefile"
)

// A case's report bundle and freezing requests, downloaded as zip files:
// the same bundle fundtrace report writes from the trace file (and the
// case's sender, from its information), with the case's notes in
// notes.csv; and the freezing requests fundtrace freeze writes.

// SetInfo sets who sends the case's report and freezing requests.
func (s *Service) SetInfo(ctx context.Context, id string, info report.CaseInfo) (*Case, error) {
	if info.Date != "" {
		if _, err := time.Parse("2006-01-02", info.Date); err != nil {
			return nil, bad("date", "date %q: want YYYY-MM-DD", info.Date)
		}
	}
	for _, f := range []string{info.Reference, info.Agency, info.Unit, info.Investigator, info.Title, info.Email, info.Phone, info.LegalBasis, info.Deadline} {
		if len(f) > 500 {
			return nil, bad("info", "a field of the case's information is longer than 500 characters")
		}
	}
	if len(info.Address) > 2000 {
		return nil, bad("address", "the address is longer than 2,000 characters")
	}
	var out *Case
	err := s.update(ctx, id, func(c *Case) error {
		c.Info, out = &info, c
		return nil
	})
	return out, err
}

// BundleOptions say how a report is written: its date (YYYY-MM-DD; the
// case information's when empty: nothing reads a clock) and language.
type BundleOptions struct {
	Date, Lang string
}

// traceBytes reads a done trace's file and its case, and the date the
// bundle is to carry.
func (s *Service) traceBytes(ctx context.Context, id, tid string, o BundleOptions) (c *Case, b []byte, date string, err error) {
	c, t, path, err := s.trace(ctx, id, tid)
	if err != nil {
		return nil, nil, "", err
	}
	if path == "" {
		return nil, nil, "", &ConflictError{Msg: fmt.Sprintf("trace %s is %s: no file", t.ID, t.Status)}
	}
	if date, err = o.date(c); err != nil {
		return nil, nil, "", err
	}
	b, err = os.ReadFile(path)
	return c, b, date, err
}

func (o BundleOptions) date(c *Case) (string, error) {
	d := o.Date
	if d == "" && c.Info != nil {
		d = c.Info.Date
	}
	if d == "" {
		return "", bad("date", "the report needs its date (?date=YYYY-MM-DD, or the case information's): nothing is read from the clock")
	}
	if _, err := time.Parse("2006-01-02", d); err != nil {
		return "", bad("date", "date %q: want YYYY-MM-DD", d)
	}
	return d, nil
}

// Report writes trace tid's report bundle as a zip to w.
func (s *Service) Report(ctx context.Context, id, tid string, o BundleOptions, w io.Writer) error {
	c, b, date, err := s.traceBytes(ctx, id, tid, o)
	if err != nil {
		return err
	}
	if o.Lang != "" && !slices.Contains(report.Languages(), o.Lang) {
		return bad("lang", "language %q: the report is written in %s", o.Lang, strings.Join(report.Languages(), ", "))
	}
	notes, err := s.Notes(ctx, id)
	if err != nil {
		return err
	}
	nb, err := notesCSV(notes)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "fundtrace-report-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	info := report.Info{Version: s.Version, Command: []string{"workbench", "case " + id, tid}, Options: map[string]string{"date": date}}
	if o.Lang != "" && o.Lang != "en" {
		info.Options["lang"] = o.Lang
	}
	if c.Info != nil && c.Info.Reference != "" {
		info.Options["case_ref"] = c.Info.Reference
	}
	in := report.Input{TraceBytes: b, TraceName: tid, Prices: prices.New(), Case: c.Info, Date: date, Lang: o.Lang, Info: info,
		Extra: map[string][]byte{"notes.csv": nb}}
	if _, err := report.Write(dir, in); err != nil {
		return err
	}
	return zipDir(w, dir, date)
}

// Freeze writes trace tid's freezing requests (a CSV and a JSON per
// exchange, as fundtrace freeze writes them) as a zip to w.
func (s *Service) Freeze(ctx context.Context, id, tid string, o BundleOptions, w io.Writer) error {
	c, b, date, err := s.traceBytes(ctx, id, tid, o)
	if err != nil {
		return err
	}
	t, err := tracefile.Parse(b, tid)
	if err != nil {
		return err
	}
	reqs, err := report.Requests(t, c.Info, date, report.Pricer{Table: prices.New()})
	if err != nil {
		return err
	}
	zw := zip.NewWriter(w)
	when, _ := time.Parse("2006-01-02", date)
	for _, r := range reqs {
		for _, f := range []struct {
			name string
			b    []byte
		}{{r.Name + ".csv", r.CSV}, {r.Name + ".json", r.JSON}} {
			if err := zipFile(zw, "freeze/"+f.name, f.b, when); err != nil {
				return err
			}
		}
	}
	return zw.Close()
}

// notesCSV writes a case's notes, one row each.
func notesCSV(ns []Note) ([]byte, error) {
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	cw.Write([]string{"id", "time", "author", "target_kind", "chain", "target", "text", "tags"})
	for _, n := range ns {
		cw.Write([]string{n.ID, n.Time, n.Author, n.Target.Kind, n.Target.Chain, n.Target.Ref, n.Text, strings.Join(n.Tags, ";")})
	}
	cw.Flush()
	return buf.Bytes(), cw.Error()
}

// zipDir writes the files under dir into a zip, in name order, dated
// when: the same bundle gives the same bytes.
func zipDir(w io.Writer, dir, date string) error {
	when, _ := time.Parse("2006-01-02", date)
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return err
	})
	if err != nil {
		return err
	}
	slices.Sort(names)
	zw := zip.NewWriter(w)
	for _, p := range names {
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := zipFile(zw, "report/"+filepath.ToSlash(rel), b, when); err != nil {
			return err
		}
	}
	return zw.Close()
}

// zipFile adds file name holding b, dated when, to zw.
func zipFile(zw *zip.Writer, name string, b []byte, when time.Time) error {
	fw, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: when})
	if err == nil {
		_, err = fw.Write(b)
	}
	return err
}
