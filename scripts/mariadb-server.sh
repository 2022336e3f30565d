#!/usr/bin/env bash
# Throwaway MariaDB server for tests and benchmarks.
#   mariadb-server.sh start <dir>   creates <dir>, initialises a datadir, starts mariadbd on a free
#                                   loopback port with ROW binlogs; writes <dir>/url (mysql://root@127.0.0.1:PORT/cdc_test)
#                                   and <dir>/socket, <dir>/port.
#   mariadb-server.sh start <dir> --tls
#                                   the same, with certificates made by scripts/test-certs.sh in <dir>/tls and
#                                   require_secure_transport=ON (TCP only over TLS); it also listens on 127.0.0.2,
#                                   an address its certificate does not name. <dir>/url then verifies the server:
#                                   mysql://root@127.0.0.1:PORT/cdc_test?ssl-mode=VERIFY_IDENTITY&ssl-ca=<dir>/tls/ca.pem
#   mariadb-server.sh restart <dir> shuts the server down and starts it again on the same port and
#                                   datadir: every connection is cut (the fault tests, tests/faults/)
#   mariadb-server.sh stop <dir>    stops it (shutdown, then SIGKILL after 20 s) and removes <dir>.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
tls=${3:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|restart|stop <dir> [--tls]" >&2; exit 2; }
[ -z "$tls" ] || [ "$tls" = --tls ] || { echo "usage: $0 start|stop <dir> [--tls]" >&2; exit 2; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

user_opt=()
if [ "$(id -u)" -eq 0 ]; then user_opt=(--user=root); fi

# Starts mariadbd on $dir/my.cnf and waits until it answers.
run_server() {
  mariadbd --defaults-file="$dir/my.cnf" "${user_opt[@]}" >/dev/null 2>&1 &
  echo $! > "$dir/pid"
  for _ in $(seq 1 150); do
    if mariadb --no-defaults --socket="$dir/mysqld.sock" -uroot -e "SELECT 1" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then cat "$dir/error.log" >&2; exit 1; fi
    sleep 0.1
  done
}

# Shuts the server down (SIGKILL after 20 s).
shutdown_server() {
  [ -f "$dir/pid" ] || return 0
  pid=$(cat "$dir/pid")
  mariadb-admin --no-defaults --socket="$dir/mysqld.sock" -uroot shutdown >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

case "$cmd" in
start)
  if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    echo "mariadb-server: already running in $dir"; exit 0
  fi
  rm -rf "$dir"; mkdir -p "$dir/data" "$dir/tmp"
  port=$(free_port)
  bind=127.0.0.1
  tls_conf=
  if [ -n "$tls" ]; then
    bash "$(dirname "$0")/test-certs.sh" "$dir/tls"
    bind=127.0.0.1,127.0.0.2
    tls_conf="ssl-ca=$dir/tls/ca.pem
ssl-cert=$dir/tls/server.pem
ssl-key=$dir/tls/server.key
require-secure-transport=ON"
  fi
  cat > "$dir/my.cnf" <<CNF
[mariadbd]
datadir=$dir/data
socket=$dir/mysqld.sock
pid-file=$dir/mysqld.pid
tmpdir=$dir/tmp
port=$port
bind-address=$bind
log-bin=$dir/data/binlog
binlog-format=ROW
binlog-row-image=FULL
binlog-row-metadata=FULL
server-id=1
character-set-server=utf8mb4
collation-server=utf8mb4_general_ci
innodb-buffer-pool-size=128M
innodb-log-file-size=64M
innodb-flush-log-at-trx-commit=2
sync-binlog=0
max-allowed-packet=256M
max-connections=200
skip-name-resolve
log-error=$dir/error.log
$tls_conf
CNF
  mariadb-install-db --defaults-file="$dir/my.cnf" "${user_opt[@]}" \
    --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1 \
    || { cat "$dir/install.log" >&2; exit 1; }
  run_server
  mariadb --no-defaults --socket="$dir/mysqld.sock" -uroot -e \
    "CREATE DATABASE IF NOT EXISTS cdc_test CHARACTER SET utf8mb4; CREATE DATABASE IF NOT EXISTS cdc_dest CHARACTER SET utf8mb4;" \
    || { cat "$dir/error.log" >&2; exit 1; }
  echo "$port" > "$dir/port"
  echo "$dir/mysqld.sock" > "$dir/socket"
  if [ -n "$tls" ]; then
    echo "mysql://root@127.0.0.1:$port/cdc_test?ssl-mode=VERIFY_IDENTITY&ssl-ca=$dir/tls/ca.pem" > "$dir/url"
  else
    echo "mysql://root@127.0.0.1:$port/cdc_test" > "$dir/url"
  fi
  echo "mariadb-server: started on port $port ($dir)"
  ;;
restart)
  shutdown_server
  run_server
  echo "mariadb-server: restarted on port $(cat "$dir/port") ($dir)"
  ;;
stop)
  shutdown_server
  rm -rf "$dir"
  echo "mariadb-server: stopped ($dir)"
  ;;
*) echo "usage: $0 start|restart|stop <dir>" >&2; exit 2 ;;
esac
