#!/usr/bin/env bash
# Prints the Debian packages that hold the shared libraries the given programs and libraries load
# (ldd, then dpkg -S), one per line, sorted: what a runtime image must install to run them.
# Used by deploy/Dockerfile; checked by the `deploy` test on the built cdc-cli.
#   bash deploy/runtime-packages.sh /opt/cdc/bin/cdc-cli /opt/cdc/lib/libcdc.so.0
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: runtime-packages.sh FILE..." >&2; exit 2; }
owner() {
  # Debian 12 merges /lib into /usr/lib; dpkg knows each file under one of the two names.
  local f=$1 alt
  case $f in /usr/*) alt=${f#/usr} ;; *) alt=/usr$f ;; esac
  for p in "$f" "$alt" "$(readlink -f "$f")"; do
    dpkg -S "$p" 2>/dev/null | head -n1 | cut -d: -f1 && return 0
  done
  echo "runtime-packages: no package holds $f" >&2
  return 1
}
libs=$(ldd "$@" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u)
for f in $libs; do
  case $(basename "$f") in libcdc.so*) continue ;; esac  # the project's own library
  owner "$f"
done | sort -u
