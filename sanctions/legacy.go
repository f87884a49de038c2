package sanctions

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strings"
)

// ParseLegacy reads OFAC's legacy sdn.csv and, when given, its
// sdn_comments.csv: no header, "-0-" for empty, a final Ctrl-Z line.
// Remarks in sdn.csv are cut short at a fixed length and continue in
// sdn_comments.csv (keyed by ent_num), so addresses are read from the
// joined text; without the comments file an address cut in two is kept
// with its Problem set, never guessed.
func ParseLegacy(sdn, comments io.Reader, source string) (*List, error) {
	more := map[string]string{}
	if comments != nil {
		recs, err := readLegacy(comments, "sdn_comments.csv")
		if err != nil {
			return nil, err
		}
		for i, r := range recs {
			if len(r) < 2 {
				return nil, fmt.Errorf("sdn_comments.csv line %d: %d fields, want 2", i+1, len(r))
			}
			more[r[0]] += r[1]
		}
	}
	l := &List{Source: source}
	if sdn == nil {
		// Comments alone (a partial set): each is an entry with remarks only.
		for ref, text := range more {
			l.Entries = append(l.Entries, entryFrom(ref, "", "", "", text))
		}
		sort.Slice(l.Entries, func(i, j int) bool { return l.Entries[i].Ref < l.Entries[j].Ref })
		return l, nil
	}
	recs, err := readLegacy(sdn, "sdn.csv")
	if err != nil {
		return nil, err
	}
	for i, r := range recs {
		if len(r) < 12 {
			return nil, fmt.Errorf("sdn.csv line %d: %d fields, want 12", i+1, len(r))
		}
		l.Entries = append(l.Entries, entryFrom(r[0], r[1], r[2], r[3], empty(r[11])+more[r[0]]))
	}
	return l, nil
}

func empty(s string) string {
	if strings.TrimSpace(s) == "-0-" {
		return ""
	}
	return s
}

func entryFrom(ref, name, typ, programs, remarks string) Entry {
	e := Entry{Ref: strings.TrimSpace(ref), Name: empty(name), Type: empty(typ)}
	for _, p := range strings.Split(empty(programs), "] [") {
		if p = strings.Trim(strings.TrimSpace(p), "[]"); p != "" {
			e.Programs = append(e.Programs, p)
		}
	}
	for _, m := range addressPattern.FindAllStringSubmatch(remarks, -1) {
		e.Addresses = append(e.Addresses, resolve(m[1], strings.TrimRight(m[2], ".,")))
	}
	return e
}

// readLegacy reads an OFAC legacy CSV file, dropping the final Ctrl-Z.
func readLegacy(r io.Reader, name string) ([][]string, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	b = bytes.TrimRight(b, "\x1a\r\n ")
	cr := csv.NewReader(bytes.NewReader(b))
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return recs, nil
}
