package sanctions

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/internal/shareddata"
	"github.com/fundtrace/fundtrace/store"
)

// memStore keeps snapshots in memory, as the stores do: ids in import
// order, the snapshot in force by list date (store.InForce).
type memStore struct {
	sns   []store.SanctionsSnapshot
	addrs map[int64][]store.SanctionedAddress
}

func (m *memStore) Snapshots(context.Context) ([]store.SanctionsSnapshot, error) { return m.sns, nil }
func (m *memStore) SnapshotAddresses(_ context.Context, id int64) ([]store.SanctionedAddress, error) {
	return m.addrs[id], nil
}
func (m *memStore) AddSnapshot(_ context.Context, sn store.SanctionsSnapshot, a []store.SanctionedAddress) (store.SanctionsSnapshot, error) {
	sn.ID = int64(len(m.sns) + 1)
	m.sns = append(m.sns, sn)
	if m.addrs == nil {
		m.addrs = map[int64][]store.SanctionedAddress{}
	}
	m.addrs[sn.ID] = a
	return sn, nil
}

var (
	now = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	// The real lists: OFAC's complete legacy set of 2021-07-07, and the
	// sdn.csv of 2024-05-03 whose sdn_comments.csv was not kept.
	dir2021 = []string{"sanctions", "ofac", "legacy-csv", "2021-07-07_watchman-bench"}
	sdn2024 = []string{"sanctions", "ofac", "legacy-csv", "git-scrape", "sdn_2024-05-03.csv.gz"}
)

func list2021(t *testing.T) []string {
	d := shareddata.Path(t, dir2021...)
	return []string{filepath.Join(d, "sdn.csv.gz"), filepath.Join(d, "sdn_comments.csv")}
}

func refused(t *testing.T, err error, says ...string) {
	t.Helper()
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("want a refusal saying %q, got %v", says, err)
	}
	for _, s := range says {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("refusal %q does not say %q", err, s)
		}
	}
}

// TestImportOrderDoesNotMatter imports the real 2021 and 2024 lists in
// both orders: the 2024 list is in force either way, and each day's
// answer is the list of the latest date on or before it.
func TestImportOrderDoesNotMatter(t *testing.T) {
	ctx := context.Background()
	for _, order := range []string{"2021 then 2024", "2024 then 2021"} {
		t.Run(order, func(t *testing.T) {
			st := &memStore{}
			imp2021 := func() *ImportResult {
				r, err := Import(ctx, st, list2021(t), ImportOptions{Date: "2021-07-07", Now: now})
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			imp2024 := func() *ImportResult {
				r, err := Import(ctx, st, []string{shareddata.Path(t, sdn2024...)}, ImportOptions{Date: "2024-05-03", AllowTruncated: true, Now: now})
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			var r2021, r2024 *ImportResult
			if order == "2021 then 2024" {
				r2021, r2024 = imp2021(), imp2024()
				if !r2024.InForce || r2024.Previous != r2021.Snapshot.ID || len(r2024.Added) == 0 {
					t.Fatalf("the later list must replace the earlier: %+v", r2024)
				}
			} else {
				r2024, r2021 = imp2024(), imp2021()
				if r2021.InForce || r2021.Previous != r2024.Snapshot.ID {
					t.Fatalf("an older list must be history, not in force: %+v", r2021)
				}
			}
			if got := store.InForce(st.sns, ""); got != r2024.Snapshot.ID {
				t.Fatalf("in force: snapshot %d, want the 2024 list (%d)", got, r2024.Snapshot.ID)
			}
			for day, want := range map[string]int64{"2024-05-03": r2024.Snapshot.ID, "2025-01-01": r2024.Snapshot.ID,
				"2024-05-02": r2021.Snapshot.ID, "2021-07-07": r2021.Snapshot.ID, "2021-07-06": 0} {
				if got := store.InForce(st.sns, day); got != want {
					t.Errorf("as of %s: snapshot %d, want %d", day, got, want)
				}
			}
			// The 2024 list's own content, whatever the order: LIFSHITS's
			// corrected ETH address (OFAC entry 29702) and the TRON and
			// Monero addresses it lists.
			in2024 := map[string]bool{}
			for _, a := range st.addrs[r2024.Snapshot.ID] {
				in2024[a.Text] = true
			}
			for _, want := range []string{"0xa7e5d5a720f06526557c513402f2e6b5fa20b008", "TMStbg5fgb4uTV7fK1gEYF9hKAzP3siPsG", "TX5GV4DyfxNB3rPkzZJhmqZ1efVmL4rEqG",
				"884Bz8UH63aYsjVdkfWfScRYWZGGNbjFL7pztqvWNSrtYT4reFSwyvkCj9KEGUtheHhhMUj87ciTBFyzoesrMJ4L1FvSoxL", "LaizKtS5DUhPuP1nTQcc83MS7HwK6vk85z"} {
				if !in2024[want] {
					t.Errorf("the 2024 snapshot lacks %s", want)
				}
			}
		})
	}
}

// TestImportCurrencies: every currency OFAC lists is kept, mapped to the
// chain its addresses live on where fundtrace reads them. The expected
// chains come from the addresses' own forms in the 2024-05-03 file.
func TestImportCurrencies(t *testing.T) {
	st := &memStore{}
	r, err := Import(context.Background(), st, []string{shareddata.Path(t, sdn2024...)}, ImportOptions{Date: "2024-05-03", AllowTruncated: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	byText := map[string]store.SanctionedAddress{}
	for _, a := range st.addrs[r.Snapshot.ID] {
		byText[a.Text] = a
	}
	for text, want := range map[string]chains.Chain{
		"TMStbg5fgb4uTV7fK1gEYF9hKAzP3siPsG":         chains.Tron,     // TRX
		"TX5GV4DyfxNB3rPkzZJhmqZ1efVmL4rEqG":         chains.Tron,     // USDT on TRON
		"0xfec8a60023265364d066a1212fde3930f6ae8da7": chains.Ethereum, // USDT on Ethereum
		"3E6ZCKRrsdPc35chA9Eftp1h3DLW18NFNV":         chains.Bitcoin,  // USDT on Omni (Bitcoin)
		"LaizKtS5DUhPuP1nTQcc83MS7HwK6vk85z":         "",              // LTC: kept for direct hits
	} {
		a, ok := byText[text]
		if !ok || a.Chain != want {
			t.Errorf("%s: chain %q (present %v), want %q", text, a.Chain, ok, want)
		}
	}
	// TRON is indexed: its 4 TRX addresses are not among the unindexed.
	if r.Snapshot.Unindexed["LTC"] != 4 || r.Snapshot.Unindexed["XMR"] != 3 || r.Snapshot.Unindexed["TRX"] != 0 {
		t.Errorf("unindexed counts %v; the file lists 4 LTC, 3 XMR and 4 TRX addresses", r.Snapshot.Unindexed)
	}
	if len(r.Snapshot.Files) != 1 || r.Snapshot.Files[0].Name != "sdn_2024-05-03.csv.gz" || len(r.Snapshot.Files[0].SHA256) != 64 || r.Snapshot.Truncated != 18 {
		t.Errorf("files %+v, truncated %d", r.Snapshot.Files, r.Snapshot.Truncated)
	}
}

// TestImportPolicy: every way an import could silently clear or weaken
// the list in force is refused with the reason, and goes through only
// when the user says so.
func TestImportPolicy(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	st := &memStore{}
	if _, err := Import(ctx, st, list2021(t), ImportOptions{Date: "2021-07-07", Now: now}); err != nil {
		t.Fatal(err)
	}

	// A legacy CSV carries no date.
	_, err := Import(ctx, st, list2021(t), ImportOptions{Now: now})
	refused(t, err, "no publication date", "--date")
	_, err = Import(ctx, st, list2021(t), ImportOptions{Date: "2027-01-01", Now: now})
	refused(t, err, "in the future")
	_, err = Import(ctx, st, list2021(t), ImportOptions{Date: "7 July 2021", Now: now})
	refused(t, err, "YYYY-MM-DD")

	// An empty sdn.csv, and one with no entries.
	empty := write("sdn.csv", "")
	_, err = Import(ctx, st, []string{empty}, ImportOptions{Date: "2024-01-01", Now: now})
	refused(t, err, "sdn.csv is empty")
	_, err = Import(ctx, st, []string{write("nothing.csv", "\x1a\n")}, ImportOptions{Date: "2024-01-01", Now: now})
	refused(t, err, "no entries")

	// The sdn.csv of 2021 without its sdn_comments.csv: 5 entries cut.
	d := t.TempDir()
	b, err := os.ReadFile(shareddata.Path(t, append(dir2021, "sdn.csv.gz")...))
	if err != nil {
		t.Fatal(err)
	}
	alone := filepath.Join(d, "sdn.csv.gz")
	if err := os.WriteFile(alone, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Import(ctx, st, []string{alone}, ImportOptions{Date: "2021-07-07", Now: now})
	refused(t, err, "5 entries", "sdn_comments.csv")

	// A CSV that is not an SDN file is refused even when forced.
	_, err = Import(ctx, st, []string{write("sdn.csv", "address,label\n1BoatSLRHtKNngkdXEeobR76b53LETtpyT,boat\n")}, ImportOptions{Date: "2024-01-01", Force: true, Now: now})
	if err == nil || !strings.Contains(err.Error(), "not an SDN file") {
		t.Fatalf("a labels CSV imported as an SDN list: %v", err)
	}

	// A later list of one entry would drop almost every listed address.
	one := write("sdn.csv", `99999,"TEST ENTITY","-0- ","CYBER2",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"Digital Currency Address - XBT 1BoatSLRHtKNngkdXEeobR76b53LETtpyT;"`+"\n\x1a\n")
	_, err = Import(ctx, st, []string{one}, ImportOptions{Date: "2024-01-01", Now: now})
	refused(t, err, "would drop")
	if len(st.sns) != 1 {
		t.Fatalf("refused imports stored %d snapshots", len(st.sns)-1)
	}
	// Forced, each goes through.
	r, err := Import(ctx, st, []string{one}, ImportOptions{Date: "2024-01-01", Force: true, Now: now})
	if err != nil || !r.InForce || len(r.Removed) < 40 {
		t.Fatalf("forced: %v %+v", err, r)
	}
	if _, err := Import(ctx, st, []string{alone}, ImportOptions{Date: "2021-07-07", AllowTruncated: true, Now: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := Import(ctx, st, []string{empty}, ImportOptions{Date: "2024-02-01", Force: true, Now: now}); err != nil {
		t.Fatal(err)
	}
}
