package tron

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/fundtrace/fundtrace/internal/shareddata"
)

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(z).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs[1:]
}

// TestAddressPairs reads the 1,148 distinct address pairs of tronetl's two
// exports of the same transfers (one with 20-byte hex, one with Base58,
// row for row): each Base58 form parses to its hex bytes, the 41-hex and
// 0x forms parse to the same, and Encode gives the Base58 form back.
func TestAddressPairs(t *testing.T) {
	dir := shareddata.Path(t, "tron", "transfers", "tronetl")
	hexRows, b58Rows := readCSV(t, dir+"/output.csv.gz"), readCSV(t, dir+"/token_transfer.csv.gz")
	if len(hexRows) != len(b58Rows) {
		t.Fatalf("%d and %d rows", len(hexRows), len(b58Rows))
	}
	pairs := map[string]string{}
	for i := range hexRows {
		for _, col := range []int{3, 4, 5} {
			pairs[b58Rows[i][col]] = hexRows[i][col]
		}
	}
	if len(pairs) != 1148 {
		t.Fatalf("%d pairs, SOURCES.md says 1,148", len(pairs))
	}
	for b58, hx := range pairs {
		a, err := ParseAddress(b58)
		if err != nil {
			t.Fatalf("%s: %v", b58, err)
		}
		if hex.EncodeToString(a.Payload()) != hx || Encode(a) != b58 {
			t.Fatalf("%s: %x, encodes to %s; want %s", b58, a.Payload(), Encode(a), hx)
		}
		for _, form := range []string{"41" + hx, "0x" + hx} {
			if b, err := ParseAddress(form); err != nil || b != a {
				t.Fatalf("%s: %v", form, err)
			}
		}
	}
}

// TestOFACTronAddresses: the TRX addresses 0xB10C's generator extracted
// from OFAC's SDN list are all valid; one character changed is refused
// with the checksum named.
func TestOFACTronAddresses(t *testing.T) {
	b, err := os.ReadFile(shareddata.Path(t, "sanctions", "ofac", "derived-address-lists", "0xB10C_2024-09-27", "sanctioned_addresses_TRX.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(b))
	if len(lines) != 6 {
		t.Fatalf("%d addresses, SOURCES.md says 6", len(lines))
	}
	for _, s := range lines {
		if _, err := ParseAddress(s); err != nil || !LooksLike(s) {
			t.Errorf("%s: %v", s, err)
		}
	}
	bad := lines[0][:33] + "X"
	if bad == lines[0] {
		bad = lines[0][:33] + "Y"
	}
	if _, err := ParseAddress(bad); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("%s: %v", bad, err)
	}
	for _, s := range []string{"", "hello", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "0x1234", "41zz"} {
		if _, err := ParseAddress(s); err == nil {
			t.Errorf("%q read as a TRON address", s)
		}
	}
}
