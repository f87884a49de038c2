package sanctions

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// remarksLimit is the length at which OFAC cuts sdn.csv's Remarks column;
// the rest of a longer remark is in sdn_comments.csv under the same
// ent_num. (Every remark of exactly this length in the real 2021 and 2024
// files has a continuation there.)
const remarksLimit = 1000

// ParseLegacy reads OFAC's legacy sdn.csv and, when given, its
// sdn_comments.csv: no header, "-0-" for empty, a final Ctrl-Z line.
// Remarks in sdn.csv are cut short at a fixed length and continue in
// sdn_comments.csv (keyed by ent_num), so addresses are read from the
// joined text; without the comments file an address cut in two is kept
// with its Problem set, never guessed, and the entry is named in
// List.Truncated.
//
// A file that is not shaped like OFAC's (a record of another width, an
// ent_num that is not a number) is an error naming the line: importing
// the wrong CSV must not pass for an empty list.
func ParseLegacy(sdn, comments io.Reader, source string) (*List, error) {
	more := map[string]string{}
	if comments != nil {
		recs, err := readLegacy(comments, "sdn_comments.csv")
		if err != nil {
			return nil, err
		}
		for i, r := range recs {
			if len(r) < 2 {
				return nil, fmt.Errorf("sdn_comments.csv line %d: %d fields, want 2 (ent_num, remarks): not OFAC's sdn_comments.csv", i+1, len(r))
			}
			if _, err := strconv.ParseUint(strings.TrimSpace(r[0]), 10, 64); err != nil {
				return nil, fmt.Errorf("sdn_comments.csv line %d: ent_num %q is not a number: not OFAC's sdn_comments.csv", i+1, r[0])
			}
			more[strings.TrimSpace(r[0])] += r[1]
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
		if len(r) != 12 {
			return nil, fmt.Errorf("sdn.csv line %d: %d fields, OFAC's sdn.csv has 12: not an SDN file", i+1, len(r))
		}
		ref := strings.TrimSpace(r[0])
		if _, err := strconv.ParseUint(ref, 10, 64); err != nil {
			return nil, fmt.Errorf("sdn.csv line %d: ent_num %q is not a number: not an SDN file", i+1, r[0])
		}
		remarks := empty(r[11])
		if len(remarks) >= remarksLimit && more[ref] == "" {
			l.Truncated = append(l.Truncated, ref)
		}
		l.Entries = append(l.Entries, entryFrom(ref, r[1], r[2], r[3], remarks+more[ref]))
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
