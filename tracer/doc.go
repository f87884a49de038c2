// Package tracer follows funds through the store under explicit taint
// models (poison, haircut, FIFO): forward from victims' payments to the
// exchange deposit addresses that received them, or backward from a
// payment to where its money came from.
//
// One core (core.go) holds what every chain shares: the models, the
// labeler, the parameters with their defaults (Config, params.go), the
// stop and origin reasons, the seeds and one Result (deposits, poison
// sets, stops, flows, origins). The walks beside it differ only in how
// money moves. A UTXO chain (UTXO, UTXOBackward) follows coins: one
// spender lookup and one read of the spending transactions a hop for the
// whole frontier. An account chain, Ethereum or TRON (Account,
// AccountBackward), follows each asset's balance per address, replaying
// each address's history in chain order: one history read a hop.
// Exposure (an address's indirect contact with labeled services within N
// hops: UTXOExposures, AccountExposures) runs the same walks.
// docs/tracing.md states what each model computes, with worked examples.
package tracer
