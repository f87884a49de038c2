package sanctions

import (
	"bufio"
	"compress/gzip"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/fundtrace/fundtrace/internal/shareddata"
)

func open(t *testing.T, rel ...string) io.Reader {
	t.Helper()
	p := shareddata.Path(t, append([]string{"sanctions", "ofac"}, rel...)...)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if strings.HasSuffix(p, ".gz") {
		z, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		return z
	}
	return f
}

func lines(t *testing.T, r io.Reader) map[string]bool {
	m := map[string]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			m[strings.ToLower(s)] = true
		}
	}
	return m
}

// TestLegacy20240503 reads sdn.csv of 2024-05-03 without its comments
// file. SOURCES.md: 294 address mentions, 7 of them cut short; every
// complete one is in 0xB10C's lists extracted from the official XML of
// 2024-05-08.
func TestLegacy20240503(t *testing.T) {
	l, err := ParseLegacy(open(t, "legacy-csv", "git-scrape", "sdn_2024-05-03.csv.gz"), nil, "sdn_2024-05-03.csv")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]bool{}
	for _, code := range []string{"XBT", "ETH", "USDT", "USDC", "TRX", "LTC", "XMR", "ZEC", "DASH", "BTG", "ETC", "BSV", "XVG", "ARB", "BSC", "BCH", "XRP"} {
		p := shareddata.Path(t, "sanctions", "ofac", "derived-address-lists", "0xB10C_2024-05-08", "sanctioned_addresses_"+code+".txt")
		if f, err := os.Open(p); err == nil {
			want[code] = lines(t, f)
			f.Close()
		}
	}
	total, cut := 0, 0
	for _, x := range l.Addresses() {
		total++
		if x.Address.Problem != "" && (x.Address.Code == "XBT" || x.Address.Code == "ETH") {
			cut++
			continue
		}
		if !want[x.Address.Code][strings.ToLower(x.Address.Text)] {
			if x.Address.Code == "XBT" || x.Address.Code == "ETH" {
				t.Errorf("%s %s (entry %s) is not in the 2024-05-08 list", x.Address.Code, x.Address.Text, x.Entry.Ref)
			}
		}
	}
	t.Logf("%d address mentions, %d cut short; by code %v", total, cut, l.Codes())
	if total != 294 {
		t.Errorf("%d address mentions, SOURCES.md counts 294", total)
	}
}

// TestLegacyComments20250227 reads sdn_comments.csv of 2025-02-27 alone.
// SOURCES.md: 341 address mentions, 219 XBT, 100 ETH, 8 USDT.
func TestLegacyComments20250227(t *testing.T) {
	l, err := ParseLegacy(nil, open(t, "legacy-csv", "2025-02-27_watchman-partial", "sdn_comments.csv"), "sdn_comments.csv")
	if err != nil {
		t.Fatal(err)
	}
	c := l.Codes()
	total := 0
	for _, n := range c {
		total += n
	}
	if total != 341 || c["XBT"] != 219 || c["ETH"] != 100 || c["USDT"] != 8 {
		t.Fatalf("mentions %d by code %v; SOURCES.md: 341 (219 XBT, 100 ETH, 8 USDT)", total, c)
	}
}

// TestLegacyJoined20210707 reads a complete CSV set and checks that
// joining sdn_comments.csv leaves no address cut short. One listed
// address is malformed in OFAC's own file of that day: entry 29702
// (LIFSHITS) gives "0xa7e5…fa20b00;", 39 hex digits followed by the
// separator, not a cut; later lists (0xB10C 2024-05-08, ultrasoundmoney)
// carry 0xa7e5…fa20b008. It must be reported, not stored or "fixed".
func TestLegacyJoined20210707(t *testing.T) {
	dir := []string{"legacy-csv", "2021-07-07_watchman-bench"}
	l, err := ParseLegacy(open(t, append(dir, "sdn.csv.gz")...), open(t, append(dir, "sdn_comments.csv")...), "2021-07-07")
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Entries) != 8976 {
		t.Fatalf("%d entries, SOURCES.md says 8,976", len(l.Entries))
	}
	n := 0
	for _, x := range l.Addresses() {
		n++
		bad := x.Address.Problem != "" && (x.Address.Code == "XBT" || x.Address.Code == "ETH")
		typo := x.Entry.Ref == "29702" && x.Address.Text == "0xa7e5d5a720f06526557c513402f2e6b5fa20b00"
		if bad != typo {
			t.Errorf("entry %s: %s %s: problem %q", x.Entry.Ref, x.Address.Code, x.Address.Text, x.Address.Problem)
		}
	}
	t.Logf("%d addresses, by code %v", n, l.Codes())
}
