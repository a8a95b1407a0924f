#!/usr/bin/env bash
# Session start benchmark: apply -> Ready of a VisiSession with 2 workers
# through a visid it starts (and stops, by pid), against the same network and
# containers started directly through the Docker driver in the same run;
# 20 sequential rounds each way, interleaved, then a burst of 10 at once.
# Prints p50/p99, the ratios against the target (<= 1.15x) and where the
# time goes on Docker's own clock. Needs a Docker daemon (started here when
# none answers) and the stand-in images (built here when missing). Bounded:
# the benchmark stops waiting after 4.5 minutes and removes every container
# and network it made, found by its visi.dev/instance labels.
# Arguments go to the benchmark: [ROUNDS] [BURST] [visid flags...], e.g.
#   hack/bench-session.sh 20 10 --session-workers 10
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$VISI_ROOT"
visi::ensure_packages "${VISI_BUILD_PACKAGES[@]}"
visi::ensure_dockerd
visi::ensure_images
visi::build session_bench >&2  # stdout is the figures
build_dir="${VISI_BUILD_DIR:-$VISI_ROOT/build}"
"$build_dir/test/bench/session_bench" "$@"
