package labels

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// etherscanCategory picks our category for Etherscan's label names.
func etherscanCategory(names []string, tag string) string {
	all := strings.ToLower(strings.Join(names, " ") + " " + tag)
	for _, c := range []struct{ word, cat string }{
		{"ofac", "sanctioned"}, {"sanction", "sanctioned"}, {"blocked", "blocked"}, {"phish", "phishing"},
		{"exploit", "hack"}, {"hack", "hack"}, {"heist", "hack"}, {"tornado", "mixer"}, {"mixer", "mixer"},
		{"exchange", "exchange"}, {"bridge", "bridge"}, {"gambling", "gambling"}, {"casino", "gambling"},
		{"ponzi", "ponzi"}, {"scam", "scam"}, {"dex", "defi"}, {"defi", "defi"}, {"lending", "defi"},
	} {
		if strings.Contains(all, c.word) {
			return c.cat
		}
	}
	return "other"
}

// ReadEtherscanJSON reads Etherscan's combined label export: a JSON
// object from address to {"name", "labels": [...]}.
func ReadEtherscanJSON(r io.Reader, source string) ([]Label, []Problem, error) {
	var m map[string]struct {
		Name   string   `json:"name"`
		Labels []string `json:"labels"`
	}
	if err := json.NewDecoder(r).Decode(&m); err != nil {
		return nil, nil, fmt.Errorf("Etherscan labels JSON: %w", err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []Label
	var probs []Problem
	for i, k := range keys {
		e := m[k]
		c, a, err := ParseAddress("eth", k)
		if err != nil {
			probs = append(probs, Problem{i + 1, k, err.Error()})
			continue
		}
		label := e.Name
		if label == "" && len(e.Labels) > 0 {
			label = e.Labels[0]
		}
		out = append(out, Label{Chain: c, Address: a, Text: k, Label: label, Category: etherscanCategory(e.Labels, e.Name),
			Source: source, Confidence: 60})
	}
	return out, probs, nil
}

// ReadForta reads Forta's labelled datasets (the Ethereum phishing/scam
// EOAs, Etherscan's malicious labels, malicious smart contracts with their
// creators), telling them apart by their header.
func ReadForta(r io.Reader, source string) ([]Label, []Problem, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return nil, nil, err
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.TrimSpace(h)] = i
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	type field struct{ addr, tag, extra string }
	var fields []field
	switch {
	case has(col, "banned_address", "wallet_tag"):
		fields = []field{{"banned_address", "wallet_tag", "data_source"}}
	case has(col, "address", "etherscan_tag"):
		fields = []field{{"address", "etherscan_tag", "etherscan_labels"}}
	case has(col, "contract_address", "contract_tag", "contract_creator"):
		fields = []field{{"contract_address", "contract_tag", "contract_creator_etherscan_label"}, {"contract_creator", "contract_creator_tag", "contract_creator_etherscan_label"}}
	default:
		return nil, nil, errors.New("not a Forta labelled dataset this reads")
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
		for _, f := range fields {
			text := get(rec, f.addr)
			if text == "" {
				continue
			}
			c, a, err := ParseAddress("eth", text)
			if err != nil {
				probs = append(probs, Problem{line, text, err.Error()})
				continue
			}
			tag := get(rec, f.tag)
			cat := etherscanCategory([]string{get(rec, f.extra)}, tag)
			if cat == "other" {
				cat = "scam" // every Forta dataset here lists malicious addresses
			}
			if tag == "" {
				tag = cat
			}
			out = append(out, Label{Chain: c, Address: a, Text: text, Label: tag, Category: cat, Source: source, Confidence: 60})
		}
	}
	return out, probs, nil
}

func has(col map[string]int, names ...string) bool {
	for _, n := range names {
		if _, ok := col[n]; !ok {
			return false
		}
	}
	return true
}
