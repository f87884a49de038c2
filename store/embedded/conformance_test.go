package embedded_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/fundtrace/fundtrace/ingest/btc"
	"github.com/fundtrace/fundtrace/store/embedded"
	"github.com/fundtrace/fundtrace/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		st, err := embedded.Open(filepath.Join(t.TempDir(), "store"), embedded.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}

// TestConformanceIngest runs the suite with every write of blocks built
// as a table file and ingested, the path of the indexer's large batches,
// where the suite's writes are small enough to be committed as batches.
func TestConformanceIngest(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		st, err := embedded.Open(filepath.Join(t.TempDir(), "store"), embedded.Options{IngestBytes: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}

func TestAccountConformance(t *testing.T) {
	storetest.RunAccount(t, func(t *testing.T) storetest.AccountStore {
		st, err := embedded.Open(filepath.Join(t.TempDir(), "store"), embedded.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}

// TestReorgLeavesNoTrace: after a reorganisation is rolled back and the
// new branch indexed, the store holds, key for key, what a fresh index
// of the same folder holds (metadata included). The rolled-back store
// is written both ways, as committed batches and as ingested tables; the
// fresh one as batches.
func TestReorgLeavesNoTrace(t *testing.T) {
	for _, ingest := range []int{-1, 1} {
		t.Run(map[int]string{-1: "batches", 1: "ingested"}[ingest], func(t *testing.T) { reorgLeavesNoTrace(t, ingest) })
	}
}

func reorgLeavesNoTrace(t *testing.T, ingestBytes int) {
	ctx := context.Background()
	main, fork := storetest.ForkFolders(t, 300, 295, 12)
	open := func(ingestBytes int) *embedded.Store {
		st, err := embedded.Open(filepath.Join(t.TempDir(), "store"), embedded.Options{IngestBytes: ingestBytes})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	st := open(ingestBytes)
	if _, err := btc.Index(ctx, st, btc.IndexConfig{Dir: main}); err != nil {
		t.Fatal(err)
	}
	if _, err := btc.Index(ctx, st, btc.IndexConfig{Dir: fork}); err != nil {
		t.Fatal(err)
	}
	fresh := open(-1)
	if _, err := btc.Index(ctx, fresh, btc.IndexConfig{Dir: fork}); err != nil {
		t.Fatal(err)
	}
	dump := func(s *embedded.Store) map[string]string {
		m := map[string]string{}
		if err := s.Dump(ctx, func(k, v []byte) error { m[string(k)] = string(v); return nil }); err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b := dump(fresh), dump(st)
	if len(a) != len(b) {
		t.Fatalf("rolled-back store has %d keys, a fresh one %d", len(b), len(a))
	}
	for k, v := range a {
		if b[k] != v {
			t.Fatalf("stores differ at key %x:\n%q\n%q", k, v, b[k])
		}
	}
	// The new branch's transactions follow the kept ones in the
	// transaction file as in a fresh index, byte for byte, once opening
	// the store has cut off what the rollback left past the end.
	st.Close()
	st, err := embedded.Open(st.Path(), embedded.Options{IngestBytes: ingestBytes})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fa, err := os.ReadFile(filepath.Join(fresh.Path(), "txs-btc.dat"))
	if err != nil {
		t.Fatal(err)
	}
	fb, err := os.ReadFile(filepath.Join(st.Path(), "txs-btc.dat"))
	if err != nil {
		t.Fatal(err)
	}
	if len(fa) == 0 || !bytes.Equal(fa, fb) {
		t.Fatalf("transaction files differ: %d bytes after the rollback, %d in a fresh index", len(fb), len(fa))
	}
}

func TestSanctionsConformance(t *testing.T) {
	st, err := embedded.Open(filepath.Join(t.TempDir(), "store"), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	storetest.RunSanctions(t, st)
}

func TestRecordsConformance(t *testing.T) {
	st, err := embedded.Open(filepath.Join(t.TempDir(), "store"), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	storetest.RunRecords(t, st)
}

func TestClusterStateConformance(t *testing.T) {
	st, err := embedded.Open(filepath.Join(t.TempDir(), "store"), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	storetest.RunClusterState(t, st)
}
