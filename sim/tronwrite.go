package sim

import (
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/tron"
)

// TronAddress writes a simulated account as TRON users see it (T…).
func TronAddress(a common.Address) string {
	return tron.Encode(chains.MakeAddress(chains.KindAccount, a[:]))
}

// WriteTron writes the world's chain and truth under dir (see FORMAT.md).
func WriteTron(w *TronWorld, dir string) error {
	return writeAccountScenario(&accountScenario{chain: "tron", world: w, entities: w.Entities, addresses: w.Addresses, victims: w.Victims,
		exposures: w.Exposures, labels: w.Labels, token: AccountLabel{Address: w.USDT, Label: "Tether USD (USDT)", Category: "token"},
		addr: TronAddress, tx: func(h common.Hash) string { return common.Bytes2Hex(h[:]) },
		units: func(_ string, n int64) string { return strconv.FormatInt(n, 10) },
		caseAsset: func(asset string) string {
			if asset != AssetTRX {
				return TronAddress(w.USDT)
			}
			return asset
		},
		blockTime: func(b int64) time.Time { return time.UnixMilli(w.Blocks[b].Time) }}, dir)
}

// LoadTron reads a chain written by WriteTron.
func LoadTron(dir string) (*TronWorld, error) {
	var w TronWorld
	if err := loadWorld(dir, &w); err != nil {
		return nil, err
	}
	return &w, nil
}
