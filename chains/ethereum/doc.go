// Package ethereum reads Ethereum from a node's JSON-RPC (geth, Erigon,
// Nethermind, Reth or any provider serving the standard methods): blocks,
// receipts and call traces, turned into transfers (the transaction's
// value, internal calls, token Transfer logs, fees, withdrawals) in the
// chain-neutral model. Addresses are parsed and written in one place
// (ParseAddress, FormatAddress). Writing to a store is ingest/eth's.
package ethereum
