#!/usr/bin/env bash
# README command (b): everything CI runs.
#   1. dependencies; 2. build with tests in build/ and run ctest (every tier but the full fault
#   matrix, of which the faults-sample cases run); 3. install into out/install and
#   build examples/ against the installed package (find_package(cdc)), then run both examples;
#   4. clang-14 with ThreadSanitizer: the library, cdc-cli and the core and SQLite tests (cdc_tests)
#   built in build-tsan with warnings as errors, and cdc_tests run under TSan;
#   5. clang-14 with libFuzzer, ASan and UBSan: the fuzz targets (tests/fuzz/) built in build-fuzz,
#   each run for FUZZ_SECONDS (default 30) on a copy of its committed corpus; a crash fails CI.
# JOBS (default 2) sets build parallelism; BUILD_DIR (default build), EXAMPLES_DIR (default
# build-examples), TSAN_DIR (default build-tsan), FUZZ_DIR (default build-fuzz) and PREFIX
# (default out/install) where things go. TSAN=0 skips step 4, FUZZ=0 step 5.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
JOBS=${JOBS:-2}
PREFIX=${PREFIX:-$root/out/install}
BUILD_DIR=${BUILD_DIR:-build}
EXAMPLES_DIR=${EXAMPLES_DIR:-build-examples}
TSAN_DIR=${TSAN_DIR:-build-tsan}
TSAN=${TSAN:-1}
FUZZ_DIR=${FUZZ_DIR:-build-fuzz}
FUZZ=${FUZZ:-1}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
work=$(mktemp -d)

# ---------------------------------------------------------------------------------------------
# Throwaway database servers for integration tests.
# Later: start PostgreSQL (initdb + pg_ctl as the postgres user) and MariaDB (mariadb-install-db +
# mariadbd with its own --defaults-file) here under $work, export their URLs for the tests
# (e.g. CDC_TEST_POSTGRES_URL, CDC_TEST_MARIADB_URL), and stop them in cleanup() below.
start_servers() { :; }
stop_servers() { :; }
# ---------------------------------------------------------------------------------------------

cleanup() {
  stop_servers || true
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n==> %s\n' "$*"; }

step "dependencies"
bash scripts/install-deps.sh

step "configure and build ($BUILD_DIR, with tests)"
# Failpoints ON: the crash tests drive cdc-cli to exact places (CDC_CRASH_AT, lib/core/failpoint.h).
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCDC_BUILD_TESTS=ON -DCDC_FAILPOINTS=ON -DCMAKE_INSTALL_PREFIX="$PREFIX"
cmake --build "$BUILD_DIR" -j "$JOBS"

start_servers

# Every tier (tests/CMakeLists.txt: unit, integration, fuzz) and the sample of the fault matrix
# (faults-sample); the whole matrix (label faults) is scripts/faults.sh.
step "ctest (all tiers, the fault matrix's sample)"
ctest_started=$SECONDS
(cd "$BUILD_DIR" && ctest --output-on-failure -j 2 -LE '^faults$')
echo "ctest step: $((SECONDS - ctest_started)) s"

step "install into $PREFIX"
cmake --install "$BUILD_DIR" --prefix "$PREFIX"

step "examples against the installed package"
rm -rf "$EXAMPLES_DIR"
cmake -S examples -B "$EXAMPLES_DIR" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$PREFIX"
cmake --build "$EXAMPLES_DIR" -j "$JOBS"

bash scripts/gen-shop-db.sh "$work/shop.db" 300
"$EXAMPLES_DIR"/minimal_host "$work/shop.db" "$work/minimal-copy.db"
"$PREFIX/bin/cdc-cli" verify "sqlite://$work/shop.db" "sqlite://$work/minimal-copy.db"
mkdir -p "$work/jsonl"
"$EXAMPLES_DIR"/custom_destination "$work/shop.db" "$work/jsonl"
for t in customers products orders order_items invoices audit_log; do
  [ -s "$work/jsonl/$t.jsonl" ] || { echo "custom_destination wrote no $t.jsonl"; exit 1; }
done

if [ "$TSAN" != 0 ]; then
  # One build serves two purposes: clang-14 compiles the library, cdc-cli and the core tests with
  # -Werror (GCC compiles everything in step 2), and ThreadSanitizer watches the core and SQLite
  # tests, fakes and sessions included. Debug keeps the reports' stacks whole. Crash tests need
  # failpoints, which this build leaves out. Known races waiting for a fix: tests/tsan.supp.
  step "clang-14 + ThreadSanitizer ($TSAN_DIR, cdc_tests)"
  tsan_started=$SECONDS
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$TSAN_DIR" -DCMAKE_BUILD_TYPE=Debug -DCDC_SANITIZE=thread \
    -DCDC_BUILD_TESTS=ON -DCDC_BUILD_BENCH=OFF -DCDC_FAILPOINTS=OFF -DCDC_WERROR=ON
  cmake --build "$TSAN_DIR" -j "$JOBS" --target cdc_tests
  TSAN_OPTIONS="suppressions=$root/tests/tsan.supp second_deadlock_stack=1" "$TSAN_DIR/tests/cdc_tests"
  echo "clang-14 + ThreadSanitizer step: $((SECONDS - tsan_started)) s"
fi

if [ "$FUZZ" != 0 ]; then
  # Only what the targets need: no tests, tools or benchmarks, and of the connectors only the two
  # whose decoders are fuzzed. Each target runs on a copy of its corpus (new inputs it finds stay
  # out of the repository); -error_exitcode makes any crash, leak or sanitizer report fail CI.
  step "clang-14 + libFuzzer, ASan, UBSan ($FUZZ_DIR, ${FUZZ_SECONDS} s per target)"
  fuzz_started=$SECONDS
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$FUZZ_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCDC_FUZZ=ON \
    -DCDC_BUILD_TESTS=OFF -DCDC_BUILD_TOOLS=OFF -DCDC_BUILD_BENCH=OFF -DCDC_CONNECTORS="postgres;mysql" -DCDC_WERROR=ON
  cmake --build "$FUZZ_DIR" -j "$JOBS" --target fuzz
  mkdir -p "$FUZZ_DIR/crashes"
  for corpus in tests/fuzz/corpus/*/; do
    name=$(basename "$corpus")
    mkdir -p "$work/fuzz/$name"
    cp "$corpus"* "$work/fuzz/$name/"
    rc=0
    "$FUZZ_DIR/tests/fuzz/fuzz_$name" -max_total_time="$FUZZ_SECONDS" -error_exitcode=77 -timeout=25 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$FUZZ_DIR/crashes/fuzz_$name-" \
      "$work/fuzz/$name" >"$work/fuzz/$name.log" 2>&1 || rc=$?
    printf 'fuzz_%s: %s runs, %s exec/s, corpus %s -> %s inputs\n' "$name" \
      "$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz/$name.log")" \
      "$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/fuzz/$name.log")" \
      "$(ls "$corpus" | wc -l)" "$(ls "$work/fuzz/$name" | wc -l)"
    if [ "$rc" -ne 0 ]; then
      tail -80 "$work/fuzz/$name.log"
      echo "fuzz_$name failed (exit $rc); the input is under $FUZZ_DIR/crashes/ (tests/fuzz/README.md: add it to tests/fuzz/regressions/$name/ with the fix)"
      exit 1
    fi
  done
  echo "clang-14 + libFuzzer step: $((SECONDS - fuzz_started)) s"
fi

step "all tests passed"
