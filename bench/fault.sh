#!/usr/bin/env bash
# Load and fault scenarios against the real binary; results in
# docs/reliability.md.
#
#   bench/fault.sh                       # every scenario, about 20 minutes
#   bench/fault.sh conns slowloris       # some of them
#   OUTAGE=30s bench/fault.sh outage     # a shorter PostgreSQL outage
#   SHORT=1 bench/fault.sh               # as CI runs it: about 4 minutes
#
# SHORT=1 leaves out slowloris (a latency measurement), the upstream that
# never answers and the stalled Python page (minutes of waiting), and
# makes the outages 30 seconds.
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
if [ ${#scenarios[@]} -eq 0 ]; then
	if [ -n "${SHORT:-}" ]; then
		scenarios=(conns upstream reload diskfull outage)
	else
		scenarios=(conns slowloris upstream reload diskfull outage)
	fi
fi
short=()
outage=${OUTAGE:-5m}
if [ -n "${SHORT:-}" ]; then
	short=(-short)
	outage=${OUTAGE:-30s}
fi
status=0
for s in "${scenarios[@]}"; do
	echo "== $s"
	case "$s" in
	outage) "$tmp/fault" -portico "$tmp/portico" outage -outage "$outage" || status=1 ;;
	diskfull) "$tmp/fault" -portico "$tmp/portico" diskfull ${SHORT:+-outage 30s -size 8m} || status=1 ;;
	upstream) "$tmp/fault" -portico "$tmp/portico" upstream "${short[@]}" || status=1 ;;
	*) "$tmp/fault" -portico "$tmp/portico" "$s" || status=1 ;;
	esac
done
exit $status
