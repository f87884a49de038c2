package clickhouse_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/fundtrace/fundtrace/internal/chtest"
	"github.com/fundtrace/fundtrace/store/storetest"
)

// TestCurrentClickHouse runs this package's tests of the store's
// behaviour again on current ClickHouse: ClickHouse 26.5's engine (chDB's
// libchdb.so; scripts/ensure-chdb.sh fetches it) behind chdbserve's
// HTTP interface, the store speaking HTTP (protocol=http). Every
// migration runs there from an empty database, and from the old layouts
// the migration tests write; every answer is checked as on 18.16, most
// against the embedded store's. A query costs 3 to 5 ms there (about 1 on
// 18.16), so the longest runs that repeat paths already covered are left
// to 18.16 (named below), and so is what needs a server process of its
// own (a cluster, a restart, a server that is down) or reads the native
// protocol's progress packets (TestAccessPathsReadFewRows).
func TestCurrentClickHouse(t *testing.T) {
	command, err := chtest.EngineCommand()
	if err != nil {
		t.Fatal(err)
	}
	if command == "" {
		t.Skip("no chdbserve: set FUNDTRACE_CHDBSERVE (make test does, through scripts/ensure-chdb.sh)")
	}
	e, err := chtest.StartEngine(context.Background(), command, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	var version string
	engine = e
	defer func() { engine = nil }()
	if err := openTest(t).QueryRowForTest(context.Background(), "SELECT version()", &version); err != nil {
		t.Fatal(err)
	}
	t.Logf("ClickHouse %s (chDB)", version)
	if major, _, _ := strings.Cut(version, "."); atoi(major) < 24 {
		t.Fatalf("the engine is ClickHouse %s, not a current one", version)
	}
	for _, tc := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"Conformance", func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) storetest.Store {
				// The store's own logic over some 25,000 lookups each,
				// 7 minutes through the bridge: left to 18.16. The
				// rollback they rely on (ALTER ... DELETE, then
				// system.mutations) is RollbackOfInterruptedWrite's.
				if n := t.Name(); strings.HasSuffix(n, "/Reorg") || strings.HasSuffix(n, "/ResumeAndRerun") {
					t.Skip("run on 18.16 only")
				}
				return openTest(t)
			})
		}},
		{"SameAnswersAsEmbedded", TestSameAnswersAsEmbedded},
		{"SanctionsConformance", TestSanctionsConformance},
		{"RecordsConformance", TestRecordsConformance},
		{"ClusterStateConformance", TestClusterStateConformance},
		{"AccountConformance", func(t *testing.T) {
			storetest.RunAccount(t, func(t *testing.T) storetest.AccountStore {
				// TRON's run is Ethereum's paths again over 3.5 minutes
				// of lookups through the bridge: left to 18.16.
				if strings.HasSuffix(t.Name(), "/Tron") {
					t.Skip("run on 18.16 only")
				}
				return openTest(t)
			})
		}},
		{"SameAccountAnswersAsEmbedded", TestSameAccountAnswersAsEmbedded},
		{"ClustersSameAsEmbedded", TestClustersSameAsEmbedded},
		{"AccountClustersSameAsEmbedded", TestAccountClustersSameAsEmbedded},
		{"AttributionSameAsEmbedded", TestAttributionSameAsEmbedded},
		{"SchemaTooNew", TestSchemaTooNew},
		// A schema-5 database (the oldest layout of transactions) is
		// taken through migrations 6 to 12, each moving or dropping what
		// it does on 18.16, and then checked whole; migration 2 has
		// its own. The tests starting from later schemas run the same
		// statements on less: left to 18.16.
		{"MigrationMovesSpends", TestMigrationMovesSpends},
		{"MigrationMovesTxs", TestMigrationMovesTxs},
		{"RollbackOfInterruptedWrite", TestRollbackOfInterruptedWrite},
		{"AddressCountLater", TestAddressCountLater},
		{"SpendingTxsByPlace", TestSpendingTxsByPlace},
	} {
		t.Run(tc.name, tc.run)
	}
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}
