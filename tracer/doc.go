// Package tracer follows funds through the store under explicit taint
// models (poison, haircut, FIFO): forward from victims' payments to the
// exchange deposit addresses that received them, or backward from a
// payment to where its money came from.
//
// Bitcoin (Bitcoin, BitcoinBackward) follows coins: one spender lookup and
// one read of the spending transactions a hop for the whole frontier.
// Ethereum (Account, AccountBackward) follows each asset's balance per
// address, replaying each address's history in chain order: one history
// read a hop. Exposure (an address's indirect contact with labeled
// services within N hops) runs the same walks. docs/tracing.md states
// what each model computes, with worked examples.
package tracer
