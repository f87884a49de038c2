package sanctions

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fundtrace/fundtrace/internal/gzfile"
	"github.com/fundtrace/fundtrace/store"
)

// Load reads OFAC files as published: an advanced XML file
// (sdn_advanced.xml, cons_advanced.xml; .gz accepted), or the legacy CSV
// set (sdn.csv with sdn_comments.csv beside it, given together or found
// in the same folder). The file names say which is which.
func Load(paths []string) (*List, error) {
	var xmlPath, sdnPath, commentsPath string
	for _, p := range paths {
		base := strings.ToLower(strings.TrimSuffix(filepath.Base(p), ".gz"))
		switch {
		case strings.HasSuffix(base, ".xml"):
			xmlPath = p
		case strings.Contains(base, "comments"):
			commentsPath = p
		case strings.HasSuffix(base, ".csv"):
			sdnPath = p
		default:
			return nil, fmt.Errorf("%s: not an OFAC file this reads (sdn_advanced.xml, sdn.csv, sdn_comments.csv)", p)
		}
	}
	if xmlPath != "" {
		if sdnPath != "" || commentsPath != "" {
			return nil, fmt.Errorf("give either an advanced XML file or the legacy CSV set, not both")
		}
		r, closer, err := gzfile.Open(xmlPath)
		if err != nil {
			return nil, err
		}
		defer closer()
		l, _, err := ParseAdvanced(r, xmlPath)
		return l, err
	}
	if sdnPath != "" && commentsPath == "" {
		for _, name := range []string{"sdn_comments.csv", "sdn_comments.csv.gz"} {
			p := filepath.Join(filepath.Dir(sdnPath), name)
			if _, err := os.Stat(p); err == nil {
				commentsPath = p
				break
			}
		}
	}
	var sdn, comments io.Reader
	var sources []string
	if sdnPath != "" {
		r, closer, err := gzfile.Open(sdnPath)
		if err != nil {
			return nil, err
		}
		defer closer()
		sdn = r
		sources = append(sources, sdnPath)
	}
	if commentsPath != "" {
		r, closer, err := gzfile.Open(commentsPath)
		if err != nil {
			return nil, err
		}
		defer closer()
		comments = r
		sources = append(sources, commentsPath)
	}
	return ParseLegacy(sdn, comments, strings.Join(sources, " + "))
}

// Snapshot turns a list into what the store keeps: every address of a
// chain fundtrace indexes, and the count of the others by currency and
// the listed strings that are not addresses.
func Snapshot(l *List) (store.SanctionsSnapshot, []store.SanctionedAddress) {
	sn := store.SanctionsSnapshot{Date: l.Date, Sources: []string{l.Source}, Entries: len(l.Entries), Unindexed: map[string]int{}}
	seen := map[string]bool{}
	var out []store.SanctionedAddress
	for _, x := range l.Addresses() {
		a := x.Address
		switch {
		case a.Problem != "":
			sn.Invalid = append(sn.Invalid, fmt.Sprintf("%s %s (OFAC %s %s): %s", a.Code, a.Text, x.Entry.Ref, x.Entry.Name, a.Problem))
		case a.Chain == "":
			sn.Unindexed[a.Code]++
		default:
			k := string(a.Chain) + string(a.Address)
			if seen[k] {
				continue
			}
			seen[k] = true
			out = append(out, store.SanctionedAddress{Chain: a.Chain, Address: a.Address, Text: a.Text, Code: a.Code, Entity: x.Entry.Name,
				Ref: x.Entry.Ref, Type: x.Entry.Type, Programs: x.Entry.Programs, Listed: x.Entry.Listed})
		}
	}
	sort.Strings(sn.Invalid)
	sn.Addresses = len(out)
	return sn, out
}
