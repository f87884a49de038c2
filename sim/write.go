package sim

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/btcsuite/btcd/wire"

	"github.com/fundtrace/fundtrace/chains/bitcoin"
)

// The files a Bitcoin scenario is written as (see FORMAT.md):
//
//	blocks/                 Bitcoin Core block files (regtest), optionally xor-obfuscated
//	truth/entities.csv      every owner
//	truth/addresses.csv     the owner of every address the chain pays
//	truth/victim_payments.csv
//	truth/exposures.csv     what of each victim payment reached which exchange deposit
//	labels.csv              only what an investigator would know: exchange hot wallets, the mixer
const (
	BlocksDir = "blocks"
	TruthDir  = "truth"
)

// WriteOptions tunes WriteBTC.
type WriteOptions struct {
	XORKey [8]byte // non-zero: obfuscate the block files as Bitcoin Core 28+ does
	// NoExposures leaves truth/exposures.csv out (GenerateBTCFiles): on
	// a long chain of a small economy the victims' money reaches deposits
	// tens of millions of times, gigabytes that a benchmark of the
	// pipeline does not read.
	NoExposures bool
}

// WriteBTC writes the world's chain and truth under dir.
func WriteBTC(w *BTCWorld, dir string, o WriteOptions) error {
	bw, err := newBlockWriter(dir, o)
	if err != nil {
		return err
	}
	for _, b := range w.Blocks {
		bw.write(b)
	}
	if err := bw.close(); err != nil {
		return err
	}
	return writeTruth(w, dir, false)
}

// GenerateBTCFiles simulates a chain as GenerateBTC does and writes it
// and its truth under dir as WriteBTC does, each block written as it is
// made rather than held (then handed to cfg.OnBlock, when set): the world
// returned keeps only the newest block.
// Memory then grows with the economy's live state (its addresses and
// unspent coins), not with the chain.
func GenerateBTCFiles(cfg BTCConfig, dir string, o WriteOptions) (*BTCWorld, error) {
	bw, err := newBlockWriter(dir, o)
	if err != nil {
		return nil, err
	}
	if then := cfg.OnBlock; then != nil {
		cfg.OnBlock = func(b *wire.MsgBlock) { bw.write(b); then(b) }
	} else {
		cfg.OnBlock = bw.write
	}
	// The exposures go to their file as they are found: on a long chain
	// victims' money reaches deposits millions of times, most of the
	// memory a simulation held.
	if err := os.MkdirAll(filepath.Join(dir, TruthDir), 0o755); err != nil {
		return nil, errors.Join(err, bw.close())
	}
	put := func(Exposure) {}
	var xw *csvStream
	if !o.NoExposures {
		if xw, err = newCSVStream(filepath.Join(dir, TruthDir, "exposures.csv"), exposureHeader); err != nil {
			return nil, errors.Join(err, bw.close())
		}
		put = func(x Exposure) { xw.put(exposureRow(x)...) }
	}
	if then := cfg.OnExposure; then != nil {
		cfg.OnExposure = func(x Exposure) { put(x); then(x) }
	} else {
		cfg.OnExposure = put
	}
	w := GenerateBTC(cfg)
	err = bw.close()
	if xw != nil {
		err = errors.Join(err, xw.close())
	}
	if err != nil {
		return nil, err
	}
	return w, writeTruth(w, dir, true)
}

// blockWriter writes blocks as Bitcoin Core block files; its first error
// stops it and is what close returns.
type blockWriter struct {
	fw  *bitcoin.FileWriter
	buf bytes.Buffer
	err error
}

func newBlockWriter(dir string, o WriteOptions) (*blockWriter, error) {
	blocks := filepath.Join(dir, BlocksDir)
	if err := os.MkdirAll(blocks, 0o755); err != nil {
		return nil, err
	}
	return &blockWriter{fw: &bitcoin.FileWriter{Dir: blocks, Magic: wire.TestNet, XORKey: o.XORKey}}, nil
}

func (bw *blockWriter) write(b *wire.MsgBlock) {
	if bw.err != nil {
		return
	}
	bw.buf.Reset()
	if bw.err = b.Serialize(&bw.buf); bw.err == nil {
		if bw.err = bw.fw.Write(bw.buf.Bytes()); bw.err != nil {
			bw.err = fmt.Errorf("write block files: %w", bw.err)
		}
	}
}

func (bw *blockWriter) close() error {
	if err := bw.fw.Close(); bw.err == nil {
		bw.err = err
	}
	return bw.err
}

var exposureHeader = []string{"victim_payment_id", "exchange_entity_id", "account_entity_id", "deposit_address",
	"txid", "vout", "height", "deposit_value_sats", "haircut_sats", "fifo_sats"}

func exposureRow(x Exposure) []string {
	itoa, i64 := strconv.Itoa, func(n int64) string { return strconv.FormatInt(n, 10) }
	return []string{itoa(x.Victim), itoa(x.Exchange), itoa(x.Account), x.Address, x.TxID.String(), itoa(int(x.Vout)), itoa(x.Height),
		i64(x.Value), i64(x.Haircut), i64(x.FIFO)}
}

// writeTruth writes the truth files, the labels and the case under dir;
// the exposures too unless exposuresWritten.
func writeTruth(w *BTCWorld, dir string, exposuresWritten bool) error {
	truth := filepath.Join(dir, TruthDir)
	if err := os.MkdirAll(truth, 0o755); err != nil {
		return err
	}
	itoa := func(n int) string { return strconv.Itoa(n) }
	i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
	if err := writeEntities(truth, w.Entities); err != nil {
		return err
	}
	// Row by row: the truth of a long simulation's every address, held
	// as rows, was most of its peak memory.
	err := streamCSV(filepath.Join(truth, "addresses.csv"), []string{"address", "entity_id", "role", "account_entity_id"}, func(put func(...string)) {
		for info := range w.Addresses.sorted() {
			acct := ""
			if info.Account >= 0 {
				acct = itoa(info.Account)
			}
			put(info.Address, itoa(info.Owner), info.Role, acct)
		}
	})
	if err != nil {
		return err
	}
	var rows [][]string
	for _, v := range w.Victims {
		rows = append(rows, []string{itoa(v.ID), itoa(v.Victim), v.TxID.String(), itoa(int(v.Vout)), v.Address, i64(v.Value), itoa(v.Height)})
	}
	if err := writeCSV(filepath.Join(truth, "victim_payments.csv"), []string{"victim_payment_id", "victim_entity_id", "txid", "vout", "address", "value_sats", "height"}, rows); err != nil {
		return err
	}
	if !exposuresWritten {
		rows = rows[:0]
		for _, x := range w.Exposures {
			rows = append(rows, exposureRow(x))
		}
		if err := writeCSV(filepath.Join(truth, "exposures.csv"), exposureHeader, rows); err != nil {
			return err
		}
	}
	rows = rows[:0]
	for _, cj := range w.CoinJoins {
		rows = append(rows, []string{cj.TxID.String(), cj.Kind})
	}
	if err := writeCSV(filepath.Join(truth, "coinjoins.csv"), []string{"txid", "kind"}, rows); err != nil {
		return err
	}
	rows = rows[:0]
	for _, l := range w.Labels {
		rows = append(rows, []string{"btc", l.Address, l.Label, l.Category, "simulation"})
	}
	if err := writeCSV(filepath.Join(dir, "labels.csv"), []string{"chain", "address", "label", "category", "source"}, rows); err != nil {
		return err
	}
	// The case as victims report it: the payments they made.
	rows = rows[:0]
	for _, v := range w.Victims {
		rows = append(rows, []string{"btc", v.TxID.String(), v.Address, i64(v.Value), w.Times[v.Height].UTC().Format("2006-01-02T15:04:05Z"),
			fmt.Sprintf("victim %d payment %d", v.Victim, v.ID)})
	}
	return writeCSV(filepath.Join(dir, "case.csv"), []string{"chain", "tx", "address", "amount", "time", "victim"}, rows)
}

// writeEntities writes truth/entities.csv.
func writeEntities(truth string, es []Entity) error {
	rows := make([][]string, len(es))
	for i, e := range es {
		rows[i] = []string{strconv.Itoa(e.ID), e.Name, e.Kind}
	}
	return writeCSV(filepath.Join(truth, "entities.csv"), []string{"entity_id", "name", "kind"}, rows)
}

func writeCSV(path string, header []string, rows [][]string) error {
	return streamCSV(path, header, func(put func(...string)) {
		for _, r := range rows {
			put(r...)
		}
	})
}

// streamCSV writes the rows each hands to put, one at a time, under
// header; the first error stops the writing and is returned.
func streamCSV(path string, header []string, each func(put func(...string))) error {
	cs, err := newCSVStream(path, header)
	if err != nil {
		return err
	}
	each(cs.put)
	return cs.close()
}

// csvStream writes a CSV file row by row; its first error stops it and is
// what close returns.
type csvStream struct {
	path string
	f    *os.File
	bw   *bufio.Writer
	cw   *csv.Writer
	err  error
}

func newCSVStream(path string, header []string) (*csvStream, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	cs := &csvStream{path: path, f: f, bw: bufio.NewWriterSize(f, 1<<20)}
	cs.cw = csv.NewWriter(cs.bw)
	cs.put(header...)
	return cs, nil
}

func (cs *csvStream) put(r ...string) {
	if cs.err == nil {
		cs.err = cs.cw.Write(r)
	}
}

func (cs *csvStream) close() error {
	cs.cw.Flush()
	err := cs.err
	if err == nil {
		err = cs.cw.Error()
	}
	if err == nil {
		err = cs.bw.Flush()
	}
	if err != nil {
		cs.f.Close()
		return fmt.Errorf("write %s: %w", cs.path, err)
	}
	return cs.f.Close()
}
