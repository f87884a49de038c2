package heuristics

// UnionFind keeps disjoint sets of compact integer ids (0..n-1) with path
// compression (halving) and union by size: near-constant time per
// operation, four bytes per id and four for its set's size.
type UnionFind struct {
	parent []uint32
	size   []uint32
}

// NewUnionFind makes n singleton sets, ids 0..n-1, in arrays of exactly
// that length (Add grows them as append does).
func NewUnionFind(n int) UnionFind {
	u := UnionFind{parent: make([]uint32, n), size: make([]uint32, n)}
	for i := range u.parent {
		u.parent[i] = uint32(i)
		u.size[i] = 1
	}
	return u
}

// Add makes a new singleton set and returns its id.
func (u *UnionFind) Add() uint32 {
	id := uint32(len(u.parent))
	u.parent = append(u.parent, id)
	u.size = append(u.size, 1)
	return id
}

// Len is the number of ids.
func (u *UnionFind) Len() int { return len(u.parent) }

// Find returns the representative of x's set.
func (u *UnionFind) Find(x uint32) uint32 {
	for u.parent[x] != x {
		u.parent[x] = u.parent[u.parent[x]]
		x = u.parent[x]
	}
	return x
}

// Union merges the sets of a and b and reports whether they were apart.
func (u *UnionFind) Union(a, b uint32) bool {
	ra, rb := u.Find(a), u.Find(b)
	if ra == rb {
		return false
	}
	if u.size[ra] < u.size[rb] {
		ra, rb = rb, ra
	}
	u.parent[rb] = ra
	u.size[ra] += u.size[rb]
	return true
}

// Size is the size of x's set.
func (u *UnionFind) Size(x uint32) uint32 { return u.size[u.Find(x)] }
