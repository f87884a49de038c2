package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/wire"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/internal/testchain"
)

// TestFloorReadsEveryRecord: the floor decodes every block of a folder
// written as Bitcoin Core 28+ writes one (obfuscated with xor.dat, split
// over several files, each padded with zeros), counting the generated
// chain's blocks and transactions; a record cut short is an error naming
// its file and offset.
func TestFloorReadsEveryRecord(t *testing.T) {
	ch := testchain.Generate(testchain.Config{Seed: 3, Blocks: 30, TxsPerBlock: 20})
	dir := t.TempDir()
	fw := &bitcoin.FileWriter{Dir: dir, Magic: wire.TestNet, XORKey: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, MaxFileSize: 40 << 10, PadTo: 4096}
	wantTxs := 0
	for _, b := range ch.Blocks {
		if err := fw.Write(testchain.Serialize(b)); err != nil {
			t.Fatal(err)
		}
		wantTxs += len(b.Transactions)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "blk*.dat"))
	if len(files) < 2 {
		t.Fatalf("%d block files, want several", len(files))
	}
	blocks, txs, err := run(dir)
	if err != nil || blocks != len(ch.Blocks) || txs != wantTxs {
		t.Fatalf("%d blocks, %d transactions (%v); want %d and %d", blocks, txs, err, len(ch.Blocks), wantTxs)
	}
	last := files[len(files)-1]
	b, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	// Cut inside the file's first record (its header is 8 bytes).
	if err := os.WriteFile(last, b[:100], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(dir); err == nil || !strings.Contains(err.Error(), filepath.Base(last)+" offset 0") {
		t.Fatalf("a record cut short: %v, want an error naming %s at offset 0", err, filepath.Base(last))
	}
}
