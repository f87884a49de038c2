// Package cases keeps the workbench's cases: a case's victims' payments
// (its seeds, a case file's rows), the traces run from them in the
// background (each a fundtrace-trace file), and the notes and tags the
// investigators leave on addresses, transactions and flows. Cases and
// notes are records in the store (store.RecordStore), so that they live
// where the chain data does and go with it; trace files are written to a
// folder of the server's.
package cases

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fundtrace/fundtrace/investigate"
	"github.com/fundtrace/fundtrace/report"
	"github.com/fundtrace/fundtrace/store"
)

// Store is what cases read and write: the chain data a trace reads and
// the records cases and notes are kept in.
type Store interface {
	investigate.AccountStore
	store.RecordStore
}

// Case is an investigation: who opened it, the payments it traces from,
// the traces run.
type Case struct {
	ID        string `json:"id"`
	Title     string `json:"title"`
	Created   string `json:"created"`    // RFC 3339, UTC
	CreatedBy string `json:"created_by"` // the API key's name
	// Seeds is the case file (CSV: chain, tx, address, amount, time,
	// victim[, asset, log_index]) as given, checked against the store
	// when set.
	Seeds    string  `json:"seeds"`
	Payments int     `json:"payments"` // rows of Seeds
	Traces   []Trace `json:"traces"`
	// Info is who sends the case's report and freezing requests (the
	// letters are written only when it names a sender).
	Info *report.CaseInfo `json:"info,omitempty"`
}

// Trace is one run of the tracer over a case's seeds, in the background.
type Trace struct {
	ID        string   `json:"id"`
	Status    string   `json:"status"` // running, done, failed, interrupted
	Error     string   `json:"error,omitempty"`
	Models    []string `json:"models"`
	MaxHops   int      `json:"max_hops"`
	Through   bool     `json:"through_mixers"`
	Started   string   `json:"started"`
	Finished  string   `json:"finished,omitempty"`
	StartedBy string   `json:"started_by"`
	// Progress: the hop the walk is at, and how many coins or addresses
	// it has followed (while running).
	Hop      int `json:"hop"`
	Followed int `json:"followed"`
	// File is the trace file's name in the server's folder, with its
	// SHA-256 and size, once done.
	File   string `json:"file,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Bytes  int64  `json:"bytes,omitempty"`
}

// Trace statuses.
const (
	Running     = "running"
	Done        = "done"
	Failed      = "failed"
	Interrupted = "interrupted" // the server stopped while it ran
)

// Note is what an investigator wrote about an address, a transaction or
// a flow of a case, with who and when.
type Note struct {
	ID     string   `json:"id"`
	Case   string   `json:"case"`
	Target Target   `json:"target"`
	Text   string   `json:"text"`
	Tags   []string `json:"tags"`
	Author string   `json:"author"` // the API key's name
	Time   string   `json:"time"`   // RFC 3339, UTC
}

// Target is what a note is about: an address, a transaction, or an edge
// (a flow, Ref "FROM→TO" as the trace file names its nodes).
type Target struct {
	Kind  string `json:"kind"` // address, tx, edge
	Chain string `json:"chain"`
	Ref   string `json:"ref"`
}

// InputError is a request cases cannot take; Field names the part.
type InputError struct {
	Field, Msg string
}

func (e *InputError) Error() string { return e.Msg }

func bad(field, format string, args ...any) error {
	return &InputError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// ErrNotFound says there is no such case or trace.
var ErrNotFound = store.ErrNotFound

// Limits on what one request may store.
const (
	MaxTitle = 200
	MaxSeeds = 4 << 20 // bytes of case file
	MaxNote  = 10_000
	MaxTags  = 20
)

// Service keeps a store's cases. Traces run in goroutines of the
// service; Close waits for them.
type Service struct {
	// Version is the fundtrace version reports record.
	Version string

	st  Store
	dir string // trace files
	log *slog.Logger
	now func() time.Time

	mu sync.Mutex // serialises writes of case records
	wg sync.WaitGroup
	// live is each running trace's progress (hop, followed), by
	// progressKey: shown by Get, never written until the trace ends.
	liveMu sync.Mutex
	live   map[string][2]int
	graphs graphCache
	ctx    context.Context // cancelled by Close: running traces stop
	stop   context.CancelFunc
}

// New returns the cases of st, trace files written to dir. Traces the
// records say are running (a server stopped while they ran) are marked
// interrupted.
func New(ctx context.Context, st Store, dir string, log *slog.Logger) (*Service, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cases folder: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Service{st: st, dir: dir, log: log, now: time.Now, live: map[string][2]int{}}
	s.ctx, s.stop = context.WithCancel(context.Background())
	// One pass: the cases with a running trace are marked as they are
	// read (nothing else runs yet).
	var stale []*Case
	err := st.EachRecord(ctx, "case", func(id string, b []byte) error {
		var c Case
		if err := json.Unmarshal(b, &c); err != nil {
			return fmt.Errorf("case %s: %w", id, err)
		}
		marked := false
		for i := range c.Traces {
			if c.Traces[i].Status == Running {
				c.Traces[i].Status, c.Traces[i].Error = Interrupted, "the server stopped while the trace ran: start it again"
				marked = true
			}
		}
		if marked {
			stale = append(stale, &c)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, c := range stale {
		if err := s.put(ctx, c); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Close stops running traces and waits for them.
func (s *Service) Close() {
	s.stop()
	s.wg.Wait()
}

func (s *Service) stamp() string { return s.now().UTC().Format(time.RFC3339) }

// Create opens a case.
func (s *Service) Create(ctx context.Context, title, author, seeds string) (*Case, error) {
	title = strings.TrimSpace(title)
	if title == "" || len(title) > MaxTitle {
		return nil, bad("title", "a case needs a title of 1 to %d characters", MaxTitle)
	}
	n, err := s.checkSeeds(ctx, seeds)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	last := 0
	err = s.st.EachRecord(ctx, "case", func(id string, _ []byte) error {
		last = max(last, caseNumber(id))
		return nil
	})
	if err != nil {
		return nil, err
	}
	c := &Case{ID: fmt.Sprintf("case-%d", last+1), Title: title, Created: s.stamp(), CreatedBy: author, Seeds: seeds, Payments: n, Traces: []Trace{}}
	return c, s.put(ctx, c)
}

// checkSeeds reads a case file's rows against the store: each must name
// a payment it holds. It returns the number of rows.
func (s *Service) checkSeeds(ctx context.Context, seeds string) (int, error) {
	if strings.TrimSpace(seeds) == "" {
		return 0, nil
	}
	if len(seeds) > MaxSeeds {
		return 0, bad("seeds", "the case file is larger than %d bytes", MaxSeeds)
	}
	var ss investigate.Seeds
	if err := investigate.New(s.st, investigate.Options{}).ReadCaseFrom(ctx, &ss, "case file", strings.NewReader(seeds)); err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return 0, err
		}
		return 0, bad("seeds", "%v", err)
	}
	return ss.Len(), nil
}

// SetSeeds replaces a case's seeds.
func (s *Service) SetSeeds(ctx context.Context, id, seeds string) (*Case, error) {
	n, err := s.checkSeeds(ctx, seeds)
	if err != nil {
		return nil, err
	}
	var out *Case
	err = s.update(ctx, id, func(c *Case) error {
		c.Seeds, c.Payments = seeds, n
		out = c
		return nil
	})
	return out, err
}

// List returns every case, without their seeds, in id order.
func (s *Service) List(ctx context.Context) ([]Case, error) {
	out := []Case{}
	err := s.st.EachRecord(ctx, "case", func(id string, b []byte) error {
		var c Case
		if err := json.Unmarshal(b, &c); err != nil {
			return fmt.Errorf("case %s: %w", id, err)
		}
		c.Seeds = ""
		out = append(out, c)
		return nil
	})
	slices.SortFunc(out, func(a, b Case) int { return caseNumber(a.ID) - caseNumber(b.ID) })
	return out, err
}

func caseNumber(id string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(id, "case-"))
	return n
}

// Get returns a case.
func (s *Service) Get(ctx context.Context, id string) (*Case, error) {
	b, err := s.st.Record(ctx, "case", id)
	if err != nil {
		return nil, fmt.Errorf("case %s: %w", id, err)
	}
	var c Case
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("case %s: %w", id, err)
	}
	for i := range c.Traces {
		if p, ok := s.progress(progressKey(id, c.Traces[i].ID)); ok && c.Traces[i].Status == Running {
			c.Traces[i].Hop, c.Traces[i].Followed = p[0], p[1]
		}
	}
	return &c, nil
}

func (s *Service) put(ctx context.Context, c *Case) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return s.st.PutRecord(ctx, "case", c.ID, b)
}

// update reads case id, changes it with fn and writes it back, one
// update at a time.
func (s *Service) update(ctx context.Context, id string, fn func(c *Case) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if err := fn(c); err != nil {
		return err
	}
	return s.put(ctx, c)
}

// AddNote stores a note on case id.
func (s *Service) AddNote(ctx context.Context, id string, n Note) (*Note, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return nil, err
	}
	switch n.Target.Kind {
	case "address", "tx", "edge":
	default:
		return nil, bad("target.kind", "target kind %q: want address, tx or edge", n.Target.Kind)
	}
	if n.Target.Ref == "" || len(n.Target.Ref) > 300 {
		return nil, bad("target.ref", "a note's target needs a reference (an address, a hash, FROM→TO) of at most 300 characters")
	}
	n.Text = strings.TrimSpace(n.Text)
	if n.Text == "" && len(n.Tags) == 0 || len(n.Text) > MaxNote {
		return nil, bad("text", "a note needs a text of at most %d characters, or tags", MaxNote)
	}
	if len(n.Tags) > MaxTags {
		return nil, bad("tags", "at most %d tags", MaxTags)
	}
	for i, t := range n.Tags {
		if n.Tags[i] = strings.TrimSpace(t); n.Tags[i] == "" || len(n.Tags[i]) > 50 {
			return nil, bad("tags", "a tag is 1 to 50 characters")
		}
	}
	if n.Tags == nil {
		n.Tags = []string{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	count := 0
	if err := s.st.EachRecord(ctx, "note:"+id, func(string, []byte) error { count++; return nil }); err != nil {
		return nil, err
	}
	n.ID, n.Case, n.Time = fmt.Sprintf("%06d", count+1), id, s.stamp()
	b, err := json.Marshal(n)
	if err != nil {
		return nil, err
	}
	return &n, s.st.PutRecord(ctx, "note:"+id, n.ID, b)
}

// Notes returns case id's notes in the order they were written.
func (s *Service) Notes(ctx context.Context, id string) ([]Note, error) {
	out := []Note{}
	err := s.st.EachRecord(ctx, "note:"+id, func(nid string, b []byte) error {
		var n Note
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("note %s of case %s: %w", nid, id, err)
		}
		out = append(out, n)
		return nil
	})
	return out, err
}

// TraceFile returns the path of a done trace's file ("" while it is not
// done) and its record.
func (s *Service) TraceFile(ctx context.Context, id, tid string) (string, *Trace, error) {
	_, t, path, err := s.trace(ctx, id, tid)
	return path, t, err
}

// trace returns case id, its trace tid and the trace's file ("" while it
// is not done).
func (s *Service) trace(ctx context.Context, id, tid string) (*Case, *Trace, string, error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return nil, nil, "", err
	}
	for i := range c.Traces {
		if t := &c.Traces[i]; t.ID == tid {
			if t.Status != Done {
				return c, t, "", nil
			}
			return c, t, filepath.Join(s.dir, t.File), nil
		}
	}
	return nil, nil, "", fmt.Errorf("trace %s of case %s: %w", tid, id, ErrNotFound)
}
