#!/usr/bin/env bash
# The proxy cache against its baselines, in the same run:
#   - a cache hit of one large blob against nginx serving the same file
#     from disk (sendfile on);
#   - a cache miss (an empty cache: the blob is fetched, hashed, written
#     and sent in the same pass) against Portico's plain proxy of the
#     same blob from the same upstream;
#   - Portico's RSS, sampled every 0.1 s while it streams, and its peak;
#   - with TMPFS set to a tmpfs mount point, the same miss again with the
#     cache directory there, which separates the disk from the code.
#
#   bench/cache.sh                       # 1 GiB blob, 3 rounds
#   SIZE=$((256<<20)) ROUNDS=5 bench/cache.sh
#   mount -t tmpfs -o size=3g tmpfs /mnt/t && TMPFS=/mnt/t bench/cache.sh
#
# The upstream is nginx serving the blob file under a registry's blob
# path; the hit baseline is the same nginx and the same file. Downloads
# are made with curl, bytes to /dev/null. Each round restarts Portico on
# an empty cache directory, so that the miss is a miss. Listens only on
# free ports of 127.0.0.1; removes everything on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
SIZE=${SIZE:-$((1<<30))}
ROUNDS=${ROUNDS:-3}
for c in curl nginx python3 bc sha256sum; do
	command -v "$c" >/dev/null || { echo "$c is needed"; exit 1; }
done

tmp=$(mktemp -d)
pids=()
gw=
cleanup() {
	for p in "${pids[@]}" $gw; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
if [ -n "${TMPFS:-}" ]; then
	[ "$(stat -f -c %T "$TMPFS")" = tmpfs ] || { echo "TMPFS=$TMPFS is not a tmpfs"; exit 1; }
	tmpfsdir=$(mktemp -d "$TMPFS/cache.XXXXXX")
	cleanup() {
		for p in "${pids[@]}" $gw; do kill "$p" 2>/dev/null || true; done
		wait 2>/dev/null || true
		rm -rf "$tmp" "$tmpfsdir"
	}
fi
[ -n "${KEEP:-}" ] && trap "for p in \"\${pids[@]}\" \$gw; do kill \$p 2>/dev/null; done; echo kept \$tmp" EXIT

CGO_ENABLED=0 go build -o "$tmp/portico" ./cmd/portico
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

mkdir -p "$tmp/blobs" "$tmp/nginx"
head -c "$SIZE" /dev/urandom >"$tmp/blob"
digest=sha256:$(sha256sum "$tmp/blob" | cut -d' ' -f1)
mv "$tmp/blob" "$tmp/blobs/$digest"
# nginx's worker may run as another user.
chmod 755 "$tmp" "$tmp/blobs"
chmod 644 "$tmp/blobs/$digest"
path=/v2/acme/big/blobs/$digest

ngport=$(free_port)
cat >"$tmp/nginx/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 1024; }
http {
    client_body_temp_path $tmp/nginx/cb;
    proxy_temp_path $tmp/nginx/p;
    fastcgi_temp_path $tmp/nginx/f;
    uwsgi_temp_path $tmp/nginx/u;
    scgi_temp_path $tmp/nginx/s;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$ngport;
        location = /v2/ { default_type application/json; return 200 '{}'; }
        location /v2/acme/big/blobs/ {
            alias $tmp/blobs/;
            default_type application/octet-stream;
        }
    }
}
CONF
nginx -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx" &
pids+=($!)
up="127.0.0.1:$ngport"
for _ in $(seq 100); do curl -fs -o /dev/null "http://$up/v2/" && break; sleep 0.05; done

cat >"$tmp/manifest.json" <<JSON
{"rules":[
 {"type":"docker-v1","domain":"proxy.test","repository-name":"acme/big","registry":"http://$up","package-id":"p","mode":"proxy"},
 {"type":"docker-v1","domain":"cache.test","repository-name":"acme/big","registry":"http://$up","package-id":"c","mode":"cache"}
]}
JSON
gwport=$(free_port)
# start_portico [CACHE_DIR]: Portico on an empty cache in CACHE_DIR
# (default $tmp/cache, on the disk).
start_portico() {
	cachedir=${1:-$tmp/cache}
	rm -rf "$cachedir"
	"$tmp/portico" serve --manifest "$tmp/manifest.json" --listen "127.0.0.1:$gwport" --ops-listen off --data none --events none \
		--cache-dir "$cachedir" 2>>"$tmp/portico.log" &
	gw=$!
	for _ in $(seq 100); do curl -fs -o /dev/null -H 'Host: proxy.test' "http://127.0.0.1:$gwport/v2/" && break; sleep 0.05; done
	token=$(curl -fs -H 'Host: cache.test' "http://127.0.0.1:$gwport/v2/token?service=cache.test&scope=repository:acme/big:pull" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
}
stop_portico() { kill "$gw"; wait "$gw" 2>/dev/null || true; gw=; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$gw/status" 2>/dev/null || echo 0; }
hwm() { awk '/VmHWM/ {print $2}' "/proc/$gw/status"; }

# speed URL [HOST [TOKEN]]: bytes/s of one download, checked for length.
speed() {
	local out
	out=$(curl -fs -o /dev/null -w '%{speed_download} %{size_download}' ${2:+-H "Host: $2"} ${3:+-H "Authorization: Bearer $3"} "$1")
	set -- $out
	[ "$2" = "$SIZE" ] || { echo "short download: $2 of $SIZE bytes" >&2; exit 1; }
	echo "$1"
}
ratio() { echo "$1/$2" | bc -l; }
mb() { echo "$1/1000000" | bc -l; }

echo "blob: $((SIZE>>20)) MiB from nginx at $up"
nsum=0; psum=0; msum=0; hsum=0; tsum=0; maxrss=0; maxhwm=0
for r in $(seq "$ROUNDS"); do
	start_portico
	before=$(rss)
	( while [ -n "$gw" ] && kill -0 "$gw" 2>/dev/null; do rss >>"$tmp/rss.$r"; sleep 0.1; done ) &
	sampler=$!
	# Both files are read from the page cache: nginx's is read once
	# before, as the cache's was just written.
	cat "$tmp/blobs/$digest" >/dev/null
	n=$(speed "http://$up$path")
	p=$(speed "http://127.0.0.1:$gwport$path" proxy.test)
	m=$(speed "http://127.0.0.1:$gwport$path" cache.test "$token")
	# The miss's last step (sync and rename) runs after its client got
	# the last byte; the hit must find the object kept.
	for _ in $(seq 600); do [ -e "$tmp/cache/objects/${digest/:/-}" ] && break; sleep 0.1; done
	h=$(speed "http://127.0.0.1:$gwport$path" cache.test "$token")
	# What the disk takes at best: a miss writes the whole object there.
	w=$(dd if=/dev/zero of="$tmp/ddtest" bs=1M count=$((SIZE>>20)) 2>&1 | awk '/copied/ {print $(NF-1) " " $NF}')
	rm -f "$tmp/ddtest"
	kill "$sampler" 2>/dev/null || true
	wait "$sampler" 2>/dev/null || true
	peak=$(sort -n "$tmp/rss.$r" | tail -1)
	high=$(hwm)
	printf 'round %d: nginx %.0f MB/s; hit %.0f MB/s (%.2f of nginx); proxy %.0f MB/s; miss %.0f MB/s (%.2f of proxy); RSS %d MiB before, %d MiB sampled peak, VmHWM %d MiB; dd to the cache'"'"'s disk %s\n' \
		"$r" "$(mb "$n")" "$(mb "$h")" "$(ratio "$h" "$n")" "$(mb "$p")" "$(mb "$m")" "$(ratio "$m" "$p")" $((before>>10)) $((peak>>10)) $((high>>10)) "$w"
	nsum=$(echo "$nsum+$n" | bc -l); psum=$(echo "$psum+$p" | bc -l); msum=$(echo "$msum+$m" | bc -l); hsum=$(echo "$hsum+$h" | bc -l)
	[ "$peak" -gt "$maxrss" ] && maxrss=$peak
	[ "$high" -gt "$maxhwm" ] && maxhwm=$high
	stop_portico
	if [ -n "${TMPFS:-}" ]; then
		# The same miss with the cache on a tmpfs: what is left is the
		# code's cost (and the page cache's), not the disk's.
		start_portico "$tmpfsdir/cache"
		t=$(speed "http://127.0.0.1:$gwport$path" cache.test "$token")
		for _ in $(seq 600); do [ -e "$tmpfsdir/cache/objects/${digest/:/-}" ] && break; sleep 0.1; done
		stop_portico
		rm -rf "$tmpfsdir/cache"
		printf 'round %d: miss on tmpfs %.0f MB/s (%.2f of proxy, %.2f of the miss on disk)\n' \
			"$r" "$(mb "$t")" "$(ratio "$t" "$p")" "$(ratio "$t" "$m")"
		tsum=$(echo "$tsum+$t" | bc -l)
	fi
done
printf 'mean over %d rounds: hit / nginx %.2f; miss / plain proxy %.2f; largest sampled RSS %d MiB, largest VmHWM %d MiB\n' \
	"$ROUNDS" "$(ratio "$hsum" "$nsum")" "$(ratio "$msum" "$psum")" $((maxrss>>10)) $((maxhwm>>10))
if [ -n "${TMPFS:-}" ]; then
	printf 'mean over %d rounds: miss on tmpfs / plain proxy %.2f; miss on tmpfs / miss on disk %.2f\n' \
		"$ROUNDS" "$(ratio "$tsum" "$psum")" "$(ratio "$tsum" "$msum")"
fi
