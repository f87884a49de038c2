package clickhouse_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/big"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/store/clickhouse"
)

// countAddr is a hand case's address n: kinds alternate, so that the
// count's ranges of the sorting key (one set per kind) all take part.
func countAddr(kind chains.AddrKind, n string) chains.Address {
	h := sha256.Sum256([]byte(n))
	return chains.MakeAddress(kind, h[:20])
}

// handBlocks builds a chain of one block per row of pays: block h's
// coinbase pays each of pays[h]'s addresses one output (account chains:
// one transfer each, from the address before it in the row).
func handBlocks(c chains.Chain, pays [][]string) []store.BlockData {
	kinds := []chains.AddrKind{chains.KindPubKeyHash, chains.KindWitnessV0KH, chains.KindScriptHash}
	addr := func(n string) chains.Address {
		if c.IsAccount() {
			return countAddr(chains.KindAccount, n)
		}
		return countAddr(kinds[int(n[0])%len(kinds)], n)
	}
	var out []store.BlockData
	var prev chains.Hash
	for h, row := range pays {
		hash := chains.Hash(sha256.Sum256(fmt.Appendf(nil, "%s block %d", c, h)))
		bd := store.BlockData{Block: chains.Block{Chain: c, Height: int64(h), Hash: hash, PrevHash: prev, Time: 1_600_000_000 + int64(h)*600, TxCount: 1}}
		txid := chains.Hash(sha256.Sum256(fmt.Appendf(nil, "%s tx %d", c, h)))
		if c.IsAccount() {
			for i := 1; i < len(row); i++ {
				bd.Transfers = append(bd.Transfers, chains.Transfer{Chain: c, Height: int64(h), Time: bd.Block.Time, TxHash: txid,
					Position: fmt.Sprintf("log:%d", i), Kind: chains.TransferKind(0), From: addr(row[i-1]), To: addr(row[i]), Amount: big.NewInt(int64(i)), Success: true})
			}
		} else {
			tx := chains.Tx{Chain: c, Hash: txid, Height: int64(h), Time: bd.Block.Time, Version: 1, Coinbase: true,
				Inputs: []chains.Input{{Index: 0, Coinbase: true}}}
			for i, n := range row {
				tx.Outputs = append(tx.Outputs, chains.Output{Index: uint32(i), Value: 1000, Type: chains.ScriptPubKeyHash, Addresses: []chains.Address{addr(n)}})
			}
			bd.Txs = []chains.Tx{tx}
		}
		out = append(out, bd)
		prev = hash
	}
	return out
}

// TestAddressCountLater: a batch's new addresses are counted either at
// once (looked up by address) or, when the lookup would read much of the
// history, left pending to the run's end (SettleCounts), which counts the
// whole history once. Either way, across reopens and rollbacks (pending or
// not), the count ends at the chain's distinct addresses: counted by hand.
func TestAddressCountLater(t *testing.T) {
	ctx := context.Background()
	// Distinct addresses at or below each height: 3, 4, 5, 7, 8, 9.
	pays := [][]string{{"a", "b", "c"}, {"b", "d"}, {"e", "a"}, {"f", "f", "g"}, {"d", "h"}, {"i", "a"}}
	distinct := []int64{3, 4, 5, 7, 8, 9}
	blocks := handBlocks(chains.Bitcoin, pays)
	check := func(t *testing.T, st *clickhouse.Store, tip, addrs int64, pending bool) {
		t.Helper()
		m, err := st.Meta(ctx, chains.Bitcoin)
		if err != nil {
			t.Fatal(err)
		}
		if m.TipHeight != tip || m.Addresses != addrs || m.AddressesPending != pending {
			t.Fatalf("tip %d, %d addresses, pending %v; want tip %d, %d, %v", m.TipHeight, m.Addresses, m.AddressesPending, tip, addrs, pending)
		}
	}
	write := func(t *testing.T, st *clickhouse.Store, from, to int) {
		t.Helper()
		if err := st.WriteBlocks(ctx, chains.Bitcoin, "mainnet", blocks[from:to+1], store.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	rollback := func(t *testing.T, st *clickhouse.Store, to int64) {
		t.Helper()
		if err := st.Rollback(ctx, chains.Bitcoin, to); err != nil {
			t.Fatal(err)
		}
	}
	settle := func(t *testing.T, st *clickhouse.Store) {
		t.Helper()
		if err := st.SettleCounts(ctx, chains.Bitcoin); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("each batch", func(t *testing.T) {
		st := openTest(t)
		st.SetCountShare(1e18)
		for h := range blocks {
			write(t, st, h, h)
			check(t, st, int64(h), distinct[h], false)
		}
		settle(t, st) // nothing pending: nothing to do
		check(t, st, 5, 9, false)
		rollback(t, st, 2)
		check(t, st, 2, 5, false)
	})

	t.Run("at the end", func(t *testing.T) {
		st := openTest(t)
		st.SetCountShare(0)
		write(t, st, 0, 0) // the first write's addresses are all new
		check(t, st, 0, 3, false)
		write(t, st, 1, 1)
		check(t, st, 1, 3, true)
		write(t, st, 2, 2)
		check(t, st, 2, 3, true)
		// An interrupted run: the pending count outlives the process.
		st.Close()
		st, err := clickhouse.Open(ctx, testURI(t, st.Database()), clickhouse.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		st.SetCountShare(0)
		check(t, st, 2, 3, true)
		// A rollback while pending leaves the count to the settling.
		rollback(t, st, 1)
		check(t, st, 1, 3, true)
		write(t, st, 2, 3)
		check(t, st, 3, 3, true)
		settle(t, st)
		check(t, st, 3, 7, false)
		// Settled, a rollback counts what it removes.
		rollback(t, st, 2)
		check(t, st, 2, 5, false)
		write(t, st, 3, 5)
		check(t, st, 5, 5, true)
		settle(t, st)
		check(t, st, 5, 9, false)
	})

	t.Run("account", func(t *testing.T) {
		// Ends of transfers: x→y; y→z; z→x, x→w; v→x: 2, 3, 4, 5.
		blocks := handBlocks(chains.Ethereum, [][]string{{"x", "y"}, {"y", "z"}, {"z", "x", "w"}, {"v", "x"}})
		st := openTest(t)
		st.SetCountShare(0)
		if err := st.WriteBlocks(ctx, chains.Ethereum, "mainnet", blocks[:1], store.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := st.WriteBlocks(ctx, chains.Ethereum, "mainnet", blocks[1:], store.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		m, _ := st.Meta(ctx, chains.Ethereum)
		if m.Addresses != 2 || !m.AddressesPending {
			t.Fatalf("%d addresses, pending %v; want 2 pending", m.Addresses, m.AddressesPending)
		}
		if err := st.Rollback(ctx, chains.Ethereum, 2); err != nil {
			t.Fatal(err)
		}
		if err := st.SettleCounts(ctx, chains.Ethereum); err != nil {
			t.Fatal(err)
		}
		if m, _ := st.Meta(ctx, chains.Ethereum); m.TipHeight != 2 || m.Addresses != 4 || m.AddressesPending {
			t.Fatalf("tip %d, %d addresses, pending %v; want 2, 4, settled", m.TipHeight, m.Addresses, m.AddressesPending)
		}
		st.SetCountShare(1e18)
		if err := st.WriteBlocks(ctx, chains.Ethereum, "mainnet", blocks[3:], store.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		if m, _ := st.Meta(ctx, chains.Ethereum); m.Addresses != 5 || m.AddressesPending {
			t.Fatalf("%d addresses, pending %v; want 5, counted", m.Addresses, m.AddressesPending)
		}
		if err := st.Rollback(ctx, chains.Ethereum, 1); err != nil {
			t.Fatal(err)
		}
		if m, _ := st.Meta(ctx, chains.Ethereum); m.Addresses != 3 || m.AddressesPending {
			t.Fatalf("after rolling back to 1: %d addresses, pending %v; want 3, counted", m.Addresses, m.AddressesPending)
		}
	})
}
