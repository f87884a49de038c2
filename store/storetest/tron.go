package storetest

import (
	"context"
	"encoding/hex"
	"path/filepath"
	"runtime"
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
func IndexTron(t testing.TB, st AccountStore, batch int) *sim.TronWorld {
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
	all, err := st.TransfersOf(ctx, chains.Tron, addrs, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range addrs {
		one, err := st.Transfers(ctx, chains.Tron, a, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := TransfersText(all[i]), TransfersText(one); got != want || len(one) == 0 {
			t.Fatalf("%s: TransfersOf:\n%s\nTransfers:\n%s", tron.Encode(a), got, want)
		}
	}
}
