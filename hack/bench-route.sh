#!/usr/bin/env bash
# Routing benchmark: route changes through HaproxyRouter against the same
# bare Runtime API writes (500 routes added, re-pointed, given a second
# login, removed; then per-call time at 0, 1000 and 2000 routes present),
# and a busybox httpd container loaded directly and through HAProxy (cookie
# and route prefix) by wrk and by a built-in client, interleaved. Prints the
# figures with their same-run baselines and ratios. Needs a Docker daemon
# (started here when none answers), the stand-in images (built here when
# missing), haproxy and wrk. Bounded: about 70 s; the benchmark gives up
# after 110 s. Everything it starts is stopped by pid; its container and
# network carry visi.dev/bench=route-<pid> and are removed, also when it is
# interrupted. Arguments go to the benchmark, e.g.
#   hack/bench-route.sh --routes 1000 --seconds 10
#   hack/bench-route.sh --no-docker
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$VISI_ROOT"
visi::ensure_packages "${VISI_BUILD_PACKAGES[@]}" "${VISI_RUNTIME_PACKAGES[@]}" wrk
case " $* " in
  *" --no-docker "*) ;;
  *)
    visi::ensure_dockerd
    visi::ensure_images
    ;;
esac
visi::build route_bench >&2  # stdout is the figures
build_dir="${VISI_BUILD_DIR:-$VISI_ROOT/build}"
export DOCKER_HOST="${DOCKER_HOST:-unix://$VISI_DOCKER_SOCKET}"

work="$(mktemp -d /tmp/visi-route-bench-XXXXXX)"
bench_pid=""
# The benchmark cleans up after itself, also on SIGINT and SIGTERM; this
# covers it being killed outright: its HAProxy (pid in $work/haproxy.pid,
# checked to be that HAProxy) and its Docker objects, by label.
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$bench_pid" ] && visi::pid_alive "$bench_pid"; then
    kill -TERM "$bench_pid" 2>/dev/null || true
    wait "$bench_pid" 2>/dev/null || true
  fi
  local hp=""
  [ -f "$work/haproxy.pid" ] && hp="$(cat "$work/haproxy.pid")"
  if [ -n "$hp" ] && [ "$hp" != 0 ] && visi::pid_alive "$hp" &&
    tr '\0' ' ' <"/proc/$hp/cmdline" 2>/dev/null | grep -qF "$work/"; then
    kill -KILL "$hp" 2>/dev/null || true
  fi
  if [ -n "$bench_pid" ] && visi::docker_ping; then
    local label="visi.dev/bench=route-$bench_pid"
    docker ps -aq --filter "label=$label" | xargs -r docker rm -f >/dev/null 2>&1 || true
    docker network ls -q --filter "label=$label" | xargs -r docker network rm >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# In the background so that the traps run while it does.
"$build_dir/test/bench/route_bench" --dir "$work" "$@" &
bench_pid=$!
wait "$bench_pid"
