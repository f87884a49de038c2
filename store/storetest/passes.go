package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// streamer is what clustering reads in passes (cluster.StreamStore's EachAddress and
// its EachTx), named here without the cluster package.
type streamer interface {
	EachAddress(ctx context.Context, c chains.Chain, fn func(a chains.Address, first store.FirstPaid) error) error
	EachTx(ctx context.Context, c chains.Chain, from, to int64, fn func(tx *chains.Tx) error) error
}

// checkPasses checks the passes against the block files: every
// transaction once, in chain order, whole; a range of blocks alone; and
// every address once with its first payment, as btcd reads the files.
func checkPasses(t *testing.T, st Store, f *facts) {
	ss, ok := st.(streamer)
	if !ok {
		t.Skip("the store does not read in passes")
	}
	ctx := context.Background()
	i := 0
	err := ss.EachTx(ctx, chains.Bitcoin, 0, 599, func(tx *chains.Tx) error {
		if i >= len(f.order) {
			return fmt.Errorf("more transactions than the %d of the files", len(f.order))
		}
		want := f.order[i]
		if tx.Hash != display(want) || tx.Height != f.heights[want] || len(tx.Outputs) != len(f.txs[want].TxOut) || len(tx.Inputs) != len(f.txs[want].TxIn) {
			return fmt.Errorf("transaction %d: %s at %d (%d in, %d out), want %s at %d", i, tx.Hash, tx.Height, len(tx.Inputs), len(tx.Outputs), display(want), f.heights[want])
		}
		i++
		return nil
	})
	if err != nil || i != len(f.order) {
		t.Fatalf("EachTx: %d of %d transactions: %v", i, len(f.order), err)
	}
	n := 0
	err = ss.EachTx(ctx, chains.Bitcoin, 100, 120, func(tx *chains.Tx) error {
		if tx.Height < 100 || tx.Height > 120 {
			return fmt.Errorf("transaction of block %d", tx.Height)
		}
		n++
		return nil
	})
	want := 0
	for _, h := range f.order {
		if f.heights[h] >= 100 && f.heights[h] <= 120 {
			want++
		}
	}
	if err != nil || n != want {
		t.Fatalf("EachTx of blocks 100..120: %d transactions, want %d: %v", n, want, err)
	}

	firsts := map[string]store.FirstPaid{}
	pos := map[int64]uint32{}
	for _, h := range f.order {
		height := f.heights[h]
		p := pos[height]
		pos[height]++
		for vout, o := range f.txs[h].TxOut {
			for _, a := range addressOf(t, o.PkScript) {
				if _, ok := firsts[a]; !ok {
					firsts[a] = store.FirstPaid{Height: height, Position: p, Vout: uint32(vout)}
				}
			}
		}
	}
	seen := map[string]bool{}
	err = ss.EachAddress(ctx, chains.Bitcoin, func(a chains.Address, first store.FirstPaid) error {
		s := encode([]chains.Address{a})[0]
		if seen[s] {
			return fmt.Errorf("%s twice", s)
		}
		seen[s] = true
		if w, ok := firsts[s]; !ok || w != first {
			return fmt.Errorf("%s first paid at %+v, the files say %+v (%v)", s, first, w, ok)
		}
		return nil
	})
	if err != nil || len(seen) != len(firsts) {
		t.Fatalf("EachAddress: %d of %d addresses: %v", len(seen), len(firsts), err)
	}
}
