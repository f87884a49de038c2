#!/bin/sh
# benchreport.sh FILE: summarise `go test -bench` output: the median MB/s
# and tx/s of each benchmark, and each one's ratio to BenchmarkFloor
# (btcd's bare wire.MsgBlock deserialization plus txid hashing). Only the
# benchmarks over the same real blocks as the floor get a ratio: the
# median, over the rounds, of a run's MB/s over the MB/s of the floor run
# last before it (make bench runs floor, decoder and index in turn, five
# times, so that a ratio compares runs seconds apart and not minutes).
awk '
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
	for (i = 2; i < NF; i++) {
		if ($(i+1) == "MB/s") mb[name] = mb[name] " " $i
		if ($(i+1) == "tx/s") tx[name] = tx[name] " " $i
		if ($(i+1) == "rows/s") rows[name] = rows[name] " " $i
		if ($(i+1) == "ms/lookup") ms[name] = ms[name] " " $i
		if ($(i+1) == "blocks/s") bps[name] = bps[name] " " $i
		if ($(i+1) == "transfers/s") tps[name] = tps[name] " " $i
		if ($(i+1) == "inputs/s") ips[name] = ips[name] " " $i
		if ($(i+1) == "B/address") bpa[name] = bpa[name] " " $i
		if ($(i+1) == "ns/op") nsop[name] = nsop[name] " " $i
		if ($(i+1) == "decode-ms") dms[name] = dms[name] " " $i
		if ($(i+1) == "resolve-ms") rms[name] = rms[name] " " $i
		if ($(i+1) == "write-ms") wms[name] = wms[name] " " $i
		if ($(i+1) == "flush-cpu-ms") fcpu[name] = $i
		if ($(i+1) == "cpu-ms") cpu[name] = $i
		if ($(i+1) == "floor-ms") fms[name] = fms[name] " " $i
		if ($(i+1) == "ratio") ratio[name] = ratio[name] " " $i
		if ($(i+1) == "chain-txs") ctx[name] = $i
		if ($(i+1) == "queries/hop") qph[name] = $i
		if ($(i+1) == "req/s") rps[name] = rps[name] " " $i
		if ($(i+1) == "p50-ms") p50[name] = p50[name] " " $i
		if ($(i+1) == "p99-ms") p99[name] = p99[name] " " $i
	}
	if (!(name in seen)) { seen[name] = 1; order[++n] = name }
	for (i = 2; i < NF; i++) if ($(i+1) == "MB/s") {
		if (name == "Floor") { lastFloor = $i; lastFloorNs = $3; lastFloorCpu = cpu[name] }
		else if ((name == "Decode" || name == "Index") && lastFloor > 0) paired[name] = paired[name] sprintf(" %.3f", $i / lastFloor)
	}
	if (name == "Index" && (name in fcpu) && lastFloorNs > 0) {
		withFlush = withFlush sprintf(" %.3f", lastFloorNs / ($3 + fcpu[name] * 1e6))
		flushMs = flushMs " " fcpu[name]
		if ((name in cpu) && lastFloorCpu > 0) {
			cpuRatio = cpuRatio sprintf(" %.3f", lastFloorCpu / (cpu[name] + fcpu[name]))
			cpuMs = cpuMs " " cpu[name]
			floorCpuMs = floorCpuMs " " lastFloorCpu
		}
		delete fcpu[name]
	}
}
function median(list,   a, k, i, j, t) {
	k = split(list, a, " ")
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	return a[int((k + 1) / 2)]
}
END {
	printf "\n%-12s %10s %12s %14s\n", "benchmark", "MB/s", "tx/s", "ratio to floor"
	for (i = 1; i <= n; i++) {
		if (!(order[i] in mb)) continue
		m = median(mb[order[i]]); t = median(tx[order[i]])
		if (order[i] == "Floor")
			printf "%-12s %10.1f %12.0f %14.2f\n", order[i], m, t, 1
		else if (order[i] in paired)
			printf "%-12s %10.1f %12.0f %14.3f\n", order[i], m, t, median(paired[order[i]])
		else
			printf "%-12s %10.1f %12.0f %14s\n", order[i], m, t, "(other data)"
	}
	if ("Index" in paired)
		printf "Index ratio to the floor run just before it, round by round:%s\n", paired["Index"]
	if ("Index" in dms)
		printf "Index per op: decode %s ms, resolve inputs %s ms, write %s ms (elapsed; the write includes the wait for its sync)\n", median(dms["Index"]), median(rms["Index"]), median(wms["Index"])
	if (cpuRatio != "")
		printf "Index on one core, by processor time (every thread of the process; the floor %s ms, the index %s ms and the flush after it %s ms an op): ratio %s (rounds:%s) (target: >= 0.40)\n", median(floorCpuMs), median(cpuMs), median(flushMs), median(cpuRatio), cpuRatio
	if (withFlush != "")
		printf "Index by elapsed time, the flush after each op counted (its processor time, %s ms): ratio %s (rounds:%s)\n", median(flushMs), median(withFlush), withFlush
	if ("Index" in ratio)
		printf "Index with the floor run op by op beside it (same moments, but the floor pays for part of the garbage the index leaves): floor %s ms, index %.1f ms, ratio %s\n", median(fms["Index"]), median(nsop["Index"]) / 1e6, median(ratio["Index"])
	if ("IndexChain" in ratio)
		printf "Whole pipeline (IndexChain: generated chain of 102 MB in two ingested batches, with the compactions that come during the op, the final flush and the close timed), floor op by op beside it: floor %s ms, index %.1f ms, ratio %s\n", median(fms["IndexChain"]), median(nsop["IndexChain"]) / 1e6, median(ratio["IndexChain"])
	if (("Tx" in nsop) && ("LookupOutputs" in nsop))
		printf "Embedded store reads (100,000 transactions, flushed): a transaction by txid %.1f us, 1,000 outpoints resolved at once %.2f ms\n", median(nsop["Tx"]) / 1e3, median(nsop["LookupOutputs"]) / 1e6
	if ("Write/writer" in rows) {
		w = median(rows["Write/writer"]); bare = median(rows["Write/bare"])
		printf "\nClickHouse writes: writer %.0f rows/s, bare clickhouse-go batches %.0f rows/s, ratio %.2f (target >= 0.7)\n", w, bare, (bare > 0 ? w / bare : 0)
	}
	if ("Spenders/store" in ms)
		printf "ClickHouse 1,000-outpoint spender lookup on 10 M rows: %s ms (migration 1 layout: %s ms; naive default granularity: %s ms; target <= 50)\n", median(ms["Spenders/store"]), median(ms["Spenders/migration-1-layout"]), median(ms["Spenders/naive-granularity"])
	if ("Cluster" in ips) {
		cI = median(ips["Cluster"]); uI = median(ips["BareUnionFind"])
		printf "Clustering (multi-input, simulated chain, from the embedded store): %.0f inputs/s, %s B/address; bare union-find over the same edges %.0f inputs/s, %s B/address; ratio %.3f\n", cI, median(bpa["Cluster"]), uI, median(bpa["BareUnionFind"]), (uI > 0 ? cI / uI : 0)
	}
	hdr = 0
	for (i = 1; i <= n; i++) {
		if (order[i] !~ /^Trace/ || !(order[i] in nsop)) continue
		if (!hdr) { printf "\nTracing every victim payment 10 hops (haircut and FIFO):\n%-34s %10s %12s %12s\n", "benchmark", "chain txs", "ms/trace", "queries/hop"; hdr = 1 }
		printf "%-34s %10s %12.1f %12s\n", order[i], ctx[order[i]], median(nsop[order[i]]) / 1e6, qph[order[i]]
	}
	for (i = 1; i <= n; i++) {
		if (!(order[i] in rps)) continue
		printf "Screening API, direct screening over loopback HTTP (%s): %.0f req/s, p50 %s ms, p99 %s ms (target >= 20,000 req/s, p99 < 5 ms)\n", order[i], median(rps[order[i]]), median(p50[order[i]]), median(p99[order[i]])
	}
	if ("Pipeline" in bps) {
		p = median(bps["Pipeline"]); f = median(bps["FetchBare"])
		printf "Ethereum pipeline (replayed mainnet block 18,000,000 into the embedded store): %.1f blocks/s, %.0f transfers/s; bare fetch %.1f blocks/s; ratio %.2f\n", p, median(tps["Pipeline"]), f, (f > 0 ? p / f : 0)
	}
}' "$1"
