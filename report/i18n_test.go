package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestCataloguesComplete: every sentence the report, the letters and the
// requests say (each T(…) call in the code and {{T "..."}} in the
// templates, and the asks) has a translation in every shipped catalogue;
// a sentence left out would print in English in the middle of a Korean
// letter.
func TestCataloguesComplete(t *testing.T) {
	var keys []string
	goKey := regexp.MustCompile(`\bT\(("(?:[^"\\]|\\.)*")`)
	tmplKey := regexp.MustCompile(`\{\{T ("(?:[^"\\]|\\.)*")`)
	var files []string
	all, _ := filepath.Glob("*.go")
	for _, f := range all {
		if !strings.HasSuffix(f, "_test.go") {
			files = append(files, f)
		}
	}
	tmpls, _ := filepath.Glob("*.tmpl")
	for _, f := range append(files, tmpls...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		re := goKey
		if filepath.Ext(f) == ".tmpl" {
			re = tmplKey
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			k, err := strconv.Unquote(m[1])
			if err != nil {
				t.Fatalf("%s: %s: %v", f, m[1], err)
			}
			keys = append(keys, k)
		}
	}
	keys = append(keys, Asks...)
	keys = append(keys, "day", "week", "month", "haircut", "fifo", "poison")
	if len(keys) < 100 {
		t.Fatalf("found only %d sentences: the pattern no longer matches the code", len(keys))
	}
	for _, lang := range Languages()[1:] {
		b, err := locales.ReadFile("locales/" + lang + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var cat map[string]string
		if err := json.Unmarshal(b, &cat); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if cat[k] == "" {
				t.Errorf("locales/%s.json lacks %q", lang, k)
			}
		}
	}
}

// TestLangErrors: a language not shipped, a font file that is missing or
// not TrueType: each an error naming it, before anything is written.
func TestLangErrors(t *testing.T) {
	notFont := filepath.Join(t.TempDir(), "font.ttf")
	os.WriteFile(notFont, []byte("this is no font at all"), 0o644)
	for _, c := range []struct{ lang, font, want string }{
		{"xx", "", `no report language "xx"`},
		{"ko", filepath.Join(t.TempDir(), "missing.ttf"), "missing.ttf"},
		{"ko", notFont, "not a TrueType font"},
	} {
		if _, err := newLang(c.lang, c.font); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: %v, want %q", c.lang, c.font, err, c.want)
		}
	}
}
