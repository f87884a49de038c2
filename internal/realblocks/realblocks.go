// Package realblocks serves the real mainnet Bitcoin blocks of the shared
// data to the decoder's and the indexer's tests and benchmarks, with what
// SOURCES.md (and so the chain) says about each, and the floor every
// indexer is measured against: btcd's deserialization plus one txid per
// transaction.
package realblocks

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire"

	"github.com/fundtrace/fundtrace/internal/shareddata"
)

// Block is one real mainnet block from the shared data.
type Block struct {
	Path       []string // under bitcoin/blocks
	Height     int64
	HashPrefix string // of the block hash, as SOURCES.md gives it ("" when it does not)
	Txs        int
}

// All are the shared real blocks, oldest first.
var All = []Block{
	{[]string{"bitcoinj", "block169482.dat"}, 169482, "0000000000000756", 14},
	{[]string{"bitcoinj", "block227835.dat"}, 227835, "00000000000001aa", 122},
	{[]string{"bitcoinj", "block227836.dat"}, 227836, "00000000000000d0", 100},
	{[]string{"bcoin", "block300025.raw"}, 300025, "0000000000000000821c", 461},
	{[]string{"bitcoinj", "block363703.dat"}, 363703, "", 587},
	{[]string{"bitcoinj", "block370661.dat"}, 370661, "", 708},
	{[]string{"conduit-db", "block413567.raw"}, 413567, "0000000000000000025a", 1557},
	{[]string{"bitcoinj", "block481815.dat"}, 481815, "", 2097},
	{[]string{"bitcoinj", "block481829.dat"}, 481829, "", 2020},
	{[]string{"bcoin", "block482683.raw"}, 482683, "", 12},
	{[]string{"bitcoin-s", "000000000000000000050f70113ab1932c195442cb49bcc4ee4d7f426c8a3295.txt.gz"}, 514485, "000000000000000000050f70113ab1932c195442cb49bcc4ee4d7f426c8a3295", 2165},
	{[]string{"btcd", "block-00000000000000000021868c2cefc52a480d173c849412fe81c4e5ab806f94ab.blk"}, 540107, "00000000000000000021868c2cefc52a480d173c849412fe81c4e5ab806f94ab", 230},
	{[]string{"rust-bitcoin", "mainnet_block_000000000000000000000c835b2adcaedc20fdf6ee440009c249452c726dafae.raw"}, 702861, "000000000000000000000c835b2adcaedc20fdf6ee440009c249452c726dafae", 2500},
}

// Bench are the largest real blocks: 2015 to 2021, legacy and segwit,
// 6.6 MB and 8,549 transactions together.
var Bench = []Block{All[6], All[7], All[10], All[11], All[12]}

// Read returns the raw bytes of a shared real block, undoing the
// gzip+hex of the bitcoin-s file.
func Read(t testing.TB, rb Block) []byte {
	t.Helper()
	p := shareddata.Path(t, append([]string{"bitcoin", "blocks"}, rb.Path...)...)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(p, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	if strings.HasSuffix(p, ".txt.gz") {
		if b, err = hex.DecodeString(strings.TrimSpace(string(b))); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// Records returns the framed records of the real blk00000.dat (mainnet
// blocks 0..299) shipped in the repository's testdata/btc/blocks.
func Records(t testing.TB) [][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(moduleRoot(t), "testdata", "btc", "blocks", "blk00000.dat"))
	if err != nil {
		t.Fatal(err)
	}
	var recs [][]byte
	for off := 0; off+8 <= len(b); {
		l := int(binary.LittleEndian.Uint32(b[off+4:]))
		recs = append(recs, b[off:off+8+l])
		off += 8 + l
	}
	return recs
}

// moduleRoot is the folder holding go.mod, above the test's own.
func moduleRoot(t testing.TB) string {
	t.Helper()
	d, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatal("no go.mod above the test's folder")
		}
		d = filepath.Dir(d)
	}
}

// LoadBench reads the Bench blocks: their bytes, total size and
// transaction count.
func LoadBench(b *testing.B) (raws [][]byte, size int64, txs int) {
	for _, rb := range Bench {
		raw := Read(b, rb)
		raws = append(raws, raw)
		size += int64(len(raw))
		txs += rb.Txs
	}
	return raws, size, txs
}

// ReportTx reports transactions per second over the benchmark's run.
func ReportTx(b *testing.B, txs int) {
	b.ReportMetric(float64(txs)*float64(b.N)/b.Elapsed().Seconds(), "tx/s")
}

// Floor decodes raws with btcd and hashes every txid.
func Floor(b *testing.B, raws [][]byte) {
	for _, raw := range raws {
		var blk wire.MsgBlock
		if err := blk.Deserialize(bytes.NewReader(raw)); err != nil {
			b.Fatal(err)
		}
		for _, tx := range blk.Transactions {
			_ = tx.TxHash()
		}
	}
}

// CPUTime returns the processor time the process has used, user and
// system.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
