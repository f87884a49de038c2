package sanctions

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
)

// TestAdvancedReal reads OFAC's real consolidated list of 2020-03-17 in
// the advanced schema (older namespace). SOURCES.md: 375 parties, 759
// entries, 11 feature types, no digital currency addresses.
func TestAdvancedReal(t *testing.T) {
	l, st, err := ParseAdvanced(open(t, "advanced-xml", "cons_advanced_2020-03-17.xml.gz"), "cons_advanced_2020-03-17.xml")
	if err != nil {
		t.Fatal(err)
	}
	if st.Parties != 375 || st.Entries != 759 || len(st.FeatureTypes) != 11 || len(l.Addresses()) != 0 || l.Date != "2020-03-17" {
		t.Fatalf("parties %d, entries %d, feature types %d, addresses %d, date %s", st.Parties, st.Entries, len(st.FeatureTypes), len(l.Addresses()), l.Date)
	}
	// The first party (FixedRef 9639) as the file lists it.
	e := l.Entries[0]
	if e.Ref != "9639" || e.Name != "HANIYA Ismail Abdul Salah" || e.Type != "individual" || e.Listed != "2006-04-12" || !contains(e.Programs, "NS-PLC") {
		t.Fatalf("first entry %+v", e)
	}
}

// TestAdvancedFixture reads the hand-made fixture (real schema, made-up
// values; the full sdn_advanced.xml could not be obtained here): names,
// types, programs, the earliest listing date, and each feature type's
// address with its currency mapped to a chain or kept unmapped.
func TestAdvancedFixture(t *testing.T) {
	f, err := os.Open("testdata/advanced_fixture.xml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l, _, err := ParseAdvanced(f, "fixture")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range l.Addresses() {
		got = append(got, fmt.Sprintf("%s|%s|%s|%s|%s|%s|%s|%s|%q", x.Entry.Ref, x.Entry.Name, x.Entry.Type, strings.Join(x.Entry.Programs, ","),
			x.Entry.Listed, x.Address.Code, x.Address.Text, x.Address.Chain, x.Address.Problem))
	}
	want := []string{
		`90001|EXAMPLE Ivan|individual|CYBER2,ELECTION-EO13848|2020-09-10|XBT|12QtD5BFwRsdNsAZY76UVE1xyCGNTojH9h|btc|""`,
		`90001|EXAMPLE Ivan|individual|CYBER2,ELECTION-EO13848|2020-09-10|ETH|0xa7e5d5a720f06526557c513402f2e6b5fa20b008|eth|""`,
		`90002|EXAMPLE EXCHANGE LTD|entity|CYBER2|2023-11-06|USDT|0x7F367cC41522cE07553e823bf3be79A889DEbe1B|eth|""`,
		`90002|EXAMPLE EXCHANGE LTD|entity|CYBER2|2023-11-06|TRX|TNeEwWHXLLUgEtfzTnYN8wtVenGxuMzZCE|tron|""`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || l.Date != "2024-09-27" {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if l.Addresses()[2].Address.Address.Kind() != chains.KindAccount {
		t.Fatal("USDT on an 0x address is not an Ethereum address")
	}
}

// TestAdvancedNotXML: a file that is not OFAC's advanced XML is an error
// naming it, never an empty list (which would clear every hit).
func TestAdvancedNotXML(t *testing.T) {
	for _, doc := range []string{"not xml at all", "", `<?xml version="1.0"?><html><body/></html>`} {
		if _, _, err := ParseAdvanced(strings.NewReader(doc), "upload.xml"); err == nil || !strings.Contains(err.Error(), "upload.xml") {
			t.Errorf("%q: %v", doc, err)
		}
	}
}
