#!/usr/bin/env bash
# Requests per CPU-second of Portico, nginx and a bare net/http server
# answering the same 307 redirect on this machine, in the same run.
# See bench/README.md. Settings (environment):
#   ROUNDS=3     measured rounds per configuration
#   DURATION=10  seconds of each measured wrk run
#   WARMUP=3     seconds of the unrecorded warm-up run per server
#   CONNS=64     wrk connections
#   RESULTS=     if set, a TSV of every measured run is copied there
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
CONNS=${CONNS:-64}
RESULTS=${RESULTS:-}

REQ_PATH=/v1.2.0/linux/rocket-skates.tar.gz
WANT_LOCATION=https://downloads.example.com/rocket-skates/v1.2.0/rocket-skates-linux.tar.gz
HOST=bench.test

cd "$(dirname "$0")/.."
repo=$(pwd)
bench=$repo/bench
started=$(date +%s)

say() { printf '%s\n' "$*" >&2; }
die() { say "redirect.sh: $*"; exit 1; }

# ---------------------------------------------------------------- tools

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
	sudo_cmd=(sudo)
fi
# nginx lives in /usr/sbin, which a non-root PATH may lack.
PATH=$PATH:/usr/sbin:/sbin:/usr/local/go/bin

apt_updated=
need() { # need COMMAND DEBIAN-PACKAGE
	command -v "$1" >/dev/null 2>&1 && return 0
	say "installing $2 (for $1)"
	if [ -z "$apt_updated" ]; then
		"${sudo_cmd[@]}" apt-get update -qq
		apt_updated=1
	fi
	"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$2" >/dev/null
	command -v "$1" >/dev/null 2>&1 || die "$2 installed but $1 is not on PATH"
}
need nginx nginx
need wrk wrk
need curl curl
need taskset util-linux
need python3 python3-minimal
need pgrep procps
command -v go >/dev/null 2>&1 || die "go is not on PATH (nor in /usr/local/go/bin)"
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs (server on CPU 0, wrk on CPU 1); this machine has $(nproc)"

HZ=$(getconf CLK_TCK)

# ---------------------------------------------------------------- cleanup

tmp=$(mktemp -d "${TMPDIR:-/tmp}/portico-bench.XXXXXX")
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- build

say "building portico and bench/bare"
go build -o "$tmp/portico" ./cmd/portico
go build -o "$tmp/bare" ./bench/bare
cp "$bench/manifest.json" "$tmp/manifest.json"

free_port() {
	python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}

# ---------------------------------------------------------------- servers

# Per server: port, PID, and the events file (empty when events are off).
declare -A port pid evfile
ops_port=

wait_up() { # wait_up NAME LOGFILE
	local _
	for _ in $(seq 100); do
		if curl -s -o /dev/null --max-time 1 -H "Host: $HOST" "http://127.0.0.1:${port[$1]}$REQ_PATH"; then
			return 0
		fi
		kill -0 "${pid[$1]}" 2>/dev/null || { cat "$2" >&2 || true; die "$1 exited at startup"; }
		sleep 0.1
	done
	cat "$2" >&2 || true
	die "$1 did not answer on 127.0.0.1:${port[$1]} within 10s"
}

start_servers() { # start_servers on|off
	local events=$1 dir=$tmp/$1
	mkdir -p "$dir/nginx"

	# nginx
	port[nginx]=$(free_port)
	local access_log="access_log off;"
	evfile[nginx]=
	if [ "$events" = on ]; then
		evfile[nginx]=$dir/nginx-access.jsonl
		access_log="access_log ${evfile[nginx]} bench;"
		: >"${evfile[nginx]}"
	fi
	sed -e "s|@PORT@|${port[nginx]}|g" -e "s|@TMP@|$dir/nginx|g" -e "s|@ACCESS_LOG@|$access_log|g" \
		"$bench/nginx.conf.tmpl" >"$dir/nginx/nginx.conf"
	nginx -t -q -p "$dir/nginx" -e "$dir/nginx/error.log" -c "$dir/nginx/nginx.conf" ||
		die "nginx rejected $dir/nginx/nginx.conf"
	taskset -c 0 nginx -p "$dir/nginx" -e "$dir/nginx/error.log" -c "$dir/nginx/nginx.conf" \
		>"$dir/nginx/stdout.log" 2>&1 &
	pid[nginx]=$!
	pids+=("$!")
	wait_up nginx "$dir/nginx/error.log"

	# Portico
	port[portico]=$(free_port)
	ops_port=$(free_port)
	local pe=none
	evfile[portico]=$dir/portico-events.jsonl
	if [ "$events" = on ]; then
		pe=stdout
	fi
	GOMAXPROCS=1 taskset -c 0 "$tmp/portico" serve --manifest "$tmp/manifest.json" \
		--listen "127.0.0.1:${port[portico]}" --ops-listen "127.0.0.1:$ops_port" --events "$pe" --data none \
		>"${evfile[portico]}" 2>"$dir/portico.log" &
	pid[portico]=$!
	pids+=("$!")
	[ "$events" = on ] || evfile[portico]=
	wait_up portico "$dir/portico.log"

	# bare net/http (never logs)
	port[bare-go]=$(free_port)
	evfile[bare-go]=
	GOMAXPROCS=1 taskset -c 0 "$tmp/bare" -listen "127.0.0.1:${port[bare-go]}" >"$dir/bare.log" 2>&1 &
	pid[bare-go]=$!
	pids+=("$!")
	wait_up bare-go "$dir/bare.log"
}

stop_servers() {
	local s
	for s in nginx portico bare-go; do
		kill "${pid[$s]}" 2>/dev/null || true
		wait "${pid[$s]}" 2>/dev/null || true
	done
	pids=() # all waited for: nothing left for cleanup to kill
}

# check_redirect NAME: one request with curl; must be a 307 to WANT_LOCATION.
check_redirect() {
	local headers status location
	headers=$(curl -sS -o /dev/null -D - --max-time 5 -H "Host: $HOST" "http://127.0.0.1:${port[$1]}$REQ_PATH" | tr -d '\r') ||
		die "$1: curl failed"
	status=$(awk 'NR==1{print $2}' <<<"$headers")
	location=$(awk 'tolower($1)=="location:"{print $2}' <<<"$headers")
	if [ "$status" != 307 ] || [ "$location" != "$WANT_LOCATION" ]; then
		say "$1 answered:"
		say "$headers"
		die "$1 must answer 307 with Location: $WANT_LOCATION (got status '$status', Location '$location')"
	fi
}

# ---------------------------------------------------------------- measuring

# cpu_ticks PID...: utime+stime of the processes (all their threads), in
# clock ticks. Fields 14 and 15 of /proc/PID/stat, counted after the
# ")" that closes the command name.
cpu_ticks() {
	local p stat rest total=0
	local -a fields
	for p in "$@"; do
		stat=$(<"/proc/$p/stat")
		rest=${stat##*) }
		read -ra fields <<<"$rest"
		total=$((total + fields[11] + fields[12]))
	done
	echo "$total"
}

# cpu_jiffies N: "busy total" jiffies of CPU N from /proc/stat.
cpu_jiffies() {
	awk -v c="cpu$1" '$1==c{t=0; for(i=2;i<=NF;i++)t+=$i; print t-$5-$6, t}' /proc/stat
}

# busy_pct "BUSY0 TOTAL0" "BUSY1 TOTAL1": percentage of time the CPU was busy.
busy_pct() {
	awk -v a="$1" -v b="$2" 'BEGIN{split(a,x," "); split(b,y," "); d=y[2]-x[2]; printf "%.0f", (d > 0 ? 100*(y[1]-x[1])/d : 0)}'
}

# runq_ns PID...: nanoseconds the processes' threads spent runnable but
# waiting for a CPU (second field of /proc/PID/task/TID/schedstat).
runq_ns() {
	local p
	for p in "$@"; do
		cat "/proc/$p/task/"*/schedstat 2>/dev/null || true
	done | awk '{s+=$2} END{printf "%.0f", s}'
}

# server_pids NAME: the server's processes (nginx: master and workers).
server_pids() {
	local p=${pid[$1]}
	echo "$p"
	if [ "$1" = nginx ]; then
		pgrep -P "$p" || true
	fi
}

count_lines() { # count_lines FILE (0 for "")
	if [ -n "$1" ]; then
		wc -l <"$1"
	else
		echo 0
	fi
}

# Portico writes events from a queue after answering: wait until the file
# stops growing.
settle_events() {
	local f=$1 last=-1 now
	[ -n "$f" ] || return 0
	now=$(count_lines "$f")
	while [ "$now" != "$last" ]; do
		last=$now
		sleep 0.3
		now=$(count_lines "$f")
	done
}

dropped_events() {
	curl -s --max-time 5 "http://127.0.0.1:$ops_port/metrics" |
		awk '$1=="portico_events_dropped_total"{print $2; found=1} END{if(!found)print "n/a"}'
}

# run_wrk NAME SECONDS: runs wrk; sets wrk_requests and wrk_rps.
run_wrk() {
	local out
	out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"$2s" -H "Host: $HOST" "http://127.0.0.1:${port[$1]}$REQ_PATH") ||
		die "wrk against $1 failed: $out"
	wrk_requests=$(awk '/ requests in /{print $1}' <<<"$out")
	wrk_rps=$(awk '/^Requests\/sec:/{print $2}' <<<"$out")
	if [ -z "$wrk_requests" ] || [ -z "$wrk_rps" ]; then
		die "could not parse wrk output: $out"
	fi
	if grep -qE 'Socket errors|Non-2xx or 3xx' <<<"$out"; then
		say "  note: $1: $(grep -E 'Socket errors|Non-2xx or 3xx' <<<"$out" | tr -s ' ' | tr '\n' ';')"
	fi
}

results=$tmp/results.tsv
printf 'config\tround\tserver\trequests\treq_per_s\tcpu_s\treq_per_cpu_s\tevent_lines\n' >"$results"

# measure CONFIG ROUND NAME
measure() {
	local cfg=$1 round=$2 s=$3 pl t0 t1 l0 l1 cpu rpc lines c0a c0b c1a c1b share w0 w1 wait
	pl=$(server_pids "$s")
	settle_events "${evfile[$s]}"
	l0=$(count_lines "${evfile[$s]}")
	# shellcheck disable=SC2086 # pl is a list of PIDs
	t0=$(cpu_ticks $pl)
	# shellcheck disable=SC2086
	w0=$(runq_ns $pl)
	c0a=$(cpu_jiffies 0)
	c1a=$(cpu_jiffies 1)
	run_wrk "$s" "$DURATION"
	# shellcheck disable=SC2086
	t1=$(cpu_ticks $pl)
	# shellcheck disable=SC2086
	w1=$(runq_ns $pl)
	c0b=$(cpu_jiffies 0)
	c1b=$(cpu_jiffies 1)
	settle_events "${evfile[$s]}"
	l1=$(count_lines "${evfile[$s]}")
	lines=$((l1 - l0))
	cpu=$(awk -v d=$((t1 - t0)) -v hz="$HZ" 'BEGIN{printf "%.2f", d/hz}')
	rpc=$(awk -v r="$wrk_requests" -v d=$((t1 - t0)) -v hz="$HZ" 'BEGIN{if(d>0)printf "%.0f", r*hz/d; else print "NA"}')
	wait=$(awk -v a="$w0" -v b="$w1" 'BEGIN{printf "%.1f", (b-a)/1e9}')
	share=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v s="$DURATION" 'BEGIN{printf "%.0f", 100*d/hz/s}')
	printf '%s\t%s\t%s\t%s\t%.0f\t%s\t%s\t%s\n' "$cfg" "$round" "$s" "$wrk_requests" "$wrk_rps" "$cpu" "$rpc" "$lines" >>"$results"

	local extra=""
	if [ $((t1 - t0)) -lt "$((HZ * DURATION / 5))" ] || [ $((t1 - t0)) -lt "$HZ" ]; then
		extra+="  (LOW: the server was busy under 20% of the run or under 1 s; other work on the machine starved it or wrk, so this figure is imprecise)"
	fi
	if [ -n "${evfile[$s]}" ]; then
		extra="  event lines $lines"
		# wrk counts only completed responses; up to CONNS more may have been
		# answered while it shut down.
		local diff=$((lines - wrk_requests))
		if [ "${diff#-}" -gt $((wrk_requests / 100 + CONNS)) ]; then
			extra+=" (MISMATCH: $diff vs wrk's count)"
		fi
	fi
	if [ "$s" = portico ]; then
		extra+="  dropped_total $(dropped_events)"
	fi
	printf '  %-10s %-8s req %9s  req/s %8.0f  cpu %6ss  req/cpu-s %8s  server %3s%%  waited %4ss  cpu0 busy %3s%%  cpu1 busy %3s%%%s\n' \
		"events-$cfg" "$s" "$wrk_requests" "$wrk_rps" "$cpu" "$rpc" "$share" "$wait" "$(busy_pct "$c0a" "$c0b")" "$(busy_pct "$c1a" "$c1b")" "$extra" >&2
}

say "load average before starting: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine shows as cpu0/cpu1 busy beyond the server's own share)"
say "settings: ROUNDS=$ROUNDS DURATION=${DURATION}s WARMUP=${WARMUP}s CONNS=$CONNS; servers on CPU 0, wrk on CPU 1; $(nginx -v 2>&1 | sed 's/.*: //'), $(go version | awk '{print $3}')"

for cfg in on off; do
	say ""
	say "== events $cfg"
	start_servers "$cfg"
	for s in nginx portico bare-go; do
		check_redirect "$s"
	done
	say "  all three answer 307 Location: $WANT_LOCATION"
	for s in nginx portico bare-go; do
		run_wrk "$s" "$WARMUP"
	done
	say "  warm-up done"
	for ((r = 1; r <= ROUNDS; r++)); do
		# Alternate the order so that no server always runs first.
		if ((r % 2)); then
			order=(nginx portico bare-go)
		else
			order=(bare-go portico nginx)
		fi
		say " round $r"
		for s in "${order[@]}"; do
			measure "$cfg" "$r" "$s"
		done
	done
	if [ "$cfg" = on ]; then
		say "  portico events file: $(count_lines "${evfile[portico]}") lines, first one:"
		head -n 1 "${evfile[portico]}" >&2
		say "  nginx access log: $(count_lines "${evfile[nginx]}") lines, first one:"
		head -n 1 "${evfile[nginx]}" >&2
		python3 -c 'import json,sys
n=0
for line in open(sys.argv[1]):
    json.loads(line); n+=1
print(n)' "${evfile[portico]}" >/dev/null || die "portico events file has lines that are not JSON"
	fi
	stop_servers
done

[ -z "$RESULTS" ] || cp "$results" "$RESULTS"

# ---------------------------------------------------------------- report

say ""
say "per-round ratios (req/cpu-s vs nginx in the same round):"
awk -F'\t' -v rounds="$ROUNDS" 'NR>1{v[$1, $2, $3]=$7}
END{
	split("on off", cfgs, " ")
	for(c=1;c<=2;c++) for(r=1;r<=rounds;r++){
		n=v[cfgs[c], r, "nginx"] + 0
		if (n > 0) printf "  events-%-4s round %d  portico %.2f  bare-go %.2f\n", cfgs[c], r, v[cfgs[c], r, "portico"]/n, v[cfgs[c], r, "bare-go"]/n
		else printf "  events-%-4s round %d  n/a (nginx used no measurable CPU)\n", cfgs[c], r
	}
}' "$results" >&2

echo
echo "median of $ROUNDS rounds of ${DURATION}s, $CONNS connections; ratio = req/cpu-s / nginx's"
awk -F'\t' '
function sorted(list, a,   n, i, j, t) {
	n = split(list, a, " ")
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return n
}
function median(list,   a, n) {
	n = sorted(list, a)
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function range(list,   a, n) {
	n = sorted(list, a)
	return sprintf("%.0f-%.0f", a[1], a[n])
}
NR > 1 { rps[$1, $3] = rps[$1, $3] " " $5; if ($7 != "NA") rpc[$1, $3] = rpc[$1, $3] " " $7 }
END {
	printf "%-11s %-9s %10s %11s %15s   %s\n", "config", "server", "req/s", "req/cpu-s", "ratio vs nginx", "req/cpu-s min-max"
	split("on off", cfgs, " ")
	split("nginx portico bare-go", servers, " ")
	for (c = 1; c <= 2; c++) {
		base = median(rpc[cfgs[c], "nginx"])
		for (s = 1; s <= 3; s++) {
			k = cfgs[c] SUBSEP servers[s]
			m = median(rpc[k])
			ratio = servers[s] == "nginx" ? "" : (base > 0 ? sprintf("%.2f", m / base) : "n/a")
			name = servers[s] == "bare-go" && cfgs[c] == "on" ? "bare-go*" : servers[s]
			printf "%-11s %-9s %10.0f %11.0f %15s   %s\n", "events-" cfgs[c], name, median(rps[k]), m, ratio, range(rpc[k])
		}
	}
	print "* bare-go never writes events; it is the same server in both configurations."
}' "$results"
echo "took $(($(date +%s) - started))s"
