#!/usr/bin/env bash
# Proxied blob throughput against a direct download from the same server,
# in the same run, and Portico's peak RSS (VmHWM) while it streams. Each
# round downloads the blob directly, through Portico and through a plain
# httputil.ReverseProxy, first with curl (bytes to /dev/null: the proxy's
# cost at its most visible) and then with bench/pull, which hashes and
# checks the digest as every OCI client does.
#
#   bench/docker-proxy.sh                 # 1 GiB blob, 3 rounds
#   SIZE=$((4<<30)) ROUNDS=5 bench/docker-proxy.sh
#   SOURCE=blobserver bench/docker-proxy.sh
#
# SOURCE=registry (the default) serves the blob from the CNCF distribution
# registry with filesystem storage, installed from the Go module proxy if
# missing: "direct" is then a download from a real registry. SOURCE=
# blobserver serves it from memory, a faster source that makes every proxy
# look worse.
#
# Listens only on free ports of 127.0.0.1; removes everything on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
SIZE=${SIZE:-$((1<<30))}
ROUNDS=${ROUNDS:-3}
command -v curl >/dev/null || { echo "curl is needed"; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

CGO_ENABLED=0 go build -o "$tmp/portico" ./cmd/portico
go build -o "$tmp/blobserver" ./bench/blobserver
go build -o "$tmp/revproxy" ./bench/revproxy
go build -o "$tmp/pull" ./bench/pull

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
path=/v2/acme/big/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000
case "${SOURCE:-registry}" in
registry)
	command -v registry >/dev/null || PATH="$PATH:$(go env GOPATH)/bin"
	command -v registry >/dev/null || GOFLAGS="" go install github.com/distribution/distribution/v3/cmd/registry@v3.0.0
	blob="127.0.0.1:$(free_port)"
	mkdir -p "$tmp/regdata"
	cat >"$tmp/registry.yml" <<YAML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $tmp/regdata}}
http: {addr: $blob}
YAML
	registry serve "$tmp/registry.yml" >"$tmp/registry.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do curl -fs -o /dev/null "http://$blob/v2/" && break; sleep 0.05; done
	head -c "$SIZE" /dev/urandom >"$tmp/blob"
	digest=sha256:$(sha256sum "$tmp/blob" | cut -d' ' -f1)
	loc=$(curl -fsi -X POST "http://$blob/v2/acme/big/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:" {print $2}')
	case "$loc" in http*) ;; *) loc="http://$blob$loc" ;; esac
	case "$loc" in *\?*) sep='&' ;; *) sep='?' ;; esac
	curl -fs -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' -T "$tmp/blob" "$loc${sep}digest=$digest"
	rm -f "$tmp/blob"
	path=/v2/acme/big/blobs/$digest
	;;
blobserver)
	"$tmp/blobserver" -size "$SIZE" >"$tmp/blob.addr" &
	pids+=($!)
	for _ in $(seq 100); do [ -s "$tmp/blob.addr" ] && break; sleep 0.05; done
	blob=$(head -1 "$tmp/blob.addr")
	;;
*) echo "SOURCE must be registry or blobserver"; exit 2 ;;
esac
echo "source: ${SOURCE:-registry} at $blob"

cat >"$tmp/manifest.json" <<JSON
{"rules":[{"type":"docker-v1","domain":"bench.test","repository-name":"acme/big","registry":"http://$blob","package-id":"p","mode":"proxy"}]}
JSON
gwport=$(free_port)
"$tmp/portico" serve --manifest "$tmp/manifest.json" --listen "127.0.0.1:$gwport" --ops-listen off --events none 2>"$tmp/portico.log" &
gw=$!
pids+=("$gw")
for _ in $(seq 100); do curl -fs -o /dev/null -H 'Host: bench.test' -A bench "http://127.0.0.1:$gwport$path" -r 0-0 && break; sleep 0.05; done

rpport=$(free_port)
"$tmp/revproxy" -listen "127.0.0.1:$rpport" -backend "http://$blob" &
pids+=($!)
for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$rpport$path" -r 0-0 && break; sleep 0.05; done
rss() { awk '/VmRSS/ {print $2}' "/proc/$gw/status"; }
echo "blob: $((SIZE>>20)) MiB; Portico RSS before: $(rss) KiB"
# speed CLIENT URL [HOST]: bytes/s of one download. curl writes the bytes
# to /dev/null; pull hashes them and checks the digest, as OCI clients do.
speed() {
	case "$1" in
	curl) curl -fs -o /dev/null -w '%{speed_download}' -A bench ${3:+-H "Host: $3"} "$2" ;;
	pull) "$tmp/pull" ${3:+-host "$3"} "$2" ;;
	esac
}
ratio() { echo "$1/$2" | bc -l; }
mb() { echo "$1/1000000" | bc -l; }
# Sample the RSS while the proxied downloads run.
( while kill -0 "$gw" 2>/dev/null; do rss >>"$tmp/rss"; sleep 0.1; done ) &
sampler=$!
pids+=("$sampler")
for client in curl pull; do
	dsum=0; psum=0; rsum=0
	for r in $(seq "$ROUNDS"); do
		d=$(speed "$client" "http://$blob$path")
		p=$(speed "$client" "http://127.0.0.1:$gwport$path" bench.test)
		b=$(speed "$client" "http://127.0.0.1:$rpport$path")
		printf '%s round %d: direct %.0f MB/s, Portico %.0f MB/s (%.2f), ReverseProxy %.0f MB/s (%.2f)\n' "$client" "$r" \
			"$(mb "$d")" "$(mb "$p")" "$(ratio "$p" "$d")" "$(mb "$b")" "$(ratio "$b" "$d")"
		dsum=$(echo "$dsum+$d" | bc -l); psum=$(echo "$psum+$p" | bc -l); rsum=$(echo "$rsum+$b" | bc -l)
	done
	printf '%s mean ratio to direct: Portico %.2f, ReverseProxy %.2f; Portico / ReverseProxy %.2f\n' "$client" \
		"$(ratio "$psum" "$dsum")" "$(ratio "$rsum" "$dsum")" "$(ratio "$psum" "$rsum")"
done
kill "$sampler" 2>/dev/null || true
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$gw/status")
maxrss=$(sort -n "$tmp/rss" | tail -1)
echo "Portico peak RSS (VmHWM): $((hwm/1024)) MiB; largest sampled RSS while streaming: $((maxrss/1024)) MiB"
