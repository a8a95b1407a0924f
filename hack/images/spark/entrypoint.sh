#!/bin/sh
# The Spark stand-in. The role comes from the first argument or $SPARK_ROLE:
#   master  accepts "REGISTER <name>" lines on $SPARK_MASTER_PORT (7077) and
#           serves /workers and /healthz on $SPARK_MASTER_UI_PORT (8081)
#   worker  sends "REGISTER <name>" to the master every
#           $SPARK_WORKER_INTERVAL seconds, forever, whether or not the
#           master is up yet. The master is $SPARK_MASTER (host:port), else
#           $SPARK_MASTER_URL (spark://host:port), else spark-master:7077.
set -u
export SPARK_MASTER_PORT="${SPARK_MASTER_PORT:-7077}"
export SPARK_MASTER_UI_PORT="${SPARK_MASTER_UI_PORT:-8081}"
export SPARK_WORKER_TIMEOUT="${SPARK_WORKER_TIMEOUT:-30}"
lib=/usr/lib/visi/spark

log() { echo "spark $role: $*"; }

master() {
  mkdir -p /tmp/workers
  nc -ll -p "$SPARK_MASTER_PORT" -e "$lib/register.sh" &
  rpc=$!
  nc -ll -p "$SPARK_MASTER_UI_PORT" -e "$lib/ui.sh" &
  ui=$!
  # PID 1 gets no default signal handling: stop promptly on docker stop.
  trap 'kill "$rpc" "$ui" 2>/dev/null; exit 0' TERM INT
  log "accepting workers on :$SPARK_MASTER_PORT, status on :$SPARK_MASTER_UI_PORT"
  # Either server dying is fatal, so that the container's state shows it.
  while kill -0 "$rpc" 2>/dev/null && kill -0 "$ui" 2>/dev/null; do
    sleep 2 &
    wait $!
  done
  log "a server exited; stopping" >&2
  kill "$rpc" "$ui" 2>/dev/null
  exit 1
}

worker() {
  local master="${SPARK_MASTER:-${SPARK_MASTER_URL:-spark-master:7077}}" host port name reply
  local state=starting beats=0
  local interval="${SPARK_WORKER_INTERVAL:-3}"
  master=${master#spark://}
  host=${master%:*}
  port=${master##*:}
  [ "$host" != "$master" ] || port=7077
  name=${SPARK_WORKER_NAME:-$(hostname)}
  trap 'log "$name stopping"; exit 0' TERM INT
  log "$name registering with $master every ${interval}s"
  while :; do
    reply=$(echo "REGISTER $name" | timeout 5 nc -w 3 "$host" "$port" 2>&1)
    case $reply in
      OK*)
        beats=$((beats + 1))
        if [ "$state" != registered ]; then
          log "$name registered with $master"
          state=registered
          beats=0
        elif [ $((beats % 100)) -eq 0 ]; then
          log "$name still registered with $master ($beats heartbeats)"
        fi
        ;;
      *)
        if [ "$state" != waiting ]; then
          log "$name cannot register with $master (${reply:-no answer}); retrying every ${interval}s"
          state=waiting
        fi
        ;;
    esac
    sleep "$interval" &
    wait $!
  done
}

role=${1:-${SPARK_ROLE:-}}
case $role in
  master) master ;;
  worker) worker ;;
  *)
    echo "usage: entrypoint.sh master|worker (or set SPARK_ROLE)" >&2
    exit 2
    ;;
esac
