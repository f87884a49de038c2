// Package heuristics will hold fundtrace's address-clustering heuristics
// (common-input ownership with CoinJoin detection, change-address
// heuristics, Ethereum deposit-address reuse), each a named, documented,
// individually switchable unit with no I/O of its own.
//
// It is empty until the clustering work lands; the store already keeps
// what those heuristics read: resolved inputs per transaction and the
// first-seen height of every address.
package heuristics
