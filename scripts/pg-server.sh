#!/usr/bin/env bash
# Throwaway PostgreSQL 15 server for tests and benchmarks.
#   scripts/pg-server.sh start DIR   initdb + start in DIR (created), loopback, a free port,
#                                    wal_level=logical; writes DIR/url (postgresql://...) and
#                                    prints the URL
#   scripts/pg-server.sh start DIR --tls
#                                    the same with ssl=on, certificates made by scripts/test-certs.sh
#                                    in DIR/tls, and only `hostssl` lines for TCP in pg_hba.conf (plain
#                                    text over TCP is refused; role cdc-test-client logs in by the client
#                                    certificate); it also listens on 127.0.0.2, which the certificate
#                                    does not name. DIR/url then verifies the server:
#                                    postgresql://...?sslmode=verify-full&sslrootcert=DIR/tls/ca.pem
#   scripts/pg-server.sh restart DIR `pg_ctl restart -m fast`: the same server, port and data; every
#                                    connection is cut (the fault tests, tests/faults/)
#   scripts/pg-server.sh stop DIR    stops the server and removes DIR
# DIR must be reachable by the `postgres` user when run as root (use /tmp, not /root/...).
# PG_EXTRA_CONF (optional): postgresql.conf lines appended after the defaults (they win), e.g.
# PG_EXTRA_CONF='max_wal_senders = 1' for a test of a server at its limits.
# initdb refuses to run as root: when root, the server runs as the `postgres` user and DIR is
# handed to it. Data, socket and log live in DIR only.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
tls=${3:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|restart|stop DIR [--tls]" >&2; exit 2; }
[ -z "$tls" ] || [ "$tls" = --tls ] || { echo "usage: $0 start|stop DIR [--tls]" >&2; exit 2; }

bindir=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$bindir/initdb" ] || { echo "pg-server: no PostgreSQL server binaries (install postgresql-15)" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

case "$cmd" in
  start)
    if [ -d "$dir/data" ]; then "$0" stop "$dir"; fi  # a stale server from an interrupted run
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir" && chmod 700 "$dir"
    port=$(free_port)
    as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
wal_level = logical
max_replication_slots = 40
max_wal_senders = 40
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 128MB
logical_decoding_work_mem = 64kB
log_min_messages = warning
${PG_EXTRA_CONF:-}
CONF
    echo "host replication all 127.0.0.1/32 trust" >>"$dir/data/pg_hba.conf"
    if [ -n "$tls" ]; then
      CERT_OWNER=$([ "$(id -u)" -eq 0 ] && echo postgres || true) bash "$(dirname "$0")/test-certs.sh" "$dir/tls"
      cat >>"$dir/data/postgresql.conf" <<CONF
ssl = on
ssl_cert_file = '$dir/tls/server.pem'
ssl_key_file = '$dir/tls/server.key'
ssl_ca_file = '$dir/tls/ca.pem'
listen_addresses = '127.0.0.1,127.0.0.2'
CONF
      sed -i 's/^host\([[:space:]]\)/hostssl\1/' "$dir/data/pg_hba.conf"
      # The role named like the client certificate's CN logs in by that certificate only.
      sed -i '1i hostssl all cdc-test-client 127.0.0.1/32 cert' "$dir/data/pg_hba.conf"
    fi
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
      { cat "$dir/server.log" >&2; exit 1; }
    url="postgresql://postgres@127.0.0.1:$port/postgres"
    [ -z "$tls" ] || url="$url?sslmode=verify-full&sslrootcert=$dir/tls/ca.pem"
    echo "$url" >"$dir/url"
    chmod 644 "$dir/url"
    echo "$url"
    ;;
  restart)
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w -t 60 restart >/dev/null ||
      { cat "$dir/server.log" >&2; exit 1; }
    ;;
  stop)
    if [ -d "$dir/data" ]; then
      as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start|restart|stop DIR" >&2; exit 2 ;;
esac
