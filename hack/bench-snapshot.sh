#!/usr/bin/env bash
# Session snapshot benchmark: CaptureSession / RestoreSession of 1 MiB,
# 100 MiB and 1 GiB of /data in a busybox container, against plain tar of
# the same data in the same run (`docker exec C tar -czf - -C / data > FILE
# && sync FILE`, and `docker exec -i C tar -xzf - -C / < FILE` into a fresh
# container), rounds interleaved. Prints seconds, MB/s, the ratios
# tar/visi against the target (>= 0.8), bundle sizes and peak RSS. 1 GiB is
# skipped when memory or /tmp is short (the bundle is built in memory).
# Needs a Docker daemon (started here when none answers), the docker CLI and
# visi/busybox:latest (built here when missing). Bounded: no step starts
# after 8 minutes; every container (label visi.dev/bench=snapshot-<pid>) and
# the temp dir are removed at the end, also on Ctrl-C.
# Arguments go to the benchmark: [--no-1g] [--budget SECONDS], e.g.
#   hack/bench-snapshot.sh --no-1g
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$VISI_ROOT"
visi::ensure_packages "${VISI_BUILD_PACKAGES[@]}"
visi::ensure_dockerd
visi::ensure_images
command -v docker >/dev/null || { visi::log "the docker CLI is needed for the tar baseline"; exit 1; }
visi::build snapshot_bench >&2  # stdout is the figures
build_dir="${VISI_BUILD_DIR:-$VISI_ROOT/build}"
"$build_dir/test/bench/snapshot_bench" "$@"
