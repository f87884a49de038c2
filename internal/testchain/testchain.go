// Package testchain builds synthetic regtest block chains for tests and
// benchmarks: valid linkage, merkle roots computed by btcd, coinbases
// with BIP34 heights, no double spends, a mix of every output type. It
// knows nothing of fundtrace's decoder, so what fundtrace reads back can
// be checked against what was generated.
package testchain

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// Config shapes a generated chain.
type Config struct {
	Seed        uint64
	Blocks      int // blocks after genesis
	TxsPerBlock int // non-coinbase transactions per block (at most; fewer while coins are scarce)
}

// Coin is an unspent output the generator tracks.
type Coin struct {
	Op     wire.OutPoint
	Value  int64
	Script []byte
}

// Chain is a generated chain: blocks[0] is regtest's genesis.
type Chain struct {
	Blocks []*wire.MsgBlock
	// Spent maps every spent outpoint to the coin it was, for checking
	// resolved inputs.
	Spent map[wire.OutPoint]Coin
}

// Generate builds a chain deterministically from cfg.
func Generate(cfg Config) *Chain {
	r := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5eed))
	genesis := *chaincfg.RegressionNetParams.GenesisBlock
	ch := &Chain{Blocks: []*wire.MsgBlock{&genesis}, Spent: map[wire.OutPoint]Coin{}}
	var pool []Coin
	prev := genesis.BlockHash()
	t := genesis.Header.Timestamp
	for h := 1; h <= cfg.Blocks; h++ {
		t = t.Add(time.Duration(300+r.IntN(600)) * time.Second)
		blk := &wire.MsgBlock{Header: wire.BlockHeader{Version: 0x20000000, PrevBlock: prev, Timestamp: t, Bits: 0x207fffff, Nonce: r.Uint32()}}
		var fees int64
		for i := 0; i < cfg.TxsPerBlock && len(pool) > 0; i++ {
			tx := wire.NewMsgTx(2)
			nin := 1 + r.IntN(3)
			var in int64
			for k := 0; k < nin && len(pool) > 0; k++ {
				j := r.IntN(len(pool))
				c := pool[j]
				pool[j] = pool[len(pool)-1]
				pool = pool[:len(pool)-1]
				txin := wire.NewTxIn(&c.Op, randBytes(r, 70+r.IntN(40)), nil)
				if len(c.Script) == 22 && c.Script[0] == 0 { // P2WPKH: a witness, making the tx segwit
					txin.SignatureScript = nil
					txin.Witness = wire.TxWitness{randBytes(r, 71), append([]byte{2}, randBytes(r, 32)...)}
				}
				tx.AddTxIn(txin)
				in += c.Value
				ch.Spent[c.Op] = c
			}
			fee := int64(200 + r.IntN(5000))
			if in <= fee+1000 {
				fee = 0
			}
			nout := 1 + r.IntN(3)
			left := in - fee
			for k := 0; k < nout; k++ {
				v := left
				if k < nout-1 {
					v = left / 2
				}
				left -= v
				tx.AddTxOut(wire.NewTxOut(v, randScript(r)))
			}
			if r.IntN(20) == 0 {
				tx.AddTxOut(wire.NewTxOut(0, append([]byte{0x6a, 8}, randBytes(r, 8)...)))
			}
			fees += fee
			blk.AddTransaction(tx)
			// Outputs of this transaction may be spent later in the same
			// block, as chained payments are in real blocks.
			for k, o := range tx.TxOut {
				if o.PkScript[0] != 0x6a {
					pool = append(pool, Coin{Op: wire.OutPoint{Hash: tx.TxHash(), Index: uint32(k)}, Value: o.Value, Script: o.PkScript})
				}
			}
		}
		cb := wire.NewMsgTx(1)
		height := make([]byte, 4)
		binary.LittleEndian.PutUint32(height, uint32(h))
		cb.AddTxIn(wire.NewTxIn(wire.NewOutPoint(&chainhash.Hash{}, wire.MaxPrevOutIndex), append([]byte{4}, height...), nil))
		cb.AddTxOut(wire.NewTxOut(50e8+fees, randScript(r)))
		blk.Transactions = append([]*wire.MsgTx{cb}, blk.Transactions...)
		coinbase := Coin{Op: wire.OutPoint{Hash: cb.TxHash(), Index: 0}, Value: cb.TxOut[0].Value, Script: cb.TxOut[0].PkScript}
		txs := make([]*btcutil.Tx, len(blk.Transactions))
		for i, tx := range blk.Transactions {
			txs[i] = btcutil.NewTx(tx)
		}
		blk.Header.MerkleRoot = blockchain.CalcMerkleRoot(txs, false)
		Mine(&blk.Header)
		prev = blk.BlockHash()
		ch.Blocks = append(ch.Blocks, blk)
		pool = append(pool, coinbase)
	}
	return ch
}

// Mine raises the header's nonce until its hash meets the target its
// bits encode, as a miner's would, for indexers check proof of work.
// Regtest's target (bits 207fffff) is met by about one hash in two; a
// mainnet target never is in a test's time.
func Mine(h *wire.BlockHeader) {
	target := blockchain.CompactToBig(h.Bits)
	for {
		hash := h.BlockHash()
		if blockchain.HashToBig(&hash).Cmp(target) <= 0 {
			return
		}
		h.Nonce++
	}
}

// Serialize returns the block in consensus serialization.
func Serialize(b *wire.MsgBlock) []byte {
	var buf bytes.Buffer
	if err := b.Serialize(&buf); err != nil {
		panic(err) // only fails on a writer error; bytes.Buffer has none
	}
	return buf.Bytes()
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// randScript returns an output script of a random standard type, with
// some address reuse so that histories have several entries.
func randScript(r *rand.Rand) []byte {
	if r.IntN(10) == 0 { // reuse one of a few well-known scripts
		return append([]byte{0x00, 20}, bytes.Repeat([]byte{byte(r.IntN(4))}, 20)...)
	}
	switch r.IntN(7) {
	case 0:
		return append(append([]byte{0x76, 0xa9, 20}, randBytes(r, 20)...), 0x88, 0xac)
	case 1:
		return append(append([]byte{0xa9, 20}, randBytes(r, 20)...), 0x87)
	case 2, 3:
		return append([]byte{0x00, 20}, randBytes(r, 20)...)
	case 4:
		return append([]byte{0x00, 32}, randBytes(r, 32)...)
	case 5:
		return append([]byte{0x51, 32}, randBytes(r, 32)...)
	default: // P2PK with a real compressed key
		return append(append([]byte{33}, pubKeys[r.IntN(len(pubKeys))]...), 0xac)
	}
}

// pubKeys are real public keys for P2PK outputs (random bytes would not
// be curve points, which some tools then refuse to give an address).
var pubKeys = func() [][]byte {
	keys := make([][]byte, 64)
	for i := range keys {
		var seed [32]byte
		seed[0], seed[31] = byte(i), 1
		priv, _ := btcec.PrivKeyFromBytes(seed[:])
		keys[i] = priv.PubKey().SerializeCompressed()
	}
	return keys
}()
