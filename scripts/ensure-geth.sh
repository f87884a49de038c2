#!/bin/sh
# ensure-geth.sh: build geth, at the go-ethereum version go.mod names, from
# the Go module proxy into .cache/bin (about 2.5 minutes on two cores the
# first time; nothing afterwards). The Ethereum integration tests run it
# as geth --dev on loopback. Prints the binary's path.
set -eu
cd "$(dirname "$0")/.."
ver=$(go list -m -f '{{.Version}}' github.com/ethereum/go-ethereum)
bin=.cache/bin
if [ -x "$bin/geth" ] && [ "$(cat "$bin/geth.version" 2>/dev/null)" = "$ver" ]; then
	echo "$PWD/$bin/geth"
	exit 0
fi
mkdir -p "$bin"
echo "ensure-geth: building geth $ver from the module proxy" >&2
GOBIN="$PWD/$bin" GOFLAGS=-mod=mod go install "github.com/ethereum/go-ethereum/cmd/geth@$ver" >&2
echo "$ver" > "$bin/geth.version"
echo "$PWD/$bin/geth"
