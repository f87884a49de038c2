package storetest

import (
	"context"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/tron"
	"github.com/fundtrace/fundtrace/ingest/trx"
	"github.com/fundtrace/fundtrace/internal/simtest"
	"github.com/fundtrace/fundtrace/sim"
)

// TronScenario is the TRON scenario shipped in the repository's testdata.
func TronScenario() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "sim", "tron")
}

// IndexTron serves the shipped TRON scenario over the java-tron HTTP API
// and indexes it into st in batches of batch blocks; it returns the
// scenario's world, what the indexed data is checked against.
func IndexTron(t testing.TB, st trx.Sink, batch int) *sim.TronWorld {
	t.Helper()
	url, w := simtest.ServeTron(t, TronScenario())
	cl, err := tron.Dial(url, tron.ClientOptions{Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := trx.Index(context.Background(), st, cl, trx.IndexConfig{BatchBlocks: batch}); err != nil {
		t.Fatal(err)
	}
	return w
}

// runTron indexes the shipped TRON scenario and checks the store's
// answers against the simulator's own record of the chain: every block
// and transaction (its sender, fee, outcome) and, for every address a
// sample of blocks touches, the batched history equal to the one-address
// one.
func runTron(t *testing.T, st AccountStore) {
	w := IndexTron(t, st, 64)
	ctx := context.Background()
	m, err := st.Meta(ctx, chains.Tron)
	if err != nil {
		t.Fatal(err)
	}
	var txs int64
	for _, b := range w.Blocks[1:] {
		txs += int64(len(b.Txs))
	}
	last := w.Blocks[len(w.Blocks)-1]
	if m.Blocks != int64(len(w.Blocks)-1) || m.Txs != txs || m.TipHeight != last.Number || m.TipHash != chains.Hash(last.ID) {
		t.Fatalf("meta %+v; the scenario has %d blocks, %d transactions", m, len(w.Blocks)-1, txs)
	}
	seen := map[chains.Address]bool{}
	var addrs []chains.Address
	for n := int64(1); n < int64(len(w.Blocks)); n += 37 {
		b := w.Blocks[n]
		blk, ids, err := st.BlockByHeight(ctx, chains.Tron, n)
		if err != nil || blk.Hash != chains.Hash(b.ID) || blk.PrevHash != chains.Hash(b.Parent) || blk.Time != b.Time/1000 || len(ids) != len(b.Txs) {
			t.Fatalf("block %d: %+v, %d transactions, %v", n, blk, len(ids), err)
		}
		for i, want := range b.Txs {
			tx, ts, err := st.AccountTx(ctx, chains.Tron, ids[i])
			if err != nil {
				t.Fatal(err)
			}
			owner := chains.MakeAddress(chains.KindAccount, want.Owner[:])
			if ids[i] != chains.Hash(want.ID) || tx.From != owner || tx.Fee.Int64() != want.Fee || tx.Success != want.Success || int32(tx.Type) != want.Type {
				t.Fatalf("block %d transaction %d (%s): stored %+v", n, i, hex.EncodeToString(want.ID[:]), tx)
			}
			for _, tr := range ts {
				for _, a := range []chains.Address{tr.From, tr.To} {
					if a != "" && !seen[a] {
						seen[a] = true
						addrs = append(addrs, a)
					}
				}
			}
		}
	}
	if len(addrs) < 50 {
		t.Fatalf("only %d addresses", len(addrs))
	}
	// The chain's transfers streamed in one pass are what reading block
	// by block gives: all of them (as many as the blocks' transactions
	// and the store's count say), and a window's.
	first := m.TipHeight - m.Blocks + 1
	all := EachTransferText(t, st, chains.Tron, first, m.TipHeight)
	if want := BlockTransfersText(t, st, chains.Tron, first, m.TipHeight); all != want {
		t.Fatalf("EachTransfer streams %d lines, block by block %d", strings.Count(all, "\n"), strings.Count(want, "\n"))
	}
	if head := fmt.Sprintf("%d transactions\n", txs); !strings.HasPrefix(all, head) || int64(strings.Count(all, "\n")-1) != m.Transfers {
		t.Fatalf("EachTransfer: %.40q, %d transfers; want %q and the store's %d", all, strings.Count(all, "\n")-1, head, m.Transfers)
	}
	if a, b := EachTransferText(t, st, chains.Tron, 100, 140), BlockTransfersText(t, st, chains.Tron, 100, 140); a != b || strings.Count(a, "\n") < 10 {
		t.Fatalf("blocks 100..140: EachTransfer\n%s\nblock by block\n%s", a, b)
	}
	if beyond := EachTransferText(t, st, chains.Tron, m.TipHeight+1, m.TipHeight+10); beyond != "0 transactions\n" {
		t.Fatalf("past the tip: %q", beyond)
	}
	hist, _, err := st.TransfersOf(ctx, chains.Tron, addrs, 0, -1, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range addrs {
		one, err := st.Transfers(ctx, chains.Tron, a, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := TransfersText(hist[i]), TransfersText(one); got != want || len(one) == 0 {
			t.Fatalf("%s: TransfersOf:\n%s\nTransfers:\n%s", tron.Encode(a), got, want)
		}
	}
}
