package sanctions

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fundtrace/fundtrace/chains"
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
		f, err := describe(xmlPath)
		if err != nil {
			return nil, err
		}
		if f.Bytes == 0 {
			return &List{Source: f.Name, Files: []store.ListFile{f}}, nil // refused by Import unless forced
		}
		r, closer, err := gzfile.Open(xmlPath)
		if err != nil {
			return nil, err
		}
		defer closer()
		l, _, err := ParseAdvanced(r, f.Name)
		if l != nil {
			l.Files = []store.ListFile{f}
		}
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
	var files []store.ListFile
	var sources []string
	for _, x := range []struct {
		path string
		r    *io.Reader
	}{{sdnPath, &sdn}, {commentsPath, &comments}} {
		if x.path == "" {
			continue
		}
		f, err := describe(x.path)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
		sources = append(sources, f.Name)
		r, closer, err := gzfile.Open(x.path)
		if err != nil {
			return nil, err
		}
		defer closer()
		*x.r = r
	}
	l, err := ParseLegacy(sdn, comments, strings.Join(sources, " + "))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", strings.Join(sources, " + "), err)
	}
	l.Files = files
	return l, nil
}

// describe names a list file by its base name, size and SHA-256.
func describe(path string) (store.ListFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return store.ListFile{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return store.ListFile{}, fmt.Errorf("read %s: %w", path, err)
	}
	return store.ListFile{Name: filepath.Base(path), SHA256: hex.EncodeToString(h.Sum(nil)), Bytes: n}, nil
}

// Snapshot turns a list into what the store keeps: every listed address
// of every currency (those of chains fundtrace does not index by their
// text, counted in Unindexed by currency), and the listed strings that
// are not addresses.
func Snapshot(l *List) (store.SanctionsSnapshot, []store.SanctionedAddress) {
	sn := store.SanctionsSnapshot{Date: l.Date, Files: l.Files, Entries: len(l.Entries), Unindexed: map[string]int{}, Truncated: len(l.Truncated)}
	for _, f := range l.Files {
		sn.Sources = append(sn.Sources, f.Name)
	}
	if len(sn.Sources) == 0 && l.Source != "" {
		sn.Sources = []string{filepath.Base(l.Source)}
	}
	seen := map[string]bool{}
	var out []store.SanctionedAddress
	for _, x := range l.Addresses() {
		a := x.Address
		switch {
		case a.Problem != "":
			sn.Invalid = append(sn.Invalid, fmt.Sprintf("%s %s (OFAC %s %s): %s", a.Code, a.Text, x.Entry.Ref, x.Entry.Name, a.Problem))
		default:
			k := string(a.Chain) + string(a.Address)
			if seen[k] {
				continue
			}
			seen[k] = true
			if !Indexed(a.Chain) {
				sn.Unindexed[a.Code]++
			}
			out = append(out, store.SanctionedAddress{Chain: a.Chain, Address: a.Address, Text: a.Text, Code: a.Code, Entity: x.Entry.Name,
				Ref: x.Entry.Ref, Type: x.Entry.Type, Programs: x.Entry.Programs, Listed: x.Entry.Listed})
		}
	}
	sort.Strings(sn.Invalid)
	sn.Addresses = len(out)
	return sn, out
}

// Indexed reports whether fundtrace indexes chain c's transactions, so
// that a listed address of it can have a cluster and exposure; the
// others answer direct hits only.
func Indexed(c chains.Chain) bool {
	return c == chains.Bitcoin || c == chains.Ethereum || c == chains.Tron
}
