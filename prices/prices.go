// Package prices reads daily prices that users supply, to show traced
// amounts in fiat as well as in the chain's unit. A price that is not in
// the file is reported missing; it is never interpolated or guessed.
package prices

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Table holds daily prices by asset, currency and day.
type Table struct {
	by      map[[3]string]*big.Rat // asset, currency, YYYY-MM-DD
	Sources []string
}

// New returns an empty table.
func New() *Table { return &Table{by: map[[3]string]*big.Rat{}} }

// Price returns the price of one unit of asset in currency on the UTC day
// of t, and whether the table has it.
func (t *Table) Price(asset, currency string, unix int64) (*big.Rat, bool) {
	if t == nil {
		return nil, false
	}
	day := time.Unix(unix, 0).UTC().Format("2006-01-02")
	p, ok := t.by[[3]string{strings.ToUpper(asset), strings.ToUpper(currency), day}]
	return p, ok
}

// Len is the number of prices held.
func (t *Table) Len() int { return len(t.by) }

// ReadFile adds a price file to the table. Two forms are read:
//
//   - fundtrace's: a header with date, asset, price and optionally
//     currency (USD when absent): 2021-11-01,BTC,61004.41,USD
//   - a daily export named ASSET-CURRENCY.csv (Yahoo Finance's: Date,
//     Open, High, Low, Close, …): the Close is the day's price.
//
// A malformed row is an error naming the file and line.
func (t *Table) ReadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := t.read(f, filepath.Base(path)); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	t.Sources = append(t.Sources, path)
	return nil
}

func (t *Table) read(r io.Reader, name string) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return fmt.Errorf("no header: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	var asset, currency string
	_, hasAsset := col["asset"]
	_, hasPrice := col["price"]
	_, hasClose := col["close"]
	switch {
	case hasAsset && hasPrice:
	case hasClose:
		base := strings.TrimSuffix(strings.ToUpper(name), ".CSV")
		a, c, ok := strings.Cut(base, "-")
		if !ok || a == "" || c == "" {
			return fmt.Errorf("a file with a Close column must be named ASSET-CURRENCY.csv (e.g. BTC-USD.csv), not %s", name)
		}
		asset, currency = a, c
	default:
		return errors.New("want the columns date, asset, price[, currency] (or Date, …, Close in a file named ASSET-CURRENCY.csv)")
	}
	if _, ok := col["date"]; !ok {
		return errors.New("no date column")
	}
	line := 1
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		line++
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		get := func(k string) string {
			if i, ok := col[k]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		day := get("date")
		if _, err := time.Parse("2006-01-02", day); err != nil {
			return fmt.Errorf("line %d: date %q: want YYYY-MM-DD", line, day)
		}
		a, c, ps := asset, currency, get("close")
		if hasAsset {
			a, c, ps = strings.ToUpper(get("asset")), strings.ToUpper(get("currency")), get("price")
			if c == "" {
				c = "USD"
			}
		}
		if ps == "" || strings.EqualFold(ps, "null") {
			continue // a day without a price stays missing
		}
		p, ok := new(big.Rat).SetString(ps)
		if !ok || p.Sign() < 0 {
			return fmt.Errorf("line %d: price %q is not a number", line, ps)
		}
		if a == "" {
			return fmt.Errorf("line %d: no asset", line)
		}
		t.by[[3]string{a, c, day}] = p
	}
}

// Value converts an amount in base units (decimals places) to currency
// at the day's price: nil when the price is missing.
func (t *Table) Value(asset, currency string, unix int64, units *big.Int, decimals int) *big.Rat {
	p, ok := t.Price(asset, currency, unix)
	if !ok || units == nil {
		return nil
	}
	v := new(big.Rat).SetInt(units)
	v.Quo(v, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(decimals)), nil)))
	return v.Mul(v, p)
}
