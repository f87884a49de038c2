package bitcoin

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/wire"

	"github.com/fundtrace/fundtrace/internal/realblocks"
	"github.com/fundtrace/fundtrace/internal/shareddata"
)

const genesisHash = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"

// TestScanRealBlockFile scans Bitcoin Core's own blk00000.dat and checks
// the chain it finds against the chain: the genesis hash, and the headers
// of blocks 1..11 exactly as btcd's test data lists them.
func TestScanRealBlockFile(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, shareddata.Path(t, "bitcoin", "blk-files", "nbitcoin", "blk00000.dat"), filepath.Join(dir, "blk00000.dat"))
	d, err := ScanDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d.Network.Name != "mainnet" {
		t.Errorf("network %s", d.Network.Name)
	}
	p, err := d.BestChain()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Chain) != 300 || len(p.Stale) != 0 || len(p.Unconnected) != 0 {
		t.Fatalf("chain %d stale %d unconnected %d, want 300 0 0", len(p.Chain), len(p.Stale), len(p.Unconnected))
	}
	if p.Chain[0].Hash.String() != genesisHash {
		t.Errorf("block 0 is %s, want the genesis block", p.Chain[0].Hash)
	}
	f, err := os.Open(shareddata.Path(t, "bitcoin", "headers", "btcd", "blockheaders-mainnet-1-11.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for h := 1; sc.Scan(); h++ {
		want := strings.TrimSpace(sc.Text())
		if want == "" {
			continue
		}
		var buf bytes.Buffer
		if err := p.Chain[h].Header.Serialize(&buf); err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(buf.Bytes()); got != want {
			t.Errorf("header %d: got %s, want %s", h, got, want)
		}
	}
}

// TestScanIncompleteFile: NBitcoin's fixture of a damaged block file
// must fail at the offset SOURCES.md names, 70,449.
func TestScanIncompleteFile(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, shareddata.Path(t, "bitcoin", "blk-files", "nbitcoin", "incompleteblk.dat"), filepath.Join(dir, "blk00000.dat"))
	_, err := ScanDir(dir)
	var re *RecordError
	if !errors.As(err, &re) || !errors.Is(err, ErrBadRecord) {
		t.Fatalf("got %v, want a RecordError", err)
	}
	if re.Offset != 70449 || !strings.HasSuffix(re.File, "blk00000.dat") {
		t.Errorf("error at %s offset %d, want blk00000.dat offset 70449: %v", re.File, re.Offset, err)
	}
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestScanBadInput builds block files from the real records with one
// defect each and checks the error names the file and the offset of the
// defect, or that Core's benign layouts are accepted.
func TestScanBadInput(t *testing.T) {
	recs := realblocks.Records(t)
	join := func(rs ...[]byte) []byte { return bytes.Join(rs, nil) }
	first3 := join(recs[0], recs[1], recs[2])
	off3 := int64(len(first3))
	testnetRec := append([]byte(nil), recs[3]...)
	binary.LittleEndian.PutUint32(testnetRec, uint32(wire.TestNet3))
	hugeRec := append([]byte(nil), recs[3]...)
	binary.LittleEndian.PutUint32(hugeRec[4:], 5_000_000)
	tests := []struct {
		name    string
		file    []byte
		xor     []byte
		records int
		offset  int64 // -1: no error expected
		msg     string
	}{
		{"clean", join(recs[:5]...), nil, 5, -1, ""},
		{"zero padded tail", join(first3, make([]byte, 5000)), nil, 3, -1, ""},
		{"truncated record", join(first3, recs[3][:100]), nil, 3, off3, "truncated record"},
		{"truncated frame", join(first3, recs[3][:5]), nil, 3, off3, "truncated record frame"},
		{"garbage between records", join(first3, []byte("garbage!"), recs[3]), nil, 3, off3, "no network magic"},
		{"zero padding then data", join(first3, make([]byte, 64), recs[3]), nil, 3, off3, "data after zero padding"},
		{"another network's record", join(first3, testnetRec), nil, 3, off3, "testnet3"},
		{"implausible length", join(first3, hugeRec), nil, 3, off3, "not a plausible block size"},
		{"xor obfuscated", join(recs[:5]...), []byte{1, 2, 3, 4, 5, 6, 7, 8}, 5, -1, ""},
		{"xor with raw zero padding", join(recs[:5]...), []byte{0xff, 2, 3, 4, 5, 6, 7, 8}, 5, -1, ""},
		{"wrong xor key file", join(recs[:5]...), []byte{1, 2, 3}, 0, 0, "xor key is 3 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := append([]byte(nil), tc.file...)
			if len(tc.xor) == xorKeySize {
				for i := range file {
					file[i] ^= tc.xor[i%xorKeySize]
				}
				if tc.name == "xor with raw zero padding" {
					file = append(file, make([]byte, 4096)...) // Core's preallocation is not obfuscated
				}
			}
			if tc.xor != nil {
				if err := os.WriteFile(filepath.Join(dir, "xor.dat"), tc.xor, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(dir, "blk00000.dat")
			if err := os.WriteFile(path, file, 0o644); err != nil {
				t.Fatal(err)
			}
			d, err := ScanDir(dir)
			if tc.offset < 0 {
				if err != nil {
					t.Fatal(err)
				}
				if len(d.records) != tc.records {
					t.Fatalf("%d records, want %d", len(d.records), tc.records)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got error %v, want one containing %q", err, tc.msg)
			}
			var re *RecordError
			if errors.As(err, &re) {
				if re.Offset != tc.offset || re.File != path {
					t.Errorf("error at %s:%d, want %s:%d", re.File, re.Offset, path, tc.offset)
				}
			} else if tc.name != "wrong xor key file" {
				t.Errorf("error %v is not a RecordError", err)
			}
		})
	}
}

// FuzzScan feeds arbitrary bytes as a block file. The scanner must not
// panic, and must return either records that lie inside the file and
// carry the magic, or an error naming an offset inside the file. The seed
// corpus (testdata/fuzz/FuzzScan) holds real records and defects.
func FuzzScan(f *testing.F) {
	recs := realblocks.Records(f)
	f.Add(bytes.Join(recs[:3], nil))
	f.Add(append(bytes.Join(recs[:2], nil), make([]byte, 100)...))
	f.Add(recs[0][:50])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		bf := newBlkReader("fuzz", bytes.NewReader(data), int64(len(data)), [xorKeySize]byte{})
		var magic wire.BitcoinNet
		got, err := bf.scan(0, &magic, nil)
		if err != nil {
			var re *RecordError
			if errors.As(err, &re) && (re.Offset < 0 || re.Offset >= int64(len(data))) {
				t.Fatalf("error offset %d outside a %d-byte file", re.Offset, len(data))
			}
			return
		}
		for _, r := range got {
			if r.offset < frameSize || r.offset+int64(r.size) > int64(len(data)) {
				t.Fatalf("record %d+%d outside a %d-byte file", r.offset, r.size, len(data))
			}
			if binary.LittleEndian.Uint32(data[r.offset-frameSize:]) != uint32(magic) {
				t.Fatalf("record at %d has no magic", r.offset)
			}
		}
	})
}
