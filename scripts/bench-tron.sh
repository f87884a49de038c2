#!/bin/sh
# bench-tron.sh: index tron from the simulator's node. A TRON chain of
# about a million transactions (simulate tron --scale $SCALE --days $DAYS,
# default 32 and 7) is generated once into .cache/bench-scale, served by
# simulate serve-tron on loopback, and indexed into a new embedded store
# with index tron --confirmations 0 (8 workers, batches of 100 blocks, as
# a user would run it). Prints transactions per second, the split of the
# run between fetching from the node (HTTP, JSON, checking every block's
# hashes, extraction) and writing to the store, and peak memory of the
# indexer and of the node.
set -eu
cd "$(dirname "$0")/.."
NAME=bench-tron
. scripts/bench-lib.sh
SCALE=${SCALE:-32}
DAYS=${DAYS:-7}
dir="$CACHE/tron-$SCALE-$DAYS"
if [ ! -f "$dir/done" ]; then
	rm -rf "$dir"
	echo "bench-tron: generating the TRON chain (scale $SCALE, $DAYS days)"
	run "$CACHE/tron-sim.log" "$BIN" simulate tron --out "$dir" --scale "$SCALE" --days "$DAYS" >/dev/null
	touch "$dir/done"
fi
port=${PORT:-18390}
"$BIN" simulate serve-tron --dir "$dir" --listen "127.0.0.1:$port" >"$CACHE/tron-serve.log" 2>&1 &
srv=$!
trap 'kill $srv 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
	grep -q "Serving" "$CACHE/tron-serve.log" 2>/dev/null && break
	sleep 0.5
done
st="$CACHE/tron-store"
rm -rf "$st"
res=$(run "$CACHE/tron-index.log" "$BIN" --store "$st" index tron --api "http://127.0.0.1:$port" --confirmations 0 --json)
node_kb=$(awk '/VmHWM/ {print $2}' /proc/$srv/status 2>/dev/null || echo 0)
kill $srv
wait $srv 2>/dev/null || true
secs=${res% *}
kb=${res#* }
python3 - "$CACHE/tron-index.log" "$secs" "$kb" "${node_kb:-0}" <<'PY'
import json, sys
log = open(sys.argv[1]).read()
j = json.loads(log[log.rindex("\n{") + 1:])
secs, kb = float(sys.argv[2]), int(sys.argv[3])
node_kb = int(sys.argv[4] or 0)
tx = j["transactions"]
print(f"index tron from the simulated node: blocks {j['blocks']}  transactions {tx}  transfers {j['transfers']}")
print(f"  {secs:.1f} s wall, {tx / secs:,.0f} tx/s; fetch {j['fetch_seconds']:.1f} s ({100 * j['fetch_seconds'] / secs:.0f} %), "
      f"commit {j['commit_seconds']:.1f} s ({100 * j['commit_seconds'] / secs:.0f} %)")
print(f"  peak memory: indexer {kb / 1024:.0f} MB, node (serve-tron) {node_kb / 1024:.0f} MB")
PY
