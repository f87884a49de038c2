package clickhouse_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/btcsuite/btcd/wire"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/cluster"
	"github.com/fundtrace/fundtrace/explore"
	"github.com/fundtrace/fundtrace/heuristics"
	"github.com/fundtrace/fundtrace/ingest/btc"
	"github.com/fundtrace/fundtrace/ingest/eth"
	"github.com/fundtrace/fundtrace/internal/chtest"
	"github.com/fundtrace/fundtrace/internal/shareddata"
	"github.com/fundtrace/fundtrace/internal/simtest"
	"github.com/fundtrace/fundtrace/internal/testchain"
	"github.com/fundtrace/fundtrace/labels"
	"github.com/fundtrace/fundtrace/sanctions"
	"github.com/fundtrace/fundtrace/sim"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/store/clickhouse"
	"github.com/fundtrace/fundtrace/store/embedded"
	"github.com/fundtrace/fundtrace/store/storetest"
)

// server is the ClickHouse server TestMain starts for the package.
var server *chtest.Server

func TestMain(m *testing.M) { os.Exit(chtest.Main(m, &server)) }

var dbSeq atomic.Int64

// engine, while set, is where the tests open their databases instead
// of server: TestCurrentClickHouse sets it to run them again on
// ClickHouse 26.5's engine.
var engine *chtest.Engine

// testURI is the store address of database db on the server the tests
// use; it skips the test when there is none.
func testURI(t testing.TB, db string) string {
	t.Helper()
	switch {
	case engine != nil:
		return "clickhouse://" + engine.Addr() + "/" + db + "?protocol=http"
	case server != nil:
		return "clickhouse://" + server.Addr() + "/" + db
	}
	t.Skip("no ClickHouse server")
	return ""
}

// openTest opens a fresh database on the test server.
func openTest(t testing.TB) *clickhouse.Store {
	t.Helper()
	db := fmt.Sprintf("ft_test_%d_%d", os.Getpid(), dbSeq.Add(1))
	st, err := clickhouse.Open(context.Background(), testURI(t, db), clickhouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return openTest(t) })
}

// TestSameAnswersAsEmbedded: the ClickHouse store answers every lookup
// exactly as the embedded store does for the same blocks.
func TestSameAnswersAsEmbedded(t *testing.T) {
	ch := openTest(t)
	storetest.Index(t, ch, 0, 100)
	em, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	storetest.Index(t, em, 0, 100)
	a, b := storetest.Answers(t, em), storetest.Answers(t, ch)
	sameLines(t, a, b)
}

func TestSanctionsConformance(t *testing.T) {
	storetest.RunSanctions(t, openTest(t))
}

func TestRecordsConformance(t *testing.T) {
	storetest.RunRecords(t, openTest(t))
}

func TestClusterStateConformance(t *testing.T) {
	storetest.RunClusterState(t, openTest(t))
}

func TestAccountConformance(t *testing.T) {
	storetest.RunAccount(t, func(t *testing.T) storetest.AccountStore { return openTest(t) })
}

// TestSameAccountAnswersAsEmbedded: for mainnet block 18,000,000 the
// ClickHouse store answers every Ethereum lookup as the embedded one does.
func TestSameAccountAnswersAsEmbedded(t *testing.T) {
	ch := openTest(t)
	storetest.IndexBlock18M(t, ch)
	em, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	storetest.IndexBlock18M(t, em)
	a, b := storetest.Block18MAnswers(t, em), storetest.Block18MAnswers(t, ch)
	t.Logf("%d answer lines", strings.Count(a, "\n"))
	sameLines(t, a, b)
}

// TestClustersSameAsEmbedded clusters the shipped simulated chain in
// both stores, in two runs (the second incremental), and compares every
// assignment, size and a sample of explanations.
func TestClustersSameAsEmbedded(t *testing.T) {
	ctx := context.Background()
	blocks := "../../testdata/sim/btc/blocks"
	chs := openTest(t)
	em, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	set := []string{heuristics.MultiInput, heuristics.ChangeFresh}
	dump := func(st cluster.Store) (string, []chains.Address) {
		var b strings.Builder
		var addrs []chains.Address
		err := st.LoadClusters(ctx, chains.Bitcoin, func(r store.ClusterRow) error {
			fmt.Fprintf(&b, "%d %x %d %d\n", r.Index, []byte(r.Address), r.Cluster, r.Size)
			addrs = append(addrs, r.Address)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		m, _, _ := st.ClusterMeta(ctx, chains.Bitcoin)
		fmt.Fprintf(&b, "%v %d %s %d %d %v\n", m.Heuristics, m.Height, m.Hash, m.Addresses, m.Clusters, m.Links)
		return b.String(), addrs
	}
	for _, st := range []cluster.Store{chs, em} {
		for _, to := range []int64{200, 0} {
			if _, err := btc.Index(ctx, st.(btc.Sink), btc.IndexConfig{Dir: blocks, ToHeight: to}); err != nil {
				t.Fatal(err)
			}
			sum, err := cluster.Run(ctx, st, chains.Bitcoin, set)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Incremental != (to == 0) {
				t.Fatalf("run to %d: incremental %v", to, sum.Incremental)
			}
		}
	}
	a, addrs := dump(em)
	b, _ := dump(chs)
	if a != b {
		t.Fatal("ClickHouse clusters differ from the embedded store's")
	}
	storetest.CheckMembers(t, chs, chains.Bitcoin, 60)
	storetest.CheckMembers(t, em, chains.Bitcoin, 0)
	// Every address's cluster asked at once (what a trace's hop and a
	// bulk screening ask) is what the embedded store answers one by one;
	// an address of no cluster is left out.
	unknown := chains.MakeAddress(chains.KindPubKeyHash, make([]byte, 20))
	all, err := chs.ClustersOf(ctx, chains.Bitcoin, append(slices.Clone(addrs), unknown))
	if err != nil || len(all) != len(addrs) {
		t.Fatalf("ClustersOf: %d of %d addresses: %v", len(all), len(addrs), err)
	}
	for _, a := range addrs {
		id, size, err := em.ClusterOf(ctx, chains.Bitcoin, a)
		if err != nil || all[a] != [2]uint32{id, size} {
			t.Fatalf("cluster of %x: %v at once, %d/%d alone on the embedded store (%v)", []byte(a), all[a], id, size, err)
		}
	}
	for i := 0; i+1 < len(addrs) && i < 400; i += 37 {
		ida, sa, err1 := em.ClusterOf(ctx, chains.Bitcoin, addrs[i])
		idb, sb, err2 := chs.ClusterOf(ctx, chains.Bitcoin, addrs[i])
		if ida != idb || sa != sb || err1 != nil || err2 != nil {
			t.Fatalf("cluster of address %d: %d/%d vs %d/%d (%v, %v)", i, ida, sa, idb, sb, err1, err2)
		}
		pa, err1 := cluster.Explain(ctx, em, chains.Bitcoin, addrs[i], addrs[i+1])
		pb, err2 := cluster.Explain(ctx, chs, chains.Bitcoin, addrs[i], addrs[i+1])
		if fmt.Sprint(pa, err1) != fmt.Sprint(pb, err2) {
			t.Fatalf("explanations differ:\n%v %v\n%v %v", pa, err1, pb, err2)
		}
	}
	// The explore views (show, the explore API) answer alike: an
	// address's totals and history, its transactions, its cluster's
	// members (in each store's order: compared as sets) and evidence.
	xe, xc := explore.New(em), explore.New(chs)
	for i := 0; i < len(addrs) && i < 400; i += 41 {
		ae, err1 := xe.BitcoinAddress(ctx, addrs[i], explore.Page{All: true})
		ac, err2 := xc.BitcoinAddress(ctx, addrs[i], explore.Page{All: true})
		if err1 != nil || err2 != nil || !reflect.DeepEqual(ae, ac) {
			t.Fatalf("address %d: %+v %v\nvs %+v %v", i, ae, err1, ac, err2)
		}
		h, _ := chains.ParseHash(ae.History[0].TxHash)
		te, err1 := xe.BitcoinTx(ctx, h)
		tc, err2 := xc.BitcoinTx(ctx, h)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(te, tc) {
			t.Fatalf("tx %s: %+v %v\nvs %+v %v", h, te, err1, tc, err2)
		}
		id, _, _ := em.ClusterOf(ctx, chains.Bitcoin, addrs[i])
		ce, err1 := xe.Cluster(ctx, chains.Bitcoin, id, "", 1000)
		cc, err2 := xc.Cluster(ctx, chains.Bitcoin, id, "", 1000)
		if err1 != nil || err2 != nil {
			t.Fatalf("cluster %d: %v, %v", id, err1, err2)
		}
		for _, c := range []*explore.Cluster{ce, cc} {
			slices.Sort(c.Members)
			slices.SortFunc(c.Evidence, func(a, b explore.Evidence) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
		}
		if !reflect.DeepEqual(ce, cc) {
			t.Fatalf("cluster %d: %+v\nvs %+v", id, ce, cc)
		}
	}
}

// TestAccountClustersSameAsEmbedded clusters a simulated Ethereum chain
// with the deposit heuristic in both stores, in two runs (the second
// incremental, reading the first's state back), and compares every
// assignment, size, the runs' records, their states and a sample of
// explanations.
func TestAccountClustersSameAsEmbedded(t *testing.T) {
	ctx := context.Background()
	_, url := simtest.NewETH(t, sim.ETHConfig{Seed: 22, Days: 2})
	chs := openTest(t)
	em, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	c := chains.Ethereum
	type accountStore interface {
		cluster.Store
		eth.Sink
		ClusterState(ctx context.Context, c chains.Chain, fn func(part []byte) error) error
	}
	dump := func(st accountStore) (string, []chains.Address) {
		var b strings.Builder
		var addrs []chains.Address
		err := st.LoadClusters(ctx, c, func(r store.ClusterRow) error {
			fmt.Fprintf(&b, "%d %x %d %d\n", r.Index, []byte(r.Address), r.Cluster, r.Size)
			addrs = append(addrs, r.Address)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		m, _, _ := st.ClusterMeta(ctx, c)
		fmt.Fprintf(&b, "%v %d %s %d %d %v %s\n", m.Heuristics, m.Height, m.Hash, m.Addresses, m.Clusters, m.Links, m.State)
		err = st.ClusterState(ctx, c, func(p []byte) error {
			fmt.Fprintf(&b, "state part %x\n", sha256.Sum256(p))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return b.String(), addrs
	}
	for _, st := range []accountStore{chs, em} {
		for i, to := range []int64{250, 480} {
			cl, err := ethereum.Dial(ctx, url, ethereum.ClientOptions{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = eth.Index(ctx, st, cl, eth.IndexConfig{Confirmations: 0, To: to})
			cl.Close()
			if err != nil {
				t.Fatal(err)
			}
			sum, err := cluster.Run(ctx, st, c, []string{heuristics.DepositName})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Incremental != (i > 0) {
				t.Fatalf("run to %d: incremental %v (%s)", to, sum.Incremental, sum.Recomputed)
			}
		}
	}
	a, addrs := dump(em)
	b, _ := dump(chs)
	sameLines(t, a, b)
	if !strings.Contains(a, "state part") || strings.Count(a, "\n") < 300 {
		t.Fatalf("the chain gave too little to compare (%d lines):\n%.500s", strings.Count(a, "\n"), a)
	}
	storetest.CheckMembers(t, chs, c, 60)
	storetest.CheckMembers(t, em, c, 0)
	// Pairs of one cluster, and some of two: the same explanations.
	byCluster := map[uint32][]chains.Address{}
	for _, x := range addrs {
		id, _, err := em.ClusterOf(ctx, c, x)
		if err != nil {
			t.Fatal(err)
		}
		byCluster[id] = append(byCluster[id], x)
	}
	explained := 0
	for _, x := range addrs {
		id, _, _ := em.ClusterOf(ctx, c, x)
		m := byCluster[id]
		if len(m) < 2 || m[0] == x || explained > 40 {
			continue
		}
		pa, err1 := cluster.Explain(ctx, em, c, m[0], x)
		pb, err2 := cluster.Explain(ctx, chs, c, m[0], x)
		if err1 != nil || len(pa) == 0 || fmt.Sprint(pa, err1) != fmt.Sprint(pb, err2) {
			t.Fatalf("explanations differ or are missing:\n%v %v\n%v %v", pa, err1, pb, err2)
		}
		explained++
	}
	if explained == 0 {
		t.Fatal("no cluster of two addresses to explain")
	}
	t.Logf("%d addresses, %d clusters, %d explanations alike", len(addrs), len(byCluster), explained)
}

// TestAttributionSameAsEmbedded: sanctions snapshots and labels stored in
// ClickHouse answer as in the embedded store (two real OFAC CSV sets and a
// real TagPack).
func TestAttributionSameAsEmbedded(t *testing.T) {
	ctx := context.Background()
	chs := openTest(t)
	em, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	type attrStore interface {
		AddSnapshot(context.Context, store.SanctionsSnapshot, []store.SanctionedAddress) (store.SanctionsSnapshot, error)
		Snapshots(context.Context) ([]store.SanctionsSnapshot, error)
		SnapshotAddresses(context.Context, int64) ([]store.SanctionedAddress, error)
		Sanctioned(context.Context, int64, chains.Chain, chains.Address) (store.SanctionedAddress, bool, error)
		CurrentSnapshot(context.Context) (int64, error)
		AddLabels(context.Context, []store.Label) error
		Labels(context.Context, chains.Chain, chains.Address) ([]store.Label, error)
		EachLabel(context.Context, func(store.Label) error) error
	}
	dir := shareddata.Path(t, "sanctions", "ofac", "legacy-csv")
	tagpack := shareddata.Path(t, "labels", "graphsense-tagpacks", "packs", "tornado_cash.yaml")
	answers := func(st attrStore) string {
		var b strings.Builder
		for _, files := range [][]string{{dir + "/2021-07-07_watchman-bench/sdn.csv.gz"}, {dir + "/git-scrape/sdn_2024-05-03.csv.gz"}} {
			l, err := sanctions.Load(files)
			if err != nil {
				t.Fatal(err)
			}
			sn, addrs := sanctions.Snapshot(l)
			if _, err := st.AddSnapshot(ctx, sn, addrs); err != nil {
				t.Fatal(err)
			}
		}
		f, err := os.Open(tagpack)
		if err != nil {
			t.Fatal(err)
		}
		ls, _, _, err := labels.ReadTagPack(f, "tornado")
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := st.AddLabels(ctx, ls); err != nil {
			t.Fatal(err)
		}
		if err := st.AddLabels(ctx, ls[:3]); err != nil { // a re-import replaces, never doubles
			t.Fatal(err)
		}
		cur, _ := st.CurrentSnapshot(ctx)
		sns, _ := st.Snapshots(ctx)
		fmt.Fprintf(&b, "current %d of %d\n", cur, len(sns))
		for _, sn := range sns {
			as, err := st.SnapshotAddresses(ctx, sn.ID)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "snapshot %d: %d entries, %d addresses, invalid %v\n", sn.ID, sn.Entries, len(as), sn.Invalid)
			for _, a := range as {
				got, ok, err := st.Sanctioned(ctx, sn.ID, a.Chain, a.Address)
				fmt.Fprintf(&b, "  %s %s %s %v %s %v %v\n", a.Chain, a.Text, a.Entity, a.Programs, got.Ref, ok, err)
			}
		}
		err = st.EachLabel(ctx, func(l store.Label) error {
			fmt.Fprintf(&b, "label %s %s %s %s %d\n", l.Chain, l.Text, l.Label, l.Category, l.Confidence)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	a, b := answers(em), answers(chs)
	if a != b {
		al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
		for i := range min(len(al), len(bl)) {
			if al[i] != bl[i] {
				t.Fatalf("line %d differs:\nembedded:   %s\nclickhouse: %s\n(next: %s / %s)", i, al[i], bl[i], al[i+1], bl[i+1])
			}
		}
		t.Fatalf("answers differ in length: %d vs %d", len(al), len(bl))
	}
}

func TestServerDown(t *testing.T) {
	_, err := clickhouse.Open(context.Background(), "clickhouse://127.0.0.1:1/x", clickhouse.Options{})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("got %v, want an error naming the address", err)
	}
}

// TestProtocolParam: protocol= takes native or http; anything else is
// refused by name before any connection is tried.
func TestProtocolParam(t *testing.T) {
	_, err := clickhouse.Open(context.Background(), "clickhouse://127.0.0.1:1/x?protocol=grpc", clickhouse.Options{})
	if err == nil || !strings.Contains(err.Error(), `protocol "grpc"`) {
		t.Fatalf("got %v, want an error naming the protocol", err)
	}
	_, err = clickhouse.Open(context.Background(), "clickhouse://127.0.0.1:1/x?protocol=http", clickhouse.Options{})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("got %v, want an error naming the address", err)
	}
}

func TestSchemaTooNew(t *testing.T) {
	st := openTest(t)
	if err := st.RecordMigration(context.Background(), 999); err != nil {
		t.Fatal(err)
	}
	_, err := clickhouse.Open(context.Background(), testURI(t, st.Database()), clickhouse.Options{})
	if !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("got %v, want ErrSchemaTooNew", err)
	}
}

// TestMigrationMovesSpends: a database written by migration 1's layout
// (spends) keeps its spender answers after migration 2 repacks them into
// spenders. The rows are real: block 170's transaction, the first bitcoin
// payment, spends output 0 of block 9's coinbase.
func TestMigrationMovesSpends(t *testing.T) {
	ctx := context.Background()
	uri := testURI(t, fmt.Sprintf("ft_test_%d_%d", os.Getpid(), dbSeq.Add(1)))
	old, err := clickhouse.OpenAtSchema(ctx, uri, 1)
	if err != nil {
		t.Fatal(err)
	}
	const (
		pay  = "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"
		coin = "0437cd7f8525ceed2324359c2d0ba26006d92d856a9c20fa0241106ee5a597c9"
	)
	ins := fmt.Sprintf(`INSERT INTO %s.spends (chain, prev_txid, prev_vout, txid, vin, height)
		SELECT 'btc', unhex('%s'), 0, unhex('%s'), 0, 170`, old.Database(), coin, pay)
	if err := old.Exec(ctx, ins); err != nil {
		t.Fatal(err)
	}
	if err := old.SetTip(ctx, chains.Bitcoin, 170); err != nil {
		t.Fatal(err)
	}
	if v, err := old.SchemaVersion(ctx); err != nil || v != 1 {
		t.Fatalf("schema %d, %v; want 1", v, err)
	}
	old.Close()

	st, err := clickhouse.Open(ctx, uri, clickhouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if v, err := st.SchemaVersion(ctx); err != nil || v < 2 {
		t.Fatalf("schema %d, %v; want at least 2", v, err)
	}
	op := chains.Outpoint{Hash: mustHash(t, coin), Index: 0}
	sp, found, err := st.Spenders(ctx, chains.Bitcoin, []chains.Outpoint{op, {Hash: mustHash(t, pay), Index: 0}})
	if err != nil {
		t.Fatal(err)
	}
	// The entry migration 2 packed holds the height in eight bytes, the
	// upper four zero: no place (position 0) for the spending transaction.
	if !found[0] || sp[0].TxHash != mustHash(t, pay) || sp[0].Vin != 0 || sp[0].Height != 170 || sp[0].Position != 0 || sp[0].Outpoint != op {
		t.Fatalf("spender of %s after migration: %+v found=%v", op, sp[0], found[0])
	}
	if found[1] {
		t.Fatalf("unspent output reported spent: %+v", sp[1])
	}
	if err := st.Exec(ctx, "SELECT count() FROM "+st.Database()+".spends"); err == nil {
		t.Fatal("migration 2 left the spends table behind")
	}
}

// TestMigrationMovesTxs: a database written by schema 5's layout (txs
// ordered by txid) answers every lookup and pass as the block files say
// after migration 6 moves its transactions into block_txs and
// tx_locations (and migration 9 those into tx_records and txid_places),
// and txs is gone.
func TestMigrationMovesTxs(t *testing.T) {
	checkMigration(t, 5, clickhouse.WriteLayoutV5, "block_txs", "txs", "block_txs", "tx_locations")
}

// TestMigrationMovesBlockTxs: a database written by schema 8's layout
// (block_txs, a column per field, and tx_locations) answers every lookup
// and pass as the block files say after migration 9 moves its
// transactions into tx_records and txid_places, and the old tables are
// gone.
func TestMigrationMovesBlockTxs(t *testing.T) {
	checkMigration(t, 8, clickhouse.WriteLayoutV8, "tx_records", "block_txs", "tx_locations")
}

// TestMigrationDropsOutputs: a database written by schema 10's layout
// (every output also in outputs) answers every lookup, outputs by
// outpoint included, from its transactions' records after migration 11
// drops outputs.
func TestMigrationDropsOutputs(t *testing.T) {
	checkMigration(t, 10, clickhouse.WriteLayoutV10, "", "outputs")
}

// TestMigrationDropsHistoryTxid: a database at schema 11, its history
// rows holding their txids, loses the column and answers every lookup
// (AddressHistory's txids from tx_records) as the files say.
func TestMigrationDropsHistoryTxid(t *testing.T) {
	checkMigration(t, 11, clickhouse.WriteLayoutV11, "", "address_history.txid")
}

// checkMigration indexes the real blocks 0..70 into a database at schema
// v, written by layout (which must not have table newer, when one is
// named), opens it with
// this binary, which migrates it, and checks that the tables gone are
// gone, that no table holds a row twice, and every lookup and pass.
func checkMigration(t *testing.T, v int, layout func() (restore func()), newer string, gone ...string) {
	ctx := context.Background()
	uri := testURI(t, fmt.Sprintf("ft_test_%d_%d", os.Getpid(), dbSeq.Add(1)))
	old, err := clickhouse.OpenAtSchema(ctx, uri, v)
	if err != nil {
		t.Fatal(err)
	}
	restore := layout()
	storetest.Index(t, old, 0, 70)
	restore()
	if newer != "" {
		if err := old.Exec(ctx, "SELECT count() FROM "+old.Database()+"."+newer); err == nil {
			t.Fatalf("schema %d has %s", v, newer)
		}
	}
	old.Close()

	st, err := clickhouse.Open(ctx, uri, clickhouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got, err := st.SchemaVersion(ctx); err != nil || got <= v {
		t.Fatalf("schema %d, %v; want above %d", got, err, v)
	}
	for _, g := range gone {
		// A table, or table.column.
		q := "SELECT count() FROM " + st.Database() + "." + g
		if table, col, ok := strings.Cut(g, "."); ok {
			q = "SELECT " + col + " FROM " + st.Database() + "." + table + " LIMIT 1"
		}
		if err := st.Exec(ctx, q); err == nil {
			t.Fatalf("the migration left %s behind", g)
		}
	}
	checkNoDuplicates(t, st)
	storetest.Check(t, st)
}

func mustHash(t *testing.T, s string) chains.Hash {
	t.Helper()
	h, err := chains.ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestCluster runs two ClickHouse servers as one two-shard cluster (with
// ZooKeeper for ON CLUSTER DDL), indexes the real blocks through it, and
// checks the answers equal the embedded store's and both shards hold rows.
func TestCluster(t *testing.T) {
	if server == nil {
		t.Skip("no ClickHouse server")
	}
	ctx := context.Background()
	dir := t.TempDir()
	zk, err := chtest.StartZooKeeper(ctx, dir+"/zk")
	if err != nil {
		t.Fatal(err)
	}
	defer zk.Stop()
	p1, _ := chtest.FreePort()
	p2, _ := chtest.FreePort()
	cl := chtest.Cluster{Name: "ft_two_shards", Shards: []int{p1, p2}, ZooKeeper: zk.Addr}
	var servers []*chtest.Server
	for i, p := range []int{p1, p2} {
		s, err := chtest.Start(ctx, fmt.Sprintf("%s/ch%d", dir, i), p, cl)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Stop()
		servers = append(servers, s)
	}
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))
	defer func() {
		if t.Failed() {
			t.Logf("store log:\n%s", logs.String())
		}
	}()
	st, err := clickhouse.Open(ctx, fmt.Sprintf("clickhouse://%s/ftc", servers[0].Addr()), clickhouse.Options{Cluster: cl.Name, Logger: logger})
	if err != nil {
		for _, s := range servers {
			b, _ := os.ReadFile(s.Dir + "/log/error.log")
			t.Logf("%s error log:\n%s", s.Addr(), b)
		}
		t.Fatal(err)
	}
	defer st.Close()
	storetest.Index(t, st, 0, 100)

	em, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	storetest.Index(t, em, 0, 100)
	if storetest.Answers(t, em) != storetest.Answers(t, st) {
		t.Fatal("the cluster answers differently from the embedded store")
	}
	for i, s := range servers {
		one, err := clickhouse.Open(ctx, fmt.Sprintf("clickhouse://%s/ftc", s.Addr()), clickhouse.Options{})
		if err != nil {
			t.Fatal(err)
		}
		counts, err := one.CountRows(ctx, "txid_places_local", "address_history_local", "spenders_local")
		one.Close()
		if err != nil {
			t.Fatal(err)
		}
		for table, n := range counts {
			if n == 0 {
				t.Errorf("shard %d holds no rows of %s", i, table)
			}
		}
		t.Logf("shard %d: %v", i, counts)
	}
}

// synthChain writes a generated regtest chain as block files.
func synthChain(t *testing.T, blocks, txs int) string { return synthChainB(t, blocks, txs) }

func synthChainB(t testing.TB, blocks, txs int) string {
	ch := testchain.Generate(testchain.Config{Seed: 5, Blocks: blocks, TxsPerBlock: txs})
	dir := t.TempDir()
	fw := &bitcoin.FileWriter{Dir: dir, Magic: wire.TestNet}
	for _, b := range ch.Blocks {
		if err := fw.Write(testchain.Serialize(b)); err != nil {
			t.Fatal(err)
		}
	}
	fw.Close()
	return dir
}

// checkNoDuplicates compares each table's row count with the counts the
// chain's metadata says it holds.
func checkNoDuplicates(t *testing.T, st *clickhouse.Store) {
	t.Helper()
	ctx := context.Background()
	m, err := st.Meta(ctx, chains.Bitcoin)
	if err != nil {
		t.Fatal(err)
	}
	counts, err := st.CountRows(ctx, "blocks", "block_hashes", "tx_records", "txid_places", "spenders")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"blocks": m.Blocks, "block_hashes": m.Blocks, "tx_records": m.Txs, "txid_places": m.Txs, "spenders": m.Inputs}
	for table, n := range counts {
		if int64(n) != want[table] {
			t.Errorf("%s holds %d rows, the chain has %d", table, n, want[table])
		}
	}
}

// TestRollbackOfInterruptedWrite: rows a write left without its commit
// marker are removed before the next write, which then succeeds.
func TestRollbackOfInterruptedWrite(t *testing.T) {
	ctx := context.Background()
	st := openTest(t)
	storetest.Index(t, st, 300, 0)
	// Decode blocks 301..320 as the indexer would and insert their rows
	// without committing them.
	dir := storetest.BlocksDir()
	d, err := bitcoin.ScanDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := d.BestChain()
	if err != nil {
		t.Fatal(err)
	}
	var blocks []store.BlockData
	for h := 301; h <= 320; h++ {
		raw, err := d.ReadBlock(plan.Chain[h], nil)
		if err != nil {
			t.Fatal(err)
		}
		bd, err := bitcoin.NewDecoder().Decode(raw, int64(h))
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, *bd)
	}
	if err := st.InsertRowsUncommitted(ctx, chains.Bitcoin, blocks); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, err = clickhouse.Open(ctx, testURI(t, st.Database()), clickhouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if m, _ := st.Meta(ctx, chains.Bitcoin); m.TipHeight != 300 {
		t.Fatalf("tip %d, want 300", m.TipHeight)
	}
	storetest.Index(t, st, 0, 0)
	checkNoDuplicates(t, st)
	em, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	storetest.Index(t, em, 0, 0)
	if storetest.Answers(t, em) != storetest.Answers(t, st) {
		t.Fatal("after the rollback the store answers differently")
	}
}

// TestServerRestartMidIngest restarts the ClickHouse server while an
// index runs: the writer retries with backoff and the store ends with
// exactly the rows of an undisturbed run.
func TestServerRestartMidIngest(t *testing.T) {
	ctx := context.Background()
	dir := synthChain(t, 40, 40)
	// A server of its own: restarting the shared one would disturb the
	// tests running beside this one.
	srv, err := chtest.Start(ctx, t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))
	st, err := clickhouse.Open(ctx, "clickhouse://"+srv.Addr()+"/restart", clickhouse.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	restarted := make(chan error, 1)
	var once sync.Once
	_, err = btc.Index(ctx, st, btc.IndexConfig{Dir: dir, BatchBlocks: 2, Progress: func(p btc.Progress) {
		if p.Height >= 10 {
			once.Do(func() { go func() { restarted <- srv.Restart(ctx) }() })
		}
	}})
	if err != nil {
		t.Fatalf("index across a restart: %v\n%s", err, logs.String())
	}
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "retrying") {
		t.Logf("writes failed during the restart and were retried")
	} else {
		t.Logf("no write failed during the restart (it fell between batches)")
	}
	checkNoDuplicates(t, st)
	em, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	if _, err := btc.Index(ctx, em, btc.IndexConfig{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	if storetest.Answers(t, em) != storetest.Answers(t, st) {
		t.Fatal("after the restart the store answers differently")
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// sameLines fails t at the first line where the embedded store's answers
// (a) and ClickHouse's (b) differ.
func sameLines(t *testing.T, a, b string) {
	t.Helper()
	if a == b {
		return
	}
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			t.Fatalf("line %d differs:\nembedded:   %.300s\nclickhouse: %.300s", i, al[i], bl[i])
		}
	}
	t.Fatalf("answers differ in length: %d vs %d lines", len(al), len(bl))
}
