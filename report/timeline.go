package report

import (
	"math/big"
	"slices"
	"time"

	"github.com/fundtrace/fundtrace/tracefile"
)

// timeline is when the victims paid and when their money reached the
// exchanges, bucketed by day (by week beyond two months, by month beyond
// two years), in USD when every amount has a price, else in the case's
// one asset, else as counts.
type timeline struct {
	Unit    string // "USD", an asset's symbol, or "" (counts)
	Bucket  string // day, week, month
	Buckets []bucket
	Max     float64
}

type bucket struct {
	Start          string // YYYY-MM-DD
	Paid, Deposits float64
}

func buildTimeline(seeds []tracefile.Seed, deps []tracefile.Deposit, assets map[string]tracefile.Asset, p Pricer) *timeline {
	type pt struct {
		t     time.Time
		asset string
		units string
		paid  bool
	}
	var pts []pt
	for _, s := range seeds {
		pts = append(pts, pt{t: time.Unix(unixOf(s.Time), 0).UTC(), asset: s.Asset, units: s.Amount, paid: true})
	}
	for _, d := range deps {
		pts = append(pts, pt{t: time.Unix(unixOf(d.Time), 0).UTC(), asset: d.Asset, units: d.Haircut})
	}
	tl := &timeline{Bucket: "day"}
	if len(pts) == 0 {
		return tl
	}
	first, last := pts[0].t, pts[0].t
	one := pts[0].asset
	allPriced := p.Table != nil && p.Table.Len() > 0
	for _, x := range pts {
		first, last = minTime(first, x.t), maxTime(last, x.t)
		if x.asset != one {
			one = ""
		}
		if allPriced && p.value(assets[x.asset], x.units, x.t.Format(time.RFC3339), "USD") == "" {
			allPriced = false
		}
	}
	switch {
	case allPriced:
		tl.Unit = "USD"
	case one != "":
		tl.Unit = assets[one].Symbol
	}
	span := last.Sub(first)
	start := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) }
	next := func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }
	switch {
	case span > 2*365*24*time.Hour:
		tl.Bucket = "month"
		start = func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC) }
		next = func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }
	case span > 62*24*time.Hour:
		tl.Bucket = "week"
		start = func(t time.Time) time.Time {
			d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
			return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7)) // Monday
		}
		next = func(t time.Time) time.Time { return t.AddDate(0, 0, 7) }
	}
	idx := map[string]int{}
	for b := start(first); !b.After(last); b = next(b) {
		idx[b.Format("2006-01-02")] = len(tl.Buckets)
		tl.Buckets = append(tl.Buckets, bucket{Start: b.Format("2006-01-02")})
	}
	for _, x := range pts {
		b := &tl.Buckets[idx[start(x.t).Format("2006-01-02")]]
		v := 1.0
		switch tl.Unit {
		case "":
		case "USD":
			f, _ := new(big.Rat).SetString(p.value(assets[x.asset], x.units, x.t.Format(time.RFC3339), "USD"))
			v, _ = f.Float64()
		default:
			u, _ := new(big.Rat).SetString(x.units)
			if u == nil {
				u = new(big.Rat)
			}
			u.Quo(u, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(assets[x.asset].Decimals)), nil)))
			v, _ = u.Float64()
		}
		if x.paid {
			b.Paid += v
		} else {
			b.Deposits += v
		}
	}
	for _, b := range tl.Buckets {
		tl.Max = slices.Max([]float64{tl.Max, b.Paid, b.Deposits})
	}
	return tl
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
