package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/fundtrace/fundtrace/store"
)

// RunRecords checks the workbench's records: a record reads back as
// written, a write replaces it whole, kinds do not mix, a kind's records
// come in id order, and what was never written is not found.
func RunRecords(t *testing.T, st store.RecordStore) {
	ctx := context.Background()
	if _, err := st.Record(ctx, "case", "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a record never written: %v", err)
	}
	for _, r := range [][3]string{{"case", "c2", `{"v":1}`}, {"case", "c1", `{"v":"one"}`}, {"note", "c1", "n"}, {"case", "c2", `{"v":2,"title":"<b>x</b> ✓"}`}, {"case", "c10", `{}`}} {
		if err := st.PutRecord(ctx, r[0], r[1], []byte(r[2])); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := st.Record(ctx, "case", "c2"); err != nil || string(b) != `{"v":2,"title":"<b>x</b> ✓"}` {
		t.Fatalf("case c2: %q %v, want the second write", b, err)
	}
	var got string
	err := st.EachRecord(ctx, "case", func(id string, body []byte) error {
		got += fmt.Sprintf("%s=%s;", id, body)
		return nil
	})
	if want := `c1={"v":"one"};c10={};c2={"v":2,"title":"<b>x</b> ✓"};`; err != nil || got != want {
		t.Fatalf("cases: %s %v\nwant %s", got, err, want)
	}
	if b, err := st.Record(ctx, "note", "c1"); err != nil || string(b) != "n" {
		t.Fatalf("note c1: %q %v", b, err)
	}
}
