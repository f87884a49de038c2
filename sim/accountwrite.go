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

// accountScenario is what an account-chain scenario writes beside its
// chain, and how its chain writes addresses, hashes and amounts.
type accountScenario struct {
	chain     string // as the CSV files name it: eth, tron
	world     any    // written whole to ChainFile; nil: the caller wrote the chain
	entities  []Entity
	addresses map[common.Address]*AccountInfo
	victims   []AccountVictimPayment
	exposures []AccountExposure
	labels    []AccountLabel
	token     AccountLabel // the token contract, labeled last
	addr      func(common.Address) string
	tx        func(common.Hash) string
	units     func(asset string, n int64) string // the simulator's amounts in base units
	caseAsset func(asset string) string          // a victim payment's asset as the case names it
	blockTime func(block int64) time.Time
}

// writeAccountScenario writes an account-chain scenario under dir (see
// FORMAT.md): the chain, the truth, labels.csv and case.csv.
func writeAccountScenario(s *accountScenario, dir string) error {
	truth := filepath.Join(dir, TruthDir)
	if err := os.MkdirAll(truth, 0o755); err != nil {
		return err
	}
	if s.world != nil {
		if err := writeWorld(filepath.Join(dir, ChainFile), s.world); err != nil {
			return err
		}
	}
	itoa := strconv.Itoa
	i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
	if err := writeEntities(truth, s.entities); err != nil {
		return err
	}
	addrs := make([]common.Address, 0, len(s.addresses))
	for a := range s.addresses {
		addrs = append(addrs, a)
	}
	sortAddresses(addrs)
	err := streamCSV(filepath.Join(truth, "addresses.csv"), []string{"address", "entity_id", "role", "account_entity_id"}, func(put func(...string)) {
		for _, a := range addrs {
			info := s.addresses[a]
			acct := ""
			if info.Account >= 0 {
				acct = itoa(info.Account)
			}
			put(s.addr(a), itoa(info.Owner), info.Role, acct)
		}
	})
	if err != nil {
		return err
	}
	var rows [][]string
	for _, v := range s.victims {
		rows = append(rows, []string{itoa(v.ID), itoa(v.Victim), s.tx(v.TxHash), v.Asset, s.addr(v.From), s.addr(v.To), s.units(v.Asset, v.Amount), i64(v.Block)})
	}
	if err := writeCSV(filepath.Join(truth, "victim_payments.csv"), []string{"victim_payment_id", "victim_entity_id", "tx_hash", "asset", "from", "to", "amount", "block"}, rows); err != nil {
		return err
	}
	rows = rows[:0]
	xs := append([]AccountExposure(nil), s.exposures...)
	sort.SliceStable(xs, func(i, j int) bool { return xs[i].Block < xs[j].Block })
	for _, x := range xs {
		rows = append(rows, []string{itoa(x.Victim), itoa(x.Exchange), itoa(x.Account), s.addr(x.Address), s.tx(x.TxHash), x.Asset, i64(x.Block),
			s.units(x.Asset, x.Haircut), s.units(x.Asset, x.FIFO)})
	}
	if err := writeCSV(filepath.Join(truth, "exposures.csv"), []string{"victim_payment_id", "exchange_entity_id", "account_entity_id", "deposit_address",
		"tx_hash", "asset", "block", "haircut", "fifo"}, rows); err != nil {
		return err
	}
	rows = rows[:0]
	for _, l := range append(append([]AccountLabel(nil), s.labels...), s.token) {
		rows = append(rows, []string{s.chain, s.addr(l.Address), l.Label, l.Category, "simulation"})
	}
	if err := writeCSV(filepath.Join(dir, "labels.csv"), []string{"chain", "address", "label", "category", "source"}, rows); err != nil {
		return err
	}
	// The case an investigator would open: the victims' payments as they
	// report them (what they paid, to whom, when), the token by contract.
	rows = rows[:0]
	for _, v := range s.victims {
		t := s.blockTime(v.Block).UTC().Format("2006-01-02T15:04:05Z")
		rows = append(rows, []string{s.chain, s.tx(v.TxHash), s.addr(v.To), s.units(v.Asset, v.Amount), t, fmt.Sprintf("victim %d payment %d", v.Victim, v.ID), s.caseAsset(v.Asset)})
	}
	return writeCSV(filepath.Join(dir, "case.csv"), []string{"chain", "tx", "address", "amount", "time", "victim", "asset"}, rows)
}

// writeWorld writes w to path as one gzipped JSON document.
func writeWorld(path string, w any) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(f)
	if err := json.NewEncoder(zw).Encode(w); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// loadWorld reads a chain written by writeAccountScenario into w.
func loadWorld(dir string, w any) error {
	f, err := os.Open(filepath.Join(dir, ChainFile))
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", ChainFile, err)
	}
	if err := json.NewDecoder(zr).Decode(w); err != nil {
		return fmt.Errorf("%s: %w", ChainFile, err)
	}
	return nil
}
