# bench-lib.sh: what the make bench-scale scripts share, sourced after
# they set NAME (for messages): the cache folder (CACHE, made absolute),
# the fundtrace binary built into it (BIN), and run.
CACHE=${CACHE:-.cache/bench-scale}
GO=${GO:-go}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
BIN="$CACHE/fundtrace"
$GO build -o "$BIN" ./cmd/fundtrace

# run LOG CMD...: runs CMD, printing "seconds maxKB". An exit status in
# $OK (default 0) is success (screen exits 1 when some address could not
# be screened and 2 on a hit, and the load ran either way).
run() {
	log=$1
	shift
	code=0
	/usr/bin/time -f "%e %M" -o "$log.time" "$@" >"$log" 2>&1 || code=$?
	case " ${OK:-0} " in
	*" $code "*) ;;
	*)
		tail -n 20 "$log"
		echo "$NAME: $* exited $code" >&2
		exit 1
		;;
	esac
	tail -n 1 "$log.time"
}
