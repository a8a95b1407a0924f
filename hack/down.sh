#!/usr/bin/env bash
# Stops the visid that hack/up.sh started (by its pid file). Idempotent.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
data_dir="${VISI_DATA_DIR:-$VISI_ROOT/.data}"
pid_file="$data_dir/visid.pid"
if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
  pid="$(cat "$pid_file")"
  kill -TERM "$pid"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  visi::log "visid (pid $pid) stopped"
else
  visi::log "visid is not running"
fi
rm -f "$pid_file"
