package eth

import (
	"context"
	"math/big"
	"strings"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/internal/ethreplay"
	"github.com/fundtrace/fundtrace/internal/shareddata"
)

// TestErigonBlock18M indexes mainnet block 18,000,000 from Erigon's
// recorded eth_getBlockByNumber and eth_getBlockReceipts answers (see
// testdata/shared/SOURCES.md). The expected figures were counted by hand
// from those answers: 94 transactions, 2 of them failed; 141 ERC-20 and 2
// ERC-721 Transfer logs; 40 transactions carrying ETH to an address and
// one contract creation; 16 withdrawals of 285,023,241 Gwei in all; the
// first transaction's fee is gasUsed × effectiveGasPrice.
func TestErigonBlock18M(t *testing.T) {
	dir := shareddata.Path(t, "ethereum", "erigon-rpc-tests", "mainnet")
	srv := ethreplay.New()
	defer srv.Close()
	if err := srv.LoadErigon(dir+"/eth_getBlockByNumber/test_08.json", dir+"/eth_getBlockReceipts/test_02.json"); err != nil {
		t.Fatal(err)
	}
	srv.AddResult("eth_chainId", nil, "0x1")
	srv.AddResult("eth_blockNumber", nil, "0x112a880")
	ctx := context.Background()
	st := openStore(t)
	res, err := Index(ctx, st, dialTest(t, srv.URL, ethereum.ClientOptions{Traces: ethereum.TraceNone}), IndexConfig{From: 18_000_000, Confirmations: 0})
	if err != nil {
		t.Fatal(err)
	}
	if srv.Calls["eth_getTransactionReceipt"] != 0 {
		t.Fatal("fell back to per-transaction receipts on a node that has eth_getBlockReceipts")
	}
	if res.Blocks != 1 || res.Txs != 94 || res.Network != "mainnet" {
		t.Fatalf("result %+v", res)
	}
	blk, txids, err := st.BlockByHeight(ctx, chains.Ethereum, 18_000_000)
	if err != nil || blk.Hash.String() != "95b198e154acbfc64109dfd22d8224fe927fd8dfdedfae01587674482ba4baf3" || len(txids) != 94 {
		t.Fatalf("block %+v, %d txids, %v", blk, len(txids), err)
	}
	kinds := map[chains.TransferKind]int{}
	failed := 0
	for _, id := range txids {
		tx, ts, err := st.AccountTx(ctx, chains.Ethereum, id)
		if err != nil {
			t.Fatal(err)
		}
		if !tx.Success {
			failed++
			if h := "0x" + id.String(); h != "0xec080b91deea33830c3e626201662243c66c1f3d10da01f32c4cb0ebf395012a" && h != "0x10a315bbd6c9500b24debc5882cc7d9193ed314b864e26a23a2d4d343dfdfc28" {
				t.Errorf("transaction %s taken as failed", h)
			}
		}
		for _, tr := range ts {
			kinds[tr.Kind]++
		}
		if id.String() == "16e199673891df518e25db2ef5320155da82a3dd71a677e7d84363251885d133" && tx.Fee.String() != "1373262778782040" {
			t.Errorf("fee of the first transaction %s, want 1373262778782040", tx.Fee)
		}
	}
	if failed != 2 || kinds[chains.TransferERC20] != 141 || kinds[chains.TransferERC721] != 2 || kinds[chains.TransferNative] != 40 || kinds[chains.TransferCreate] != 1 {
		t.Fatalf("failed %d, transfers by kind %v", failed, kinds)
	}
	ws, err := st.BlockTransfers(ctx, chains.Ethereum, 18_000_000)
	if err != nil {
		t.Fatal(err)
	}
	sum := new(big.Int)
	for _, w := range ws {
		if w.Kind != chains.TransferWithdrawal || !strings.HasPrefix(w.Position, "withdrawal:") {
			t.Fatalf("block transfer %+v", w)
		}
		sum.Add(sum, w.Amount)
	}
	if len(ws) != 16 || sum.String() != "285023241000000000" {
		t.Fatalf("%d withdrawals of %s wei, want 16 of 285023241000000000", len(ws), sum)
	}
}
