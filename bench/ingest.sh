#!/usr/bin/env bash
# Compares, in one run on this machine, the gateway's maximum request rate
# with the embedded store's ingest rate, one CPU each, in requests and
# events per second and per CPU-second; then runs the gateway with the
# store under the same load and checks that the store kept up. The
# gateway alone is measured before and after each store benchmark, since
# a machine's speed can drift over minutes. See bench/README.md.
# Settings (environment):
#   DURATION=10  seconds of each wrk run
#   CONNS=64     wrk connections
#   BATCHES="512 5000 50000 50000-warm"  store benchmarks: batch sizes;
#                -warm first appends 2 million events untimed, as a store
#                that has run for a while
set -euo pipefail

DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
BATCHES=${BATCHES:-512 5000 50000 50000-warm}
REQ_PATH=/v1.2.0/linux/rocket-skates.tar.gz
HOST=bench.test

cd "$(dirname "$0")/.."
repo=$(pwd)
PATH=$PATH:/usr/sbin:/sbin:/usr/local/go/bin
say() { printf '%s\n' "$*" >&2; }
die() { say "ingest.sh: $*"; exit 1; }

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
apt_updated=
need() { # need COMMAND DEBIAN-PACKAGE
	command -v "$1" >/dev/null 2>&1 && return 0
	say "installing $2 (for $1)"
	if [ -z "$apt_updated" ]; then
		"${sudo_cmd[@]}" apt-get update -qq
		apt_updated=1
	fi
	"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$2" >/dev/null
}
need wrk wrk
need curl curl
need taskset util-linux
need python3 python3-minimal
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs (server on CPU 0, wrk on CPU 1)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/portico-ingest.XXXXXX")
server=
cleanup() {
	[ -z "$server" ] || { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -o "$tmp/portico" ./cmd/portico
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# serve DATA: starts the gateway on CPU 0 with --data DATA; sets server, port.
serve() {
	port=$(free_port)
	GOMAXPROCS=1 taskset -c 0 "$tmp/portico" serve --manifest bench/manifest.json --listen "127.0.0.1:$port" \
		--ops-listen off --events none --data "$1" >"$tmp/out.log" 2>"$tmp/err.log" &
	server=$!
	for _ in $(seq 100); do
		curl -s -o /dev/null --max-time 1 -H "Host: $HOST" "http://127.0.0.1:$port$REQ_PATH" && return 0
		sleep 0.1
	done
	cat "$tmp/err.log" >&2
	die "portico did not start"
}
stop() { kill "$server"; wait "$server" || true; server=; }

# cpu_ticks PID: the CPU time the process has used, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# load: wrk on CPU 1 against the gateway; sets requests, rps and
# per_cpu (requests per CPU-second of the gateway).
load() {
	local out before after
	before=$(cpu_ticks "$server")
	out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" -H "Host: $HOST" "http://127.0.0.1:$port$REQ_PATH")
	after=$(cpu_ticks "$server")
	requests=$(awk '/ requests in /{print $1}' <<<"$out")
	rps=$(awk '/^Requests\/sec:/{printf "%.0f", $2}' <<<"$out")
	per_cpu=$(awk -v r="$requests" -v t=$((after - before)) -v hz="$hz" 'BEGIN{printf "%.0f", (t > 0) ? r * hz / t : 0}')
}

# gateway_alone N: measures the gateway without a store; sets gw_rps[N]
# and gw_cpu[N].
declare -A gw_rps gw_cpu
gateway_alone() {
	serve none
	load
	stop
	gw_rps[$1]=$rps
	gw_cpu[$1]=$per_cpu
	say "   $requests requests, $rps req/s, $per_cpu req/cpu-s"
}

say "load average: $(cut -d' ' -f1-3 /proc/loadavg); gateway and store on CPU 0, wrk on CPU 1"

# Each store benchmark runs between two runs of the gateway alone, and is
# compared with their mean.
say "1. the gateway alone (no store), ${DURATION}s, between the store's benchmarks"
say "2. the embedded store's ingest rate (GOMAXPROCS=1, CPU 0)"
declare -A ingest ingest_cpu
metric() { awk -v unit="$1" '{for(i=1;i<NF;i++) if($(i+1)==unit) printf "%.0f", $i}'; }
runs=0
gateway_alone $runs
for b in $BATCHES; do
	out=$(GOMAXPROCS=1 taskset -c 0 go test -run '^$' -bench "^BenchmarkAppend\$/^batch=$b\$" -benchtime 20x ./internal/store/sqlite | grep '^BenchmarkAppend')
	ingest[$b]=$(metric events/s <<<"$out")
	ingest_cpu[$b]=$(metric events/cpu-s <<<"$out")
	say "   store, batches of $b: ${ingest[$b]} events/s, ${ingest_cpu[$b]} events/cpu-s"
	runs=$((runs + 1))
	gateway_alone $runs
done

say "3. the gateway with the embedded store, ${DURATION}s"
serve "$tmp/data"
load
with_store_rps=$rps
with_store_cpu=$per_cpu
answered=$requests
stop # graceful: the spool hands everything to the store
stored=$("$tmp/portico" stats --data "$tmp/data" --days 2 --measure requests --bots include --by "" --format csv |
	awk -F, '$1=="total"{print $4}')
say "   $answered requests, $rps req/s; the store holds $stored events"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
printf '\n%-46s %12s %14s\n' "" "per second" "per CPU-second"
run=0
printf '%-46s %12s %14s\n' "gateway alone, one CPU (requests)" "${gw_rps[0]}" "${gw_cpu[0]}"
for b in $BATCHES; do
	run=$((run + 1))
	# The gateway's rate around this benchmark: the runs before and after.
	around_rps=$(((gw_rps[$((run - 1))] + gw_rps[$run]) / 2))
	around_cpu=$(((gw_cpu[$((run - 1))] + gw_cpu[$run]) / 2))
	printf '%-46s %12s %14s   %sx / %sx the gateway around it\n' "SQLite ingest, batches of $b (events)" "${ingest[$b]}" "${ingest_cpu[$b]}" \
		"$(ratio "${ingest[$b]}" "$around_rps")" "$(ratio "${ingest_cpu[$b]}" "$around_cpu")"
	printf '%-46s %12s %14s\n' "gateway alone, one CPU (requests)" "${gw_rps[$run]}" "${gw_cpu[$run]}"
done
# The gateway with the store against the last run of the gateway alone.
printf '%-46s %12s %14s   %sx / %sx the gateway alone\n' "gateway with the store, one CPU (requests)" "$with_store_rps" "$with_store_cpu" \
	"$(ratio "$with_store_rps" "${gw_rps[$run]}")" "$(ratio "$with_store_cpu" "${gw_cpu[$run]}")"
# wrk counts completed responses only; up to CONNS more may have been
# answered, and serve's readiness probe is one more download.
if [ -z "$stored" ] || [ "$stored" -lt "$answered" ] || [ "$stored" -gt $((answered + CONNS + 1)) ]; then
	die "the store holds ${stored:-no} events for $answered answered requests"
fi
printf '%-46s %12s\n' "stored / answered" "$stored / $answered"
