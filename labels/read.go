package labels

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ReadCSV reads fundtrace's label CSV: a header naming the columns,
// chain, address, label and category required; source, confidence (0–100)
// and date optional (source defaults to defaultSource). Rows with a bad
// address, an unknown category or chain are returned as problems, with
// their line, and not as labels.
func ReadCSV(r io.Reader, defaultSource string) ([]Label, []Problem, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, need := range []string{"chain", "address", "label", "category"} {
		if _, ok := col[need]; !ok {
			return nil, nil, fmt.Errorf("header lacks the %q column (need chain, address, label, category; may have source, confidence, date)", need)
		}
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var out []Label
	var probs []Problem
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return out, probs, fmt.Errorf("line %d: %w", line, err)
		}
		text := get(rec, "address")
		c, a, err := ParseAddress(get(rec, "chain"), text)
		if err != nil {
			probs = append(probs, Problem{line, text, err.Error()})
			continue
		}
		cat := strings.ToLower(get(rec, "category"))
		if !IsCategory(cat) {
			probs = append(probs, Problem{line, text, fmt.Sprintf("category %q is not one of %s", cat, strings.Join(Categories, ", "))})
			continue
		}
		l := Label{Chain: c, Address: a, Text: text, Label: get(rec, "label"), Category: cat, Source: get(rec, "source"),
			SourceDate: get(rec, "date"), Confidence: 50}
		if l.Label == "" {
			probs = append(probs, Problem{line, text, "the label is empty"})
			continue
		}
		if d := l.SourceDate; d != "" {
			if _, err := time.Parse("2006-01-02", d); err != nil {
				if _, err := time.Parse(time.RFC3339, d); err != nil {
					probs = append(probs, Problem{line, text, fmt.Sprintf("date %q is not YYYY-MM-DD (or RFC 3339)", d)})
					continue
				}
			}
		}
		if l.Source == "" {
			l.Source = defaultSource
		}
		if s := get(rec, "confidence"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 || n > 100 {
				probs = append(probs, Problem{line, text, fmt.Sprintf("confidence %q is not 0–100", s)})
				continue
			}
			l.Confidence = n
		}
		out = append(out, l)
	}
	return out, probs, nil
}

// tagPackCategories maps GraphSense's (INTERPOL DW-VA) categories to ours.
var tagPackCategories = map[string]string{
	"exchange": "exchange", "mixing_service": "mixer", "coinjoin": "mixer", "gambling": "gambling", "market": "darknet-market",
	"miner": "miner", "wallet_service": "wallet-service", "service": "service", "user": "individual", "black_list": "blocked",
	"ransomware": "ransomware", "scam": "scam", "hacker": "hack", "hack": "hack", "phishing": "phishing", "ponzi_scheme": "ponzi",
	"bridge": "bridge", "defi": "defi", "sanction": "sanctioned", "sanctioned": "sanctioned",
}

// tagPackConfidence maps GraphSense's confidence ids to 0–100.
var tagPackConfidence = map[string]int{
	"ledger_immanent": 100, "authority_data": 100, "service_data": 80, "forensic": 70, "manual_transaction": 60,
	"web_crawl": 40, "untrusted_transaction": 20, "": 50,
}

// tagPackHeader holds the fields a TagPack's header sets for every tag
// that does not override them.
type tagPackFields struct {
	Address    string `yaml:"address"`
	Currency   string `yaml:"currency"`
	Network    string `yaml:"network"` // newer TagPacks name the chain here
	Label      string `yaml:"label"`
	Category   string `yaml:"category"`
	Confidence string `yaml:"confidence"`
	Source     string `yaml:"source"`
	LastMod    string `yaml:"lastmod"`
	Actor      string `yaml:"actor"`
}

// ReadTagPack reads a GraphSense TagPack. Header fields apply to every
// tag unless the tag overrides them; a tag's chain is its network
// (newer TagPacks) or its currency: BTC, ETH and TRX (or TRON) are read,
// others counted in skipped, not imported; bad addresses are problems
// with their line.
func ReadTagPack(r io.Reader, source string) (ls []Label, probs []Problem, skipped map[string]int, err error) {
	var doc yaml.Node
	if err := yaml.NewDecoder(r).Decode(&doc); err != nil {
		return nil, nil, nil, fmt.Errorf("TagPack: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil, nil, errors.New("TagPack: not a YAML mapping")
	}
	root := doc.Content[0]
	var head tagPackFields
	if err := root.Decode(&head); err != nil {
		return nil, nil, nil, fmt.Errorf("TagPack header: %w", err)
	}
	var tags *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "tags" {
			tags = root.Content[i+1]
		}
	}
	if tags == nil || tags.Kind != yaml.SequenceNode {
		return nil, nil, nil, errors.New("TagPack: no tags list")
	}
	skipped = map[string]int{}
	for _, n := range tags.Content {
		t := head
		t.Address = ""
		if err := n.Decode(&t); err != nil {
			probs = append(probs, Problem{n.Line, "", err.Error()})
			continue
		}
		cur := strings.ToUpper(t.Currency)
		if t.Network != "" {
			cur = strings.ToUpper(t.Network)
		}
		switch cur {
		case "BTC", "ETH", "TRX":
		case "TRON":
			cur = "TRX"
		default:
			skipped[cur]++
			continue
		}
		c, a, err := ParseAddress(cur, t.Address)
		if err != nil {
			probs = append(probs, Problem{n.Line, t.Address, err.Error()})
			continue
		}
		cat, ok := tagPackCategories[strings.ToLower(t.Category)]
		if !ok {
			cat = "other"
		}
		conf, ok := tagPackConfidence[strings.ToLower(t.Confidence)]
		if !ok {
			if n, err := strconv.Atoi(t.Confidence); err == nil && n >= 0 && n <= 100 {
				conf = n
			} else {
				conf = 50
			}
		}
		src := source
		if t.Source != "" {
			src = source + " (" + t.Source + ")"
		}
		ls = append(ls, Label{Chain: c, Address: a, Text: strings.TrimSpace(t.Address), Label: t.Label, Category: cat, Actor: t.Actor,
			Source: src, SourceDate: t.LastMod, Confidence: conf})
	}
	return ls, probs, skipped, nil
}

// ReadEtherscan reads an Etherscan label-cloud export (columns: index,
// Address, Name Tag, Balance, Txn Count), every row labelled with its Name
// Tag in category.
func ReadEtherscan(r io.Reader, category, source string) ([]Label, []Problem, error) {
	if !IsCategory(category) {
		return nil, nil, fmt.Errorf("category %q is not one of %s", category, strings.Join(Categories, ", "))
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return nil, nil, err
	}
	ai, ni := -1, -1
	for i, h := range head {
		switch strings.TrimSpace(h) {
		case "Address":
			ai = i
		case "Name Tag":
			ni = i
		}
	}
	if ai < 0 || ni < 0 {
		return nil, nil, errors.New("not an Etherscan export: no Address and Name Tag columns")
	}
	var out []Label
	var probs []Problem
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return out, probs, fmt.Errorf("line %d: %w", line, err)
		}
		if ai >= len(rec) || ni >= len(rec) {
			probs = append(probs, Problem{line, "", "short row"})
			continue
		}
		c, a, err := ParseAddress("eth", rec[ai])
		if err != nil {
			probs = append(probs, Problem{line, rec[ai], err.Error()})
			continue
		}
		out = append(out, Label{Chain: c, Address: a, Text: strings.TrimSpace(rec[ai]), Label: strings.TrimSpace(rec[ni]), Category: category, Source: source, Confidence: 60})
	}
	return out, probs, nil
}
