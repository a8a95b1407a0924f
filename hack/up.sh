#!/usr/bin/env bash
# One command from a fresh Debian machine: installs what Visi needs, builds
# it, and starts visid on the embedded defaults (SQLite store in
# $VISI_DATA_DIR, default .data/) with the sample manifests applied.
# Idempotent: a visid that is already running is left running.
# Stop it with hack/down.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$VISI_ROOT"

data_dir="${VISI_DATA_DIR:-$VISI_ROOT/.data}"
pid_file="$data_dir/visid.pid"
log_file="$data_dir/visid.log"

visi::ensure_packages "${VISI_BUILD_PACKAGES[@]}"
visi::build visid
visid="${VISI_BUILD_DIR:-$VISI_ROOT/build}/controller/cmd/visid/visid"
mkdir -p "$data_dir"

if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
  visi::log "visid already running (pid $(cat "$pid_file")); log: $log_file"
  exit 0
fi

# Apply the samples first (create or update, idempotent), then run.
"$visid" --data-dir "$data_dir" --apply manifests/samples --once 2>&1 | tee -a "$log_file" >&2
nohup "$visid" --data-dir "$data_dir" >>"$log_file" 2>&1 &
echo $! >"$pid_file"
for _ in $(seq 1 50); do
  grep -q '"msg":"running' "$log_file" 2>/dev/null && break
  kill -0 "$(cat "$pid_file")" 2>/dev/null || { visi::log "visid exited; see $log_file"; exit 1; }
  sleep 0.1
done
visi::log "visid running (pid $(cat "$pid_file")), data in $data_dir, log in $log_file"
visi::log "stop it with: hack/down.sh"
