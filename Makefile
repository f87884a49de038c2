# fundtrace: the two commands a newcomer needs are `make demo` and `make test`.
GO      ?= go
STORE   ?= fundtrace-data
BIN     := bin/fundtrace
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: all build demo test test-unit lint vet fmt-check bench bench-scale eval fuzz clean vendor-js

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/fundtrace

# The main job on the shipped simulated scam scenario (sim/FORMAT.md):
# index its block files, cluster the addresses, import the labels an
# investigator has, trace the victims' payments from the case file to the
# exchanges, write one freezing request per exchange into
# $(STORE)-freeze/ and the flow report and evidence bundle into
# $(STORE)-report/. Then index the real mainnet blocks 0..599 shipped in
# testdata and show the first bitcoin payment (block 170).
SCENARIO := testdata/sim/btc
demo: build
	$(BIN) --store $(STORE)-sim index btc --blocks $(SCENARIO)/blocks
	$(BIN) --store $(STORE)-sim cluster
	$(BIN) --store $(STORE)-sim labels import $(SCENARIO)/labels.csv
	$(BIN) --store $(STORE)-sim trace --case $(SCENARIO)/case.csv --through-mixers --out $(STORE)-trace.json
	$(BIN) freeze --trace $(STORE)-trace.json --out $(STORE)-freeze --force --case-info $(SCENARIO)/case-info.yaml --prices $(SCENARIO)/prices.csv
	$(BIN) --store $(STORE)-sim report --trace $(STORE)-trace.json --out $(STORE)-report --force --case-info $(SCENARIO)/case-info.yaml --prices $(SCENARIO)/prices.csv
	$(BIN) --store $(STORE) index btc --blocks testdata/btc/blocks
	$(BIN) --store $(STORE) status
	$(BIN) --store $(STORE) show tx f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16

# Every test, including the real-data tests (testdata/shared), the kill -9
# resume tests, the ClickHouse tests against real servers (installed
# here when missing, started by the tests on loopback; and again on
# ClickHouse 26.5's engine, chDB's library fetched from npm) and the Ethereum
# tests against a real geth --dev (built here from the module proxy the
# first time). CI runs exactly this.
# Packages run one at a time (-p 1): the ClickHouse and kill tests start
# their own servers and processes, and on two cores they disturb each other.
test: lint
	sh scripts/ensure-clickhouse.sh
	sh scripts/ensure-render.sh
	FUNDTRACE_GETH=$$(sh scripts/ensure-geth.sh) FUNDTRACE_CHDBSERVE=$$(sh scripts/ensure-chdb.sh) \
		FUNDTRACE_TEST_GETH=1 FUNDTRACE_TEST_CLICKHOUSE=1 FUNDTRACE_TEST_RENDER=1 \
		$(GO) test -count=1 -p 1 -timeout 25m ./...

# Everything that needs no server (ClickHouse, geth and the PDF renderer
# tests skip themselves), packages in parallel: the quick loop while
# working. make test is the whole suite.
test-unit:
	$(GO) test -count=1 ./...

lint: vet fmt-check

# Refresh the workbench's JavaScript libraries from npm at the pinned
# versions (scripts/vendor-js.sh); they are committed, so go build needs
# no npm.
vendor-js:
	sh scripts/vendor-js.sh

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

# Benchmarks: indexing on one core with the ratio to btcd's bare decode
# (the floor), in five rounds that each run the floor, the decoder and the
# index one after the other, so that each ratio compares runs seconds
# apart (the machine's speed drifts over minutes); the embedded store's
# reads (a transaction by txid, 1,000 outpoints at once); ClickHouse writes
# against a bare clickhouse-go batch insert, and the 1,000-outpoint
# spender lookup on 10 M rows (real servers); the Ethereum pipeline
# against a bare fetch of the same replayed answers. Last, index tron from
# the simulator's node on a chain of 1.5 million transactions (generated
# once into .cache/bench-scale): transactions per second and the
# fetch/commit split.
bench:
	sh scripts/ensure-clickhouse.sh
	: > bench.txt
	for i in 1 2 3 4 5; do \
		$(GO) test -run '^$$' -bench 'Floor|Decode|Index$$' -benchtime 20x -count 1 -cpu 1 ./chains/bitcoin ./ingest/btc | tee -a bench.txt; \
	done
	$(GO) test -run '^$$' -bench 'IndexChain' -benchtime 2x -count 3 -cpu 1 ./ingest/btc | tee -a bench.txt
	$(GO) test -run '^$$' -bench '^BenchmarkTx$$|LookupOutputs' -count 3 -cpu 1 ./store/embedded | tee -a bench.txt
	FUNDTRACE_TEST_CLICKHOUSE=1 $(GO) test -run '^$$' -bench . -benchtime 3x -timeout 20m ./store/clickhouse | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'Pipeline|FetchBare' -benchtime 10x -count 3 ./ingest/eth | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'Cluster|BareUnionFind' -benchtime 3x -count 3 ./cluster | tee -a bench.txt
	FUNDTRACE_TEST_CLICKHOUSE=1 $(GO) test -run '^$$' -bench 'Trace' -benchtime 5x -timeout 20m ./tracer | tee -a bench.txt
	FUNDTRACE_TEST_CLICKHOUSE=1 $(GO) test -run '^$$' -bench 'Serve' -benchtime 100000x -count 3 -timeout 20m ./screening | tee -a bench.txt
	@sh scripts/benchreport.sh bench.txt
	sh scripts/bench-tron.sh

# Cost as the chain grows (not part of make test), on simulated Bitcoin
# chains generated once and cached in .cache/bench-scale, every step a
# whole process. bench-scale.sh: clustering (inputs/s, peak memory per
# address and fixed, an incremental run after 1% more blocks against a
# full one; SIZES, scale:days: the workbench's 300:45 and 30:115, 30:350,
# 30:1180, about 1 M, 3 M and 10 M transactions of one economy).
# bench-store.sh:
# index, cluster, labels, trace of the case and a bulk screening on the
# embedded store, on a ClickHouse server it starts and on a two-shard
# ClickHouse cluster it starts (seconds per million transactions, peak
# memory, bytes per transaction, each store against the embedded one and
# each size against the first; STORE_SIZES, by default the same three
# and the Ethereum chains eth:120:5, eth:120:13 and eth:120:44, 1.2 M,
# 3.2 M and 11.2 M transactions served by simulate serve-eth; STORES, a
# subset of "embedded clickhouse ch-2shard").
# bench-trace.sh: whole cases traced (the 1 M-transaction Bitcoin chain's
# 1,280 victim payments, the 1.7 M-transaction Ethereum chain's 1,373),
# with and without poison: time, peak memory, trace file size, freeze.
bench-scale:
	SIZES="$${SIZES:-300:45 30:115 30:350 30:1180}" sh scripts/bench-scale.sh
	SIZES="$${STORE_SIZES:-30:115 30:350 30:1180 eth:120:5 eth:120:13 eth:120:44}" sh scripts/bench-store.sh
	sh scripts/bench-trace.sh
	# The workbench on the million-transaction chain's 1,033-payment case
	# (cached by bench-scale.sh): first render, highlight and expand.
	FUNDTRACE_WORKBENCH_STORE=$(CURDIR)/.cache/bench-scale/btc-300-45/store FUNDTRACE_WORKBENCH_CASE=$(CURDIR)/.cache/bench-scale/btc-300-45/sim/case.csv \
		$(GO) test -count=1 -run TestWorkbenchScale -v -timeout 30m ./screening | grep -v '^=== RUN'

# Clustering accuracy on simulated chains with ground truth: pairwise
# precision and recall of each heuristic set (Bitcoin) and of the deposit
# heuristic (Ethereum, TRON); tracing accuracy on the shipped Bitcoin, Ethereum
# and TRON scenarios.
eval:
	$(GO) test -count=1 -run 'TestAccuracyOnSimulatedChain|TestDepositHeuristicOnSimulatedChain|TestDepositHeuristicOnTron' -v ./cluster | grep -v '^=== RUN'
	$(GO) test -count=1 -run 'TestAccuracyOnShippedScenario|TestAccuracyETH|TestAccuracyTron|TestBackward|TestAccountBackward' -v ./tracer | grep -v '^=== RUN'
	$(GO) test -count=1 -run 'TestDepositClustersExported' -v ./cmd/fundtrace | grep 'cluster export'

# Run each fuzzer for FUZZTIME (default 30s).
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzScan$$' -fuzztime $(FUZZTIME) ./chains/bitcoin
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s ./chains/bitcoin
	$(GO) test -run '^$$' -fuzz '^FuzzClassifyScript$$' -fuzztime $(FUZZTIME) ./chains/bitcoin
	$(GO) test -run '^$$' -fuzz '^FuzzBlock$$' -fuzztime $(FUZZTIME) ./chains/tron
	$(GO) test -run '^$$' -fuzz '^FuzzRawTx$$' -fuzztime $(FUZZTIME) ./chains/tron
	$(GO) test -run '^$$' -fuzz '^FuzzScreenRequest$$' -fuzztime $(FUZZTIME) ./screening

clean:
	rm -rf bin $(STORE) $(STORE)-sim $(STORE)-trace.json $(STORE)-freeze $(STORE)-report bench.txt
