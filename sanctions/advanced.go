package sanctions

import (
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"
)

// The parts of OFAC's ADVANCED_XML schema (sdn_advanced.xml, and the
// consolidated list in the same schema) that carry addresses. Element
// names are matched without their namespace: older files use
// http://www.un.org/sanctions/1.0, current ones OFAC's own.

type xmlParty struct {
	FixedRef string `xml:"FixedRef,attr"`
	Profile  struct {
		ID         string `xml:"ID,attr"`
		SubTypeID  string `xml:"PartySubTypeID,attr"`
		Identities []struct {
			Aliases []struct {
				Primary bool `xml:"Primary,attr"`
				Names   []struct {
					Parts []string `xml:"DocumentedNamePart>NamePartValue"`
				} `xml:"DocumentedName"`
			} `xml:"Alias"`
		} `xml:"Identity"`
		Features []struct {
			TypeID   string `xml:"FeatureTypeID,attr"`
			Versions []struct {
				Details []string `xml:"VersionDetail"`
			} `xml:"FeatureVersion"`
		} `xml:"Feature"`
	} `xml:"Profile"`
}

type xmlDate struct {
	Year  int `xml:"Year"`
	Month int `xml:"Month"`
	Day   int `xml:"Day"`
}

func (d xmlDate) String() string {
	if d.Year == 0 {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
}

type xmlEntry struct {
	ProfileID string `xml:"ProfileID,attr"`
	ListID    string `xml:"ListID,attr"`
	Events    []struct {
		Date xmlDate `xml:"Date"`
	} `xml:"EntryEvent"`
	Measures []struct {
		TypeID  string `xml:"SanctionsTypeID,attr"`
		Comment string `xml:"Comment"`
	} `xml:"SanctionsMeasure"`
}

// Stats says what an advanced XML file held.
type Stats struct {
	Parties, Entries int
	FeatureTypes     map[string]string // id → name
}

// ParseAdvanced reads an ADVANCED_XML file as a stream (the SDN file is
// about a hundred megabytes): feature types and program types first, then
// each party and each sanctions entry.
func ParseAdvanced(r io.Reader, source string) (*List, *Stats, error) {
	br := &boundedReader{r: r, limit: maxElementBytes}
	dec := xml.NewDecoder(br)
	st := &Stats{FeatureTypes: map[string]string{}}
	sanctionTypes := map[string]string{}
	partySubTypes := map[string][2]string{} // id → name, party type id
	partyTypes := map[string]string{}
	l := &List{Source: source}
	byProfile := map[string]*Entry{}
	var order []string
	var issue xmlDate
	root := ""
	for {
		br.reset()
		tok, err := dec.Token()
		if err == io.EOF {
			if root == "" {
				return nil, nil, fmt.Errorf("%s: not an XML document (no element in it)", source)
			}
			if root != "Sanctions" {
				return nil, nil, fmt.Errorf("%s: the document is <%s>, not OFAC's advanced XML (<Sanctions>)", source, root)
			}
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: offset %d: %w", source, dec.InputOffset(), err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if root == "" {
			root = se.Name.Local
		}
		attr := func(name string) string {
			for _, a := range se.Attr {
				if a.Name.Local == name {
					return a.Value
				}
			}
			return ""
		}
		text := func() (string, error) {
			var s string
			err := dec.DecodeElement(&s, &se)
			return strings.TrimSpace(s), err
		}
		switch se.Name.Local {
		case "DateOfIssue":
			if err := dec.DecodeElement(&issue, &se); err != nil {
				return nil, nil, err
			}
			l.Date = issue.String()
		case "FeatureType":
			id := attr("ID")
			name, err := text()
			if err != nil {
				return nil, nil, err
			}
			st.FeatureTypes[id] = name
		case "SanctionsType":
			id := attr("ID")
			name, err := text()
			if err != nil {
				return nil, nil, err
			}
			sanctionTypes[id] = name
		case "PartySubType":
			id, parent := attr("ID"), attr("PartyTypeID")
			name, err := text()
			if err != nil {
				return nil, nil, err
			}
			partySubTypes[id] = [2]string{name, parent}
		case "PartyType":
			id := attr("ID")
			name, err := text()
			if err != nil {
				return nil, nil, err
			}
			partyTypes[id] = name
		case "DistinctParty":
			var p xmlParty
			if err := dec.DecodeElement(&p, &se); err != nil {
				return nil, nil, fmt.Errorf("%s: party near offset %d: %w", source, dec.InputOffset(), err)
			}
			st.Parties++
			// The sub-type names vessels and aircraft; for the others it is
			// "Unknown" and the party type says individual or entity.
			sub := partySubTypes[p.Profile.SubTypeID]
			typ := sub[0]
			if typ == "Unknown" || typ == "" {
				typ = partyTypes[sub[1]]
			}
			e := &Entry{Ref: p.FixedRef, Type: strings.ToLower(typ)}
			for _, id := range p.Profile.Identities {
				for _, a := range id.Aliases {
					if a.Primary && e.Name == "" && len(a.Names) > 0 {
						e.Name = strings.Join(a.Names[0].Parts, " ")
					}
				}
			}
			for _, f := range p.Profile.Features {
				name := st.FeatureTypes[f.TypeID]
				code, ok := strings.CutPrefix(name, "Digital Currency Address - ")
				if !ok {
					continue
				}
				for _, v := range f.Versions {
					for _, d := range v.Details {
						if d = strings.TrimSpace(d); d != "" {
							e.Addresses = append(e.Addresses, resolve(strings.TrimSpace(code), d))
						}
					}
				}
			}
			byProfile[p.Profile.ID] = e
			order = append(order, p.Profile.ID)
		case "SanctionsEntry":
			var x xmlEntry
			if err := dec.DecodeElement(&x, &se); err != nil {
				return nil, nil, fmt.Errorf("%s: sanctions entry near offset %d: %w", source, dec.InputOffset(), err)
			}
			st.Entries++
			e := byProfile[x.ProfileID]
			if e == nil {
				continue
			}
			for _, ev := range x.Events {
				if d := ev.Date.String(); d != "" && (e.Listed == "" || d < e.Listed) {
					e.Listed = d
				}
			}
			for _, m := range x.Measures {
				if sanctionTypes[m.TypeID] == "Program" && m.Comment != "" && !contains(e.Programs, m.Comment) {
					e.Programs = append(e.Programs, m.Comment)
				}
			}
		}
	}
	for _, id := range order {
		e := byProfile[id]
		sort.Strings(e.Programs)
		l.Entries = append(l.Entries, *e)
	}
	return l, st, nil
}

// maxElementBytes bounds what one token or decoded element of an
// advanced XML file may span. encoding/xml holds a whole token (a run of
// text, say) in memory before returning it, so without a bound a junk
// upload of one endless text node is read whole into memory; OFAC's
// largest element, a party, is a few kilobytes.
const maxElementBytes = 4 << 20

// boundedReader fails a read once more than limit bytes were read since
// the last reset: the parser resets it at every token, so memory stays
// bounded by the largest element rather than by the file.
type boundedReader struct {
	r     io.Reader
	n     int64
	limit int64
}

func (b *boundedReader) reset() { b.n = 0 }

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.n > b.limit {
		return 0, fmt.Errorf("an element spans more than %d MiB: not OFAC's advanced XML", b.limit>>20)
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	return n, err
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
