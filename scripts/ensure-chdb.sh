#!/bin/sh
# ensure-chdb.sh: fetch chDB's libchdb.so (ClickHouse 26.5's engine built
# as a library, Apache-2.0, from the npm package @chdb/lib-linux-x64-gnu;
# 166 MB, checked against the hash below) into .cache/chdb, and build
# internal/chtest/chdbserve beside it (cgo: it loads the library). The
# ClickHouse tests run the store's conformance suite through chdbserve's
# HTTP interface, so that the schema and its queries are tested on current
# ClickHouse as well as on the Debian package's 18.16 server. Prints the
# path of chdbserve. Linux x86-64 only (the package's one build).
set -eu
cd "$(dirname "$0")/.."
ver=26.5.3
sum=b874e449710950da3abd7e20376f7bb3387d9e03adcc7082f022be18dfdf316a
url=https://registry.npmjs.org/@chdb/lib-linux-x64-gnu/-/lib-linux-x64-gnu-$ver.tgz
dir=.cache/chdb-$ver
if [ ! -f "$dir/libchdb.so" ]; then
	mkdir -p "$dir"
	tgz="$dir/lib.tgz"
	echo "ensure-chdb: fetching $url" >&2
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL -o "$tgz" "$url"
	else
		wget -q -O "$tgz" "$url"
	fi
	if [ "$(sha256sum "$tgz" | cut -d' ' -f1)" != "$sum" ]; then
		echo "ensure-chdb: $url does not have the expected SHA-256 ($sum)" >&2
		rm -f "$tgz"
		exit 1
	fi
	tar xzf "$tgz" -C "$dir" --strip-components=1 package/libchdb.so
	rm -f "$tgz"
fi
if ! command -v gcc >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ]; then
		echo "ensure-chdb: chdbserve needs a C compiler (cgo); install gcc" >&2
		exit 1
	fi
	echo "ensure-chdb: installing gcc" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq gcc >/dev/null
fi
CGO_ENABLED=1 go build -o "$dir/chdbserve" ./internal/chtest/chdbserve
echo "$PWD/$dir/chdbserve"
