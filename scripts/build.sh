#!/usr/bin/env bash
# Configures and builds cdc (Release by default) in build/, then installs it into out/install.
#   BUILD_TYPE=Debug BUILD_DIR=build-debug PREFIX=/opt/cdc JOBS=4 bash scripts/build.sh [extra cmake args]
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_TYPE=${BUILD_TYPE:-Release}
BUILD_DIR=${BUILD_DIR:-build}
PREFIX=${PREFIX:-$PWD/out/install}
JOBS=${JOBS:-$(nproc)}

cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" -DCMAKE_INSTALL_PREFIX="$PREFIX" "$@"
cmake --build "$BUILD_DIR" -j "$JOBS"
cmake --install "$BUILD_DIR" --prefix "$PREFIX"
echo "build: installed into $PREFIX (cdc-cli: $PREFIX/bin/cdc-cli)"
