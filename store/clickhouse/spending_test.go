package clickhouse_test

import (
	"context"
	"errors"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/ingest/btc"
	"github.com/fundtrace/fundtrace/internal/testchain"
	"github.com/fundtrace/fundtrace/store"
)

// TestSpendingTxsByPlace: a spenders entry says where its spending
// transaction is, as the generated chain's blocks have it (height, and
// index in the block), and SpendingTxs reads the transaction from that
// place alone. Once txid_places is emptied, a spend that gives its place
// is still read, and one that does not (an entry of schemas 2 to 12) is
// not found. A place holding another transaction is not trusted: the
// spend's own transaction is found by its txid, or not at all.
func TestSpendingTxsByPlace(t *testing.T) {
	ctx := context.Background()
	const blocks, perBlock = 30, 20
	gen := testchain.Generate(testchain.Config{Seed: 5, Blocks: blocks, TxsPerBlock: perBlock}) // synthChain's
	st := openTest(t)
	if _, err := btc.Index(ctx, st, btc.IndexConfig{Dir: synthChain(t, blocks, perBlock), BatchBlocks: 7}); err != nil {
		t.Fatal(err)
	}
	display := func(h chainhash.Hash) (d chains.Hash) {
		for i := range h {
			d[i] = h[len(h)-1-i]
		}
		return d
	}
	var ops []chains.Outpoint
	var want []store.Spend
	for height, b := range gen.Blocks {
		for pos, mtx := range b.Transactions[1:] {
			for vin, in := range mtx.TxIn {
				op := chains.Outpoint{Hash: display(in.PreviousOutPoint.Hash), Index: in.PreviousOutPoint.Index}
				ops = append(ops, op)
				want = append(want, store.Spend{Outpoint: op, TxHash: display(mtx.TxHash()), Vin: uint32(vin), Height: int64(height), Position: uint32(pos + 1)})
			}
		}
	}
	if len(want) < 100 {
		t.Fatalf("the generated chain spends %d outputs; too few to test", len(want))
	}
	got, found, err := st.Spenders(ctx, chains.Bitcoin, ops)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if g := got[i]; !found[i] || g.Outpoint != want[i].Outpoint || g.TxHash != want[i].TxHash || g.Vin != want[i].Vin || g.Height != want[i].Height || g.Position != want[i].Position {
			t.Fatalf("spender of %s: %+v (found %v), want %+v", ops[i], g, found[i], want[i])
		}
	}
	hashes := make([]chains.Hash, len(want))
	for i, sp := range want {
		hashes[i] = sp.TxHash
	}
	byTxid, err := st.Txs(ctx, chains.Bitcoin, hashes)
	if err != nil {
		t.Fatal(err)
	}
	same := func(what string, txs []*chains.Tx) {
		t.Helper()
		for i, tx := range txs {
			if tx.Hash != want[i].TxHash || tx.Height != want[i].Height || tx.Position != want[i].Position || len(tx.Inputs) != len(byTxid[i].Inputs) || len(tx.Outputs) != len(byTxid[i].Outputs) {
				t.Fatalf("%s: tx %d is %s at %d:%d, want %s at %d:%d", what, i, tx.Hash, tx.Height, tx.Position, want[i].TxHash, want[i].Height, want[i].Position)
			}
		}
	}
	same("by txid", byTxid)
	byPlace, err := st.SpendingTxs(ctx, chains.Bitcoin, want)
	if err != nil {
		t.Fatal(err)
	}
	same("by place", byPlace)

	// A spend whose place holds another transaction, and one that gives
	// no place.
	wrong, unplaced := want[0], want[0]
	for _, sp := range want {
		if sp.TxHash != wrong.TxHash {
			wrong.Height, wrong.Position = sp.Height, sp.Position
			break
		}
	}
	unplaced.Position = 0
	for _, sp := range []store.Spend{wrong, unplaced} {
		txs, err := st.SpendingTxs(ctx, chains.Bitcoin, []store.Spend{sp})
		if err != nil || txs[0].Hash != sp.TxHash {
			t.Fatalf("spend %+v with txid_places whole: %v, %v", sp, txs, err)
		}
	}

	if err := st.Exec(ctx, "TRUNCATE TABLE "+st.Database()+".txid_places"); err != nil {
		t.Fatal(err)
	}
	byPlace, err = st.SpendingTxs(ctx, chains.Bitcoin, want)
	if err != nil {
		t.Fatalf("by place, txid_places empty: %v", err)
	}
	same("by place, txid_places empty", byPlace)
	if _, err := st.Txs(ctx, chains.Bitcoin, hashes[:1]); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("by txid, txid_places empty: %v, want not found", err)
	}
	for _, sp := range []store.Spend{wrong, unplaced} {
		if _, err := st.SpendingTxs(ctx, chains.Bitcoin, []store.Spend{sp}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("spend %+v, txid_places empty: %v, want not found", sp, err)
		}
	}
}
