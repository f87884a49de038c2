package storetest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/ingest/eth"
	"github.com/fundtrace/fundtrace/internal/ethreplay"
	"github.com/fundtrace/fundtrace/internal/shareddata"
	"github.com/fundtrace/fundtrace/store"
)

// AccountStore is what the account-chain suite exercises.
type AccountStore interface {
	eth.Sink
	AccountTx(ctx context.Context, c chains.Chain, h chains.Hash) (*chains.AccountTx, []chains.Transfer, error)
	AccountTxs(ctx context.Context, c chains.Chain, hs []chains.Hash) ([]*chains.AccountTx, [][]chains.Transfer, error)
	Transfers(ctx context.Context, c chains.Chain, a chains.Address, limit int) ([]chains.Transfer, error)
	BlockTransfers(ctx context.Context, c chains.Chain, h int64) ([]chains.Transfer, error)
	TransfersOf(ctx context.Context, c chains.Chain, addrs []chains.Address, from, to int64, limit int) ([][]chains.Transfer, []bool, error)
	EachTransfer(ctx context.Context, c chains.Chain, from, to int64, fn func(*chains.Transfer) error) (int64, error)
}

// IndexBlock18M indexes mainnet block 18,000,000 from Erigon's recorded
// answers (testdata/shared) into st.
func IndexBlock18M(t *testing.T, st AccountStore) {
	t.Helper()
	dir := shareddata.Path(t, "ethereum", "erigon-rpc-tests", "mainnet")
	srv := ethreplay.New()
	defer srv.Close()
	if err := srv.LoadErigon(filepath.Join(dir, "eth_getBlockByNumber", "test_08.json"), filepath.Join(dir, "eth_getBlockReceipts", "test_02.json")); err != nil {
		t.Fatal(err)
	}
	srv.AddResult("eth_chainId", nil, "0x1")
	srv.AddResult("eth_blockNumber", nil, "0x112a880")
	indexAccount(t, st, srv.URL, eth.IndexConfig{From: 18_000_000}, ethereum.TraceNone)
}

func indexAccount(t *testing.T, st AccountStore, url string, cfg eth.IndexConfig, traces ethereum.TraceMode) *eth.Result {
	t.Helper()
	ctx := context.Background()
	cl, err := ethereum.Dial(ctx, url, ethereum.ClientOptions{Traces: traces, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	res, err := eth.Index(ctx, st, cl, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// RunAccount runs the account-chain suite; open returns a new, empty
// store each call.
func RunAccount(t *testing.T, open func(t *testing.T) AccountStore) {
	t.Run("Block18M", func(t *testing.T) {
		st := open(t)
		IndexBlock18M(t, st)
		ctx := context.Background()
		m, err := st.Meta(ctx, chains.Ethereum)
		if err != nil {
			t.Fatal(err)
		}
		// Counted by hand from the node's answers: 94 transactions; 40
		// carrying ETH to an address, 1 creation, 141 ERC-20 and 2 ERC-721
		// Transfer logs, 16 withdrawals; 94 burnt base fees and 93 tips to
		// the miner (one transaction's effectiveGasPrice equals the base
		// fee of 21721091641 wei).
		if m.Blocks != 1 || m.Txs != 94 || m.Transfers != 40+1+141+2+16+94+93 || m.Network != "mainnet" || m.TipHeight != 18_000_000 {
			t.Fatalf("meta %+v", m)
		}
		ws, err := st.BlockTransfers(ctx, chains.Ethereum, 18_000_000)
		if err != nil || len(ws) != 16 {
			t.Fatalf("%d withdrawals, %v", len(ws), err)
		}
		// Streamed, the block's transfers come as read block by block:
		// its transactions', then the withdrawals.
		if a, b := EachTransferText(t, st, chains.Ethereum, 0, 18_000_000), BlockTransfersText(t, st, chains.Ethereum, 18_000_000, 18_000_000); a != b ||
			!strings.HasPrefix(a, "94 transactions\n") || int64(strings.Count(a, "\n")-1) != m.Transfers {
			t.Fatalf("EachTransfer:\n%.2000s\nblock by block:\n%.2000s", a, b)
		}
		// The batched history answers as the one-address one does, for
		// every address the block touches (and one it does not), and its
		// height window keeps or drops the whole block.
		seen := map[chains.Address]bool{}
		addrs := []chains.Address{ethereum.Addr([20]byte{9, 9})}
		_, txids, _ := st.BlockByHeight(ctx, chains.Ethereum, 18_000_000)
		for _, h := range txids {
			_, ts, _ := st.AccountTx(ctx, chains.Ethereum, h)
			for _, tr := range append(ts, ws...) {
				for _, a := range []chains.Address{tr.From, tr.To} {
					if a != "" && !seen[a] {
						seen[a] = true
						addrs = append(addrs, a)
					}
				}
			}
		}
		if len(addrs) < 100 {
			t.Fatalf("only %d addresses", len(addrs))
		}
		// Read at once, the block's transactions (and one the store does
		// not hold, and one asked twice) are what reading each gives.
		ask := append(append([]chains.Hash{{7, 7}}, txids...), txids[3])
		txs, tss, err := st.AccountTxs(ctx, chains.Ethereum, ask)
		if err != nil || len(txs) != len(ask) || len(tss) != len(ask) || txs[0] != nil || tss[0] != nil {
			t.Fatalf("AccountTxs: %d, %d, %v; the first %v", len(txs), len(tss), err, txs[0])
		}
		for i, h := range ask[1:] {
			tx, ts, err := st.AccountTx(ctx, chains.Ethereum, h)
			if err != nil || txs[i+1] == nil || fmt.Sprint(*tx) != fmt.Sprint(*txs[i+1]) || TransfersText(ts) != TransfersText(tss[i+1]) {
				t.Fatalf("AccountTxs[%d] (%s): %+v\n%s\nAccountTx: %+v\n%s", i+1, h, txs[i+1], TransfersText(tss[i+1]), tx, TransfersText(ts))
			}
		}
		all, over, err := st.TransfersOf(ctx, chains.Ethereum, addrs, 0, -1, 0)
		if err != nil || len(all) != len(addrs) || len(over) != len(addrs) || slices.Contains(over, true) {
			t.Fatalf("TransfersOf: %d, %v, %v", len(all), over, err)
		}
		var n int
		counts := make([]int, len(addrs))
		for i, a := range addrs {
			one, err := st.Transfers(ctx, chains.Ethereum, a, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := TransfersText(all[i]), TransfersText(one); got != want {
				t.Fatalf("TransfersOf[%d]:\n%s\nTransfers:\n%s", i, got, want)
			}
			n += len(one)
			counts[i] = len(one)
		}
		// With a limit, an address with more transfers than it is
		// reported and not read; one with as many as the limit, or
		// fewer, is read whole.
		distinct := slices.Compact(slices.Sorted(slices.Values(counts)))
		if len(distinct) < 3 {
			t.Fatalf("transfer counts %v: too few different ones to test a limit", distinct)
		}
		limit := distinct[len(distinct)/2]
		part, over, err := st.TransfersOf(ctx, chains.Ethereum, addrs, 0, -1, limit)
		if err != nil || len(part) != len(addrs) || len(over) != len(addrs) {
			t.Fatalf("TransfersOf, limit %d: %d, %d, %v", limit, len(part), len(over), err)
		}
		var nOver, nAtLimit int
		for i := range addrs {
			switch {
			case counts[i] > limit:
				nOver++
				if !over[i] || part[i] != nil {
					t.Fatalf("TransfersOf[%d], limit %d: %d transfers (over %v) of %d, want none and over", i, limit, len(part[i]), over[i], counts[i])
				}
			default:
				if counts[i] == limit {
					nAtLimit++
				}
				if over[i] || TransfersText(part[i]) != TransfersText(all[i]) {
					t.Fatalf("TransfersOf[%d], limit %d: %d transfers (over %v) of %d, want all", i, limit, len(part[i]), over[i], counts[i])
				}
			}
		}
		if nOver == 0 || nAtLimit == 0 {
			t.Fatalf("limit %d: %d addresses over it, %d at it", limit, nOver, nAtLimit)
		}
		if n == 0 || len(all[0]) != 0 {
			t.Fatalf("%d transfers in all; %d for an address the block does not touch", n, len(all[0]))
		}
		for _, w := range [][2]int64{{18_000_001, -1}, {0, 17_999_999}} {
			// The limit counts the transfers within the heights.
			none, over, err := st.TransfersOf(ctx, chains.Ethereum, addrs[1:3], w[0], w[1], 1)
			if err != nil || len(none[0])+len(none[1]) != 0 || over[0] || over[1] {
				t.Fatalf("heights %v: %v %v %v", w, none, over, err)
			}
		}
	})
	t.Run("Tron", func(t *testing.T) { runTron(t, open(t)) })
	t.Run("Reorg", func(t *testing.T) {
		f := &ethreplay.FakeChain{Head: 19, ForkAt: 1 << 40}
		url := f.Serve(t)
		st := open(t)
		indexAccount(t, st, url, eth.IndexConfig{Confirmations: 0, BatchBlocks: 4}, ethereum.TraceAuto)
		f.Switch(15, 1, 22)
		res := indexAccount(t, st, url, eth.IndexConfig{Confirmations: 0, BatchBlocks: 4}, ethereum.TraceAuto)
		if res.ReorgFrom != 15 {
			t.Fatalf("reorg from %d, want 15", res.ReorgFrom)
		}
		fresh := open(t)
		indexAccount(t, fresh, url, eth.IndexConfig{Confirmations: 0, BatchBlocks: 7}, ethereum.TraceAuto)
		txs := make([]chains.Hash, 0, 23)
		for n := int64(0); n <= 22; n++ {
			txs = append(txs, chains.Hash(f.TxHash(n)))
		}
		addrs := []chains.Address{ethereum.Addr(ethreplay.FakePayer), ethereum.Addr(ethreplay.FakePayee)}
		if a, b := AccountAnswers(t, st, txs, addrs), AccountAnswers(t, fresh, txs, addrs); a != b {
			t.Fatalf("after the reorg the store answers differently from a fresh index of the new chain:\n%s\nvs\n%s", a, b)
		}
		ctx := context.Background()
		m, _ := st.Meta(ctx, chains.Ethereum)
		if m.TipHeight != 22 || m.Blocks != 23 || m.Txs != 23 || m.Transfers != 23+23 || m.Addresses != 3 { // payer, payee, the miner (the zero address) paid the fees
			t.Fatalf("meta after reorg %+v", m)
		}
		if a, b := EachTransferText(t, st, chains.Ethereum, 0, 22), EachTransferText(t, fresh, chains.Ethereum, 0, 22); a != b {
			t.Fatalf("after the reorg the chain's transfers stream differently from a fresh index's:\n%s\nvs\n%s", a, b)
		}
		orphan := crypto.Keccak256Hash([]byte("tx 17 fork 0"))
		if _, _, err := st.AccountTx(ctx, chains.Ethereum, chains.Hash(orphan)); err == nil {
			t.Fatal("orphaned transaction still answered")
		}
	})
}

// AccountAnswers renders what st answers about the transactions and
// addresses, for comparing two stores.
func AccountAnswers(t testing.TB, st AccountStore, txs []chains.Hash, addrs []chains.Address) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	m, err := st.Meta(ctx, chains.Ethereum)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "meta tip=%d hash=%s blocks=%d txs=%d transfers=%d addresses=%d network=%s\n",
		m.TipHeight, m.TipHash, m.Blocks, m.Txs, m.Transfers, m.Addresses, m.Network)
	line := transferLine
	for _, h := range txs {
		tx, ts, err := st.AccountTx(ctx, chains.Ethereum, h)
		if errors.Is(err, store.ErrNotFound) {
			fmt.Fprintf(&b, "tx %s: not found\n", h)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "tx %s h=%d pos=%d t=%d type=%d nonce=%d %s->%s value=%v gas=%d used=%d price=%v fee=%v ok=%v created=%s sel=%x\n",
			h, tx.Height, tx.Position, tx.Time, tx.Type, tx.Nonce, ethereum.FormatAddress(tx.From), ethereum.FormatAddress(tx.To), tx.Value,
			tx.Gas, tx.GasUsed, tx.GasPrice, tx.Fee, tx.Success, ethereum.FormatAddress(tx.Created), tx.Input4)
		for _, tr := range ts {
			b.WriteString(line(tr))
		}
	}
	sorted := append([]chains.Address(nil), addrs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	for _, a := range sorted {
		ts, err := st.Transfers(ctx, chains.Ethereum, a, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "address %s: %d transfers\n", ethereum.FormatAddress(a), len(ts))
		for _, tr := range ts {
			b.WriteString(line(tr))
		}
	}
	for h := m.TipHeight - m.Blocks + 1; h <= m.TipHeight; h++ {
		ts, err := st.BlockTransfers(ctx, chains.Ethereum, h)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "block %d: %d outside transactions\n", h, len(ts))
		for _, tr := range ts {
			b.WriteString(line(tr))
		}
	}
	return b.String()
}

// Block18MAnswers renders every answer about block 18,000,000: each
// transaction and the history of every address its transfers touch.
func Block18MAnswers(t testing.TB, st AccountStore) string {
	t.Helper()
	ctx := context.Background()
	_, txids, err := st.BlockByHeight(ctx, chains.Ethereum, 18_000_000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[chains.Address]bool{}
	var addrs []chains.Address
	for _, h := range txids {
		_, ts, err := st.AccountTx(ctx, chains.Ethereum, h)
		if err != nil {
			t.Fatal(err)
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
	return AccountAnswers(t, st, txids, addrs)
}

func transferLine(tr chains.Transfer) string {
	return fmt.Sprintf("  %s h=%d t=%d tx=%s/%d pos=%s asset=%s %s->%s amount=%v id=%v ok=%v\n", tr.Kind, tr.Height, tr.Time, tr.TxHash, tr.TxIndex,
		tr.Position, ethereum.FormatAddress(tr.Asset), ethereum.FormatAddress(tr.From), ethereum.FormatAddress(tr.To), tr.Amount, tr.TokenID, tr.Success)
}

// EachTransferText renders what EachTransfer streams for blocks
// from..to, one transfer a line, after the transactions' count.
func EachTransferText(t testing.TB, st AccountStore, c chains.Chain, from, to int64) string {
	t.Helper()
	var ts []chains.Transfer
	n, err := st.EachTransfer(context.Background(), c, from, to, func(tr *chains.Transfer) error {
		ts = append(ts, *tr)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d transactions\n", n) + TransfersText(ts)
}

// BlockTransfersText renders the transfers of blocks from..to as
// EachTransferText does, read block by block: each transaction's, in
// order, then the block's outside transactions.
func BlockTransfersText(t testing.TB, st AccountStore, c chains.Chain, from, to int64) string {
	t.Helper()
	ctx := context.Background()
	var ts []chains.Transfer
	n := 0
	for h := from; h <= to; h++ {
		_, txids, err := st.BlockByHeight(ctx, c, h)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range txids {
			_, tts, err := st.AccountTx(ctx, c, id)
			if err != nil {
				t.Fatal(err)
			}
			ts = append(ts, tts...)
			n++
		}
		ws, err := st.BlockTransfers(ctx, c, h)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, ws...)
	}
	return fmt.Sprintf("%d transactions\n", n) + TransfersText(ts)
}

// TransfersText renders transfers one a line, for comparing answers.
func TransfersText(ts []chains.Transfer) string {
	var b strings.Builder
	for _, tr := range ts {
		b.WriteString(transferLine(tr))
	}
	return b.String()
}
