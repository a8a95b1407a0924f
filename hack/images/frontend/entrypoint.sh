#!/bin/sh
# The notebook stand-in: one HTTP server on $PORT whose only state is
# $VISI_STATE_PATH/notes.txt, so a snapshot of that directory carries the
# session. Routes are in handler.sh.
set -u
export PORT="${PORT:-8080}"
export VISI_STATE_PATH="${VISI_STATE_PATH:-/data}"

log() { echo "frontend: $*"; }

if ! mkdir -p "$VISI_STATE_PATH" || [ ! -w "$VISI_STATE_PATH" ]; then
  log "state path $VISI_STATE_PATH is not writable by uid $(id -u); notes cannot be saved" >&2
fi

nc -ll -p "$PORT" -e /usr/lib/visi/frontend/handler.sh &
server=$!
# PID 1 gets no default signal handling: stop promptly on docker stop.
trap 'kill "$server" 2>/dev/null; exit 0' TERM INT
log "session ${VISI_SESSION:-unnamed} serving on :$PORT, state in $VISI_STATE_PATH"
wait "$server"
status=$?
log "server exited with status $status" >&2
exit "$status"
