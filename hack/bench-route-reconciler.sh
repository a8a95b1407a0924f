#!/usr/bin/env bash
# Route reconciler benchmark, as a user sees it: the route reconciler wired
# as visid wires it (ManagedHaproxy + HaproxyRouter + RouteReconciler, sync
# every 1 s, HAProxy restarted by the sync thread) over the SQLite store.
#   1. front end ready -> routable: 100 sessions, each routed to the wake-up
#      endpoint with a login's cookie, then marked Ready; the time until
#      HAProxy routes the cookie to the front end (target <= 20 ms), against
#      one ApplyRoute made directly on a second HAProxy;
#   2. routes restored after HAProxy is SIGKILLed with 1000 and 3000 Ready
#      sessions, against Restart() + one ApplyRoutes (and, for 1000, one
#      ApplyRoute per route);
#   3. part 1 again for 20 sessions with the 3000 routes present.
# Prints the figures with their same-run baselines and ratios. Needs haproxy;
# no Docker (the wake-up endpoint and front ends are in-process loopback
# servers). Bounded: about 30 s; the benchmark gives up after 170 s.
# Everything it starts is stopped by pid (the two HAProxys' pids are in
# their runtime dirs under the work dir, checked to be those HAProxys), also
# when it is interrupted; the work dir is removed. Arguments go to the
# benchmark, e.g.
#   hack/bench-route-reconciler.sh --rounds 200 --sizes 1000,2000,5000 --late-rounds 50
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$VISI_ROOT"
visi::ensure_packages "${VISI_BUILD_PACKAGES[@]}" haproxy
visi::build route_reconciler_bench >&2  # stdout is the figures
build_dir="${VISI_BUILD_DIR:-$VISI_ROOT/build}"

work="$(mktemp -d /tmp/visi-route-reconciler-bench-XXXXXX)"
bench_pid=""
# The benchmark cleans up after itself, also on SIGINT and SIGTERM; this
# covers it being killed outright: each HAProxy whose pid file is in the
# work dir and whose command line names the work dir.
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$bench_pid" ] && visi::pid_alive "$bench_pid"; then
    kill -TERM "$bench_pid" 2>/dev/null || true
    wait "$bench_pid" 2>/dev/null || true
  fi
  local pid_file hp
  for pid_file in "$work"/*/haproxy.pid; do
    [ -f "$pid_file" ] || continue
    hp="$(cat "$pid_file")"
    if [ -n "$hp" ] && [ "$hp" != 0 ] && visi::pid_alive "$hp" &&
      tr '\0' ' ' <"/proc/$hp/cmdline" 2>/dev/null | grep -qF "$work/"; then
      kill -KILL "$hp" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# In the background so that the traps run while it does.
"$build_dir/test/bench/route_reconciler_bench" --dir "$work" "$@" &
bench_pid=$!
wait "$bench_pid"
