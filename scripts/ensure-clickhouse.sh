#!/bin/sh
# ensure-clickhouse.sh: install Debian's clickhouse-server (and ZooKeeper,
# for the ON CLUSTER tests) when missing. The tests start and stop their
# own servers on loopback with throwaway data folders; nothing here starts
# a service.
set -eu
need=""
command -v clickhouse-server >/dev/null 2>&1 || need="$need clickhouse-server clickhouse-client"
[ -f /usr/share/java/zookeeper.jar ] || need="$need zookeeper"
command -v java >/dev/null 2>&1 || need="$need default-jre-headless"
if [ -n "$need" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "ensure-clickhouse: need$need; run as root or install them" >&2
		exit 1
	fi
	echo "ensure-clickhouse: installing$need" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# The packages' own service start is refused in containers; that is fine.
	apt-get install -y -qq $need >/dev/null
fi
clickhouse-server --version 2>/dev/null | head -n 1 || clickhouse-client --version
