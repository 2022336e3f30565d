#!/usr/bin/env bash
# Fails when a ctest test of the build tree BUILD_DIR carries no tier label (tests/CMakeLists.txt:
# unit, integration, faults, faults-sample, fuzz), naming it.
#   scripts/check-test-labels.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR}
cd "$build"
listing=$(ctest -N -LE '^(unit|integration|faults|faults-sample|fuzz)$')
unlabelled=$(printf '%s\n' "$listing" | sed -n 's/^ *Test *#[0-9]*: //p')
total=$(ctest -N | sed -n 's/^Total Tests: //p')
if [ -n "$unlabelled" ]; then
  echo "tests without a tier label (give them LABELS in their tests/*/CMakeLists.txt):" >&2
  printf '  %s\n' "$unlabelled" >&2
  exit 1
fi
echo "every one of $total tests carries a tier label"
