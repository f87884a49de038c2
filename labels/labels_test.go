package labels

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fundtrace/fundtrace/chains"

	"github.com/fundtrace/fundtrace/internal/shareddata"
)

func openFile(t *testing.T, p string) io.Reader {
	t.Helper()
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

var addressLine = regexp.MustCompile(`(?m)^\s*-?\s*address:`)

// TestTagPacks imports every public TagPack in testdata/shared: each tag is
// imported, skipped for its currency, or reported with its line — none
// is lost — and header fields reach the tags that do not override them.
func TestTagPacks(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(shareddata.Path(t, "labels", "graphsense-tagpacks", "packs"), "*.yaml*"))
	if len(files) < 30 {
		t.Fatalf("%d TagPacks found", len(files))
	}
	total := 0
	for _, f := range files {
		raw, err := io.ReadAll(openFile(t, f))
		if err != nil {
			t.Fatal(err)
		}
		ls, probs, skipped, err := ReadTagPack(bytes.NewReader(raw), filepath.Base(f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		n := len(ls) + len(probs)
		for _, k := range skipped {
			n += k
		}
		if want := len(addressLine.FindAllIndex(raw, -1)); n != want {
			t.Errorf("%s: %d labels + %d problems + %v skipped for %d tags", filepath.Base(f), len(ls), len(probs), skipped, want)
		}
		for _, p := range probs {
			t.Logf("%s %s", filepath.Base(f), p)
		}
		total += len(ls)
	}
	ls, _, _, err := ReadTagPack(openFile(t, filepath.Join(shareddata.Path(t, "labels", "graphsense-tagpacks", "packs"), "exchange-wallets-binance.yaml")), "binance")
	if err != nil {
		t.Fatal(err)
	}
	first := ls[0]
	if first.Text != "34xp4vRoCGJym3xR7yCVPFHoCNxv4Twseo" || first.Category != "exchange" || first.Actor != "binance" || first.Confidence != 80 ||
		first.Label != "binance reserve wallets BTC" || first.SourceDate != "2022-11-16" || first.Chain != "btc" {
		t.Fatalf("first Binance tag: %+v", first)
	}
	// TRON tags (currency TRX) are read as TRON addresses.
	var trx *Label
	for i := range ls {
		if ls[i].Text == "TMuA6YqfCeX8EhbfYEg5y7S4DqzSJireY9" {
			trx = &ls[i]
		}
	}
	if trx == nil || trx.Chain != chains.Tron || trx.Label != "binance reserve wallets USDT" || trx.Actor != "binance" {
		t.Fatalf("Binance's TRX tag TMuA6YqfCeX8EhbfYEg5y7S4DqzSJireY9: %+v", trx)
	}
	t.Logf("%d labels from %d TagPacks", total, len(files))
}

// TestTagPackRoundTrip: what fundtrace exports reads back as the same
// labels.
func TestTagPackRoundTrip(t *testing.T) {
	in, _, _, err := ReadTagPack(openFile(t, filepath.Join(shareddata.Path(t, "labels", "graphsense-tagpacks", "packs"), "tornado_cash.yaml")), "tornado")
	if err != nil || len(in) == 0 {
		t.Fatal(err, len(in))
	}
	var buf bytes.Buffer
	if err := WriteTagPack(&buf, "export", "fundtrace", in); err != nil {
		t.Fatal(err)
	}
	out, probs, _, err := ReadTagPack(&buf, "re-read")
	if err != nil || len(probs) > 0 || len(out) != len(in) {
		t.Fatalf("re-read %d of %d, %v %v", len(out), len(in), probs, err)
	}
	key := func(l Label) string {
		return fmt.Sprintf("%s %x %s %s %s %d %s", l.Chain, []byte(l.Address), l.Label, l.Category, l.Actor, l.Confidence, l.SourceDate)
	}
	a, b := map[string]bool{}, map[string]bool{}
	for i := range in {
		a[key(in[i])], b[key(out[i])] = true, true
	}
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("labels changed in the round trip")
	}
}

// TestEtherscan imports Etherscan's Binance label export.
func TestEtherscan(t *testing.T) {
	ls, probs, err := ReadEtherscan(openFile(t, filepath.Join(shareddata.Path(t, "labels", "etherscan-labels", "accounts"), "binance.csv")), "exchange", "etherscan binance")
	if err != nil || len(ls) == 0 {
		t.Fatal(err)
	}
	if ls[0].Text != "0x3f5ce5fbfe3e9af3971dd833d26ba9b5c936f0be" || ls[0].Label != "Binance" || ls[0].Chain != "eth" {
		t.Fatalf("first row %+v", ls[0])
	}
	t.Logf("%d labels, %d problems", len(ls), len(probs))
}

// TestCSV: required columns, bad addresses and categories reported with
// their line, mixed-case Ethereum addresses checked.
func TestCSV(t *testing.T) {
	in := "chain,address,label,category,confidence\n" +
		"btc,1BoatSLRHtKNngkdXEeobR76b53LETtpyT,Example exchange,exchange,90\n" +
		"btc,1BoatSLRHtKNngkdXEeobR76b53LETtpyX,bad checksum,exchange,90\n" +
		"eth,0x7F367cC41522cE07553e823bf3be79A889DEbe1B,ok checksum,mixer,\n" +
		"eth,0x7F367cC41522cE07553e823bf3be79A889DEbe1b,bad checksum,mixer,\n" +
		"eth,0x7f367cc41522ce07553e823bf3be79a889debe1b,lower case,scam,\n" +
		"btc,1BoatSLRHtKNngkdXEeobR76b53LETtpyT,bad category,casino,\n"
	ls, probs, err := ReadCSV(strings.NewReader(in), "test")
	if err != nil {
		t.Fatal(err)
	}
	var lines []int
	for _, p := range probs {
		lines = append(lines, p.Line)
	}
	if len(ls) != 3 || fmt.Sprint(lines) != "[3 5 7]" || ls[0].Confidence != 90 || ls[1].Confidence != 50 {
		t.Fatalf("labels %d, problems at %v: %v", len(ls), lines, probs)
	}
	if _, _, err := ReadCSV(strings.NewReader("address,label\n"), "x"); err == nil {
		t.Fatal("a header without chain and category was accepted")
	}
}

// TestOtherPublicSets imports Etherscan's combined label export and
// Forta's three labelled datasets (SOURCES.md: 23,288 Etherscan
// addresses; 6,726 phishing/scam EOAs, 7,780 Etherscan malicious labels,
// 753 malicious contracts with their creators): every row is a label or a
// reported problem.
func TestOtherPublicSets(t *testing.T) {
	ls, probs, err := ReadEtherscanJSON(openFile(t, filepath.Join(shareddata.Path(t, "labels", "etherscan-labels", "combined"), "combinedAccountLabels.json.gz")), "etherscan")
	if err != nil || len(ls)+len(probs) != 23288 {
		t.Fatalf("Etherscan combined: %d labels, %d problems, %v", len(ls), len(probs), err)
	}
	cats := map[string]int{}
	for _, l := range ls {
		cats[l.Category]++
	}
	t.Logf("Etherscan combined: %d labels by category %v; %d problems", len(ls), cats, len(probs))
	dir := shareddata.Path(t, "labels", "forta-labelled-datasets", "labels", "1")
	for name, want := range map[string]int{"phishing_scams.csv": 6726, "etherscan_malicious_labels.csv": 7780} {
		ls, probs, err := ReadForta(openFile(t, filepath.Join(dir, name)), name)
		if err != nil || len(ls)+len(probs) != want {
			t.Errorf("%s: %d labels + %d problems, want %d rows: %v", name, len(ls), len(probs), want, err)
		}
	}
	ls, probs, err = ReadForta(openFile(t, filepath.Join(dir, "malicious_smart_contracts.csv")), "forta contracts")
	if err != nil || len(ls)+len(probs) < 753 {
		t.Fatalf("contracts: %d labels, %d problems, %v", len(ls), len(probs), err)
	}
}
