#!/bin/sh
# rootfs.sh BINARY DIR [CA_BUNDLE]
#
# Lays out the root file system of Portico's container image in DIR: the
# static binary, the CA certificates that HTTPS backends are checked
# against, and passwd and group entries for the unprivileged user 65532,
# so that tools that map the id to a name (ps, id, kubectl debug) have one.
# The Dockerfile's build stage runs it, and so does CI, which builds the
# same image from a binary compiled on the host (the Dockerfile's
# "prebuilt" target), where no base image can be pulled.
set -eu

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
	echo "usage: rootfs.sh BINARY DIR [CA_BUNDLE]" >&2
	exit 2
fi
bin=$1 dir=$2 ca=${3:-/etc/ssl/certs/ca-certificates.crt}

[ -x "$bin" ] || { echo "rootfs.sh: $bin is not an executable" >&2; exit 1; }
[ -s "$ca" ] || { echo "rootfs.sh: no CA bundle at $ca (install ca-certificates, or name one)" >&2; exit 1; }
if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
	echo "rootfs.sh: $dir is not empty" >&2
	exit 1
fi

mkdir -p "$dir/usr/local/bin" "$dir/etc/ssl/certs" "$dir/tmp"
cp "$bin" "$dir/usr/local/bin/portico"
chmod 0755 "$dir/usr/local/bin/portico"
cp "$ca" "$dir/etc/ssl/certs/ca-certificates.crt"
chmod 0644 "$dir/etc/ssl/certs/ca-certificates.crt"
chmod 1777 "$dir/tmp"
printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'portico:x:65532:65532:portico:/data:/sbin/nologin' >"$dir/etc/passwd"
printf '%s\n' 'root:x:0:' 'portico:x:65532:' >"$dir/etc/group"
chmod 0644 "$dir/etc/passwd" "$dir/etc/group"
