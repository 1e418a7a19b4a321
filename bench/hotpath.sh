#!/usr/bin/env bash
# Requests per CPU-second of one or more Portico builds with --data none
# (events to standard output, sent to a file), beside nginx with its JSON
# access log and bench/bare, in one interleaved run: for comparing builds
# of the request path with each other and with the same baselines.
# See bench/README.md. Settings (environment):
#   PORTICO="name=BINARY ..."  builds to measure; default: this tree as "tree"
#   PORTICO_ENV="name=VAR=VALUE,VAR=VALUE ..."  extra environment per build
#   ROUNDS=3 DURATION=8 WARMUP=2 CONNS=64
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-64}
REQ_PATH=/v1.2.0/linux/rocket-skates.tar.gz
HOST=bench.test

cd "$(dirname "$0")/.."
repo=$(pwd)
PATH=$PATH:/usr/sbin:/sbin:/usr/local/go/bin
say() { printf '%s\n' "$*" >&2; }
die() { say "hotpath.sh: $*"; exit 1; }
for c in nginx wrk curl taskset python3; do
	command -v "$c" >/dev/null 2>&1 || die "needs $c (bench/redirect.sh installs it)"
done
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs"
HZ=$(getconf CLK_TCK)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/portico-hotpath.XXXXXX")
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -o "$tmp/bare" ./bench/bare
builds=${PORTICO:-}
if [ -z "$builds" ]; then
	go build -o "$tmp/portico" ./cmd/portico
	builds="tree=$tmp/portico"
fi
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

declare -A port pid evfile envs
for kv in ${PORTICO_ENV:-}; do envs[${kv%%=*}]=${kv#*=}; done
names=(nginx bare-go)

wait_up() {
	local _
	for _ in $(seq 100); do
		curl -s -o /dev/null --max-time 1 -H "Host: $HOST" "http://127.0.0.1:${port[$1]}$REQ_PATH" && return 0
		kill -0 "${pid[$1]}" 2>/dev/null || die "$1 exited at startup"
		sleep 0.1
	done
	die "$1 did not answer"
}

mkdir -p "$tmp/nginx"
port[nginx]=$(free_port)
evfile[nginx]=$tmp/nginx-access.jsonl
sed -e "s|@PORT@|${port[nginx]}|g" -e "s|@TMP@|$tmp/nginx|g" -e "s|@ACCESS_LOG@|access_log ${evfile[nginx]} bench;|g" \
	bench/nginx.conf.tmpl >"$tmp/nginx/nginx.conf"
taskset -c 0 nginx -p "$tmp/nginx" -e "$tmp/nginx/error.log" -c "$tmp/nginx/nginx.conf" >/dev/null 2>&1 &
pid[nginx]=$!
pids+=("$!")
wait_up nginx

port[bare-go]=$(free_port)
GOMAXPROCS=1 taskset -c 0 "$tmp/bare" -listen "127.0.0.1:${port[bare-go]}" >/dev/null 2>&1 &
pid[bare-go]=$!
pids+=("$!")
wait_up bare-go

for b in $builds; do
	name=${b%%=*} bin=${b#*=}
	port[$name]=$(free_port)
	evfile[$name]=$tmp/$name-events.jsonl
	extra=()
	[ -z "${envs[$name]:-}" ] || IFS=, read -ra extra <<<"${envs[$name]}"
	env GOMAXPROCS=1 "${extra[@]}" taskset -c 0 "$bin" serve --manifest bench/manifest.json \
		--listen "127.0.0.1:${port[$name]}" --ops-listen 127.0.0.1:0 --app-listen off --data none --events stdout \
		>"${evfile[$name]}" 2>"$tmp/$name.log" &
	pid[$name]=$!
	pids+=("$!")
	wait_up "$name"
	names+=("$name")
done

cpu_ticks() {
	local p stat rest total=0
	local -a f
	for p in "$@"; do
		stat=$(<"/proc/$p/stat")
		rest=${stat##*) }
		read -ra f <<<"$rest"
		total=$((total + f[11] + f[12]))
	done
	echo "$total"
}
server_pids() { echo "${pid[$1]}"; [ "$1" != nginx ] || pgrep -P "${pid[$1]}" || true; }
vmhwm() { awk '/VmHWM/{print $2}' "/proc/$(server_pids "$1" | tail -1)/status"; }

results=$tmp/results.tsv
run() { # run NAME SECONDS [ROUND]
	local pl t0 t1 out req lat
	pl=$(server_pids "$1")
	# shellcheck disable=SC2086
	t0=$(cpu_ticks $pl)
	out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"$2s" --latency -H "Host: $HOST" "http://127.0.0.1:${port[$1]}$REQ_PATH")
	# shellcheck disable=SC2086
	t1=$(cpu_ticks $pl)
	[ -n "${3:-}" ] || return 0
	req=$(awk '/ requests in /{print $1}' <<<"$out")
	lat=$(awk '$1=="99%"{print $2}' <<<"$out")
	local rpc
	rpc=$(awk -v r="$req" -v d=$((t1 - t0)) -v hz="$HZ" 'BEGIN{printf "%.0f", (d > 0 ? r*hz/d : 0)}')
	printf '%s\t%s\t%s\t%s\t%s\n' "$3" "$1" "$req" "$rpc" "$lat" >>"$results"
	say "  round $3 $(printf '%-10s' "$1") req $req  req/cpu-s $rpc  p99 $lat"
}

say "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in "${names[@]}"; do run "$n" "$WARMUP"; done
for ((r = 1; r <= ROUNDS; r++)); do
	order=("${names[@]}")
	if ((r % 2 == 0)); then
		order=()
		for ((i = ${#names[@]} - 1; i >= 0; i--)); do order+=("${names[i]}"); done
	fi
	for n in "${order[@]}"; do run "$n" "$DURATION" "$r"; done
done
sleep 1
for b in $builds; do
	name=${b%%=*}
	say "  $name: $(wc -l <"${evfile[$name]}") event lines, peak RSS $(vmhwm "$name") kB"
done

echo "median of $ROUNDS rounds of ${DURATION}s, $CONNS connections, one CPU each; ratio = req/cpu-s / nginx's in the same round, median"
awk -F'\t' '
function med(list,   a, n, i, j, t) {
	n = split(list, a, " ")
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ v[$1, $2] = $4; rpc[$2] = rpc[$2] " " $4; p99[$2] = p99[$2] " " $5; seen[$2] = 1; if ($1 > R) R = $1 }
END {
	printf "%-10s %11s %9s  %s\n", "server", "req/cpu-s", "ratio", "per-round ratios"
	for (s in seen) {
		rs = ""; rl = ""
		for (r = 1; r <= R; r++) { x = v[r, s] / v[r, "nginx"]; rs = rs " " x; rl = rl sprintf(" %.2f", x) }
		printf "%-10s %11.0f %9.2f %s   p99%s\n", s, med(rpc[s]), med(rs), rl, p99[s]
	}
}' "$results" | sort
