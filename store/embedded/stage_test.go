package embedded

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// stagedBlocks is a chain of blocks large enough (by their stated size)
// to be ingested, with a txid written twice (BIP30) and an output paying
// one address twice, whose equal keys a run, like a table, holds once.
func stagedBlocks(seed uint64, n int) []store.BlockData {
	blocks := busyBlocks(rand.New(rand.NewPCG(seed, seed)), n, 40, func(h int64, txs []chains.Tx, made []store.BlockData) {
		if h == 4 {
			txs[3].Hash = made[1].Txs[2].Hash
			a := chains.MakeAddress(chains.AddrKind(1), []byte("paid-twice-in-one-out"))
			txs[5].Outputs[0].Addresses = []chains.Address{a, a}
		}
	})
	for i := range blocks {
		blocks[i].Block.Size = 300 * uint32(len(blocks[i].Txs))
	}
	return blocks
}

// runFiles lists the staged run files of the store at path.
func runFiles(t *testing.T, path string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(path, stageDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// batchStore is a store that took blocks as committed batches, which
// stage nothing: what a staged store must read as.
func batchStore(t *testing.T, blocks []store.BlockData) *Store {
	st := newTestStore(t)
	st.ingestBytes = -1
	mustWrite(t, st, blocks...)
	return st
}

// checkSpenders checks every input of blocks against the store's
// spender record: the spending transaction's height, place and vin as
// the blocks have them. Of a txid written twice the later copy stands,
// and the outputs of the earlier one are spent by nothing here.
func checkSpenders(t *testing.T, st *Store, blocks []store.BlockData) {
	t.Helper()
	var ops []chains.Outpoint
	var want []store.Spend
	for _, bd := range blocks {
		for _, tx := range bd.Txs {
			for vin, in := range tx.Inputs {
				if in.Coinbase {
					continue
				}
				ops = append(ops, in.Prev)
				want = append(want, store.Spend{Outpoint: in.Prev, TxHash: tx.Hash, Vin: uint32(vin), Height: bd.Block.Height, Position: uint32(tx.Position)})
			}
		}
	}
	if len(ops) == 0 {
		t.Fatal("the blocks spend nothing")
	}
	got, found, err := st.Spenders(context.Background(), chains.Bitcoin, ops)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ops {
		if !found[i] {
			t.Fatalf("spend of %v not found", ops[i])
		}
		g, w := got[i], want[i]
		if g.TxHash != w.TxHash || g.Vin != w.Vin || g.Height != w.Height || g.Position != w.Position {
			t.Fatalf("spend of %v: %s vin %d at %d:%d, want %s vin %d at %d:%d", ops[i], g.TxHash, g.Vin, g.Height, g.Position, w.TxHash, w.Vin, w.Height, w.Position)
		}
	}
}

// TestStagedWritesReadAsBatches: the large writes of a bulk index stage
// their history and spender entries in run files, two a write, listed
// in the chain's staged record, while the rest of each write is in the
// store. A read of those tables merges them first; the store then reads
// as one that took every write as a batch, key for key, with the
// spenders the blocks say, and no run or record of them is left.
func TestStagedWritesReadAsBatches(t *testing.T) {
	ctx := context.Background()
	blocks := stagedBlocks(5, 12)
	st := newTestStore(t)
	st.ingestBytes = 1
	writes := [][2]int{{0, 1}, {1, 5}, {5, 7}, {7, 12}}
	for _, w := range writes {
		mustWrite(t, st, blocks[w[0]:w[1]]...)
	}
	if got := runFiles(t, st.Path()); len(got) != 2*len(writes) {
		t.Fatalf("run files %v, want %d (two a write)", got, 2*len(writes))
	}
	if n := st.stagedRuns.Load(); n != int64(2*len(writes)) {
		t.Fatalf("%d runs staged, want %d", n, 2*len(writes))
	}
	m, err := st.Meta(ctx, chains.Bitcoin)
	if err != nil || m.TipHeight != 11 || !m.AddressesPending {
		t.Fatalf("meta %+v, %v: want the tip at 11 and the count pending", m, err)
	}
	checkSpenders(t, st, blocks) // merges
	if got := runFiles(t, st.Path()); len(got) != 0 {
		t.Fatalf("run files %v left after a read merged them", got)
	}
	if _, closer, err := st.db.Get(stagedKey(chains.Bitcoin)); !errors.Is(err, pebble.ErrNotFound) {
		if err == nil {
			closer.Close()
		}
		t.Fatalf("staged record left after the merge: %v", err)
	}
	sameStores(t, dumpOf(t, st), dumpOf(t, batchStore(t, blocks)))
}

// flipMiddle flips a bit of the middle byte of the file at path (again,
// to put it back).
func flipMiddle(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 10 {
		t.Fatalf("run %s: %d bytes, %v", path, len(b), err)
	}
	b[len(b)/2] ^= 0x40
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestStagedMergeInManyFiles: a final merge that writes each table as
// many files, several at once, leaves the store as batches would have;
// a run damaged on disk stops it with an error naming the run, the
// runs stay staged and no table file is left behind.
func TestStagedMergeInManyFiles(t *testing.T) {
	ctx := context.Background()
	blocks := stagedBlocks(7, 12)
	st := newTestStore(t)
	st.ingestBytes, st.mergedMax = 1, 256
	for _, w := range [][2]int{{0, 3}, {3, 8}, {8, 12}} {
		mustWrite(t, st, blocks[w[0]:w[1]]...)
	}
	runs := runFiles(t, st.Path())
	if len(runs) != 6 {
		t.Fatalf("run files %v, want 6", runs)
	}
	victim := filepath.Join(st.Path(), stageDir, runs[len(runs)-1])
	flipMiddle(t, victim)
	if err := st.settleStaged(ctx); err == nil || !strings.Contains(err.Error(), runs[len(runs)-1]) {
		t.Fatalf("merge with a damaged run: %v, want an error naming %s", err, runs[len(runs)-1])
	}
	if got := runFiles(t, st.Path()); len(got) != 6 {
		t.Fatalf("run files after the failed merge %v, want the 6 still staged", got)
	}
	if left, _ := filepath.Glob(filepath.Join(st.Path(), ingestDir, "stage-*")); len(left) != 0 {
		t.Fatalf("table files left by the failed merge: %v", left)
	}
	flipMiddle(t, victim)
	before := st.db.Metrics().Levels[numLevels-1].TablesCount
	checkSpenders(t, st, blocks) // merges
	if n := st.db.Metrics().Levels[numLevels-1].TablesCount - before; n < 8 {
		t.Fatalf("the merge added %d tables to the bottom level: the test means many", n)
	}
	sameStores(t, dumpOf(t, st), dumpOf(t, batchStore(t, blocks)))
}

// TestStagedRunsAfterACrash: runs staged by a process that stopped
// before merging them (Close leaving them, as a crash does) keep the
// store from being read until it is opened for writing, which removes a
// run file no record names and merges the others; a damaged run is an
// error naming its file, and is left staged, not lost.
func TestStagedRunsAfterACrash(t *testing.T) {
	blocks := stagedBlocks(6, 10)
	path := filepath.Join(t.TempDir(), "s")
	st := openWith(t, path, Options{IngestBytes: 1})
	st.keepStaged = true
	mustWrite(t, st, blocks[:4]...)
	mustWrite(t, st, blocks[4:]...)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	runs := runFiles(t, path)
	if len(runs) != 4 {
		t.Fatalf("run files %v, want 4", runs)
	}
	if _, err := Open(path, Options{ReadOnly: true}); err == nil || !strings.Contains(err.Error(), "staged") {
		t.Fatalf("read-only open of a store with staged runs: %v, want a refusal naming them", err)
	}
	orphan := filepath.Join(path, stageDir, "btc-99-a.run")
	if err := os.WriteFile(orphan, []byte("a run no record names"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A byte of one run changed: the merge says which file.
	victim := filepath.Join(path, stageDir, runs[0])
	flipMiddle(t, victim)
	if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), runs[0]) || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("open with a damaged run: %v, want an error naming %s as damaged", err, runs[0])
	}
	if _, err := os.Stat(orphan); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("unnamed run file left: %v", err)
	}
	if got := runFiles(t, path); len(got) != 4 {
		t.Fatalf("run files after the failed merge %v, want the 4 still staged", got)
	}
	flipMiddle(t, victim) // back as it was
	st = openWith(t, path, Options{})
	if got := runFiles(t, path); len(got) != 0 {
		t.Fatalf("run files %v left after opening for writing", got)
	}
	checkSpenders(t, st, blocks)
	sameStores(t, dumpOf(t, st), dumpOf(t, batchStore(t, blocks)))
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only open once merged: %v", err)
	}
	ro.Close()
}

// TestStagedRunsMergedInTiers: once the newest runs of a table, as many
// as a merge reads at once, are of one tier, they are merged into one run
// of the next tier before the next is staged, so that the runs of a long
// index stay few and each entry is merged a few times; the store still
// reads as batches would have left it.
func TestStagedRunsMergedInTiers(t *testing.T) {
	blocks := stagedBlocks(7, 12)
	st := newTestStore(t)
	st.ingestBytes, st.stageMax = 1, 3
	top := 0
	for i := range blocks {
		mustWrite(t, st, blocks[i])
		l := st.staged[chains.Bitcoin]
		if got := len(runFiles(t, st.Path())); got != len(l.Runs) {
			t.Fatalf("after write %d: %d run files, %d listed", i, got, len(l.Runs))
		}
		for _, table := range []byte{tAddr, tSpender} {
			perTier := map[int]int{}
			for _, r := range l.ofTable(table) {
				perTier[r.Tier]++
				top = max(top, r.Tier)
			}
			for tier, n := range perTier {
				if n > st.stageMax {
					t.Fatalf("after write %d: table %c has %d runs of tier %d, want at most %d", i, table, n, tier, st.stageMax)
				}
			}
		}
	}
	// 12 writes of 3-way merges: runs of tier 2 (9 writes each).
	if top != 2 {
		t.Fatalf("highest tier %d, want 2", top)
	}
	checkSpenders(t, st, blocks)
	sameStores(t, dumpOf(t, st), dumpOf(t, batchStore(t, blocks)))
}

// TestStagedCountOfAddresses: the merge of a whole chain's history counts
// its addresses as the scan of the table does.
func TestStagedCountOfAddresses(t *testing.T) {
	ctx := context.Background()
	blocks := stagedBlocks(8, 8)
	want := map[chains.Address]bool{}
	for _, bd := range blocks {
		for _, tx := range bd.Txs {
			for _, o := range tx.Outputs {
				for _, a := range o.Addresses {
					want[a] = true
				}
			}
		}
	}
	st := newTestStore(t)
	st.ingestBytes = 1
	mustWrite(t, st, blocks[:3]...)
	mustWrite(t, st, blocks[3:]...)
	if err := st.SettleCounts(ctx, chains.Bitcoin); err != nil {
		t.Fatal(err)
	}
	m, err := st.Meta(ctx, chains.Bitcoin)
	if err != nil || m.AddressesPending || m.Addresses != int64(len(want)) {
		t.Fatalf("meta %+v, %v: want %d addresses, counted", m, err, len(want))
	}
}
