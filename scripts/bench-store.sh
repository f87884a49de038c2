#!/bin/sh
# make bench-scale, second part: the pipeline on each store as the chain
# grows. For each simulated chain in $SIZES (S:D, simulate btc --scale S
# --days D; eth:S:D, simulate eth, served by simulate serve-eth and
# indexed from it; generated and cached under .cache/bench-scale),
# on the embedded store and on a ClickHouse server it starts on loopback
# with a throwaway data folder, and on a two-shard ClickHouse cluster
# (two more servers on loopback and a ZooKeeper, started by
# internal/chtest/chcluster as TestCluster starts them; the store's
# tables are then per-shard MergeTree tables under Distributed ones,
# fundtrace --cluster), it runs as whole processes: index btc (or eth),
# cluster, labels import, trace --case (every victim payment of the
# chain's case file) and screen --file (every 100th address of the
# chain); and prints seconds per million transactions, peak resident
# memory, bytes on disk per transaction, the trace's and the screening's
# time, each store against the embedded one and each size against the
# first, and for Ethereum the index's time split between fetching from
# the node (here the simulator, rendering each block's JSON on demand)
# and writing to the store, and for Bitcoin the index against the floor
# (internal/realblocks/floor, run just before it). Not part of make test.
#
# STORES= picks the stores, of "embedded clickhouse ch-2shard" (the
# default, all three). On this 2-core machine the two shards share the
# cores with the client and each other: the cluster's figures show its
# overhead and that its answers scale, not a speed-up. The simulator's
# memory: see bench-scale.sh. The embedded store is
# removed once measured (KEEP_STORES=1 keeps it): a 10 M-transaction
# chain's two stores and blocks take about 20 GB.
set -eu
SIZES=${SIZES:-"30:115 30:350 30:1180"}
CH_PORT=${CH_PORT:-19731}
ETH_PORT=${ETH_PORT:-18646}
NAME=bench-store
. scripts/bench-lib.sh

# A ClickHouse server of its own: config in $CACHE/ch, data thrown away.
sh scripts/ensure-clickhouse.sh >/dev/null
chdir="$CACHE/ch"
rm -rf "$chdir"
mkdir -p "$chdir/log"
cat >"$chdir/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$chdir/log/server.log</log><errorlog>$chdir/log/error.log</errorlog><size>10M</size><count>1</count></logger>
  <tcp_port>$CH_PORT</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>$chdir/data/</path>
  <tmp_path>$chdir/tmp/</tmp_path>
  <user_files_path>$chdir/user_files/</user_files_path>
  <format_schema_path>$chdir/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
</yandex>
EOF
cat >"$chdir/users.xml" <<'EOF'
<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
EOF
clickhouse-server --config-file="$chdir/config.xml" >"$chdir/log/stdout.log" 2>&1 &
chpid=$!
ch2pid="" ch2dir="" ethpid=""
cleanup() {
	kill $chpid $ch2pid $ethpid 2>/dev/null
	wait $chpid $ch2pid $ethpid 2>/dev/null
	rm -rf "$chdir/data" $ch2dir
}
trap cleanup EXIT INT TERM
i=0
until clickhouse-client --port "$CH_PORT" -q "SELECT 1" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "bench-store: ClickHouse did not start: $chdir/log" >&2; exit 1; }
	sleep 0.2
done
chver=$(clickhouse-client --port "$CH_PORT" -q "SELECT version()")

STORES=${STORES:-embedded clickhouse ch-2shard}
# The two-shard cluster, when asked for: its servers' addresses are the
# one line chcluster prints once they answer.
shards=""
case " $STORES " in
*" ch-2shard "*)
	ch2dir="$CACHE/ch2"
	rm -rf "$ch2dir"
	mkdir -p "$ch2dir"
	$GO build -o "$CACHE/chcluster" ./internal/chtest/chcluster
	"$CACHE/chcluster" -dir "$ch2dir" -name ft_bench >"$ch2dir/addrs" 2>"$ch2dir/chcluster.log" &
	ch2pid=$!
	i=0
	until [ -f "$ch2dir/addrs" ] && [ "$(wc -l <"$ch2dir/addrs")" -ge 1 ]; do
		i=$((i + 1))
		kill -0 $ch2pid 2>/dev/null && [ $i -lt 300 ] || { cat "$ch2dir/chcluster.log" >&2; echo "bench-store: the two-shard cluster did not start" >&2; exit 1; }
		sleep 0.2
	done
	shards=$(cat "$ch2dir/addrs")
	[ $(echo $shards | wc -w) = 2 ] || { echo "bench-store: chcluster gave \"$shards\", not two servers" >&2; exit 1; }
	echo "two-shard cluster ft_bench on $shards"
	;;
esac
# shardsql SQL: runs SQL on each shard's server, printing each answer.
shardsql() {
	for a in $shards; do
		clickhouse-client --host 127.0.0.1 --port "${a#*:}" -q "$1"
	done
}

field() { sed -n "s/.*\"$1\": \([0-9.]*\).*/\1/p" | head -n 1; }

rows="$CACHE/store-rows.txt"
splits="$CACHE/store-eth-split.txt"
floors="$CACHE/store-floor.txt"
: >"$rows"
: >"$splits"
: >"$floors"
# The floor index btc is measured against (#25 point 3): btcd's decode
# and txids of the same block files, a whole process run just before each
# index.
$GO build -o "$CACHE/floor" ./internal/realblocks/floor
echo "ClickHouse $chver on 127.0.0.1:$CH_PORT; every step a whole process; s/Mtx: seconds per million transactions"
printf '%-12s %-10s %9s %9s %7s %9s %7s %9s %7s %7s %8s %7s %7s %8s\n' size store txs index_s/M idx_MB clust_s/M cl_MB trace_s tr_MB screen_s ms/addr B/tx labels_s cl_B/addr
for spec in $SIZES; do
	chain=btc
	case $spec in eth:*)
		chain=eth
		spec=${spec#eth:}
		;;
	esac
	s=${spec%:*}
	days=${spec#*:}
	d="$CACHE/$chain-$s-$days"
	[ $chain = btc ] || spec="$chain:$spec"
	if [ ! -f "$d/sim/done" ]; then
		rm -rf "$d"
		mkdir -p "$d"
		if [ $chain = btc ]; then
			GOGC=40 "$BIN" simulate btc --out "$d/sim" --scale "$s" --days "$days" --no-exposures >"$d/sim.log" 2>&1
		else
			"$BIN" simulate eth --out "$d/sim" --scale "$s" --days "$days" >"$d/sim.log" 2>&1
		fi
		touch "$d/sim/done"
	fi
	if [ $chain = eth ]; then
		# The chain's node for every store's index run.
		"$BIN" simulate serve-eth --dir "$d/sim" --listen "127.0.0.1:$ETH_PORT" >"$d/serve.log" 2>&1 &
		ethpid=$!
		i=0
		until grep -q "Serving the simulated chain" "$d/serve.log"; do
			i=$((i + 1))
			kill -0 $ethpid 2>/dev/null && [ $i -lt 3000 ] || { cat "$d/serve.log" >&2; echo "bench-store: serve-eth did not start" >&2; exit 1; }
			sleep 0.2
		done
	fi
	awk -F, 'NR > 1 && NR % 100 == 2 { print $1 }' "$d/sim/truth/addresses.csv" >"$d/screen.csv"
	naddr=$(wc -l <"$d/screen.csv")
	db="bench_${s}_$days"
	ref="" # the embedded store's trace of this chain, once made
	for kind in $STORES; do
		cluster="" # fundtrace's flags for a cluster, after --store
		# A store of the chain takes about twice its blocks' bytes (0.9 to
		# 1.2 KB a transaction, with 0.54 KB of blocks), and more while
		# it compacts or merges: checked before each store rather than
		# found by a write failing (a cluster insert, 25 minutes into a
		# 10 M-transaction run, last time).
		src="$d/sim/blocks" # an Ethereum chain's node data is the whole folder
		[ -d "$src" ] || src="$d/sim"
		need=$(du -sk "$src" | awk '{ print int($1 * 2.5 / 1024) }')
		free=$(df -Pk "$CACHE" | awk 'NR == 2 { print int($4 / 1024) }')
		if [ "$free" -lt "$need" ]; then
			echo "bench-store: $free MB free under $CACHE; the $kind store of $spec needs about $need MB (2.5 times its blocks): free some space or leave out the size" >&2
			exit 1
		fi
		case $kind in
		embedded)
			st="$d/bench-store"
			rm -rf "$st"
			;;
		clickhouse)
			st="clickhouse://127.0.0.1:$CH_PORT/$db"
			clickhouse-client --port "$CH_PORT" -q "DROP DATABASE IF EXISTS $db"
			;;
		ch-2shard)
			st="clickhouse://${shards%% *}/$db"
			shardsql "DROP DATABASE IF EXISTS $db"
			cluster="--cluster ft_bench"
			;;
		*)
			echo "bench-store: unknown store $kind (embedded, clickhouse, ch-2shard)" >&2
			exit 1
			;;
		esac
		l="$d/$kind"
		if [ $chain = btc ]; then
			r=$(run "$l-floor.log" "$CACHE/floor" "$d/sim/blocks") || exit 1
			fl=${r%% *}
			r=$(run "$l-index.log" "$BIN" --store "$st" $cluster index btc --blocks "$d/sim/blocks") || exit 1
			awk -v sz="$spec" -v k=$kind -v ix="${r%% *}" -v fl="$fl" 'BEGIN {
				printf "%-12s %-10s index %.2f s, floor %.2f s: %.2f of the floor\n", sz, k, ix, fl, fl / ix
			}' >>"$floors"
		else
			r=$(run "$l-index.log" "$BIN" --store "$st" $cluster index eth --rpc "http://127.0.0.1:$ETH_PORT" --confirmations 0 --json) || exit 1
			fe=$(field fetch_seconds <"$l-index.log")
			co=$(field commit_seconds <"$l-index.log")
			printf "%-12s %-10s fetch %.1f s, commit %.1f s\n" "$spec" $kind "$fe" "$co" >>"$splits"
		fi
		set -- $r
		ix=$1 ixkb=$2
		r=$(run "$l-cluster.log" "$BIN" --store "$st" $cluster cluster --chain $chain) || exit 1
		set -- $r
		cl=$1 clkb=$2
		r=$(run "$l-labels.log" "$BIN" --store "$st" $cluster labels import "$d/sim/labels.csv") || exit 1
		set -- $r
		lb=$1
		run "$l-sanctions.log" "$BIN" --store "$st" $cluster sanctions import testdata/shared/sanctions/ofac/advanced-xml/cons_advanced_2020-03-17.xml.gz >/dev/null
		r=$(run "$l-trace.log" "$BIN" --store "$st" $cluster trace --case "$d/sim/case.csv" --out "$l-trace.json") || exit 1
		set -- $r
		tr=$1 trkb=$2
		r=$(OK="0 1 2" run "$l-screen.log" "$BIN" --store "$st" $cluster screen --file "$d/screen.csv" --json) || exit 1
		set -- $r
		sc=$1
		"$BIN" --store "$st" $cluster status --json >"$l-status.json"
		txs=$(field transactions <"$l-status.json")
		addrs=$(field addresses <"$l-status.json")
		case $kind in
		embedded)
			bytes=$(du -sb "$st" | cut -f1)
			[ "${KEEP_STORES:-}" = 1 ] || rm -rf "$st"
			;;
		clickhouse)
			bytes=$(clickhouse-client --port "$CH_PORT" -q "SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database = '$db'")
			[ "${KEEP_STORES:-}" = 1 ] || clickhouse-client --port "$CH_PORT" -q "DROP DATABASE $db"
			;;
		ch-2shard)
			bytes=$(shardsql "SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database = '$db'" | awk '{ n += $1 } END { print n }')
			[ "${KEEP_STORES:-}" = 1 ] || shardsql "DROP DATABASE $db"
			;;
		esac
		# Every store's trace report must be the embedded store's, byte
		# for byte.
		if [ $kind = embedded ]; then
			ref="$l-trace.json"
		elif [ -n "$ref" ] && ! cmp -s "$ref" "$l-trace.json"; then
			echo "bench-store: $kind's trace of $spec differs from the embedded store's ($l-trace.json, $ref)" >&2
			exit 1
		fi
		awk -v sz="$spec" -v k=$kind -v t="$txs" -v ix="$ix" -v ixkb="$ixkb" -v cl="$cl" -v clkb="$clkb" -v tr="$tr" -v trkb="$trkb" \
			-v sc="$sc" -v n="$naddr" -v b="$bytes" -v lb="$lb" -v a="$addrs" 'BEGIN {
			m = t / 1e6
			printf "%-12s %-10s %9d %9.1f %7.0f %9.1f %7.0f %9.2f %7.0f %7.2f %8.3f %7.0f %7.2f %8.0f\n", sz, k, t, ix / m, ixkb / 1024, cl / m, clkb / 1024, tr, trkb / 1024, sc, sc * 1000 / n, b / t, lb, clkb * 1024 / a
		}' | tee -a "$rows"
	done
	if [ -n "$ethpid" ]; then
		kill $ethpid
		wait $ethpid 2>/dev/null || true
		ethpid=""
	fi
done
[ ! -s "$splits" ] || { echo; echo "index eth: time fetching from the node and writing to the store"; cat "$splits"; }
[ ! -s "$floors" ] || { echo; echo "index btc against the floor (btcd's decode and txids of the same files, a whole process just before; target 0.40)"; cat "$floors"; }
# The index's growth against the floor's: the index's time over its
# floor's at each size, against the first size's. Each index runs just
# after its floor, so this leaves out most of the machine's drift
# between the sizes' runs (minutes apart), which on a shared 2-core
# machine moved the per-transaction figure below from 1.5 to 1.8 with no
# change to the code; but one floor run is one sample too (17.3 to 26.2
# s for the 10.56 M chain in one afternoon). The per-transaction figure
# is the issue's target and stays printed.
[ ! -s "$floors" ] || awk '{ r = $4 / $7 } !($2 in first) { first[$2] = r; sz[$2] = $1; next } {
	if (!done++) { print ""; print "index btc growth against the floor: (index / floor) at each size against the first size'"'"'s" }
	printf "%-12s %-10s %.2f (against %s)\n", $1, $2, r / first[$2], sz[$2]
}' "$floors"
# Each store against the embedded one (same size), and each size's
# per-transaction cost against the first size's.
awk '$2 == "embedded" { e[$1] = $0 } { r[NR] = $0 } END {
	print ""
	print "ratios: each store / embedded (index s, cluster s, trace s, screen s); then per-transaction cost against the first size"
	for (i = 1; i <= NR; i++) {
		split(r[i], x, " ")
		if (x[2] == "embedded" || !(x[1] in e)) continue
		split(e[x[1]], y, " ")
		printf "%-12s %-10s index %.2f  cluster %.2f  trace %.2f  screen %.2f\n", x[1], x[2], x[4] / y[4], x[6] / y[6], x[8] / y[8], x[10] / y[10]
	}
	for (i = 1; i <= NR; i++) {
		split(r[i], x, " ")
		c = x[1] ~ /^eth:/ ? "eth " x[2] : x[2]
		if (!(c in first)) { first[c] = r[i]; continue }
		split(first[c], y, " ")
		printf "%-12s %-10s index s/Mtx %.2f  cluster s/Mtx %.2f  B/tx %.2f  index MB %.2f  cluster MB %.2f (against %s)\n", x[1], x[2], x[4] / y[4], x[6] / y[6], x[12] / y[12], x[5] / y[5], x[7] / y[7], y[1]
	}
}' "$rows"
