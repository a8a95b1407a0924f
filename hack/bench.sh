#!/usr/bin/env bash
# Builds and runs the benchmarks; prints figures with same-run baselines.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$VISI_ROOT"
visi::ensure_packages "${VISI_BUILD_PACKAGES[@]}"
visi::build store_bench
build_dir="${VISI_BUILD_DIR:-$VISI_ROOT/build}"
"$build_dir/test/bench/store_bench" "$build_dir"
