#!/usr/bin/env bash
# End-to-end test of the stand-in workload images (hack/images.sh): a Spark
# master, two workers and a notebook front end on a private network, run as
# Visi runs them (uid 65534, no capabilities, no-new-privileges, limits),
# probed from the host by container address. Also checks the isolation Visi
# relies on: a container on another network cannot reach the master, while
# the host can.
#
# Needs a Docker daemon (hack/test.sh starts one). Everything it creates
# carries the label visi.dev/test-run=<run id> and is removed on exit.
set -Eeuo pipefail
# A command that fails outside a check ends the script (set -e): say which,
# so that a failure is never a bare exit status.
trap 'printf "not ok - line %s: \"%s\" exited %s\n" "$LINENO" "$BASH_COMMAND" "$?"; echo "FAILED: aborted"' ERR
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

run_id="$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
label="visi.dev/test-run=$run_id"
prefix="visi-test-$run_id"
failures=0
failed=()

log() { printf '# %s\n' "$*"; }
pass() { printf 'ok - %s\n' "$*"; }
fail() {
  printf 'not ok - %s\n' "$*"
  failures=$((failures + 1))
  failed+=("$*")
}
# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected '$2', got '$3'"; fi
}

cleanup() {
  local ids
  ids=$(docker ps -aq --filter "label=$label")
  # shellcheck disable=SC2086 # one id per word
  [ -z "$ids" ] || docker rm -f $ids >/dev/null
  ids=$(docker network ls -q --filter "label=$label")
  # shellcheck disable=SC2086
  [ -z "$ids" ] || docker network rm $ids >/dev/null
}
trap cleanup EXIT

dump_logs() {
  local c
  for c in $(docker ps -a --filter "label=$label" --format '{{.Names}}'); do
    log "--- docker logs $c"
    docker logs "$c" 2>&1 | tail -n 20 | sed 's/^/#   /'
  done
}

# create_network NAME: a labelled bridge network on a free 10.252.X.0/24.
create_network() {
  local name=$1 x
  for _ in $(seq 1 20); do
    x=$(( $(od -An -N2 -tu2 /dev/urandom) % 256 ))
    if docker network create --label "$label" --subnet "10.252.$x.0/24" "$name" >/dev/null 2>&1; then
      return 0
    fi
  done
  echo "cannot create network $name on any 10.252.X.0/24" >&2
  return 1
}

# run NAME NETWORK IMAGE ARGS...: a detached container locked down as Visi
# runs workloads. ARGS are docker run options, then the command.
run() {
  local name=$1 network=$2
  shift 2
  docker run -d --name "$prefix-$name" --label "$label" --network "$network" \
    --user 65534:65534 --cap-drop ALL --security-opt no-new-privileges \
    --pids-limit 64 --memory 64m "$@" >/dev/null
}

ip_of() {
  docker inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$prefix-$1"
}

# eventually SECONDS COMMAND...: true once COMMAND succeeds, polling. The
# bounds are generous (a loaded CI machine runs other e2e tests' containers
# meanwhile): a wait ends as soon as its condition holds, and says how long
# it took.
eventually() {
  local start=$SECONDS deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "$1: not true after $((SECONDS - start)) s"
      return 1
    fi
    sleep 0.5
  done
  log "$1: true after $((SECONDS - start)) s"
}

http() { curl -sS --max-time 5 "$@"; }

workers_listed() {
  local workers
  workers=$(http "http://$master_ip:8081/workers" 2>/dev/null) || return 1
  grep -qx worker-1 <<<"$workers" && grep -qx worker-2 <<<"$workers"
}

# --- setup -----------------------------------------------------------------
bash "$root/hack/images.sh" 2>&1 | sed 's/^/# /'
session_net="$prefix-session"
other_net="$prefix-other"
create_network "$session_net"
create_network "$other_net"

# Workers first: they must keep retrying until the master comes up. One
# finds it by the default name, the other through SPARK_MASTER_URL.
run worker-1 "$session_net" --hostname worker-1 -e SPARK_WORKER_INTERVAL=1 visi/spark worker
run worker-2 "$session_net" --hostname worker-2 -e SPARK_WORKER_INTERVAL=1 \
  -e SPARK_MASTER_URL=spark://spark-master:7077 visi/spark worker
run frontend "$session_net" -e VISI_SESSION="alice-$run_id" visi/frontend
# The master starts only once worker-1 has failed to reach it at least once
# (waiting on the log, not on time: a loaded machine starts containers late).
# The log is read whole before grep: `docker logs | grep -q` fails under
# pipefail when grep exits at its match while docker logs still writes
# (SIGPIPE), which failed this check in CI with the line in the log.
worker1_log() { docker logs "$prefix-worker-1" 2>&1; }
worker1_retried() { grep -q 'cannot register' <<<"$(worker1_log)"; }
eventually 60 worker1_retried || fail "worker-1 never tried to register before the master started"
run master "$session_net" --network-alias spark-master visi/spark master

master_ip=$(ip_of master)
frontend_ip=$(ip_of frontend)
log "session network $session_net: master $master_ip, frontend $frontend_ip"

# --- front end -------------------------------------------------------------
healthz() { [ "$(http "http://$frontend_ip:8080/healthz" 2>/dev/null)" = ok ]; }
if eventually 60 healthz; then pass "frontend /healthz answers ok"; else fail "frontend /healthz"; fi

uid=$(docker exec "$prefix-frontend" id -u)
expect_eq "frontend runs as uid 65534" 65534 "$uid"

code=$(http -o /dev/null -w '%{http_code}' --data-binary 'raw note <b>1</b>' "http://$frontend_ip:8080/notes")
expect_eq "POST /notes with a raw body answers 201" 201 "$code"

code=$(http -o /dev/null -w '%{http_code}' -d 'note=form+note+%26+more' "http://$frontend_ip:8080/notes")
expect_eq "POST /notes with note= answers 303" 303 "$code"

notes=$(http "http://$frontend_ip:8080/notes")
if grep -qx 'raw note <b>1</b>' <<<"$notes" && grep -qx 'form note & more' <<<"$notes"; then
  pass "GET /notes lists both notes"
else
  fail "GET /notes returned: $notes"
fi

stored=$(docker exec "$prefix-frontend" cat /data/notes.txt)
expect_eq "/data/notes.txt holds the notes" "$notes" "$stored"

page=$(http "http://$frontend_ip:8080/")
if grep -q "<title>Visi notebook: alice-$run_id</title>" <<<"$page" &&
  grep -q '<li>raw note &lt;b&gt;1&lt;/b&gt;</li>' <<<"$page"; then
  pass "GET / is titled with the session and lists the notes, escaped"
else
  fail "GET / returned: $page"
fi

code=$(http -o /dev/null -w '%{http_code}' "http://$frontend_ip:8080/nope")
expect_eq "unknown path answers 404" 404 "$code"

# --- Spark -----------------------------------------------------------------
if eventually 60 workers_listed; then
  pass "master /workers lists worker-1 and worker-2"
else
  fail "master /workers: $(http "http://$master_ip:8081/workers" 2>&1 || true)"
fi

expect_eq "master /healthz answers ok" ok "$(http "http://$master_ip:8081/healthz" 2>&1)"

spark_seen() { grep -q 'reports 2 worker(s)' <<<"$(http "http://$frontend_ip:8080/spark" 2>/dev/null)"; }
if eventually 60 spark_seen; then pass "frontend /spark shows the master's 2 workers"; else
  fail "frontend /spark: $(http "http://$frontend_ip:8080/spark" 2>&1 || true)"
fi

# The master lists a worker as soon as its REGISTER arrives; the worker logs
# "registered" once it has read the answer: wait for the log, not for time.
worker1_registered() { grep -q 'worker-1 registered' <<<"$(worker1_log)"; }
if worker1_retried && eventually 60 worker1_registered; then
  pass "worker started before the master retried until it registered"
else
  fail "worker-1 log does not show retry then registration"
fi

# --- isolation -------------------------------------------------------------
ping_master() { echo PING | timeout 5 busybox nc -w 2 "$master_ip" 7077; }
expect_eq "host reaches the master at $master_ip:7077" PONG "$(ping_master 2>&1)"

probe="echo PING | timeout 5 nc -w 2 $master_ip 7077"
same=$(docker run --rm --label "$label" --network "$session_net" --user 65534:65534 --cap-drop ALL \
  visi/busybox sh -c "$probe" 2>&1 || true)
expect_eq "a container on the session network reaches the master" PONG "$same"

if other=$(docker run --rm --label "$label" --network "$other_net" --user 65534:65534 --cap-drop ALL \
  visi/busybox sh -c "$probe" 2>&1); then
  fail "a container on another network reached the master: $other"
elif [ "$other" = PONG ]; then
  fail "a container on another network got PONG"
else
  pass "a container on another network cannot reach the master ($other)"
fi

# --- stop ------------------------------------------------------------------
# A prompt exit on SIGTERM: the entrypoints trap it (PID 1 has no default).
if docker stop -t 30 "$prefix-master" "$prefix-frontend" "$prefix-worker-1" >/dev/null &&
  [ "$(docker inspect --format '{{.State.ExitCode}}' "$prefix-master")" = 0 ] &&
  [ "$(docker inspect --format '{{.State.ExitCode}}' "$prefix-frontend")" = 0 ] &&
  [ "$(docker inspect --format '{{.State.ExitCode}}' "$prefix-worker-1")" = 0 ]; then
  pass "master, frontend and worker exit 0 on SIGTERM"
else
  fail "exit codes after docker stop are not all 0"
fi

if [ "$failures" -gt 0 ]; then
  dump_logs
  # Again after the logs, so that the end of the output names what failed.
  printf 'not ok - %s\n' "${failed[@]}"
  echo "FAILED: $failures check(s)"
  exit 1
fi
echo "PASSED"
