package cases

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/internal/atomicfile"
	"github.com/fundtrace/fundtrace/investigate"
	"github.com/fundtrace/fundtrace/tracefile"
	"github.com/fundtrace/fundtrace/tracer"
)

// TraceOptions are how a case's trace follows the money (fundtrace
// trace's flags of the same names).
type TraceOptions struct {
	Models        []string `json:"models"` // default haircut, fifo
	MaxHops       int      `json:"max_hops"`
	ThroughMixers bool     `json:"through_mixers"`
}

// progressKey names a running trace in Service.live.
func progressKey(id, tid string) string { return id + "/" + tid }

// StartTrace starts a trace of case id's seeds in the background and
// returns its record (status running). One trace of a case runs at a
// time.
func (s *Service) StartTrace(ctx context.Context, id, author string, o TraceOptions) (*Trace, error) {
	if len(o.Models) == 0 {
		o.Models = []string{tracer.Haircut, tracer.FIFO}
	}
	for _, m := range o.Models {
		if m != tracer.Haircut && m != tracer.FIFO && m != tracer.Poison {
			return nil, bad("models", "model %q: the models are haircut, fifo and poison", m)
		}
	}
	if o.MaxHops == 0 {
		o.MaxHops = tracer.DefaultMaxHops
	}
	if o.MaxHops < 1 || o.MaxHops > 1000 {
		return nil, bad("max_hops", "max_hops %d: want 1 to 1000", o.MaxHops)
	}
	var t *Trace
	var seeds string
	err := s.update(ctx, id, func(c *Case) error {
		if c.Payments == 0 {
			return bad("seeds", "case %s has no payments to trace: give it a case file", id)
		}
		for _, x := range c.Traces {
			if x.Status == Running {
				return &ConflictError{Msg: fmt.Sprintf("trace %s of case %s is still running", x.ID, id)}
			}
		}
		c.Traces = append(c.Traces, Trace{ID: fmt.Sprintf("trace-%d", len(c.Traces)+1), Status: Running, Models: o.Models, MaxHops: o.MaxHops,
			Through: o.ThroughMixers, Started: s.stamp(), StartedBy: author})
		t, seeds = &c.Traces[len(c.Traces)-1], c.Seeds
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := *t
	s.wg.Add(1)
	go s.run(id, out, seeds, o)
	return &out, nil
}

// ConflictError says a request conflicts with what is running.
type ConflictError struct{ Msg string }

func (e *ConflictError) Error() string { return e.Msg }

// run traces case id's seeds and records the outcome.
func (s *Service) run(id string, t Trace, seedsText string, o TraceOptions) {
	defer s.wg.Done()
	key := progressKey(id, t.ID)
	defer func() {
		s.liveMu.Lock()
		delete(s.live, key)
		s.liveMu.Unlock()
	}()
	ctx := s.ctx
	opts := investigate.Options{MaxHops: o.MaxHops, MaxNodes: tracer.DefaultMaxNodes, ThroughMixers: o.ThroughMixers,
		OnHop: func(_ chains.Chain, hop, _, followed int) {
			s.liveMu.Lock()
			s.live[key] = [2]int{hop, followed}
			s.liveMu.Unlock()
		}}
	finish := func(status, msg, file, sum string, n int64) {
		err := s.update(context.Background(), id, func(c *Case) error {
			for i := range c.Traces {
				if x := &c.Traces[i]; x.ID == t.ID {
					x.Status, x.Error, x.File, x.SHA256, x.Bytes, x.Finished = status, msg, file, sum, n, s.stamp()
					if p, ok := s.progress(key); ok {
						x.Hop, x.Followed = p[0], p[1]
					}
				}
			}
			return nil
		})
		if err != nil {
			s.log.Error("Recording a trace's outcome failed", "case", id, "trace", t.ID, "err", err)
		}
	}
	iv := investigate.New(s.st, opts)
	var seeds investigate.Seeds
	if err := iv.ReadCaseFrom(ctx, &seeds, "case file", strings.NewReader(seedsText)); err != nil {
		finish(Failed, err.Error(), "", "", 0)
		return
	}
	j, err := iv.Trace(ctx, seeds, o.Models, 0, 0)
	if err != nil {
		status := Failed
		if ctx.Err() != nil {
			status = Interrupted
		}
		finish(status, err.Error(), "", "", 0)
		return
	}
	name := filepath.Join(id, t.ID+".json")
	path := filepath.Join(s.dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		finish(Failed, err.Error(), "", "", 0)
		return
	}
	// The file is written and hashed in one stream.
	h := sha256.New()
	var n int64
	err = atomicfile.Write(path, 0o644, func(w io.Writer) error {
		return tracefile.Write(io.MultiWriter(w, h, countWriter{&n}), j)
	})
	if err != nil {
		finish(Failed, err.Error(), "", "", 0)
		return
	}
	finish(Done, "", name, hex.EncodeToString(h.Sum(nil)), n)
	s.log.Info("Case traced", "case", id, "trace", t.ID, "payments", seeds.Len(), "deposits", len(j.Deposits), "file", name)
}

// countWriter counts the bytes written through it.
type countWriter struct{ n *int64 }

func (c countWriter) Write(p []byte) (int, error) {
	*c.n += int64(len(p))
	return len(p), nil
}

// progress returns a running trace's hop and coins followed.
func (s *Service) progress(key string) ([2]int, bool) {
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	p, ok := s.live[key]
	return p, ok
}
