#!/usr/bin/env bash
# Suspend and resume benchmark: a VisiSession with 2 workers and 1 MiB,
# 100 MiB and 1 GiB of state in the front end's /data, suspended
# (spec.suspend=true -> phase Suspended) and resumed (false -> Running and
# Ready, state checked) through a visid it starts, against plain tar of the
# same data and the same containers in the same run: stop, `docker cp
# FE:/data - | gzip -6 > F && sync F`, rm, network rm; then network create,
# create, `gunzip -c F | docker cp - FE:/`, start, probe until ready.
# 3 rounds per size; prints the medians and the ratios tar/Visi against the
# target (>= 0.8) as a table. About 6-8 minutes on 2 cores.
# Needs a Docker daemon (started here when none answers), the docker CLI,
# gzip and the stand-in images (built here when missing). Bounded: no round
# starts after 450 s. Idempotent: visid runs with an instance of its own and
# is stopped by pid; every container and network labelled with that
# instance is removed at the end, also on Ctrl-C or when the benchmark dies.
# Environment: VISI_BENCH_SIZES (default "1M,100M,1G"; K, M, G binary),
# VISI_BENCH_REPS (default 3). Other arguments go to the benchmark, e.g.
#   VISI_BENCH_SIZES=1M,100M hack/bench-suspend.sh --budget 300
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$VISI_ROOT"
visi::ensure_packages "${VISI_BUILD_PACKAGES[@]}" gzip
visi::ensure_dockerd
visi::ensure_images
command -v docker >/dev/null || { visi::log "the docker CLI is needed for the plain tar baseline"; exit 1; }
export DOCKER_HOST="${DOCKER_HOST:-unix://$VISI_DOCKER_SOCKET}"
visi::build suspend_bench >&2  # stdout is the figures
build_dir="${VISI_BUILD_DIR:-$VISI_ROOT/build}"

instance="sbench-susp-$$"
work_dir=$(mktemp -d /tmp/visi-suspend-bench-XXXXXX)
# After the benchmark, whatever way it ended: a visid of this run still
# alive (its pid found by its exact --instance argument) and its data dir,
# every container and network carrying the run's instance labels, and the
# plain tar files.
cleanup() {
  local p pid data_dir waited
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    [ "$(readlink "$p/exe" 2>/dev/null)" = "$build_dir/controller/cmd/visid/visid" ] || continue
    tr '\0' '\n' <"$p/cmdline" 2>/dev/null | grep -qxF -- "$instance" || continue
    data_dir=$(tr '\0' '\n' <"$p/cmdline" | grep -A1 -xF -- --data-dir | tail -n 1)
    visi::log "stopping visid $pid left by the benchmark"
    kill "$pid" 2>/dev/null || true
    waited=0
    while visi::pid_alive "$pid" && [ "$waited" -lt 50 ]; do sleep 0.2; waited=$((waited + 1)); done
    visi::pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null
    case $data_dir in /tmp/visid-e2e-?*) rm -rf "$data_dir" ;; esac
  done
  local i ids
  for i in "$instance" "$instance-d"; do
    ids=$(docker ps -aq --filter "label=visi.dev/instance=$i")
    [ -z "$ids" ] || docker rm -f $ids >/dev/null
    ids=$(docker network ls -q --filter "label=visi.dev/instance=$i")
    [ -z "$ids" ] || docker network rm $ids >/dev/null
  done
  rm -rf "$work_dir"
}
trap cleanup EXIT

"$build_dir/test/bench/suspend_bench" --instance "$instance" --work-dir "$work_dir" \
  --sizes "${VISI_BENCH_SIZES:-1M,100M,1G}" --reps "${VISI_BENCH_REPS:-3}" "$@"
