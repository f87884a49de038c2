package storetest

import (
	"context"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// SanctionsStore keeps sanctions snapshots.
type SanctionsStore interface {
	Snapshots(ctx context.Context) ([]store.SanctionsSnapshot, error)
	AddSnapshot(ctx context.Context, sn store.SanctionsSnapshot, addrs []store.SanctionedAddress) (store.SanctionsSnapshot, error)
	SnapshotAddresses(ctx context.Context, id int64) ([]store.SanctionedAddress, error)
	Sanctioned(ctx context.Context, id int64, c chains.Chain, a chains.Address) (store.SanctionedAddress, bool, error)
	CurrentSnapshot(ctx context.Context) (int64, error)
}

// RunSanctions checks that a store keeps listed addresses of every
// currency (those of chains it does not index under the chain "") and
// that the snapshot in force is the latest-dated, whatever the order of
// the imports.
func RunSanctions(t *testing.T, st SanctionsStore) {
	ctx := context.Background()
	if id, err := st.CurrentSnapshot(ctx); err != nil || id != 0 {
		t.Fatalf("empty store: snapshot %d in force, %v", id, err)
	}
	btc := chains.MakeAddress(chains.KindPubKeyHash, make([]byte, 20))
	trx := chains.MakeAddress(chains.KindAccount, []byte("0123456789abcdefghij"))
	xmr := chains.Address("XMR:884Bz8UH63aYsjVdkfWfScRYWZGGNbjFL7pztqvWNSrtYT4reFSwyvkCj9KEGUtheHhhMUj87ciTBFyzoesrMJ4L1FvSoxL")
	newer := []store.SanctionedAddress{
		{Chain: chains.Bitcoin, Address: btc, Text: "1111111111111111111114oLvT2", Code: "XBT", Entity: "A"},
		{Chain: chains.Tron, Address: trx, Text: "T…", Code: "TRX", Entity: "B"},
		{Chain: "", Address: xmr, Text: string(xmr[4:]), Code: "XMR", Entity: "C"},
	}
	sn2024, err := st.AddSnapshot(ctx, store.SanctionsSnapshot{Date: "2024-05-03", Imported: "2026-01-01T00:00:00Z", Addresses: 3}, newer)
	if err != nil {
		t.Fatal(err)
	}
	sn2021, err := st.AddSnapshot(ctx, store.SanctionsSnapshot{Date: "2021-07-07", Imported: "2026-01-02T00:00:00Z", Addresses: 1}, newer[:1])
	if err != nil {
		t.Fatal(err)
	}
	if id, err := st.CurrentSnapshot(ctx); err != nil || id != sn2024.ID {
		t.Fatalf("in force: %d (%v); want the later-dated %d, imported first", id, err, sn2024.ID)
	}
	got, err := st.SnapshotAddresses(ctx, sn2024.ID)
	if err != nil || len(got) != 3 {
		t.Fatalf("addresses: %v %v", got, err)
	}
	for _, want := range newer {
		a, ok, err := st.Sanctioned(ctx, sn2024.ID, want.Chain, want.Address)
		if err != nil || !ok || a.Entity != want.Entity || a.Code != want.Code || a.Chain != want.Chain {
			t.Errorf("%s %q: %+v %v %v", want.Code, want.Address, a, ok, err)
		}
	}
	if _, ok, err := st.Sanctioned(ctx, sn2021.ID, chains.Tron, trx); err != nil || ok {
		t.Errorf("the 2021 snapshot answers for an address it lacks: %v %v", ok, err)
	}
}
