package prices

import (
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/fundtrace/fundtrace/internal/shareddata"
)

func day(s string) int64 {
	t, _ := time.Parse("2006-01-02", s)
	return t.Unix() + 3600*13 // any time of that UTC day
}

// TestRealHistory reads the real daily histories (Yahoo Finance's export
// format): the close of 2017-12-17 is the file's own row; a day before
// the file's first is missing, not guessed.
func TestRealHistory(t *testing.T) {
	tb := New()
	for _, f := range []string{"BTC-USD.csv", "ETH-USD.csv"} {
		if err := tb.ReadFile(shareddata.Path(t, "prices", f)); err != nil {
			t.Fatal(err)
		}
	}
	// BTC-USD.csv: 2017-12-17,19475.800781,20089.000000,18974.099609,19140.800781,...
	p, ok := tb.Price("BTC", "USD", day("2017-12-17"))
	if !ok || p.FloatString(6) != "19140.800781" {
		t.Fatalf("BTC 2017-12-17: %v %v", p, ok)
	}
	if _, ok := tb.Price("ETH", "USD", day("2015-08-06")); ok {
		t.Fatal("a price before the file's first day")
	}
	if _, ok := tb.Price("BTC", "EUR", day("2017-12-17")); ok {
		t.Fatal("a EUR price from a USD file")
	}
	// 0.5 BTC (50,000,000 sat) that day.
	v := tb.Value("BTC", "USD", day("2017-12-17"), big.NewInt(50_000_000), 8)
	if v == nil || v.FloatString(2) != "9570.40" {
		t.Fatalf("value %v", v)
	}
}

// TestOwnFormat reads fundtrace's date,asset,price,currency form and
// names the line of a bad row.
func TestOwnFormat(t *testing.T) {
	tb := New()
	err := tb.read(strings.NewReader("date,asset,price,currency\n2024-01-02,BTC,45000.5,USD\n2024-01-02,BTC,41000,EUR\n2024-01-03,ETH,2200\n"), "p.csv")
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := tb.Price("btc", "eur", day("2024-01-02")); !ok || p.FloatString(0) != "41000" {
		t.Fatalf("%v %v", p, ok)
	}
	if p, ok := tb.Price("ETH", "USD", day("2024-01-03")); !ok || p.FloatString(0) != "2200" {
		t.Fatalf("%v %v", p, ok)
	}
	for _, bad := range []string{"date,asset,price\n2024-13-01,BTC,1\n", "date,asset,price\n2024-01-01,BTC,abc\n", "when,what\n"} {
		if err := New().read(strings.NewReader(bad), "p.csv"); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if err := New().read(strings.NewReader("date,asset,price\n2024-01-01,BTC,1\n2024-01-02,BTC,x\n"), "p.csv"); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("bad row: %v", err)
	}
}
