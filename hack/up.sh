#!/usr/bin/env bash
# One command from a fresh Debian machine: installs what Visi needs, builds
# it, starts dockerd when none runs, builds the demo images, and starts visid
# on the embedded defaults (SQLite store in $VISI_DATA_DIR, default .data/;
# the local Docker host) with the sample manifests applied; then waits until
# the sample session is Ready and prints how to reach it.
# Idempotent: a visid that is already running is left running, images that
# are up to date are not rebuilt, applying the samples again changes nothing.
# Stop it with hack/down.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$VISI_ROOT"

data_dir="${VISI_DATA_DIR:-$VISI_ROOT/.data}"
pid_file="$data_dir/visid.pid"
log_file="$data_dir/visid.log"

visi::ensure_packages "${VISI_BUILD_PACKAGES[@]}"
visi::build visid visictl
visi::ensure_dockerd
visi::ensure_images
bin="${VISI_BUILD_DIR:-$VISI_ROOT/build}/controller/cmd"
listen="${VISI_LISTEN:-127.0.0.1:6443}"
router_listen="${VISI_ROUTER_LISTEN:-127.0.0.1:8080}"
mkdir -p "$data_dir"
export VISICONFIG="$data_dir/visictl.conf"

if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
  visi::log "visid already running (pid $(cat "$pid_file")); log: $log_file"
else
  log_start=$(( $(wc -c <"$log_file" 2>/dev/null || echo 0) + 1 ))  # earlier runs' lines do not count
  nohup "$bin/visid/visid" --data-dir "$data_dir" --listen "$listen" --router-listen "$router_listen" \
    >>"$log_file" 2>&1 &
  echo $! >"$pid_file"
  for _ in $(seq 1 100); do
    tail -c +"$log_start" "$log_file" 2>/dev/null | grep -q '"msg":"serving"' && break
    kill -0 "$(cat "$pid_file")" 2>/dev/null || { visi::log "visid exited; see $log_file"; exit 1; }
    sleep 0.1
  done
fi
# Apply the samples (create or update: idempotent).
"$bin/visictl/visictl" apply -f manifests/samples
visi::log "waiting for the sample session alice/notebook to be Ready"
"$bin/visictl/visictl" wait --for=condition=Ready visisession/notebook -n alice --timeout=180s
"$bin/visictl/visictl" get visisessions -A -o wide
frontend="$("$bin/visictl/visictl" get visisession notebook -n alice -o 'jsonpath={.status.frontEndAddress}')"
master="$("$bin/visictl/visictl" get visisession notebook -n alice -o 'jsonpath={.status.sparkMasterAddress}')"
"$bin/visictl/visictl" wait --for=condition=Routed visisession/notebook -n alice --timeout=60s >/dev/null
login="$("$bin/visictl/visictl" open notebook -n alice 2>/dev/null)"
visi::log "notebook front end: http://$frontend/   (direct, from this machine)"
visi::log "Spark master:       $master"
visi::log "visid running (pid $(cat "$pid_file")) at https://$listen, data in $data_dir, log in $log_file"
visi::log "use it:   export VISICONFIG=$VISICONFIG; $bin/visictl/visictl get visisessions -A"
visi::log "kubectl:  kubectl --kubeconfig $VISICONFIG get visisessions -A"
visi::log "stop it:  hack/down.sh"
visi::log "log in to alice's notebook through the router (one-time URL; a new one: visictl open notebook -n alice):"
echo "$login"
