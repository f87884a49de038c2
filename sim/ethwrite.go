package sim

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// ChainFile is where an Ethereum scenario's chain is written, for
// "fundtrace simulate serve-eth" to serve.
const ChainFile = "chain.json.gz"

// ethLine is one line of an Ethereum chain file: a block, in order from
// genesis, or, last, the world without its blocks (see FORMAT.md). A
// line a block lets the chain be written as it is made and served
// without being held whole.
type ethLine struct {
	Block *ETHBlock `json:",omitempty"`
	World *ETHWorld `json:",omitempty"`
}

// ETHWriter writes an Ethereum scenario block by block: the chain file
// as the blocks come, the truth and the case once the world is done.
type ETHWriter struct {
	dir   string
	f     *os.File
	zw    *gzip.Writer
	bw    *bufio.Writer
	enc   *json.Encoder
	times []int64 // each block's time, for the case
	err   error
}

// CreateETH starts writing an Ethereum scenario under dir.
func CreateETH(dir string) (*ETHWriter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(dir, ChainFile))
	if err != nil {
		return nil, err
	}
	zw := gzip.NewWriter(f)
	bw := bufio.NewWriterSize(zw, 1<<20)
	return &ETHWriter{dir: dir, f: f, zw: zw, bw: bw, enc: json.NewEncoder(bw)}, nil
}

// Block writes the next block. Blocks come in order from genesis. The
// first error is kept: later calls do nothing and Close returns it.
func (w *ETHWriter) Block(b *ETHBlock) error {
	if w.err != nil {
		return w.err
	}
	if b.Number != int64(len(w.times)) {
		w.err = fmt.Errorf("write %s: block %d after %d blocks", ChainFile, b.Number, len(w.times))
		return w.err
	}
	w.times = append(w.times, b.Time)
	if err := w.enc.Encode(ethLine{Block: b}); err != nil {
		w.err = fmt.Errorf("write %s: block %d: %w", ChainFile, b.Number, err)
	}
	return w.err
}

// Close ends the chain file with the world (its blocks left out: they
// were written) and writes the truth, labels.csv and case.csv.
func (w *ETHWriter) Close(world *ETHWorld) error {
	if w.err == nil {
		rest := *world
		rest.Blocks = nil
		if err := w.enc.Encode(ethLine{World: &rest}); err != nil {
			w.err = fmt.Errorf("write %s: %w", ChainFile, err)
		}
	}
	for _, err := range []error{w.bw.Flush(), w.zw.Close(), w.f.Close()} {
		if err != nil && w.err == nil {
			w.err = fmt.Errorf("write %s: %w", ChainFile, err)
		}
	}
	if w.err != nil {
		return w.err
	}
	hex := func(a common.Address) string { return "0x" + common.Bytes2Hex(a[:]) }
	return writeAccountScenario(&accountScenario{chain: "eth", entities: world.Entities, addresses: world.Addresses, victims: world.Victims,
		exposures: world.Exposures, labels: world.Labels, token: AccountLabel{Address: world.Token, Label: TokenName + " (" + TokenSymbol + ")", Category: "token"},
		addr: hex, tx: common.Hash.Hex, units: units,
		caseAsset: func(asset string) string {
			if asset != AssetETH {
				return hex(world.Token)
			}
			return asset
		},
		blockTime: func(b int64) time.Time { return time.Unix(w.times[b], 0) }}, w.dir)
}

// WriteETH writes the world's chain and truth under dir (see FORMAT.md).
func WriteETH(w *ETHWorld, dir string) error {
	ew, err := CreateETH(dir)
	if err != nil {
		return err
	}
	for _, b := range w.Blocks {
		ew.Block(b) // the first error comes back from Close
	}
	return ew.Close(w)
}

// units writes an amount in the asset's base units: wei for ETH (the
// simulator counts gwei), token units for the token.
func units(asset string, n int64) string {
	if asset == AssetETH && n != 0 {
		return strconv.FormatInt(n, 10) + "000000000"
	}
	return strconv.FormatInt(n, 10)
}

// LoadETH reads a whole chain written by WriteETH or an ETHWriter, its
// blocks in memory (OpenETHChain serves a long one without).
func LoadETH(dir string) (*ETHWorld, error) {
	var blocks []*ETHBlock
	w, err := readETH(dir, func(b *ETHBlock, _ []byte) error {
		blocks = append(blocks, b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	w.Blocks = blocks
	return w, nil
}
