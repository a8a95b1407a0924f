#!/usr/bin/env bash
# Controller runtime benchmark: a no-op reconciler over 10,000 VisiSessions,
# on the embedded SQLite store and over the HTTPS API of a visid it starts
# (and stops, by pid). Prints create->reconciled latency, convergence time,
# reconciles/s and informer cache bytes per object, each beside a baseline
# measured in the same run or the project's target. No Docker. Bounded: the
# benchmark gives up on anything still waiting after about 170 s.
# Extra arguments go to the benchmark: --objects N, --writers N, --no-remote.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$VISI_ROOT"
visi::ensure_packages "${VISI_BUILD_PACKAGES[@]}"
visi::build controller_bench
build_dir="${VISI_BUILD_DIR:-$VISI_ROOT/build}"
"$build_dir/test/bench/controller_bench" "$build_dir" "$@"
