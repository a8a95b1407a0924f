#!/usr/bin/env bash
# Farm benchmark: apply -> Ready of a VisiSession (1 worker) on a FarmPool
# whose exec provider is hack/farm-machine.sh (a dockerd per machine on this
# host), on a warm idle machine and on a machine provisioned for it, against
# the same three containers started directly on the main dockerd, in one run
# (test/bench/farm_bench.cc). Prints medians (min/max) per case and the
# ratios warm/baseline (target <= 1.15) and cold/warm. About 2-3 minutes
# with the default 5 rounds on 2 cores.
# Needs root (the farm's daemons and their bridges), a Docker daemon (started
# here when none answers) and the stand-in images (built here when missing).
# Bounded: no round starts after --budget seconds (default 300). Idempotent:
# visid runs with an instance of its own (fbench-PID) and a farm dir under a
# temp dir; at the end, also on Ctrl-C or when the benchmark dies, a visid of
# this run still alive is stopped by pid, `farm-machine.sh delete-all` stops
# every daemon of the farm dir, and every container and network labelled with
# the instance on the main daemon is removed.
# Arguments go to the benchmark, e.g.
#   hack/bench-farm.sh --reps 5 --budget 300
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$VISI_ROOT"
[ "$(id -u)" -eq 0 ] || { visi::log "the farm benchmark starts Docker daemons: run it as root"; exit 1; }
visi::ensure_packages "${VISI_BUILD_PACKAGES[@]}"
visi::ensure_dockerd
visi::ensure_images
export DOCKER_HOST="${DOCKER_HOST:-unix://$VISI_DOCKER_SOCKET}"
visi::build farm_bench >&2  # stdout is the figures
build_dir="${VISI_BUILD_DIR:-$VISI_ROOT/build}"
visid="$build_dir/controller/cmd/visid/visid"

instance="fbench-$$"
work_dir=$(mktemp -d /tmp/visi-farm-bench-XXXXXX)
farm_dir="$work_dir/farm"

# The pid of a visid of this run that still runs: our binary, with exactly
# "--instance $instance" among its arguments.
run_visid() {
  local pid
  for pid in $(pgrep -f -- "--instance $instance" || true); do
    [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$visid" ] || continue
    tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$instance" && echo "$pid"
  done
}

cleanup() {
  local pid dir i
  for pid in $(run_visid); do
    dir=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | sed -n '/^--data-dir$/{n;p;q}' || true)
    visi::log "stopping visid $pid left by the benchmark"
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do visi::pid_alive "$pid" || break; sleep 0.2; done
    if visi::pid_alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    case $dir in /tmp/visid-e2e-?*) rm -rf "$dir" ;; esac
  done
  VISI_FARM_DIR="$farm_dir" "$VISI_ROOT/hack/farm-machine.sh" delete-all || visi::log "farm-machine.sh delete-all failed"
  for i in "$instance" "$instance-d"; do
    docker ps -aq --filter "label=visi.dev/instance=$i" | xargs -r docker rm -f >/dev/null || true
    docker network ls -q --filter "label=visi.dev/instance=$i" | xargs -r docker network rm >/dev/null || true
  done
  rm -rf "$work_dir"
}
trap cleanup EXIT

"$build_dir/test/bench/farm_bench" --instance "$instance" --farm-dir "$farm_dir" "$@"
