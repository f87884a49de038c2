package sim

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// ChainFile is where an Ethereum scenario's chain is written, for
// "fundtrace simulate serve-eth" to serve.
const ChainFile = "chain.json.gz"

// WriteETH writes the world's chain and truth under dir (see FORMAT.md).
func WriteETH(w *ETHWorld, dir string) error {
	truth := filepath.Join(dir, TruthDir)
	if err := os.MkdirAll(truth, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, ChainFile))
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(f)
	if err := json.NewEncoder(zw).Encode(w); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", ChainFile, err)
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	itoa := strconv.Itoa
	i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
	hex := func(a common.Address) string { return "0x" + common.Bytes2Hex(a[:]) }
	if err := writeEntities(truth, w.Entities); err != nil {
		return err
	}
	var rows [][]string
	addrs := make([]common.Address, 0, len(w.Addresses))
	for a := range w.Addresses {
		addrs = append(addrs, a)
	}
	sortAddresses(addrs)
	for _, a := range addrs {
		info := w.Addresses[a]
		acct := ""
		if info.Account >= 0 {
			acct = itoa(info.Account)
		}
		rows = append(rows, []string{hex(a), itoa(info.Owner), info.Role, acct})
	}
	if err := writeCSV(filepath.Join(truth, "addresses.csv"), []string{"address", "entity_id", "role", "account_entity_id"}, rows); err != nil {
		return err
	}
	rows = rows[:0]
	for _, v := range w.Victims {
		rows = append(rows, []string{itoa(v.ID), itoa(v.Victim), v.TxHash.Hex(), v.Asset, hex(v.From), hex(v.To), units(v.Asset, v.Amount), i64(v.Block)})
	}
	if err := writeCSV(filepath.Join(truth, "victim_payments.csv"), []string{"victim_payment_id", "victim_entity_id", "tx_hash", "asset", "from", "to", "amount", "block"}, rows); err != nil {
		return err
	}
	rows = rows[:0]
	xs := append([]AccountExposure(nil), w.Exposures...)
	sort.SliceStable(xs, func(i, j int) bool { return xs[i].Block < xs[j].Block })
	for _, x := range xs {
		rows = append(rows, []string{itoa(x.Victim), itoa(x.Exchange), itoa(x.Account), hex(x.Address), x.TxHash.Hex(), x.Asset, i64(x.Block),
			units(x.Asset, x.Haircut), units(x.Asset, x.FIFO)})
	}
	if err := writeCSV(filepath.Join(truth, "exposures.csv"), []string{"victim_payment_id", "exchange_entity_id", "account_entity_id", "deposit_address",
		"tx_hash", "asset", "block", "haircut", "fifo"}, rows); err != nil {
		return err
	}
	rows = rows[:0]
	for _, l := range w.Labels {
		rows = append(rows, []string{"eth", hex(l.Address), l.Label, l.Category, "simulation"})
	}
	rows = append(rows, []string{"eth", hex(w.Token), TokenName + " (" + TokenSymbol + ")", "token", "simulation"})
	if err := writeCSV(filepath.Join(dir, "labels.csv"), []string{"chain", "address", "label", "category", "source"}, rows); err != nil {
		return err
	}
	// The case an investigator would open: the victims' payments as they
	// report them (what they paid, to whom, when), the token by contract.
	rows = rows[:0]
	for _, v := range w.Victims {
		asset := v.Asset
		if asset != AssetETH {
			asset = hex(w.Token)
		}
		t := time.Unix(w.Blocks[v.Block].Time, 0).UTC().Format("2006-01-02T15:04:05Z")
		rows = append(rows, []string{"eth", v.TxHash.Hex(), hex(v.To), units(v.Asset, v.Amount), t, fmt.Sprintf("victim %d payment %d", v.Victim, v.ID), asset})
	}
	return writeCSV(filepath.Join(dir, "case.csv"), []string{"chain", "tx", "address", "amount", "time", "victim", "asset"}, rows)
}

// units writes an amount in the asset's base units: wei for ETH (the
// simulator counts gwei), token units for the token.
func units(asset string, n int64) string {
	if asset == AssetETH && n != 0 {
		return strconv.FormatInt(n, 10) + "000000000"
	}
	return strconv.FormatInt(n, 10)
}

// LoadETH reads a chain written by WriteETH.
func LoadETH(dir string) (*ETHWorld, error) {
	f, err := os.Open(filepath.Join(dir, ChainFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ChainFile, err)
	}
	var w ETHWorld
	if err := json.NewDecoder(zr).Decode(&w); err != nil {
		return nil, fmt.Errorf("%s: %w", ChainFile, err)
	}
	return &w, nil
}
