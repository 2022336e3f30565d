#!/usr/bin/env bash
# Runs benchmark scenarios: every bench/*.sh but this one, common.sh (shared helpers) and soak.sh
# (20 minutes by default), or those named on the command line.
#   bash bench/run.sh                 # all scenarios
#   bash bench/run.sh sqlite_copy     # one
# Scenarios use $CDC_CLI (default out/install/bin/cdc-cli, a Release build from scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export CDC_CLI=${CDC_CLI:-$PWD/out/install/bin/cdc-cli}
if [ ! -x "$CDC_CLI" ]; then
  echo "bench: building cdc (scripts/build.sh) for $CDC_CLI"
  bash scripts/build.sh
fi

scenarios=("$@")
if [ "${#scenarios[@]}" -eq 0 ]; then
  for f in bench/*.sh; do
    name=$(basename "$f" .sh)
    [ "$name" = run ] || [ "$name" = common ] || [ "$name" = soak ] || scenarios+=("$name")
  done
fi
status=0
for s in "${scenarios[@]}"; do
  printf '\n=== bench: %s ===\n' "$s"
  bash "bench/$s.sh" || { echo "bench: $s failed"; status=1; }
done
exit "$status"
