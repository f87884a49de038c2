package sim

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/ethereum/go-ethereum/common"
)

// readETH reads the chain file under dir, handing each block in order to
// fn with its JSON, and returns the world (without blocks). It also
// reads the first format, the world with its blocks in one document.
func readETH(dir string, fn func(b *ETHBlock, raw []byte) error) (*ETHWorld, error) {
	path := filepath.Join(dir, ChainFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r := bufio.NewReaderSize(zr, 1<<20)
	var world *ETHWorld
	var next int64
	for n := 1; ; n++ {
		raw, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) && len(bytes.TrimSpace(raw)) == 0 {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: line %d: %w", path, n, err)
		}
		if world != nil {
			return nil, fmt.Errorf("%s: line %d: more after the world, which ends the file", path, n)
		}
		var l ethLine
		if err := json.Unmarshal(raw, &l); err != nil {
			return nil, fmt.Errorf("%s: line %d: %w", path, n, err)
		}
		switch {
		case l.Block != nil:
			if l.Block.Number != next {
				return nil, fmt.Errorf("%s: line %d: block %d where block %d belongs", path, n, l.Block.Number, next)
			}
			next++
			if err := fn(l.Block, raw); err != nil {
				return nil, err
			}
		case l.World != nil:
			world = l.World
		case n == 1:
			// The first format: one document, the blocks inside.
			var w ETHWorld
			if err := json.Unmarshal(raw, &w); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			for _, b := range w.Blocks {
				raw, err := json.Marshal(ethLine{Block: b})
				if err != nil {
					return nil, err
				}
				if err := fn(b, raw); err != nil {
					return nil, err
				}
			}
			w.Blocks = nil
			world = &w
		default:
			return nil, fmt.Errorf("%s: line %d: neither a block nor the world", path, n)
		}
	}
	if world == nil {
		return nil, fmt.Errorf("%s: ends after %d blocks without the world (cut short?)", path, next)
	}
	return world, nil
}

// ETHChain is a chain file opened for serving without holding it: its
// blocks' JSON copied to a temporary file, read back and decoded when
// asked for, and each transaction's block found from a sorted table of
// hash prefixes (16 bytes a transaction).
type ETHChain struct {
	World *ETHWorld // without blocks
	tmp   *os.File
	offs  []int64 // block n's JSON is tmp[offs[n]:offs[n+1]]
	txs   []txAt  // by hash prefix
}

type txAt struct {
	prefix uint64
	block  uint32
}

// OpenETHChain reads the chain under dir once, keeping its blocks in a
// temporary file under tmpDir (os.TempDir() if empty). Close removes it.
func OpenETHChain(dir, tmpDir string) (*ETHChain, error) {
	tmp, err := os.CreateTemp(tmpDir, "fundtrace-serve-eth-*")
	if err != nil {
		return nil, err
	}
	c := &ETHChain{tmp: tmp}
	bw := bufio.NewWriterSize(tmp, 1<<20)
	var off int64
	c.World, err = readETH(dir, func(b *ETHBlock, raw []byte) error {
		c.offs = append(c.offs, off)
		if _, err := bw.Write(raw); err != nil {
			return fmt.Errorf("serve-eth: temporary copy: %w", err)
		}
		off += int64(len(raw))
		for _, t := range b.Txs {
			c.txs = append(c.txs, txAt{prefix: binary.BigEndian.Uint64(t.Hash[:8]), block: uint32(b.Number)})
		}
		return nil
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	c.offs = append(c.offs, off)
	slices.SortFunc(c.txs, func(a, b txAt) int {
		if a.prefix != b.prefix {
			return cmpUint64(a.prefix, b.prefix)
		}
		return cmpUint64(uint64(a.block), uint64(b.block))
	})
	return c, nil
}

func cmpUint64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Close removes the temporary copy.
func (c *ETHChain) Close() error {
	err := c.tmp.Close()
	if rerr := os.Remove(c.tmp.Name()); err == nil {
		err = rerr
	}
	return err
}

// Len is how many blocks the chain has, genesis included.
func (c *ETHChain) Len() int { return len(c.offs) - 1 }

// Block reads block n back.
func (c *ETHChain) Block(n int) (*ETHBlock, error) {
	raw := make([]byte, c.offs[n+1]-c.offs[n])
	if _, err := c.tmp.ReadAt(raw, c.offs[n]); err != nil {
		return nil, fmt.Errorf("block %d: %w", n, err)
	}
	var l ethLine
	if err := json.Unmarshal(raw, &l); err != nil || l.Block == nil {
		return nil, fmt.Errorf("block %d: %v", n, err)
	}
	return l.Block, nil
}

// txBlocks are the blocks that may hold a transaction: those holding one
// whose hash starts as h does.
func (c *ETHChain) txBlocks(h common.Hash) []int {
	p := binary.BigEndian.Uint64(h[:8])
	i, _ := slices.BinarySearchFunc(c.txs, p, func(t txAt, p uint64) int { return cmpUint64(t.prefix, p) })
	var out []int
	for ; i < len(c.txs) && c.txs[i].prefix == p; i++ {
		out = append(out, int(c.txs[i].block))
	}
	return out
}
