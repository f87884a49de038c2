package labels

import (
	"io"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// confidenceIDs maps our 0–100 back to the closest GraphSense id.
func confidenceID(n int) string {
	switch {
	case n >= 100:
		return "authority_data"
	case n >= 80:
		return "service_data"
	case n >= 70:
		return "forensic"
	case n >= 50:
		return "manual_transaction"
	case n >= 40:
		return "web_crawl"
	}
	return "untrusted_transaction"
}

// tagPackCategory maps our category back to GraphSense's.
func tagPackCategory(c string) string {
	for k, v := range tagPackCategories {
		if v == c && k != "coinjoin" && k != "hacker" && k != "sanction" {
			return k
		}
	}
	return c
}

// WriteTagPack writes labels as one GraphSense TagPack.
func WriteTagPack(w io.Writer, title, creator string, ls []Label) error {
	type tag struct {
		Address    string `yaml:"address"`
		Currency   string `yaml:"currency"`
		Label      string `yaml:"label"`
		Category   string `yaml:"category"`
		Confidence string `yaml:"confidence"`
		Source     string `yaml:"source,omitempty"`
		LastMod    string `yaml:"lastmod,omitempty"`
		Actor      string `yaml:"actor,omitempty"`
	}
	pack := struct {
		Title   string `yaml:"title"`
		Creator string `yaml:"creator"`
		Tags    []tag  `yaml:"tags"`
	}{Title: title, Creator: creator}
	sorted := append([]Label(nil), ls...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].Text != sorted[j].Text {
			return sorted[i].Text < sorted[j].Text
		}
		return sorted[i].Label < sorted[j].Label
	})
	for _, l := range sorted {
		pack.Tags = append(pack.Tags, tag{Address: l.Text, Currency: strings.ToUpper(string(l.Chain)), Label: l.Label,
			Category: tagPackCategory(l.Category), Confidence: confidenceID(l.Confidence), Source: l.Source, LastMod: l.SourceDate, Actor: l.Actor})
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(pack); err != nil {
		return err
	}
	return enc.Close()
}
