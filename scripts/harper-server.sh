#!/usr/bin/env bash
# A throwaway Harper server for the tests (tests/harper, tests/events).
#   harper-server.sh install       installs the pinned npm package `harperdb` into the cache
#                                  (once; scripts/install-deps.sh runs it so ctest does not wait)
#   harper-server.sh start DIR     installs if needed, starts Harper with its data under DIR on
#                                  free loopback ports, writes DIR/url (harper://admin:PW@127.0.0.1:PORT)
#                                  and, for the operations API over HTTPS on a second port with
#                                  certificates from scripts/test-certs.sh in DIR/certs, DIR/tls_url
#                                  (harper://admin:PW@127.0.0.1:SECUREPORT, without TLS parameters)
#   harper-server.sh stop DIR      stops it and removes DIR
# Where npm cannot reach its registry and nothing is cached, `start` writes the reason to DIR/skip
# and succeeds: the tests then report themselves skipped with that reason.
# The cache: $CDC_HARPER_CACHE, else /var/cache/cdc-test (root) or ~/.cache/cdc-test.
set -euo pipefail

HARPER_VERSION=4.7.29
if [ -n "${CDC_HARPER_CACHE:-}" ]; then cache_root=$CDC_HARPER_CACHE
elif [ -w /var/cache ] || [ -w /var/cache/cdc-test ]; then cache_root=/var/cache/cdc-test
else cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/cdc-test
fi
install_dir=$cache_root/harper-$HARPER_VERSION
entry=$install_dir/node_modules/harperdb/bin/harperdb.js

installed() { [ -f "$entry" ] && grep -q "\"version\": *\"$HARPER_VERSION\"" "$install_dir/node_modules/harperdb/package.json"; }

# 0: installed; 3: npm cannot reach its registry; 1: any other failure.
install() {
  installed && return 0
  command -v node >/dev/null && command -v npm >/dev/null || { echo "harper-server: node and npm are needed (scripts/install-deps.sh)" >&2; return 1; }
  mkdir -p "$cache_root"
  # Into a fresh directory renamed into place, so an interrupted install leaves nothing half done.
  local tmp
  tmp=$(mktemp -d "$cache_root/harper-install.XXXXXX")
  echo "harper-server: npm install harperdb@$HARPER_VERSION into $install_dir (a few minutes, once)" >&2
  if ! (cd "$tmp" && npm install --no-audit --no-fund --omit=dev --loglevel=error "harperdb@$HARPER_VERSION" >&2); then
    rm -rf "$tmp"
    if ! npm ping >/dev/null 2>&1; then return 3; fi
    return 1
  fi
  rm -rf "$install_dir"
  mv "$tmp" "$install_dir"
  installed
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 40000))
    if port_free "$p"; then echo "$p"; return 0; fi
  done
  return 1
}

case "${1:-}" in
  install)
    rc=0; install || rc=$?
    [ "$rc" = 3 ] && echo "harper-server: npm cannot reach its registry; the Harper tests will be skipped" >&2
    exit "$rc"
    ;;
  start)
    dir=${2:?usage: harper-server.sh start DIR}
    "$0" stop "$dir" 2>/dev/null || true
    mkdir -p "$dir"
    rc=0; install || rc=$?
    if [ "$rc" = 3 ]; then
      echo "npm cannot reach its registry and harperdb@$HARPER_VERSION is not cached in $install_dir" > "$dir/skip"
      echo "harper-server: $(cat "$dir/skip"): Harper tests skipped" >&2
      exit 0
    fi
    [ "$rc" = 0 ] || exit "$rc"
    ops=$(free_port); http=$(free_port); secure=$(free_port)
    while [ "$http" = "$ops" ]; do http=$(free_port); done
    while [ "$secure" = "$ops" ] || [ "$secure" = "$http" ]; do secure=$(free_port); done
    bash "$(dirname "$0")/test-certs.sh" "$dir/certs"
    password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
    # Every listener Harper opens by default is moved or switched off (MQTT 1883/8883, the secure
    # ports, replication) so that parallel test runs do not collide; one worker thread. The
    # operations API serves HTTP on $ops and HTTPS on $secure with the test certificate. HOME is
    # DIR: Harper keeps a pointer to its installation in ~/.harperdb, which servers must not share.
    (cd "$install_dir" && exec env HOME="$dir" TC_AGREEMENT=yes HDB_ADMIN_USERNAME=admin HDB_ADMIN_PASSWORD="$password" ROOTPATH="$dir/root" \
       OPERATIONSAPI_NETWORK_PORT="$ops" OPERATIONSAPI_NETWORK_SECUREPORT="$secure" \
       TLS_CERTIFICATE="$dir/certs/server.pem" TLS_PRIVATEKEY="$dir/certs/server.key" HTTP_PORT="$http" HTTP_SECUREPORT=null \
       MQTT_NETWORK_PORT=null MQTT_NETWORK_SECUREPORT=null MQTT_WEBSOCKET=false REPLICATION_SECUREPORT=null \
       THREADS_COUNT=1 LOCALSTUDIO_ENABLED=false LOGGING_LEVEL=warn \
       setsid node "$entry" > "$dir/harper.log" 2>&1 < /dev/null) &
    echo $! > "$dir/pid"
    probe="const r=require('http').request({host:'127.0.0.1',port:$ops,method:'POST',path:'/',auth:'admin:$password',headers:{'Content-Type':'application/json'}},s=>process.exit(s.statusCode===200?0:1));r.on('error',()=>process.exit(1));r.end('{\"operation\":\"describe_all\"}');"
    for _ in $(seq 1 240); do
      if node -e "$probe" 2>/dev/null; then
        echo "harper://admin:$password@127.0.0.1:$ops" > "$dir/url"
        echo "harper://admin:$password@127.0.0.1:$secure" > "$dir/tls_url"
        echo "harper-server: Harper $HARPER_VERSION on 127.0.0.1:$ops (data in $dir/root)"
        exit 0
      fi
      if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then break; fi
      sleep 0.5
    done
    echo "harper-server: Harper did not start; its output:" >&2
    tail -n 30 "$dir/harper.log" >&2 || true
    "$0" stop "$dir" || true
    exit 1
    ;;
  stop)
    dir=${2:?usage: harper-server.sh stop DIR}
    if [ -f "$dir/pid" ]; then
      pid=$(cat "$dir/pid")
      # setsid made it a process group leader: its worker processes go with it.
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: harper-server.sh install | start DIR | stop DIR" >&2
    exit 2
    ;;
esac
