package clickhouse

import (
	"strings"
	"testing"
)

// TestAddressRanges: the ranges EachAddress aggregates one by one cover
// the whole key space, in order, without overlap, and there are enough of
// them to keep each under addressesPerQuery of the chain's addresses.
func TestAddressRanges(t *testing.T) {
	for _, n := range []int64{0, 1, addressesPerQuery, addressesPerQuery + 1, 1_500_000_000} {
		rs := addressRanges(n)
		kinds := 9
		if per := int64(len(rs)-1) / int64(kinds); per*addressesPerQuery < n && per < 1<<16 {
			t.Errorf("%d addresses: %d ranges per kind", n, per)
		}
		prev := "00"
		for i, r := range rs {
			lo := strings.TrimSuffix(strings.TrimPrefix(strings.SplitN(r, " AND ", 2)[0], "address >= unhex('"), "')")
			if lo != prev {
				t.Fatalf("%d addresses: range %d starts at %s, the previous ended at %s", n, i, lo, prev)
			}
			if i == len(rs)-1 {
				if strings.Contains(r, "<") {
					t.Fatalf("last range %q is bounded", r)
				}
				break
			}
			prev = strings.TrimSuffix(strings.SplitN(r, "address < unhex('", 2)[1], "')")
		}
	}
}
