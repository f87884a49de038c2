package cluster

import "github.com/fundtrace/fundtrace/chains"

// Score compares the clusters with the true owner of each address:
// pairwise precision (of the address pairs put in one cluster, the share
// that truly share an owner) and recall (of the pairs that truly share an
// owner, the share put in one cluster). Addresses without a known owner
// are left out.
type Score struct {
	Precision, Recall float64
	Clusters          int // clusters among the scored addresses
	Entities          int // true owners among them
	Addresses         int
}

// Evaluate scores cl against owner.
func (cl *Clusters) Evaluate(owner map[chains.Address]int) Score {
	pair := func(n int64) float64 { return float64(n) * float64(n-1) / 2 }
	joint := map[[2]int64]int64{}
	byCluster := map[int64]int64{}
	byOwner := map[int64]int64{}
	var s Score
	for i, a := range cl.addrs {
		o, ok := owner[a]
		if !ok {
			continue
		}
		c := int64(cl.minID(cl.uf.Find(uint32(i))))
		joint[[2]int64{c, int64(o)}]++
		byCluster[c]++
		byOwner[int64(o)]++
		s.Addresses++
	}
	var tp, pp, tpairs float64
	for _, n := range joint {
		tp += pair(n)
	}
	for _, n := range byCluster {
		pp += pair(n)
	}
	for _, n := range byOwner {
		tpairs += pair(n)
	}
	s.Precision, s.Recall = 1, 0
	if pp > 0 {
		s.Precision = tp / pp
	}
	if tpairs > 0 {
		s.Recall = tp / tpairs
	}
	s.Clusters, s.Entities = len(byCluster), len(byOwner)
	return s
}
