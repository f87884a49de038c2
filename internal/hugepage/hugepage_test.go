package hugepage

import "testing"

// TestMake: the slices are of the length and capacity asked, zeroed,
// and usable end to end, large (advised) or small.
func TestMake(t *testing.T) {
	for _, n := range []int{0, 1, 1000, 3 << 20} {
		s := Make[uint64](n, n+7)
		if len(s) != n || cap(s) != n+7 {
			t.Fatalf("Make(%d, %d): len %d cap %d", n, n+7, len(s), cap(s))
		}
		for i := range s {
			if s[i] != 0 {
				t.Fatalf("Make(%d): element %d is %d", n, i, s[i])
			}
			s[i] = uint64(i)
		}
		s = append(s, 1)
		if len(s) != n+1 {
			t.Fatal("append")
		}
	}
	if s := Make[uint32](5, 2); len(s) != 5 || cap(s) != 5 {
		t.Fatalf("a capacity below the length: len %d cap %d", len(s), cap(s))
	}
}
