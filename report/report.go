// Package report turns a trace into what a prosecutor files and an
// exchange acts on: a self-contained HTML report, the same as PDF, one
// freezing-request letter per exchange (PDF and CSV), a spreadsheet of
// every transaction, and a manifest of every input and output with its
// SHA-256, so that the bundle can be verified and reproduced byte for
// byte from the same inputs.
//
// Nothing here reads a clock or the environment: every figure and date
// comes from the trace, the prices and the options.
package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/fundtrace/fundtrace/prices"
	"github.com/fundtrace/fundtrace/tracefile"
)

// ManifestSchema names the manifest's format.
const ManifestSchema = "fundtrace-report/1"

// Input is everything a report is made from.
type Input struct {
	// TraceBytes is the trace file as read: it is copied into the bundle
	// and read as a stream (its flows are never held at once).
	TraceBytes []byte
	TraceName  string // for messages
	Prices     *prices.Table
	Fiat       string // a currency besides USD to show values in ("" none)
	Letter     *template.Template
	// Case is who sends the report and the freezing requests; the letters
	// are written only when it names a sender (agency, investigator, a
	// reply address).
	Case *CaseInfo
	// Date is the report's date (YYYY-MM-DD): printed on the report and
	// the letters and in the PDFs' metadata. Required: nothing here reads
	// a clock.
	Date string
	Lang string // en (default), ko, ... (Languages)
	Font string // a TrueType font for the language's script ("" found on the system)
	Info Info   // what the manifest records besides the files
	// OnStep, when set, is told what is rendered next (for progress).
	OnStep func(file string)
	// Extra are files the bundle carries besides its own, by name (the
	// workbench's notes.csv), listed in the manifest like them.
	Extra map[string][]byte
}

// Info is what the manifest records about the inputs.
type Info struct {
	Version    string            `json:"fundtrace_version"`
	Command    []string          `json:"command,omitempty"`
	Tips       []Tip             `json:"store_tips,omitempty"`
	Case       *File             `json:"case_file,omitempty"`
	Sanctions  *Snapshot         `json:"sanctions_snapshot,omitempty"`
	Labels     []LabelSet        `json:"label_sets,omitempty"`
	Clustering *Clustering       `json:"clustering,omitempty"`
	Prices     []File            `json:"price_files,omitempty"`
	Letter     *File             `json:"letter_template,omitempty"`
	CaseInfo   *File             `json:"case_info,omitempty"`
	Font       *File             `json:"font,omitempty"`
	Options    map[string]string `json:"options,omitempty"` // report options: fiat, date, case reference, language
}

// Tip is a chain's tip in the store the trace read.
type Tip struct {
	Chain  string `json:"chain"`
	Height int64  `json:"height"`
	Hash   string `json:"hash"`
}

// File is an input file and its hash.
type File struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// Snapshot is the sanctions snapshot in force.
type Snapshot struct {
	ID        int64    `json:"id"`
	Date      string   `json:"list_date"`
	Imported  string   `json:"imported"`
	Sources   []string `json:"sources"`
	Addresses int      `json:"addresses"`
}

// LabelSet is one source of labels in the store: how many, and a hash of
// them all (address, label, category, confidence, sorted) so that a
// changed set is seen.
type LabelSet struct {
	Source string `json:"source"`
	Date   string `json:"source_date,omitempty"`
	Labels int    `json:"labels"`
	SHA256 string `json:"sha256"`
}

// Clustering is what the store's clusters were computed with.
type Clustering struct {
	Chain      string   `json:"chain"`
	Heuristics []string `json:"heuristics"`
	Height     int64    `json:"height"`
	// The super-cluster guard: its size (0: off), the change links it
	// held back and the multi-input merges it flagged.
	GuardSize int64 `json:"guard_size"`
	HeldBack  int   `json:"links_held_back"`
	Flagged   int   `json:"merges_flagged"`
}

// Manifest is DIR/manifest.json.
type Manifest struct {
	Schema string `json:"schema"`
	Info
	Trace      File              `json:"trace"`
	Models     []string          `json:"models"`
	Parameters tracefile.Params  `json:"parameters"`
	Heuristics []Heuristic       `json:"heuristics"`
	Files      []OutputFile      `json:"files"`
	Totals     map[string]string `json:"totals"` // asset/model → amount reaching exchanges
}

// OutputFile is one file of the bundle.
type OutputFile struct {
	Path   string `json:"path"`
	Bytes  int    `json:"bytes"`
	SHA256 string `json:"sha256"`
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// HashFile hashes an input file for the manifest, which names it by the
// path given (verify reads it again from there).
func HashFile(path string) (File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return File{}, err
	}
	return File{Path: path, SHA256: sum(b)}, nil
}

// Write builds the bundle into dir and returns its manifest. The same
// input gives the same bytes.
func Write(dir string, in Input) (*Manifest, error) {
	step := func(f string) {
		if in.OnStep != nil {
			in.OnStep(f)
		}
	}
	if _, err := time.Parse("2006-01-02", in.Date); err != nil {
		return nil, fmt.Errorf("the report's date %q: want YYYY-MM-DD (--date, or date: in --case-info)", in.Date)
	}
	l, err := newLang(in.Lang, in.Font)
	if err != nil {
		return nil, err
	}
	m, flowsCSV, sourcesCSV, err := buildModel(in, l)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	step("report.html")
	html, err := renderHTML(m)
	if err != nil {
		return nil, fmt.Errorf("report.html: %w", err)
	}
	files["report.html"] = html
	step("report.pdf")
	pdf, err := renderPDF(m)
	if err != nil {
		return nil, fmt.Errorf("report.pdf: %w", err)
	}
	files["report.pdf"] = pdf
	files["transactions.csv"] = flowsCSV
	files["flow_sources.csv"] = sourcesCSV
	files["deposits.csv"] = DepositsCSV(m.Assets, m.deposits, m.pricer)
	files["trace.json"] = in.TraceBytes
	for n, b := range in.Extra {
		// A plain name, beside the bundle's own files: none of theirs, and
		// not under freeze/, whose files follow.
		if _, ok := files[n]; ok || n == "manifest.json" || n == "" || strings.ContainsAny(n, `/\`) || n == ".." {
			return nil, fmt.Errorf("an extra file may not be named %q", n)
		}
		files[n] = b
	}
	for _, ex := range m.Exchanges {
		name := FileName(ex.Name)
		step("freeze/" + name)
		ff, err := m.freezeFiles(ex)
		if err != nil {
			return nil, err
		}
		files["freeze/"+name+".csv"], files["freeze/"+name+".json"] = ff.CSV, ff.JSON
		if m.LetterNote != "" {
			continue
		}
		letter, err := renderLetter(m, ex, in.Letter)
		if err != nil {
			return nil, fmt.Errorf("freeze letter for %s: %w", ex.Name, err)
		}
		files["freeze/"+name+".pdf"] = letter
	}
	man := &Manifest{Schema: ManifestSchema, Info: in.Info, Trace: File{Path: "trace.json", SHA256: sum(in.TraceBytes)},
		Models: m.Models, Parameters: m.Params, Heuristics: m.Heuristics, Totals: m.TotalsFlat}
	names := slices.Sorted(maps.Keys(files))
	if err := os.MkdirAll(filepath.Join(dir, "freeze"), 0o755); err != nil {
		return nil, err
	}
	for _, n := range names {
		b := files[n]
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			return nil, err
		}
		man.Files = append(man.Files, OutputFile{Path: n, Bytes: len(b), SHA256: sum(b)})
	}
	mb, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), append(mb, '\n'), 0o644); err != nil {
		return nil, err
	}
	return man, nil
}

// ReadManifest reads DIR/manifest.json.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "manifest.json"), err)
	}
	if m.Schema != ManifestSchema {
		return nil, fmt.Errorf("%s: schema %q, this fundtrace reads %q", filepath.Join(dir, "manifest.json"), m.Schema, ManifestSchema)
	}
	// A bundle's files are inside it: a manifest naming another path
	// (../, an absolute path) would have verify read files elsewhere.
	for _, f := range m.Files {
		if !filepath.IsLocal(f.Path) {
			return nil, fmt.Errorf("%s names %q, outside the bundle: refusing it", filepath.Join(dir, "manifest.json"), f.Path)
		}
	}
	return &m, nil
}

// Check compares the files of a bundle with its manifest and returns what
// differs (nothing when all match).
func Check(dir string, m *Manifest) []string {
	var diffs []string
	for _, f := range m.Files {
		b, err := os.ReadFile(filepath.Join(dir, f.Path))
		switch {
		case err != nil:
			diffs = append(diffs, fmt.Sprintf("%s: %v", f.Path, err))
		case sum(b) != f.SHA256:
			diffs = append(diffs, fmt.Sprintf("%s: SHA-256 %s, the manifest says %s", f.Path, sum(b), f.SHA256))
		}
	}
	return diffs
}

// FileName makes a name (an exchange's) safe as a file name.
func FileName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "exchange"
	}
	return b.String()
}
