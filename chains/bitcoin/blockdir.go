package bitcoin

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/fundtrace/fundtrace/chains"
)

var blkName = regexp.MustCompile(`^blk(\d{5,})\.dat$`)

// Dir is a scanned Bitcoin Core blocks folder: its blk*.dat files in
// number order, the xor key, the network, and where every block is.
type Dir struct {
	Path    string
	Files   []string
	XORKey  [xorKeySize]byte
	Network *Network
	// Incomplete, when set, is the record at the end of the newest file
	// that was cut short and left out under ScanOptions.Live.
	Incomplete *RecordError

	records []record
}

// ScanOptions tunes ScanDir.
type ScanOptions struct {
	// Live says Bitcoin Core may be writing to the folder: a record cut
	// short at the very end of the newest blk file (one Core is still
	// appending) is left out and reported in Dir.Incomplete instead of
	// failing the scan. Damage anywhere else is still an error.
	Live bool
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// ScanDir reads the frame and header of every record in the blk*.dat
// files of dir (Bitcoin Core's blocks/ folder), de-obfuscating with
// xor.dat when present. It reads no block bodies.
func ScanDir(dir string, opts ...ScanOptions) (*Dir, error) {
	var o ScanOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read blocks folder: %w", err)
	}
	type numbered struct {
		n    uint64
		name string
	}
	var files []numbered
	for _, e := range ents {
		m := blkName.FindStringSubmatch(e.Name())
		if m == nil || !e.Type().IsRegular() {
			continue
		}
		n, err := strconv.ParseUint(m[1], 10, 64)
		if err != nil {
			continue
		}
		files = append(files, numbered{n, e.Name()})
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no blk*.dat files (point --blocks at Bitcoin Core's blocks folder)", dir)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].n < files[j].n })
	d := &Dir{Path: dir}
	for _, f := range files {
		d.Files = append(d.Files, filepath.Join(dir, f.name))
	}
	if d.XORKey, err = readXORKey(filepath.Join(dir, "xor.dat")); err != nil {
		return nil, err
	}
	var magic wire.BitcoinNet
	for i, path := range d.Files {
		f, err := openBlkFile(path, d.XORKey)
		if err != nil {
			return nil, fmt.Errorf("open block file: %w", err)
		}
		d.records, err = f.scan(i, &magic, d.records)
		f.Close()
		var re *RecordError
		if err != nil && o.Live && i == len(d.Files)-1 && errors.As(err, &re) && re.tail {
			d.Incomplete = re
			err = nil
		}
		if err != nil {
			return nil, err
		}
	}
	if len(d.records) == 0 {
		return nil, fmt.Errorf("%s: the blk*.dat files hold no blocks", dir)
	}
	d.Network = NetworkByMagic(magic)
	return d, nil
}

// readXORKey reads Core 28+'s obfuscation key; a missing file means none.
func readXORKey(path string) ([xorKeySize]byte, error) {
	var key [xorKeySize]byte
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return key, nil
	}
	if err != nil {
		return key, fmt.Errorf("read xor key: %w", err)
	}
	if len(b) != xorKeySize {
		return key, fmt.Errorf("%s: xor key is %d bytes, Bitcoin Core writes %d", path, len(b), xorKeySize)
	}
	copy(key[:], b)
	return key, nil
}

// BlockRef is one block of the folder: its place and header.
type BlockRef struct {
	Hash   chains.Hash // display order
	Height int64       // -1 when not connected to a genesis block
	File   string
	Offset int64 // of the block bytes, after the 8-byte frame
	Size   uint32
	Header wire.BlockHeader

	rec  *record
	work *big.Int // cumulative chain work up to and including this block
}

// Plan is the best chain found in a folder, in height order, and what was
// left out of it.
type Plan struct {
	Network *Network
	Chain   []*BlockRef // heights 0..len-1
	// Stale are blocks connected to genesis but not on the best chain.
	Stale []*BlockRef
	// Unconnected are blocks whose ancestry does not reach a genesis block
	// in the folder (their parents are missing).
	Unconnected []*BlockRef
	// Duplicates counts records of a block already seen (Core may store a
	// block twice after an unclean shutdown).
	Duplicates int
}

// BestChain picks the chain with the most cumulative proof of work, as
// Bitcoin Core does, among the blocks connected to a genesis block (one
// whose parent hash is zero). Ties go to the block stored first, as Core
// keeps the first it received.
//
// Every header's proof of work is checked first: its hash must meet the
// target its own bits encode, within the network's limit. Core wrote
// only blocks it had validated, so a header that fails is damage (or a
// forgery) in the file; it is an error naming the file, the offset and
// the hash, before anything is indexed, rather than a block left out of
// the chain (which would silently end the index there).
func (d *Dir) BestChain() (*Plan, error) {
	var powLimit *big.Int
	if d.Network != nil {
		powLimit = d.Network.Params.PowLimit
	}
	for i := range d.records {
		r := &d.records[i]
		if err := CheckProofOfWork(&r.header, powLimit); err != nil {
			return nil, &RecordError{File: d.Files[r.file], Offset: r.offset - frameSize, Msg: err.Error()}
		}
	}
	refs := make(map[chainhash.Hash]*BlockRef, len(d.records))
	order := make([]*BlockRef, 0, len(d.records))
	p := &Plan{Network: d.Network}
	for i := range d.records {
		r := &d.records[i]
		h := r.header.BlockHash()
		if _, dup := refs[h]; dup {
			p.Duplicates++
			continue
		}
		ref := &BlockRef{Hash: displayHash(h), Height: -1, File: d.Files[r.file], Offset: r.offset, Size: r.size, Header: r.header, rec: r}
		refs[h] = ref
		order = append(order, ref)
	}
	// Heights and work, iteratively: resolve each block's ancestry down to
	// a block whose height is known (or whose parent is missing).
	var zero chainhash.Hash
	var stack []*BlockRef
	for _, ref := range order {
		cur := ref
		for {
			if cur.work == nil {
				prev := cur.Header.PrevBlock
				parent, ok := refs[prev]
				switch {
				case prev == zero:
					cur.Height, cur.work = 0, blockchain.CalcWork(cur.Header.Bits)
				case !ok, parent.work != nil && parent.Height < 0:
					cur.work = new(big.Int) // unconnected: its work does not count
				case parent.work == nil:
					stack = append(stack, cur)
					cur = parent
					continue
				default:
					cur.Height = parent.Height + 1
					cur.work = new(big.Int).Add(parent.work, blockchain.CalcWork(cur.Header.Bits))
				}
			}
			n := len(stack)
			if n == 0 {
				break
			}
			cur, stack = stack[n-1], stack[:n-1]
		}
	}
	var best *BlockRef
	for _, ref := range order {
		if ref.Height < 0 {
			p.Unconnected = append(p.Unconnected, ref)
			continue
		}
		if best == nil || ref.work.Cmp(best.work) > 0 {
			best = ref
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%s: no block connects to a genesis block; fundtrace needs a complete (unpruned) blocks folder", d.Path)
	}
	p.Chain = make([]*BlockRef, best.Height+1)
	for cur := best; ; {
		p.Chain[cur.Height] = cur
		if cur.Height == 0 {
			break
		}
		cur = refs[cur.Header.PrevBlock]
	}
	for _, ref := range order {
		if ref.Height >= 0 && p.Chain[ref.Height] != ref {
			p.Stale = append(p.Stale, ref)
		}
	}
	return p, nil
}

// CheckProofOfWork reports whether h's hash meets the target its bits
// encode, and that target is within powLimit (nil: not checked), as
// btcd's and Core's header checks do.
func CheckProofOfWork(h *wire.BlockHeader, powLimit *big.Int) error {
	hash := h.BlockHash()
	target := blockchain.CompactToBig(h.Bits)
	if target.Sign() <= 0 {
		return fmt.Errorf("block %s: bits %08x encode no valid target", displayHash(hash), h.Bits)
	}
	if powLimit != nil && target.Cmp(powLimit) > 0 {
		return fmt.Errorf("block %s: bits %08x encode a target above the network's limit", displayHash(hash), h.Bits)
	}
	if blockchain.HashToBig(&hash).Cmp(target) > 0 {
		return fmt.Errorf("block %s: header hash does not meet its own target (bits %08x): the block is damaged or forged", displayHash(hash), h.Bits)
	}
	return nil
}

// BlockReader reads a folder's blocks by reference, one after another,
// keeping the file it read last open: an indexer reads in height order,
// which is mostly file order.
type BlockReader struct {
	key [xorKeySize]byte
	f   *blkFile
}

// NewBlockReader reads the blocks of d.
func (d *Dir) NewBlockReader() *BlockReader { return &BlockReader{key: d.XORKey} }

// Read returns the raw bytes of ref's block, in buf when it is large
// enough.
func (r *BlockReader) Read(ref *BlockRef, buf []byte) ([]byte, error) {
	if r.f == nil || r.f.path != ref.File {
		r.Close()
		f, err := openBlkFile(ref.File, r.key)
		if err != nil {
			return nil, fmt.Errorf("open block file: %w", err)
		}
		r.f = f
	}
	return r.f.readBlock(ref, buf)
}

// Close closes the file the reader has open, if any.
func (r *BlockReader) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// RecordOffset is where ref's record (its 8-byte frame, then the block)
// starts in its file: the offset errors name.
func (ref *BlockRef) RecordOffset() int64 { return ref.Offset - frameSize }

// ReadBlock returns the raw bytes of ref's block, reusing buf.
func (d *Dir) ReadBlock(ref *BlockRef, buf []byte) ([]byte, error) {
	f, err := openBlkFile(ref.File, d.XORKey)
	if err != nil {
		return nil, fmt.Errorf("open block file: %w", err)
	}
	defer f.Close()
	return f.readBlock(ref, buf)
}

func (b *blkFile) readBlock(ref *BlockRef, buf []byte) ([]byte, error) {
	if cap(buf) < int(ref.Size) {
		buf = make([]byte, ref.Size)
	}
	buf = buf[:ref.Size]
	if err := b.readAt(buf, ref.Offset); err != nil {
		return nil, err
	}
	return buf, nil
}

// displayHash converts a hash from wire order to display order. It runs
// for every txid and every input of every block, so it reverses eight
// bytes at a time.
func displayHash(h chainhash.Hash) chains.Hash {
	return chains.Hash(reverse32(h))
}

// wireHash converts a hash from display order to wire order.
func wireHash(h chains.Hash) chainhash.Hash {
	return chainhash.Hash(reverse32(h))
}

func reverse32(h [32]byte) (out [32]byte) {
	le, be := binary.LittleEndian, binary.BigEndian
	be.PutUint64(out[0:], le.Uint64(h[24:]))
	be.PutUint64(out[8:], le.Uint64(h[16:]))
	be.PutUint64(out[16:], le.Uint64(h[8:]))
	be.PutUint64(out[24:], le.Uint64(h[0:]))
	return out
}
