#!/usr/bin/env bash
# Load and fault scenarios against the real binary; results in
# docs/reliability.md.
#
#   bench/fault.sh                       # every scenario, about 20 minutes
#   bench/fault.sh conns slowloris       # some of them
#   OUTAGE=30s bench/fault.sh outage     # a shorter PostgreSQL outage
#
# Scenarios: conns (10,000 keep-alive connections), slowloris (2,000 slow
# clients), upstream (proxied downloads from a failing upstream), outage
# (PostgreSQL down under load, 5 minutes by default), diskfull (the
# spool's file system full), reload (manifest reloads and SIGTERM under
# load). outage and diskfull need initdb and pg_ctl (Debian: postgresql)
# and start a PostgreSQL server of their own on a free port; diskfull
# mounts a tmpfs, so it needs root. Every scenario listens on 127.0.0.1
# only and removes what it created. The exit status is 1 if any scenario
# missed its target.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -o "$tmp/portico" ./cmd/portico
go build -o "$tmp/fault" ./bench/fault

# 10,000 connections need as many descriptors in the client and in the
# gateway; Go raises the soft limit to the hard one by itself.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt 10100 ]; then
	echo "the open files limit is $(ulimit -n): 10,000 connections need more than 10,100" >&2
fi

scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(conns slowloris upstream reload diskfull outage)
status=0
for s in "${scenarios[@]}"; do
	echo "== $s"
	case "$s" in
	outage) "$tmp/fault" -portico "$tmp/portico" outage -outage "${OUTAGE:-5m}" || status=1 ;;
	*) "$tmp/fault" -portico "$tmp/portico" "$s" || status=1 ;;
	esac
done
exit $status
