package sim

import (
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// ChainFile is where an Ethereum scenario's chain is written, for
// "fundtrace simulate serve-eth" to serve.
const ChainFile = "chain.json.gz"

// WriteETH writes the world's chain and truth under dir (see FORMAT.md).
func WriteETH(w *ETHWorld, dir string) error {
	hex := func(a common.Address) string { return "0x" + common.Bytes2Hex(a[:]) }
	return writeAccountScenario(&accountScenario{chain: "eth", world: w, entities: w.Entities, addresses: w.Addresses, victims: w.Victims,
		exposures: w.Exposures, labels: w.Labels, token: AccountLabel{Address: w.Token, Label: TokenName + " (" + TokenSymbol + ")", Category: "token"},
		addr: hex, tx: common.Hash.Hex, units: units,
		caseAsset: func(asset string) string {
			if asset != AssetETH {
				return hex(w.Token)
			}
			return asset
		},
		blockTime: func(b int64) time.Time { return time.Unix(w.Blocks[b].Time, 0) }}, dir)
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
	var w ETHWorld
	if err := loadWorld(dir, &w); err != nil {
		return nil, err
	}
	return &w, nil
}
