package screening

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/cluster"
	"github.com/fundtrace/fundtrace/ingest/btc"
	"github.com/fundtrace/fundtrace/internal/chtest"
	"github.com/fundtrace/fundtrace/internal/shareddata"
	"github.com/fundtrace/fundtrace/labels"
	"github.com/fundtrace/fundtrace/sanctions"
	"github.com/fundtrace/fundtrace/sim"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/store/clickhouse"
	"github.com/fundtrace/fundtrace/store/embedded"
)

var chServer *chtest.Server

func TestMain(m *testing.M) { os.Exit(chtest.Main(m, &chServer)) }

// loadStore is what the load benchmark fills and serves from.
type loadStore interface {
	Store
	ClusterStore
	btc.Sink
	cluster.Store
	AddSnapshot(ctx context.Context, sn store.SanctionsSnapshot, addrs []store.SanctionedAddress) (store.SanctionsSnapshot, error)
	AddLabels(ctx context.Context, ls []store.Label) error
	Close() error
}

// fillLoadStore indexes a simulated chain (clustered, its labels
// imported) and the real OFAC list of 2024-05-03 into st, and returns the
// addresses to screen: the listed ones and the chain's.
func fillLoadStore(b *testing.B, st loadStore, scale int) []string {
	ctx := context.Background()
	dir := b.TempDir()
	w := sim.GenerateBTC(sim.BTCConfig{Seed: 5, Scale: scale, Days: 10})
	if err := sim.WriteBTC(w, dir, sim.WriteOptions{}); err != nil {
		b.Fatal(err)
	}
	if _, err := btc.Index(ctx, st, btc.IndexConfig{Dir: filepath.Join(dir, sim.BlocksDir)}); err != nil {
		b.Fatal(err)
	}
	if _, err := cluster.Run(ctx, st, chains.Bitcoin, nil); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "labels.csv"))
	if err != nil {
		b.Fatal(err)
	}
	ls, _, err := labels.ReadCSV(f, "simulation")
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	if err := st.AddLabels(ctx, ls); err != nil {
		b.Fatal(err)
	}
	l, err := sanctions.Load([]string{shareddata.Path(b, "sanctions", "ofac", "legacy-csv", "git-scrape", "sdn_2024-05-03.csv.gz")})
	if err != nil {
		b.Fatal(err)
	}
	sn, addrs := sanctions.Snapshot(l)
	if _, err := st.AddSnapshot(ctx, sn, addrs); err != nil {
		b.Fatal(err)
	}
	// The simulated chain is regtest, so the store screens Bitcoin
	// addresses for regtest: the list's (mainnet) Bitcoin addresses would
	// be refused; its Ethereum ones are screened.
	var paths []string
	for _, a := range addrs {
		if a.Chain == chains.Ethereum {
			paths = append(paths, "/v1/screen/eth/"+a.Text)
		}
	}
	for a := range w.Addresses.All() {
		paths = append(paths, "/v1/screen/btc/"+a.Address)
		if len(paths) >= 20_000 {
			break
		}
	}
	return paths
}

// BenchmarkServe measures direct screening over HTTP on loopback: 64
// keep-alive clients in this process (the load generator shares the
// machine's cores with the server), each GET /v1/screen/{chain}/{address}
// over a mix of the real list's addresses and a simulated chain's (with
// clusters and labels). It reports requests a second and the p50 and p99
// latency seen by the clients.
func BenchmarkServe(b *testing.B) {
	opens := map[string]func() loadStore{
		"embedded": func() loadStore {
			st, err := embedded.Open(b.TempDir(), embedded.Options{})
			if err != nil {
				b.Fatal(err)
			}
			return st
		},
	}
	if chServer != nil {
		opens["clickhouse"] = func() loadStore {
			st, err := clickhouse.Open(context.Background(), "clickhouse://"+chServer.Addr()+fmt.Sprintf("/ft_serve_%d", os.Getpid()), clickhouse.Options{})
			if err != nil {
				b.Fatal(err)
			}
			return st
		}
	}
	for _, name := range []string{"embedded", "clickhouse"} {
		open, ok := opens[name]
		if !ok {
			continue
		}
		b.Run(name, func(b *testing.B) {
			st := open()
			defer st.Close()
			paths := fillLoadStore(b, st, 20)
			sc, err := New(context.Background(), st)
			if err != nil {
				b.Fatal(err)
			}
			keys := filepath.Join(b.TempDir(), "keys.json")
			key, _, err := CreateKey(keys, "load", KeyOptions{})
			if err != nil {
				b.Fatal(err)
			}
			k, err := LoadKeys(keys)
			if err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(NewServer(sc, Config{Keys: k, Rate: 1e9}))
			defer srv.Close()
			tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}
			client := &http.Client{Transport: tr}
			get := func(p string) (time.Duration, error) {
				req, _ := http.NewRequest("GET", srv.URL+p, nil)
				req.Header.Set("X-API-Key", key)
				start := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					return 0, err
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					return 0, fmt.Errorf("%s: %d", p, resp.StatusCode)
				}
				return time.Since(start), err
			}
			// Warm up: every address once (the cluster answers cached).
			for _, p := range paths {
				if _, err := get(p); err != nil {
					b.Fatal(err)
				}
			}
			clients := loadClients
			var next atomic.Int64
			lat := make([][]time.Duration, clients)
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			var failed atomic.Value
			for c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						d, err := get(paths[int(i)%len(paths)])
						if err != nil {
							failed.Store(err)
							return
						}
						lat[c] = append(lat[c], d)
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			if err, _ := failed.Load().(error); err != nil {
				b.Fatal(err)
			}
			var all []time.Duration
			for _, l := range lat {
				all = append(all, l...)
			}
			slices.Sort(all)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
			b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(len(paths)), "addresses")
		})
	}
}

// loadClients is how many clients BenchmarkServe runs at once.
var loadClients = 16
