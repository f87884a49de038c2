// Package tracer will follow funds through the store under explicit
// taint models (poison, haircut, FIFO) from victims' payments to the
// exchange deposit addresses that receive them.
//
// It is empty until the tracing work lands; the store already answers
// the lookups a hop needs: a transaction's outputs, the spender of an
// outpoint, an address's history.
package tracer
