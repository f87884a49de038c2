// Package bitcoin reads Bitcoin: Bitcoin Core's block files (blk*.dat,
// xor-obfuscated or not; the best chain found by linking the headers,
// stale blocks left out), decoded with btcd's wire package into the
// chain-neutral model (chains.Tx, every output's script classified and
// its address derived). Addresses are encoded per network (Network:
// mainnet, testnet, signet, regtest). Writing to a store is ingest/btc's.
package bitcoin
