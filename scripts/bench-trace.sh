#!/bin/sh
# make bench-scale, third part: tracing whole cases. Two cases, generated
# and indexed once and cached under .cache/bench-scale:
#   btc  simulate btc --scale 300 --days 55 (about 960,000 transactions,
#        1,280 victim payments), indexed, labeled and clustered;
#   eth  simulate eth --scale 120 --days 7 (about 1.7 M transactions,
#        1,373 victim payments), indexed from simulate serve-eth, labeled
#        and clustered.
# For each, as whole processes on the embedded store: trace --case with
# the default models (haircut, FIFO), then with poison too and
# --poison-pairs, then freeze reading the trace file; it prints seconds,
# peak resident memory, the trace file's size and what it holds. Not part
# of make test. Then the report of each case (time, peak memory, pages, HTML size).
set -eu
ETH_PORT=${ETH_PORT:-18645}
NAME=bench-trace
. scripts/bench-lib.sh

# The Bitcoin case.
btc="$CACHE/btc-300-55"
if [ ! -f "$btc/sim/done" ]; then
	rm -rf "$btc/sim"
	echo "bench-trace: simulating btc 300:55 (a few minutes)" >&2
	GOGC=40 "$BIN" simulate btc --out "$btc/sim" --scale 300 --days 55 >"$btc.sim.log" 2>&1
	touch "$btc/sim/done"
fi
if [ ! -f "$btc/trace-store.done" ]; then
	rm -rf "$btc/trace-store"
	echo "bench-trace: indexing btc 300:55" >&2
	"$BIN" --store "$btc/trace-store" index btc --blocks "$btc/sim/blocks" >"$btc/trace-store.log" 2>&1
	"$BIN" --store "$btc/trace-store" labels import "$btc/sim/labels.csv" >>"$btc/trace-store.log" 2>&1
	"$BIN" --store "$btc/trace-store" cluster >>"$btc/trace-store.log" 2>&1
	touch "$btc/trace-store.done"
fi

# The Ethereum case.
eth="$CACHE/eth-120-7"
if [ ! -f "$eth/done" ]; then
	rm -rf "$eth"
	echo "bench-trace: simulating eth 120:7 (about a minute)" >&2
	"$BIN" simulate eth --out "$eth" --scale 120 --days 7 >"$eth.sim.log" 2>&1
	touch "$eth/done"
fi
if [ ! -f "$eth.store.done" ]; then
	rm -rf "$eth.store"
	echo "bench-trace: indexing eth 120:7 from simulate serve-eth" >&2
	"$BIN" simulate serve-eth --dir "$eth" --listen "127.0.0.1:$ETH_PORT" >"$eth.serve.log" 2>&1 &
	spid=$!
	trap 'kill $spid 2>/dev/null' EXIT INT TERM
	i=0
	until grep -q "Serving the simulated chain" "$eth.serve.log"; do
		i=$((i + 1))
		[ $i -lt 600 ] || { echo "bench-trace: serve-eth did not start: $eth.serve.log" >&2; exit 1; }
		sleep 0.5
	done
	"$BIN" --store "$eth.store" index eth --rpc "http://127.0.0.1:$ETH_PORT" --confirmations 0 >"$eth.store.log" 2>&1
	kill $spid
	wait $spid 2>/dev/null || true
	trap - EXIT INT TERM
	"$BIN" --store "$eth.store" labels import "$eth/labels.csv" >>"$eth.store.log" 2>&1
	"$BIN" --store "$eth.store" cluster --chain eth >>"$eth.store.log" 2>&1
	touch "$eth.store.done"
fi

out="$CACHE/trace-bench"
mkdir -p "$out"
mb() { echo "$(($(wc -c <"$1") / 1000000))"; }
printf '%-4s %-22s %8s %8s %8s %9s %9s %9s %7s %9s %9s\n' case models trace_s peak_MB file_MB deposits poisoned pairs_MB flows freeze_s freeze_MB
for c in btc eth; do
	case $c in
	btc) st="$btc/trace-store" case_csv="$btc/sim/case.csv" ;;
	eth) st="$eth.store" case_csv="$eth/case.csv" ;;
	esac
	for models in haircut,fifo haircut,fifo,poison; do
		l="$out/$c-$models"
		pairs_mb=-
		if [ "$models" = haircut,fifo ]; then
			r=$(run "$l.log" "$BIN" --store "$st" trace --case "$case_csv" --model "$models" --out "$l.json") || exit 1
			set -- $r
		else
			r=$(run "$l.log" "$BIN" --store "$st" trace --case "$case_csv" --model "$models" --out "$l.json" --poison-pairs "$l.pairs.csv") || exit 1
			set -- $r
			pairs_mb=$(mb "$l.pairs.csv")
		fi
		ts=$1 kb=$2
		# "N deposit rows (...), P poisoned deposits, F flows; ..."
		counts=$(sed -n 's/^\([0-9]*\) deposit rows.*, \([0-9]*\) poisoned deposits, \([0-9]*\) flows.*/\1 \2 \3/p' "$l.log")
		rm -rf "$l.freeze"
		r=$(run "$l.freeze.log" "$BIN" freeze --trace "$l.json" --out "$l.freeze") || exit 1
		set -- $r
		# shellcheck disable=SC2086
		printf '%-4s %-22s %8s %8d %8s %9s %9s %9s %7s %9s %9d\n' "$c" "$models" "$ts" $((kb / 1024)) "$(mb "$l.json")" \
			$(echo $counts | cut -d' ' -f1,2) "$pairs_mb" "$(echo $counts | cut -d' ' -f3)" "$1" $(($2 / 1024))
	done
done

# The report of each case's default trace (issue 30's sizes): seconds,
# peak memory, the PDF's pages (the summary at most five), the HTML's size.
echo
printf '%-4s %9s %9s %9s %9s %9s\n' case report_s peak_MB pdf_pages html_KB letter_pg
for c in btc eth; do
	case $c in
	btc) st="$btc/trace-store" ;;
	eth) st="$eth.store" ;;
	esac
	l="$out/$c-haircut,fifo"
	rm -rf "$l.report"
	r=$(run "$l.report.log" "$BIN" --store "$st" report --trace "$l.json" --out "$l.report" --case-info testdata/sim/btc/case-info.yaml) || exit 1
	set -- $r
	pages=$(pdfinfo "$l.report/report.pdf" 2>/dev/null | sed -n 's/^Pages: *//p')
	letter=$(for f in "$l.report"/freeze/*.pdf; do pdfinfo "$f" 2>/dev/null | sed -n 's/^Pages: *//p'; done | sort -n | tail -1)
	printf '%-4s %9s %9d %9s %9d %9s\n' "$c" "$1" $(($2 / 1024)) "${pages:--}" $(($(wc -c <"$l.report/report.html") / 1000)) "${letter:--}"
done
