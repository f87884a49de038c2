package tracer

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// placedChain is utxoChain as a PlacedSource: it counts how the trace
// reads transactions, and SpendingTxs checks that every spend it is given
// is one Spenders answered, for the transaction it names.
type placedChain struct {
	*utxoChain
	txsCalls, placedCalls int
	bad                   []string
}

func (p *placedChain) Txs(ctx context.Context, c chains.Chain, hs []chains.Hash) ([]*chains.Tx, error) {
	p.txsCalls++
	return p.utxoChain.Txs(ctx, c, hs)
}

func (p *placedChain) SpendingTxs(ctx context.Context, c chains.Chain, spends []store.Spend) ([]*chains.Tx, error) {
	p.placedCalls++
	hs := make([]chains.Hash, len(spends))
	for i, sp := range spends {
		if p.spends[sp.Outpoint] != sp {
			p.bad = append(p.bad, fmt.Sprintf("%+v", sp))
		}
		hs[i] = sp.TxHash
	}
	return p.utxoChain.Txs(ctx, c, hs)
}

// TestTraceReadsSpendsByPlace: with a source that reads a spending
// transaction by the place its spend gives (ClickHouse), every hop's
// transactions are read that way, each asked for with a spend Spenders
// gave for it, and the trace is the one the plain source gives.
func TestTraceReadsSpendsByPlace(t *testing.T) {
	u, seeds := handUTXOChain()
	for i, r := range handRuns {
		cfg := Config{Models: r.models, Labels: handLabels}
		want, err := UTXO(context.Background(), u, chains.Bitcoin, seeds, cfg)
		if err != nil {
			t.Fatal(err)
		}
		p := &placedChain{utxoChain: u}
		got, err := UTXO(context.Background(), p, chains.Bitcoin, seeds, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("run %d: the trace by place differs:\n%+v\nwant\n%+v", i, got, want)
		}
		// The seeds' transactions by txid (a seed names no spend), then
		// C, E and G, a hop each.
		if p.txsCalls != 1 || p.placedCalls != 3 || len(p.bad) > 0 {
			t.Errorf("run %d: %d reads by txid (want 1, the seeds), %d by spend (want 3); spends not Spenders': %v", i, p.txsCalls, p.placedCalls, p.bad)
		}
	}
}
