package sanctions

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fundtrace/fundtrace/store"
)

// Store is where Import keeps snapshots; both stores have it.
type Store interface {
	Snapshots(ctx context.Context) ([]store.SanctionsSnapshot, error)
	SnapshotAddresses(ctx context.Context, id int64) ([]store.SanctionedAddress, error)
	AddSnapshot(ctx context.Context, sn store.SanctionsSnapshot, addrs []store.SanctionedAddress) (store.SanctionsSnapshot, error)
}

// ImportOptions are what a user may say about an import.
type ImportOptions struct {
	// Date is the list's publication day (YYYY-MM-DD) for files that do
	// not carry it (the legacy CSV set); it must agree with a file that
	// does.
	Date string
	// Force imports an empty list, a list without entries, or one that
	// would drop more than half of the addresses listed now.
	Force bool
	// AllowTruncated imports an sdn.csv whose remarks OFAC cut short
	// without the sdn_comments.csv that continues them.
	AllowTruncated bool
	// Now is the time of the import (zero: the clock); a list dated
	// after its day is refused.
	Now time.Time
}

// ImportResult says what an import did.
type ImportResult struct {
	Snapshot store.SanctionsSnapshot
	// Previous is the snapshot in force before the import (0: none).
	Previous int64
	// InForce says whether the new snapshot is now the one screening
	// uses: it is unless an imported list has a later date, in which
	// case the new one is history (screen --as-of).
	InForce bool
	// Added and Removed compare the new list with Previous, when the
	// new one is in force.
	Added, Removed []store.SanctionedAddress
}

// ErrRefused is wrapped by every refusal of the import policy, so that
// callers (the HTTP API) can tell a refused list from a failed store.
var ErrRefused = errors.New("sanctions list refused")

func refuse(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, a...))
}

// Import reads OFAC files (see Load) and stores them as a new snapshot,
// under the policy that no import silently clears or weakens the list in
// force:
//   - a list must be dated (by the file or ImportOptions.Date), and not
//     after today;
//   - an empty file, a list with no entries, or a list that would drop
//     more than half of the addresses listed now is refused unless Force;
//   - an sdn.csv whose remarks were cut short, without the
//     sdn_comments.csv that continues them, is refused unless
//     AllowTruncated: addresses in the cut part would be missing.
//
// A list dated before the one in force is stored as history: which
// snapshot is in force follows from the list dates (store.InForce), not
// from the order of imports.
func Import(ctx context.Context, st Store, paths []string, o ImportOptions) (*ImportResult, error) {
	if len(paths) == 0 {
		return nil, errors.New("no OFAC file given")
	}
	l, err := Load(paths)
	if err != nil {
		return nil, err
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	if o.Date != "" {
		if _, err := time.Parse("2006-01-02", o.Date); err != nil {
			return nil, refuse("date %q: want YYYY-MM-DD", o.Date)
		}
		if l.Date != "" && l.Date != o.Date {
			return nil, refuse("date %s given, but %s says it was published on %s", o.Date, l.Source, l.Date)
		}
		l.Date = o.Date
	}
	if l.Date == "" {
		return nil, refuse("%s carries no publication date: give the day OFAC published it (--date YYYY-MM-DD, ?date= over HTTP)", l.Source)
	}
	day, err := time.Parse("2006-01-02", l.Date)
	if err != nil {
		return nil, refuse("%s: list date %q is not a date", l.Source, l.Date)
	}
	if today := now.UTC().Format("2006-01-02"); l.Date > today {
		return nil, refuse("%s: list date %s is in the future (today is %s)", l.Source, day.Format("2006-01-02"), today)
	}
	for _, f := range l.Files {
		if f.Bytes == 0 && !o.Force {
			return nil, refuse("%s is empty (0 bytes): importing it would clear every listed address (force to import anyway)", f.Name)
		}
	}
	if len(l.Entries) == 0 && !o.Force {
		return nil, refuse("%s holds no entries: importing it would clear every listed address (force to import anyway)", l.Source)
	}
	if n := len(l.Truncated); n > 0 && !o.AllowTruncated {
		return nil, refuse("%d entries of %s have remarks OFAC cut short at %d characters with no continuation (ent_num %s): add the sdn_comments.csv of the same day, or allow truncated remarks to import without the addresses in the cut parts",
			n, l.Source, remarksLimit, refList(l.Truncated))
	}
	sn, addrs := Snapshot(l)
	sns, err := st.Snapshots(ctx)
	if err != nil {
		return nil, fmt.Errorf("read sanctions snapshots: %w", err)
	}
	res := &ImportResult{Previous: store.InForce(sns, "")}
	var prev *store.SanctionsSnapshot
	for i := range sns {
		if sns[i].ID == res.Previous {
			prev = &sns[i]
		}
	}
	res.InForce = prev == nil || sn.Date >= prev.ListDay()
	if prev != nil && res.InForce {
		old, err := st.SnapshotAddresses(ctx, prev.ID)
		if err != nil {
			return nil, fmt.Errorf("read sanctions snapshot %d: %w", prev.ID, err)
		}
		res.Added, res.Removed = diff(old, addrs)
		if len(res.Removed) > len(old)/2 && !o.Force {
			return nil, refuse("%s would drop %d of the %d addresses listed now (snapshot %d, list of %s): the wrong file, or one cut short? (force to import anyway)",
				l.Source, len(res.Removed), len(old), prev.ID, prev.ListDay())
		}
	}
	sn.Imported = now.UTC().Format(time.RFC3339)
	if res.Snapshot, err = st.AddSnapshot(ctx, sn, addrs); err != nil {
		return nil, fmt.Errorf("store sanctions snapshot: %w", err)
	}
	return res, nil
}

// diff returns the addresses of now not in old, and of old not in now.
func diff(old, now []store.SanctionedAddress) (added, removed []store.SanctionedAddress) {
	key := func(a *store.SanctionedAddress) string { return string(a.Chain) + "\x00" + string(a.Address) }
	in := make(map[string]bool, len(old))
	for i := range old {
		in[key(&old[i])] = true
	}
	seen := make(map[string]bool, len(now))
	for i := range now {
		seen[key(&now[i])] = true
		if !in[key(&now[i])] {
			added = append(added, now[i])
		}
	}
	for i := range old {
		if !seen[key(&old[i])] {
			removed = append(removed, old[i])
		}
	}
	return added, removed
}

// refList shows at most five refs.
func refList(refs []string) string {
	if len(refs) <= 5 {
		return strings.Join(refs, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(refs[:5], ", "), len(refs)-5)
}
