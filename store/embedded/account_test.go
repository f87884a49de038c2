package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store/storetest"
)

// TestUpgradeFrom4: a schema 4 store kept an account chain's transaction
// records in table t, by txid. Opened read-only it answers as before but
// cannot stream the chain's transfers in chain order, and says so;
// opened for writing it moves the records into chain order, and then
// streams and answers what the store did before.
func TestUpgradeFrom4(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s")
	st := openAt(t, path)
	storetest.IndexTron(t, st, 64)
	m, err := st.Meta(ctx, chains.Tron)
	if err != nil {
		t.Fatal(err)
	}
	first := m.TipHeight - m.Blocks + 1
	stream := storetest.EachTransferText(t, st, chains.Tron, first, m.TipHeight)
	byBlock := storetest.BlockTransfersText(t, st, chains.Tron, first, m.TipHeight)
	if stream != byBlock || strings.Count(stream, "\n") < 1000 {
		t.Fatalf("before: %d lines streamed, %d block by block", strings.Count(stream, "\n"), strings.Count(byBlock, "\n"))
	}
	// What schema 4 wrote instead: each record in table t, none in y.
	legacy := map[string][]byte{}
	var moved int
	for h := first; h <= m.TipHeight; h++ {
		_, txids, err := st.BlockByHeight(ctx, chains.Tron, h)
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range txids {
			k := accountTxKey(nil, chains.Tron, h, uint32(i))
			v, closer, err := st.db.Get(k)
			if err != nil {
				t.Fatalf("block %d transaction %d: %v", h, i, err)
			}
			legacy[string(txKey(nil, chains.Tron, id))] = bytes.Clone(v)
			closer.Close()
			if err := st.db.Delete(k, pebble.Sync); err != nil {
				t.Fatal(err)
			}
			moved++
		}
	}
	for k, v := range legacy {
		if err := st.db.Set([]byte(k), v, pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.db.Set(schemaKey, binary.AppendUvarint(nil, 4), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	st.Close()

	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := storetest.BlockTransfersText(t, ro, chains.Tron, first, m.TipHeight); got != byBlock {
		t.Fatal("read-only, the schema 4 store answers differently")
	}
	if _, err := ro.EachTransfer(ctx, chains.Tron, first, m.TipHeight, func(*chains.Transfer) error { return nil }); err == nil || !strings.Contains(err.Error(), "schema 4") {
		t.Fatalf("read-only schema 4 store streamed: %v", err)
	}
	ro.Close()

	st = openAt(t, path)
	if v, err := st.SchemaVersion(ctx); err != nil || v != schemaVersion {
		t.Fatalf("schema %d, %v", v, err)
	}
	if got := storetest.EachTransferText(t, st, chains.Tron, first, m.TipHeight); got != stream {
		t.Fatal("after the upgrade the store streams differently")
	}
	if got := storetest.BlockTransfersText(t, st, chains.Tron, first, m.TipHeight); got != byBlock {
		t.Fatal("after the upgrade the store answers differently")
	}
	for k := range legacy {
		v, closer, err := st.db.Get([]byte(k))
		if err != nil || len(v) != txPointerLen {
			t.Fatalf("%x: %d bytes, %v; want a pointer", k, len(v), err)
		}
		closer.Close()
	}
	if moved < 100 {
		t.Fatalf("only %d transactions", moved)
	}
}
