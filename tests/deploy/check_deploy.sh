#!/usr/bin/env bash
# The deploy/ files against the cdc-cli just built: the systemd unit passes `systemd-analyze
# verify` (its ExecStart pointed at this build), and deploy/runtime-packages.sh, which the
# Dockerfile's runtime image installs from, names installed packages that hold every library
# cdc-cli loads. (The Dockerfile itself cannot be built here: no image registry is reachable.)
#   check_deploy.sh SOURCE_DIR CDC_CLI
set -euo pipefail
src=$1
cli=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. The unit.
if command -v systemd-analyze >/dev/null; then
  sed "s|^ExecStart=/usr/local/bin/cdc-cli|ExecStart=$cli|" "$src/deploy/cdc.service" > "$work/cdc.service"
  grep -q "^ExecStart=$cli replicate -c /etc/cdc/cdc.yaml" "$work/cdc.service" || fail "ExecStart not found in deploy/cdc.service"
  # Messages about this unit are failures; others (the machine's own units) are not ours.
  out=$(cd "$work" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify "$work/cdc.service" 2>&1) || { echo "$out"; fail "systemd-analyze verify"; }
  if echo "$out" | grep -i "cdc.service"; then fail "systemd-analyze verify complained about cdc.service"; fi
  echo "ok: systemd-analyze verify deploy/cdc.service"
else
  echo "note: systemd-analyze not installed; the unit was not verified"
fi
# The commands the unit runs exist in this cdc-cli.
"$cli" replicate --help | grep -q -- "--http" || fail "cdc-cli replicate has no --http"

# 2. The runtime packages.
pkgs=$(bash "$src/deploy/runtime-packages.sh" "$cli") || fail "runtime-packages.sh"
echo "runtime packages: $(echo $pkgs)"
for want in libc6 libpq5 libmariadb3 libsqlite3-0 libyaml-cpp0.7; do
  echo "$pkgs" | grep -qx "$want" || fail "runtime-packages.sh does not name $want"
done
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || fail "$p is named but not installed"
done
# Every library cdc-cli loads is found (none "not found").
if ldd "$cli" | grep -q "not found"; then ldd "$cli"; fail "a library cdc-cli loads is missing"; fi

# 3. What the Dockerfile runs exists.
for f in scripts/install-deps.sh deploy/runtime-packages.sh; do
  grep -q "$f" "$src/deploy/Dockerfile" || fail "deploy/Dockerfile does not run $f"
  [ -f "$src/$f" ] || fail "$f is missing"
done
grep -q 'CDC_DEPS:-all}" = build' "$src/scripts/install-deps.sh" || fail "install-deps.sh has no CDC_DEPS=build"
echo "ok: deploy files"
