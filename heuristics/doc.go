// Package heuristics holds fundtrace's address-clustering heuristics,
// each a named, documented, individually switchable unit with no I/O of
// its own: given a transaction with its resolved inputs (and, for the
// change heuristics, what is known of each output address), it returns
// the links it is confident of, each naming the heuristic and the
// transaction that is its evidence. Clusters are the connected
// components of those links (UnionFind), and the links themselves are
// the explanation a court can read.
package heuristics
