#!/usr/bin/env bash
# Requests per CPU-second, latency and memory of Portico, nginx and a bare
# net/http server answering the same 307 redirect on this machine, in one
# interleaved run. See bench/README.md. Settings (environment):
#   ROUNDS=3     measured rounds
#   DURATION=8   seconds of each measured wrk run
#   WARMUP=3     seconds of the unrecorded warm-up run per server
#   CONNS=64     wrk connections
#   BASELINE=    a git revision: its build runs in the default
#                configuration beside this one, as "base"
#   PROFILE=     a directory: CPU and heap profiles of the default
#                configuration under load, taken in the last round
#   RESULTS=     if set, a TSV of every measured run is copied there
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-3}
CONNS=${CONNS:-64}
BASELINE=${BASELINE:-}
PROFILE=${PROFILE:-}
RESULTS=${RESULTS:-}

REQ_PATH=/v1.2.0/linux/rocket-skates.tar.gz
WANT_LOCATION=https://downloads.example.com/rocket-skates/v1.2.0/rocket-skates-linux.tar.gz
HOST=bench.test

cd "$(dirname "$0")/.."
repo=$(pwd)
bench=$repo/bench
started=$(date +%s)
[ -z "$PROFILE" ] || { mkdir -p "$PROFILE" && PROFILE=$(cd "$PROFILE" && pwd); }

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
need sqlite3 sqlite3
command -v go >/dev/null 2>&1 || die "go is not on PATH (nor in /usr/local/go/bin)"
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs (servers on CPU 0, wrk on CPU 1); this machine has $(nproc)"

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

say "building portico, bench/bare and the GeoIP databases"
go build -o "$tmp/portico" ./cmd/portico
go build -o "$tmp/bare" ./bench/bare
go run ./bench/geodb -city "$tmp/city.mmdb" -asn "$tmp/asn.mmdb"
cp "$bench/manifest.json" "$tmp/manifest.json"
servers=(nginx bare-go none default)
if [ -n "$BASELINE" ]; then
	rev=$(git rev-parse --verify "$BASELINE^{commit}") || die "BASELINE=$BASELINE is not a commit"
	say "building portico at $BASELINE ($rev)"
	mkdir -p "$tmp/base-src"
	git archive "$rev" | tar -x -C "$tmp/base-src"
	(cd "$tmp/base-src" && go build -o "$tmp/portico-base" ./cmd/portico)
	servers+=(base)
fi

free_port() {
	python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}

# ---------------------------------------------------------------- servers

# Per server: port, PID, ops port (Portico), the events file (stdout
# lines or nginx's log), the data directory (store on), how many requests
# other than wrk's it answered, and how many wrk runs it served.
declare -A port pid ops evfile data curls runs answered

wait_up() { # wait_up NAME LOGFILE
	local _
	for _ in $(seq 100); do
		if curl -s -o /dev/null --max-time 1 -H "Host: $HOST" "http://127.0.0.1:${port[$1]}$REQ_PATH"; then
			curls[$1]=$((curls[$1] + 1))
			return 0
		fi
		kill -0 "${pid[$1]}" 2>/dev/null || { cat "$2" >&2 || true; die "$1 exited at startup"; }
		sleep 0.1
	done
	cat "$2" >&2 || true
	die "$1 did not answer on 127.0.0.1:${port[$1]} within 10s"
}

# start_portico NAME BINARY ARGS...: Portico on CPU 0 with GOMAXPROCS=1,
# its events (standard output) to a file.
start_portico() {
	local name=$1 bin=$2
	shift 2
	port[$name]=$(free_port)
	ops[$name]=$(free_port)
	evfile[$name]=$tmp/$name-events.jsonl
	local -a extra=()
	if [ -n "$PROFILE" ] && [ "$name" = default ]; then
		extra+=(--pprof)
	fi
	GOMAXPROCS=1 taskset -c 0 "$bin" serve --manifest "$tmp/manifest.json" \
		--listen "127.0.0.1:${port[$name]}" --ops-listen "127.0.0.1:${ops[$name]}" --app-listen off \
		--events stdout "$@" "${extra[@]}" >"${evfile[$name]}" 2>"$tmp/$name.log" &
	pid[$name]=$!
	pids+=("$!")
	wait_up "$name" "$tmp/$name.log"
}

start_servers() {
	local s
	for s in "${servers[@]}"; do
		curls[$s]=0
		runs[$s]=0
		answered[$s]=0
		data[$s]=
	done

	# nginx, one worker, JSON access log written per request.
	mkdir -p "$tmp/nginx"
	port[nginx]=$(free_port)
	evfile[nginx]=$tmp/nginx-access.jsonl
	: >"${evfile[nginx]}"
	sed -e "s|@PORT@|${port[nginx]}|g" -e "s|@TMP@|$tmp/nginx|g" -e "s|@ACCESS_LOG@|access_log ${evfile[nginx]} bench;|g" \
		"$bench/nginx.conf.tmpl" >"$tmp/nginx/nginx.conf"
	nginx -t -q -p "$tmp/nginx" -e "$tmp/nginx/error.log" -c "$tmp/nginx/nginx.conf" ||
		die "nginx rejected $tmp/nginx/nginx.conf"
	taskset -c 0 nginx -p "$tmp/nginx" -e "$tmp/nginx/error.log" -c "$tmp/nginx/nginx.conf" \
		>"$tmp/nginx/stdout.log" 2>&1 &
	pid[nginx]=$!
	pids+=("$!")
	wait_up nginx "$tmp/nginx/error.log"

	# bare net/http (never logs)
	port[bare-go]=$(free_port)
	evfile[bare-go]=
	GOMAXPROCS=1 taskset -c 0 "$tmp/bare" -listen "127.0.0.1:${port[bare-go]}" >"$tmp/bare.log" 2>&1 &
	pid[bare-go]=$!
	pids+=("$!")
	wait_up bare-go "$tmp/bare.log"

	# Portico, events on standard output only.
	start_portico none "$tmp/portico" --data none

	# Portico as the README starts it: enrichment with GeoIP and ASN
	# databases, the embedded store and its spool, and events on
	# standard output.
	local s bin
	for s in default base; do
		case $s in
		default) bin=$tmp/portico ;;
		base) [ -n "$BASELINE" ] || continue; bin=$tmp/portico-base ;;
		esac
		data[$s]=$tmp/$s-data
		start_portico "$s" "$bin" --data "${data[$s]}" --geoip-db "$tmp/city.mmdb" --asn-db "$tmp/asn.mmdb"
	done
}

# check_redirect NAME: one request with curl; must be a 307 to WANT_LOCATION.
check_redirect() {
	local headers status location
	headers=$(curl -sS -o /dev/null -D - --max-time 5 -H "Host: $HOST" "http://127.0.0.1:${port[$1]}$REQ_PATH" | tr -d '\r') ||
		die "$1: curl failed"
	curls[$1]=$((curls[$1] + 1))
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

# rss_kib FIELD PID...: VmRSS or VmHWM (peak) of the processes, summed, KiB.
rss_kib() {
	local field=$1 p
	shift
	for p in "$@"; do
		awk -v f="$field:" '$1==f{print $2}' "/proc/$p/status"
	done | awk '{s+=$1} END{printf "%d", s}'
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

# metric NAME SERVER: a value from Portico's /metrics.
metric() {
	curl -s --max-time 5 "http://127.0.0.1:${ops[$2]}/metrics" |
		awk -v m="$1" '$1==m{print $2; found=1} END{if(!found)print "n/a"}'
}

# settle NAME: waits until the server has recorded every request it
# answered: Portico writes events from a queue after answering, and its
# store takes them from the spool after that. This is part of the cost of
# a request, so measure runs it before reading the CPU time. Prints the
# seconds waited.
settle() {
	local s=$1 f=${evfile[$1]} last=-1 now t0 emitted committed
	t0=$(date +%s.%N)
	if [ "$s" != nginx ] && [ -n "$f" ]; then
		now=$(count_lines "$f")
		while [ "$now" != "$last" ]; do
			last=$now
			sleep 0.2
			now=$(count_lines "$f")
		done
	fi
	if [ -n "${data[$s]:-}" ]; then
		local _
		for _ in $(seq 600); do
			emitted=$(metric portico_events_emitted_total "$s")
			committed=$(metric portico_store_events_committed_total "$s")
			[ "$emitted" != "$committed" ] || break
			sleep 0.2
		done
		[ "$emitted" = "$committed" ] ||
			say "  note: $s: the store has $committed of $emitted events after 120s"
	fi
	awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'
}

# run_wrk NAME SECONDS: runs wrk; sets wrk_requests, wrk_rps and the
# latency percentiles lat_p50, lat_p99, lat_p999 (microseconds).
run_wrk() {
	local out
	out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"$2s" -s "$bench/redirect.lua" -H "Host: $HOST" "http://127.0.0.1:${port[$1]}$REQ_PATH") ||
		die "wrk against $1 failed: $out"
	wrk_requests=$(awk '/ requests in /{print $1}' <<<"$out")
	wrk_rps=$(awk '/^Requests\/sec:/{print $2}' <<<"$out")
	read -r lat_p50 lat_p99 lat_p999 < <(awk '/^LATENCY_US/{for(i=2;i<=4;i++){split($i,kv,"="); printf "%s ", kv[2]} print ""}' <<<"$out")
	if [ -z "$wrk_requests" ] || [ -z "$wrk_rps" ] || [ -z "${lat_p999:-}" ]; then
		die "could not parse wrk output: $out"
	fi
	runs[$1]=$((runs[$1] + 1))
	answered[$1]=$((answered[$1] + wrk_requests))
	if grep -qE 'Socket errors|Non-2xx or 3xx' <<<"$out"; then
		say "  note: $1: $(grep -E 'Socket errors|Non-2xx or 3xx' <<<"$out" | tr -s ' ' | tr '\n' ';')"
	fi
}

results=$tmp/results.tsv
printf 'round\tserver\trequests\treq_per_s\tcpu_s\treq_per_cpu_s\tp50_us\tp99_us\tp999_us\trss_kib\tdrain_s\n' >"$results"

# measure ROUND NAME
measure() {
	local round=$1 s=$2 pl t0 t1 cpu rpc c0a c0b c1a c1b share w0 w1 wait drain rss prof=
	pl=$(server_pids "$s")
	settle "$s" >/dev/null
	# shellcheck disable=SC2086 # pl is a list of PIDs
	t0=$(cpu_ticks $pl)
	# shellcheck disable=SC2086
	w0=$(runq_ns $pl)
	c0a=$(cpu_jiffies 0)
	c1a=$(cpu_jiffies 1)
	if [ -n "$PROFILE" ] && [ "$s" = default ] && [ "$round" = "$ROUNDS" ]; then
		curl -s -o "$PROFILE/cpu.pprof" "http://127.0.0.1:${ops[$s]}/debug/pprof/profile?seconds=$((DURATION - 1))" &
		prof=$!
	fi
	run_wrk "$s" "$DURATION"
	if [ -n "$prof" ]; then
		wait "$prof"
		curl -s -o "$PROFILE/heap.pprof" "http://127.0.0.1:${ops[$s]}/debug/pprof/heap"
		say "  profiles of the default configuration: $PROFILE/cpu.pprof, $PROFILE/heap.pprof"
	fi
	# shellcheck disable=SC2086
	rss=$(rss_kib VmRSS $pl)
	drain=$(settle "$s")
	# shellcheck disable=SC2086
	t1=$(cpu_ticks $pl)
	# shellcheck disable=SC2086
	w1=$(runq_ns $pl)
	c0b=$(cpu_jiffies 0)
	c1b=$(cpu_jiffies 1)
	cpu=$(awk -v d=$((t1 - t0)) -v hz="$HZ" 'BEGIN{printf "%.2f", d/hz}')
	rpc=$(awk -v r="$wrk_requests" -v d=$((t1 - t0)) -v hz="$HZ" 'BEGIN{if(d>0)printf "%.0f", r*hz/d; else print "NA"}')
	wait=$(awk -v a="$w0" -v b="$w1" 'BEGIN{printf "%.1f", (b-a)/1e9}')
	share=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v s="$DURATION" 'BEGIN{printf "%.0f", 100*d/hz/s}')
	printf '%s\t%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$s" "$wrk_requests" "$wrk_rps" "$cpu" "$rpc" \
		"$lat_p50" "$lat_p99" "$lat_p999" "$rss" "$drain" >>"$results"

	local extra=""
	if [ $((t1 - t0)) -lt "$((HZ * DURATION / 5))" ] || [ $((t1 - t0)) -lt "$HZ" ]; then
		extra+="  (LOW: the server was busy under 20% of the run or under 1 s; other work on the machine starved it or wrk, so this figure is imprecise)"
	fi
	case $s in
	none | default | base) extra+="  dropped $(metric portico_events_dropped_total "$s")" ;;
	esac
	printf '  %-8s req %8s  req/s %7.0f  cpu %5ss  req/cpu-s %6s  p50/p99/p99.9 %s/%s/%s ms  rss %3d MiB  drain %4ss  server %3s%%  waited %4ss  cpu0 %3s%%  cpu1 %3s%%%s\n' \
		"$s" "$wrk_requests" "$wrk_rps" "$cpu" "$rpc" \
		"$(awk -v v="$lat_p50" 'BEGIN{printf "%.2f", v/1000}')" "$(awk -v v="$lat_p99" 'BEGIN{printf "%.2f", v/1000}')" \
		"$(awk -v v="$lat_p999" 'BEGIN{printf "%.2f", v/1000}')" $((rss / 1024)) "$drain" \
		"$share" "$wait" "$(busy_pct "$c0a" "$c0b")" "$(busy_pct "$c1a" "$c1b")" "$extra" >&2
}

# verify_events NAME: every request the server answered is recorded, once.
# wrk counts the responses it read; up to CONNS more per run were answered
# while it shut down, and the script's own requests (curls) count too.
verify_events() {
	local s=$1 lo hi n
	lo=$((answered[$s] + curls[$s]))
	hi=$((lo + runs[$s] * CONNS))
	case $s in
	nginx | none)
		n=$(count_lines "${evfile[$s]}")
		if [ "$n" -lt "$lo" ] || [ "$n" -gt "$hi" ]; then
			die "$s: $n event lines for $lo answered requests (at most $hi)"
		fi
		say "  $s: $n event lines for $lo requests counted by wrk and curl (+$((n - lo)) answered as wrk stopped)"
		;;
	default | base)
		local emitted dropped lines stored rolled distinct
		emitted=$(metric portico_events_emitted_total "$s")
		dropped=$(metric portico_events_dropped_total "$s")
		lines=$(count_lines "${evfile[$s]}")
		# Stop it gracefully, then read its store.
		kill "${pid[$s]}"
		wait "${pid[$s]}" || true
		stored=$(sqlite3 "${data[$s]}/portico.db" 'SELECT count(*) FROM events')
		distinct=$(sqlite3 "${data[$s]}/portico.db" 'SELECT count(DISTINCT id) FROM events')
		rolled=$(sqlite3 "${data[$s]}/portico.db" "SELECT coalesce(sum(requests), 0) FROM rollup_hour WHERE dim = ''")
		say "  $s: answered $lo-$hi, emitted $emitted, dropped $dropped, stdout lines $lines; store: $stored events ($distinct ids), rollups count $rolled"
		[ "$dropped" = 0 ] || die "$s dropped $dropped events"
		[ "$stored" = "$emitted" ] && [ "$distinct" = "$stored" ] && [ "$rolled" = "$stored" ] && [ "$lines" = "$stored" ] ||
			die "$s: the store does not hold every emitted event exactly once"
		if [ "$stored" -lt "$lo" ] || [ "$stored" -gt "$hi" ]; then
			die "$s: $stored stored events for $lo answered requests (at most $hi)"
		fi
		;;
	esac
}

say "load average before starting: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine shows as cpu0/cpu1 busy beyond the server's own share)"
say "settings: ROUNDS=$ROUNDS DURATION=${DURATION}s WARMUP=${WARMUP}s CONNS=$CONNS${BASELINE:+ BASELINE=$BASELINE}; servers on CPU 0, wrk on CPU 1; $(nginx -v 2>&1 | sed 's/.*: //'), $(go version | awk '{print $3}')"

start_servers
for s in "${servers[@]}"; do
	check_redirect "$s"
done
say "all answer 307 Location: $WANT_LOCATION"
for s in "${servers[@]}"; do
	run_wrk "$s" "$WARMUP"
done
say "warm-up done"
for ((r = 1; r <= ROUNDS; r++)); do
	# Rotate the order so that no server always runs first or last.
	order=()
	n=${#servers[@]}
	for ((i = 0; i < n; i++)); do
		if ((r % 2)); then
			order+=("${servers[(i + r) % n]}")
		else
			order+=("${servers[(n - 1 - i + r) % n]}")
		fi
	done
	say "round $r"
	for s in "${order[@]}"; do
		measure "$r" "$s"
	done
done

declare -A peak
for s in "${servers[@]}"; do
	# shellcheck disable=SC2046
	peak[$s]=$(rss_kib VmHWM $(server_pids "$s"))
done
say "checking the recorded events"
for s in "${servers[@]}"; do
	[ "$s" = bare-go ] || verify_events "$s"
done
for s in none default base; do
	[ -n "${pid[$s]:-}" ] || continue
	grep -E 'level=(ERROR|WARN)' "$tmp/$s.log" >&2 && say "  ($s logged the lines above)" || true
done

[ -z "$RESULTS" ] || cp "$results" "$RESULTS"

# ---------------------------------------------------------------- report

peaks=""
for s in "${servers[@]}"; do
	peaks+="$s=${peak[$s]} "
done

say ""
say "per-round ratios (req/cpu-s vs nginx in the same round; p99 vs none's):"
awk -F'\t' -v rounds="$ROUNDS" -v list="${servers[*]}" 'NR>1{v[$1, $2]=$6; p[$1, $2]=$8}
END{
	n = split(list, names, " ")
	for(r=1;r<=rounds;r++){
		line = sprintf("  round %d ", r)
		for(i=2;i<=n;i++) line = line sprintf(" %s %.2f", names[i], v[r, "nginx"] > 0 ? v[r, names[i]]/v[r, "nginx"] : 0)
		line = line sprintf("   p99 default/none %.2f", p[r, "none"] > 0 ? p[r, "default"]/p[r, "none"] : 0)
		print line
	}
}' "$results" >&2

echo
echo "median of $ROUNDS rounds of ${DURATION}s, $CONNS connections; ratio = req/cpu-s / nginx's; latency in ms; peak RSS over the whole run"
awk -F'\t' -v list="${servers[*]}" -v peaks="$peaks" '
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
NR > 1 {
	rps[$2] = rps[$2] " " $4; if ($6 != "NA") rpc[$2] = rpc[$2] " " $6
	p50[$2] = p50[$2] " " $7; p99[$2] = p99[$2] " " $8; p999[$2] = p999[$2] " " $9; rss[$2] = rss[$2] " " $10; drain[$2] = drain[$2] " " $11
}
END {
	k = split(peaks, pk, " ")
	for (i = 1; i <= k; i++) { split(pk[i], kv, "="); peak[kv[1]] = kv[2] }
	printf "%-8s %8s %10s %7s %13s %7s %7s %7s %9s %9s %7s\n", "server", "req/s", "req/cpu-s", "ratio", "min-max", "p50", "p99", "p99.9", "RSS MiB", "peak MiB", "drain s"
	n = split(list, names, " ")
	base = median(rpc["nginx"])
	for (i = 1; i <= n; i++) {
		s = names[i]
		m = median(rpc[s])
		printf "%-8s %8.0f %10.0f %7s %13s %7.2f %7.2f %7.2f %9.0f %9.0f %7.1f\n", s, median(rps[s]), m,
			(s == "nginx" ? "" : (base > 0 ? sprintf("%.2f", m / base) : "n/a")), range(rpc[s]),
			median(p50[s]) / 1000, median(p99[s]) / 1000, median(p999[s]) / 1000, median(rss[s]) / 1024, peak[s] / 1024, median(drain[s])
	}
	if (median(p99["none"]) > 0)
		printf "default p99 / none p99: %.2f\n", median(p99["default"]) / median(p99["none"])
	if (rpc["base"] != "" && median(rpc["base"]) > 0)
		printf "default / base req/cpu-s: %.2f\n", median(rpc["default"]) / median(rpc["base"])
	print "nginx writes a JSON access log line per request; bare-go logs nothing; none is Portico --data none (events on stdout);"
	print "default (and base) is Portico with enrichment, the SQLite store and events on stdout, CPU counted until the store has every event."
}' "$results"
echo "took $(($(date +%s) - started))s"
