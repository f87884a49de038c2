// Command floor times the floor the Bitcoin index is measured against
// (#25 point 3; realblocks.Floor for the benchmarks' real blocks): btcd's
// wire decode of every block record of a blocks folder's blk*.dat files,
// and the txid of every transaction, with nothing stored. The bench
// script (scripts/bench-store.sh) runs it as a whole process just before
// each index of the same folder and prints the index's time against it,
// so that the ratio is measured on the machine at hand, not carried
// over from another. Files are read one at a time, whole, de-obfuscated
// with xor.dat when Bitcoin Core 28+ wrote one. It prints the blocks,
// the transactions and the seconds taken.
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/btcsuite/btcd/wire"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: floor BLOCKSDIR")
		os.Exit(2)
	}
	start := time.Now()
	blocks, txs, err := run(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
	fmt.Printf("%d blocks, %d transactions, %.2f s\n", blocks, txs, time.Since(start).Seconds())
}

// run decodes every block record of dir's files and hashes every
// transaction, returning how many of each.
func run(dir string) (blocks, txs int, err error) {
	files, err := filepath.Glob(filepath.Join(dir, "blk*.dat"))
	if err != nil || len(files) == 0 {
		return 0, 0, fmt.Errorf("no blk*.dat files in %s", dir)
	}
	key, err := os.ReadFile(filepath.Join(dir, "xor.dat"))
	if err != nil && !os.IsNotExist(err) {
		return 0, 0, err
	}
	for _, f := range files { // Glob sorts them
		data, err := os.ReadFile(f)
		if err != nil {
			return 0, 0, err
		}
		if len(key) > 0 {
			for i := range data {
				data[i] ^= key[i%len(key)]
			}
		}
		magic := uint32(0) // the network's, from the file's first record
		for off := 0; off+8 <= len(data); {
			m := binary.LittleEndian.Uint32(data[off:])
			if magic == 0 {
				magic = m
			}
			if m != magic || m == 0 {
				break // the space Core allocates past a file's last record
			}
			size := int(binary.LittleEndian.Uint32(data[off+4:]))
			if off+8+size > len(data) {
				return 0, 0, fmt.Errorf("%s offset %d: a record of %d bytes past the file's end", f, off, size)
			}
			var blk wire.MsgBlock
			if err := blk.Deserialize(bytes.NewReader(data[off+8 : off+8+size])); err != nil {
				return 0, 0, fmt.Errorf("%s offset %d: %w", f, off, err)
			}
			for _, tx := range blk.Transactions {
				_ = tx.TxHash()
			}
			blocks, txs = blocks+1, txs+len(blk.Transactions)
			off += 8 + size
		}
	}
	return blocks, txs, nil
}
