#!/bin/sh
# make bench-scale: what clustering costs as the chain grows. For each
# simulated Bitcoin chain (simulate btc --scale S --days D for each S:D
# in $SIZES; generated, indexed and cached under .cache/bench-scale), it
# runs fundtrace cluster (multi-input and change-fresh, the default) as
# a whole process on the embedded store and prints, per chain: inputs/s,
# the ratio to a bare union-find over the same edges (BenchmarkCluster
# measures it; here the rate alone), the process's peak resident memory
# per address, and an incremental run after 1% more blocks as a share of
# the full run. Not part of make test.
#
# The simulator holds the economy's live state and about 70 bytes per
# address it made (with GOGC=40, 8.2 GB and 23 minutes for the 10 M
# chain). Scale 30 makes about 8,400 transactions a day, steadily:
# 30:115, 30:350 and 30:1180 give 1.03 M, 3.13 M and 10.56 M
# transactions.
set -eu
SIZES=${SIZES:-"300:45 30:115 30:350 30:1180"}
CACHE=${CACHE:-.cache/bench-scale}
GO=${GO:-go}
mkdir -p "$CACHE"
BIN="$CACHE/fundtrace"
$GO build -o "$BIN" ./cmd/fundtrace

field() { # field NAME JSON: a number from status --json
	sed -n "s/.*\"$1\": \([0-9]*\).*/\1/p" | head -n 1
}

# run LOG CMD...: runs CMD, appending "seconds maxKB" to LOG's last line.
# What the command before wrote goes to disk first (sync): a run timed
# while the kernel writes back the store written before it waits on that
# disk (an incremental run of the 3.1 M chain took 2.6–3.0 s after a
# sync, 3.4–4.0 s right after the store was copied).
run() {
	log=$1
	shift
	sync
	/usr/bin/time -f "%e %M" -o "$log.time" "$@" >"$log" 2>&1 || {
		cat "$log"
		exit 1
	}
	cat "$log.time"
}

rows="$CACHE/rows.txt"
: >"$rows"
printf '%-7s %10s %10s %10s %9s %10s %9s %9s %9s %8s\n' size txs inputs addresses index_s cluster_s inputs/s peak_MB B/addr incr
for spec in $SIZES; do
	s=${spec%:*}
	DAYS=${spec#*:}
	d="$CACHE/btc-$s-$DAYS"
	if [ ! -f "$d/sim/done" ]; then
		rm -rf "$d"
		mkdir -p "$d"
		GOGC=40 "$BIN" simulate btc --out "$d/sim" --scale "$s" --days "$DAYS" --no-exposures >"$d/sim.log" 2>&1
		touch "$d/sim/done"
	fi
	if [ ! -f "$d/store.done" ]; then
		rm -rf "$d/store"
		r=$(run "$d/index.log" "$BIN" --store "$d/store" index btc --blocks "$d/sim/blocks") || exit 1
		set -- $r
		echo "$1" >"$d/store.done"
	fi
	index_s=$(cat "$d/store.done")
	st=$("$BIN" --store "$d/store" status --json)
	txs=$(echo "$st" | field transactions)
	inputs=$(echo "$st" | field inputs)
	addrs=$(echo "$st" | field addresses)
	tip=$(echo "$st" | field tip_height)
	# A full run: the guard size differs from the last run's, so that
	# the run recomputes rather than finding the clusters current.
	g=$((10000 + $(date +%s) % 1000))
	r=$(run "$d/cluster.log" "$BIN" --store "$d/store" cluster --guard-size "$g") || exit 1
	set -- $r
	full=$1
	kb=$2
	# Incremental: a copy indexed to 99% of the chain and clustered, then
	# indexed to the tip and clustered again (timed).
	cut=$((tip - (tip + 1) / 100))
	rm -rf "$d/incr"
	run "$d/incr-index.log" "$BIN" --store "$d/incr" index btc --blocks "$d/sim/blocks" --to "$cut" >/dev/null
	run "$d/incr-cluster0.log" "$BIN" --store "$d/incr" cluster >/dev/null
	run "$d/incr-index2.log" "$BIN" --store "$d/incr" index btc --blocks "$d/sim/blocks" >/dev/null
	r=$(run "$d/incr-cluster.log" "$BIN" --store "$d/incr" cluster) || exit 1
	set -- $r
	incr=$1
	rm -rf "$d/incr"
	awk -v s="$spec" -v txs="$txs" -v inp="$inputs" -v a="$addrs" -v ix="$index_s" -v f="$full" -v kb="$kb" -v i="$incr" 'BEGIN {
		printf "%-7s %10d %10d %10d %9.1f %10.1f %9.0f %9.0f %9.1f %8.3f\n", s, txs, inp, a, ix, f, inp / f, kb / 1024, kb * 1024 / a, i / f
	}' | tee -a "$rows"
done
# Peak memory as fixed + per address × addresses, from the smallest and
# the largest chain: the per-address figure is the 40-byte rule,
# the fixed one its 200 MB.
awk 'NR == 1 { a1 = $4; m1 = $8 } { a2 = $4; m2 = $8; r = $7 } END {
	if (NR > 1 && a2 > a1) {
		b = (m2 - m1) * 1048576 / (a2 - a1)
		printf "peak memory: %.1f bytes per address + %.0f MB fixed (from the smallest and largest chains)\n", b, m1 - b * a1 / 1048576
	}
}' "$rows"
