package report

import (
	"embed"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/message/catalog"
)

// The summary and the freezing letters are written in the reader's
// language: every sentence goes through a message printer whose
// catalogue (locales/LANG.json: English text → translation, the same
// format verbs in the same order, or indexed as %[2]s) says it in that
// language; a sentence missing from a catalogue stays English. Adding a
// language is a new catalogue and, for a script the PDF core fonts lack
// (Hangul, Khmer), a font (docs/reports.md).

//go:embed locales/*.json
var locales embed.FS

// fontsFor lists where Debian and its neighbours install a font for a
// language whose script the core fonts lack (regular, then bold).
var fontsFor = map[string][][2]string{
	"ko": {
		{"/usr/share/fonts/truetype/nanum/NanumGothic.ttf", "/usr/share/fonts/truetype/nanum/NanumGothicBold.ttf"},
		{"/usr/share/fonts/truetype/nanum/NanumBarunGothic.ttf", "/usr/share/fonts/truetype/nanum/NanumBarunGothicBold.ttf"},
	},
	"km": {
		{"/usr/share/fonts/truetype/noto/NotoSansKhmer-Regular.ttf", "/usr/share/fonts/truetype/noto/NotoSansKhmer-Bold.ttf"},
	},
}

// Languages lists the languages reports are written in: English and
// every catalogue shipped.
func Languages() []string {
	out := []string{"en"}
	es, _ := locales.ReadDir("locales")
	for _, e := range es {
		if l := strings.TrimSuffix(e.Name(), ".json"); l != "en" {
			out = append(out, l)
		}
	}
	slices.Sort(out[1:])
	return out
}

var cat = func() *catalog.Builder {
	b := catalog.NewBuilder(catalog.Fallback(language.English))
	es, err := locales.ReadDir("locales")
	if err != nil {
		panic(err)
	}
	for _, e := range es {
		raw, err := locales.ReadFile(path.Join("locales", e.Name()))
		if err != nil {
			panic(err)
		}
		var msgs map[string]string
		if err := json.Unmarshal(raw, &msgs); err != nil {
			panic(fmt.Sprintf("report/locales/%s: %v", e.Name(), err))
		}
		tag := language.MustParse(strings.TrimSuffix(e.Name(), ".json"))
		for k, v := range msgs {
			if err := b.SetString(tag, k, v); err != nil {
				panic(fmt.Sprintf("report/locales/%s: %q: %v", e.Name(), k, err))
			}
		}
	}
	return b
}()

// lang is a report's language: its printer and the font its script
// needs (none: the PDF core fonts).
type lang struct {
	Code       string
	p          *message.Printer
	font, bold string // TrueType files; "" the core fonts
	// The files' bytes, read once.
	fontBytes, boldBytes []byte
}

// T translates a sentence (a format with its arguments).
func (l *lang) T(format string, a ...any) string { return l.p.Sprintf(format, a...) }

// newLang sets up language code with font (a TrueType file; "" finds one
// where the script needs it).
func newLang(code, font string) (*lang, error) {
	if code == "" {
		code = "en"
	}
	if !slices.Contains(Languages(), code) {
		return nil, fmt.Errorf("no report language %q (there are: %s)", code, strings.Join(Languages(), ", "))
	}
	tag := language.MustParse(code)
	l := &lang{Code: code, p: message.NewPrinter(tag, message.Catalog(cat))}
	switch {
	case font != "":
		if _, err := os.Stat(font); err != nil {
			return nil, fmt.Errorf("--font: %w", err)
		}
		l.font, l.bold = font, font
	case len(fontsFor[code]) > 0:
		for _, f := range fontsFor[code] {
			if _, err := os.Stat(f[0]); err == nil {
				l.font, l.bold = f[0], f[0]
				if _, err := os.Stat(f[1]); f[1] != "" && err == nil {
					l.bold = f[1]
				}
				break
			}
		}
		if l.font == "" {
			return nil, fmt.Errorf("the %s report needs a font with its script: install one (Debian: fonts-nanum for Korean) or give --font FILE.ttf", code)
		}
	}
	if l.font != "" {
		var err error
		if l.fontBytes, err = readTrueType(l.font); err != nil {
			return nil, err
		}
		if l.boldBytes, err = readTrueType(l.bold); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// readTrueType reads a TrueType font file, refusing anything else (the
// PDF writer reads TrueType outlines only: not OpenType CFF, not a
// collection).
func readTrueType(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 12 || (string(b[:4]) != "\x00\x01\x00\x00" && string(b[:4]) != "true") {
		return nil, fmt.Errorf("font %s: not a TrueType font (.ttf); OpenType CFF (.otf) and collections (.ttc) are not read", path)
	}
	return b, nil
}
