#!/usr/bin/env bash
# Installs what the suite needs, builds everything and runs the whole test
# suite (unit and integration, against real SQLite files and processes).
# Idempotent. Extra arguments go to ctest (e.g. -R Store, -L unit).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$VISI_ROOT"

visi::ensure_packages "${VISI_BUILD_PACKAGES[@]}"
# The store contract also runs against a real etcd (started by the tests).
visi::ensure_packages etcd-server
visi::ensure_kubectl
visi::build
# The e2e tests run workload containers: a Docker daemon and the images.
visi::ensure_dockerd
visi::ensure_images
build_dir="${VISI_BUILD_DIR:-$VISI_ROOT/build}"
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)" --timeout 600 "$@"
