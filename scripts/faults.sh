#!/usr/bin/env bash
# The whole fault matrix (tests/faults/, ctest label `faults`; CI runs only `faults-sample`):
# configures and builds BUILD_DIR (default build) with tests and failpoints when needed, runs
# `ctest -L faults` there, and prints a summary: cases, passed, failed (named), time.
# JOBS (default 2) sets build parallelism; the cases run one at a time (they restart their servers).
# Extra arguments go to ctest (e.g. -R postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-2}

if ! grep -qs '^CDC_FAILPOINTS:BOOL=ON' "$BUILD_DIR/CMakeCache.txt" || ! grep -qs '^CDC_BUILD_TESTS:BOOL=ON' "$BUILD_DIR/CMakeCache.txt"; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCDC_BUILD_TESTS=ON -DCDC_FAILPOINTS=ON
fi
cmake --build "$BUILD_DIR" -j "$JOBS" --target faults_tests cdc-cli

log=$(mktemp)
trap 'rm -f "$log"' EXIT
started=$SECONDS
rc=0
(cd "$BUILD_DIR" && ctest -L faults --output-on-failure "$@") >"$log" 2>&1 || rc=$?
elapsed=$((SECONDS - started))

# Only the cases: the fixtures that start and stop the servers are not counted.
cases=$(grep -E '^ *[0-9]+/[0-9]+ Test +#[0-9]+: faults: ' "$log" || true)
total=$(printf '%s' "$cases" | grep -c . || true)
passed=$(printf '%s\n' "$cases" | grep -c ' Passed ' || true)
failed=$(printf '%s\n' "$cases" | grep -vE ' Passed |^$' || true)
nfailed=$(printf '%s' "$failed" | grep -c . || true)
if [ "$rc" -ne 0 ] && [ "$nfailed" -eq 0 ]; then tail -40 "$log"; fi
[ "$nfailed" -eq 0 ] || grep -E 'FAILED|only in the|REQUIRE|CHECK' "$log" | head -60
echo
echo "fault matrix: $total cases, $passed passed, $nfailed failed, $((elapsed / 60)) min $((elapsed % 60)) s"
[ -z "$failed" ] || printf '%s\n' "$failed" | sed 's/^ *[0-9]*\/[0-9]* Test *#[0-9]*: /  failed: /; s/ *\**[A-Za-z]*[ ]*[0-9.]* sec$//'
exit "$rc"
