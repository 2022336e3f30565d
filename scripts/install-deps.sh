#!/usr/bin/env bash
# Installs, idempotently, every Debian 12 package cdc's build, tests and benchmarks need.
# Run as root (or through sudo). Safe to run again: it only installs what is missing.
# CDC_DEPS=build installs only what building the library and cdc-cli needs (deploy/Dockerfile).
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  exec sudo -E "$0" "$@"
fi
export DEBIAN_FRONTEND=noninteractive

build_pkgs=(
  build-essential cmake pkg-config git ca-certificates
  libboost1.81-dev libboost-json1.81-dev
  libpqxx-dev libpq-dev
  libmariadb-dev
  libfmt-dev catch2 libsqlite3-dev sqlite3 libyaml-cpp-dev
  libcli11-dev libxxhash-dev
  librdkafka-dev libhiredis-dev  # Kafka and Redis Streams destinations (lib/kafka, lib/redis)
  libssl-dev  # HTTPS of the HTTP endpoint (lib/http: Beast's ssl_stream on OpenSSL)
  clang-14 libclang-rt-14-dev  # the clang steps of scripts/test.sh: ThreadSanitizer, and libFuzzer (tests/fuzz/)
)
# postgis: spatial columns (tests/hetero); redis-server: the Redis Streams tests
server_pkgs=(postgresql-15 postgresql-client-15 postgresql-15-postgis-3 mariadb-server mariadb-client redis-server)
tool_pkgs=(time procps python3 pgcopydb sysbench mydumper pgloader)  # bench baselines: pgcopydb (pg_copy.sh), sysbench, mydumper (mariadb_*.sh), pgloader (mariadb_to_pg.sh)
tool_pkgs+=(openssl curl)  # TLS tests: scripts/test-certs.sh makes certificates; curl fetches the endpoint over HTTPS
tool_pkgs+=(prometheus chromium)  # HTTP endpoint tests: a real Prometheus scrapes /metrics (promtool lints it); headless Chromium renders the status page
# Harper tests: Node.js and npm install the pinned harperdb package (scripts/harper-server.sh).
# A Node.js from elsewhere (NodeSource's nodejs bundles npm) is kept: Debian's npm would conflict.
command -v node >/dev/null || tool_pkgs+=(nodejs)
command -v npm >/dev/null || tool_pkgs+=(npm)

here=$(cd "$(dirname "$0")" && pwd)
# The Harper server the tests start is an npm package: installed once into a cache here, so that
# ctest does not spend minutes on it. Skipped, with a message, where npm cannot reach its registry.
install_harper() {
  [ "${CDC_DEPS:-all}" = build ] && return 0
  bash "$here/harper-server.sh" install || echo "install-deps: harperdb not installed; the Harper tests will be skipped or install it themselves"
}

missing() {
  local p out=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || out+=("$p")
  done
  printf '%s\n' "${out[@]}"
}

if [ "${CDC_DEPS:-all}" = build ]; then
  keep=()
  for p in "${build_pkgs[@]}"; do
    case $p in clang-14 | libclang-rt-14-dev) ;; *) keep+=("$p") ;; esac
  done
  build_pkgs=("${keep[@]}")
  server_pkgs=()
  tool_pkgs=()
fi

mapfile -t need < <(missing "${build_pkgs[@]}" "${server_pkgs[@]}" "${tool_pkgs[@]}" equivs libmysqlcppconn-dev)
if [ "${#need[@]}" -eq 0 ] || [ -z "${need[0]}" ]; then
  echo "install-deps: all packages present"
  install_harper
  exit 0
fi

apt-get update -qq

# Server packages try to start their system service on install; tests start their own
# throwaway servers, so keep the system ones from starting (policy-rc.d exit 101 = "denied").
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; own_policy=1
fi
trap '[ "$own_policy" = 1 ] && rm -f "$policy"' EXIT

apt-get install -y -qq --no-install-recommends "${build_pkgs[@]}" "${server_pkgs[@]}" "${tool_pkgs[@]}" equivs

# Trap: libmysqlcppconn-dev depends on libboost-dev (the 1.74 metapackage), which conflicts
# with libboost1.81-dev. A local dummy package that provides libboost-dev and depends on
# libboost1.81-dev satisfies it and keeps `apt-get check` clean.
if ! dpkg-query -W -f='${Status}' libboost-dev-is-1.81 2>/dev/null | grep -q "install ok installed"; then
  work=$(mktemp -d)
  cat > "$work/libboost-dev-is-1.81.ctl" <<'CTL'
Section: libdevel
Priority: optional
Standards-Version: 3.9.2
Package: libboost-dev-is-1.81
Version: 1.81.0
Provides: libboost-dev
Depends: libboost1.81-dev
Description: local shim: satisfies libboost-dev with Boost 1.81
 Lets libmysqlcppconn-dev install beside libboost1.81-dev.
CTL
  (cd "$work" && equivs-build libboost-dev-is-1.81.ctl >/dev/null)
  apt-get install -y -qq "$work"/libboost-dev-is-1.81_*.deb
  rm -rf "$work"
fi
apt-get install -y -qq --no-install-recommends libmysqlcppconn-dev
apt-get check
install_harper
echo "install-deps: done"
