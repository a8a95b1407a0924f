#!/usr/bin/env bash
# An exec provider for FarmPools (docs/farm.md, "The exec provider's
# contract") that makes each machine a real, separate Docker daemon on THIS
# host: its own socket, data root, exec root and default bridge. For tests,
# demos and benchmarks of the farm without more hosts.
#
#   hack/farm-machine.sh create      # VISI_MACHINE=NAME: start (or find) its dockerd, print its endpoint
#   hack/farm-machine.sh delete      # VISI_MACHINE=NAME: stop its dockerd, remove its state
#   hack/farm-machine.sh list        # the machines under VISI_FARM_DIR
#   hack/farm-machine.sh delete-all  # delete every machine under VISI_FARM_DIR
#
# Environment:
#   VISI_MACHINE        the machine's name (a DNS label), set by visid
#   VISI_FARM_DIR       where machines keep their state (default /var/lib/visi/farm)
#   VISI_FARM_IMAGES    images copied from the main daemon to each machine
#                       (default: visi/busybox:latest visi/frontend:latest visi/spark:latest)
#   VISI_FARM_IMAGE_SOURCE  the main daemon (default unix:///var/run/docker.sock)
#   VISI_FARM_TIMEOUT   seconds to wait for a daemon to answer (default 60)
#   VISI_FARM_CREATE_DELAY, VISI_FARM_FAIL_CREATE=1
#                       test hooks: create sleeps that many seconds first, or fails
#   VISI_FARM_TLS=1     the daemon also listens on tcp://127.0.0.1:PORT with TLS client
#                       certificates (a CA, server and client certificate made here), and create
#                       reports that endpoint with "tlsSecretPath" (ca.pem, cert.pem, key.pem):
#                       a machine as the static provider's TCP+TLS endpoints are
#
# Each daemon runs with --iptables=false and a bridge of its own (never
# --bridge=none: a daemon started so deletes docker0, the main daemon's
# bridge). Create is idempotent by name: a machine whose daemon answers is
# reported again. Delete of a machine that does not exist succeeds.
set -euo pipefail

farm_dir="${VISI_FARM_DIR:-/var/lib/visi/farm}"
images="${VISI_FARM_IMAGES:-visi/busybox:latest visi/frontend:latest visi/spark:latest}"
image_source="${VISI_FARM_IMAGE_SOURCE:-unix:///var/run/docker.sock}"
timeout="${VISI_FARM_TIMEOUT:-60}"

log() { echo "[farm-machine] $*" >&2; }
die() { echo "farm-machine: $1" >&2; exit "${2:-1}"; }

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}

check_name() {
  local name="$1"
  [[ "$name" =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] && [ "${#name}" -le 63 ] ||
    die "VISI_MACHINE must be a DNS label (a-z, 0-9, '-', at most 63 characters), got \"$name\"" 2
}

# Short, per farm dir and machine: unix socket paths are limited to 107 bytes.
machine_id() { printf '%s' "$farm_dir/$1" | sha256sum | cut -c1-12; }
run_dir() { echo "/run/visi-farm/$(machine_id "$1")"; }
state_dir() { echo "$farm_dir/$1"; }
socket_of() { echo "$(run_dir "$1")/docker.sock"; }

answers() { curl -sf --max-time 2 --unix-socket "$1" http://docker/_ping >/dev/null 2>&1; }

# The pid in the machine's pidfile when it is still a dockerd of that machine.
daemon_pid() {
  local pidfile pid
  pidfile="$(state_dir "$1")/launched.pid"
  [ -f "$pidfile" ] || return 1
  pid="$(cat "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -q "dockerd .*$(run_dir "$1")" || return 1
  echo "$pid"
}

# A free /24 for the machine's default bridge, out of 172.29.0.0/16.
free_bip() {
  local used i
  used="$(ip -4 -o addr show 2>/dev/null | awk '{print $4}')"
  for i in $(seq 0 255); do
    grep -q "^172\.29\.$i\." <<<"$used" || { echo "172.29.$i.1/24"; return 0; }
  done
  return 1
}

# A CA, a server certificate for 127.0.0.1 and a client certificate, in DIR.
make_pki() {
  local dir="$1"
  [ -f "$dir/key.pem" ] && return 0
  mkdir -p "$dir"
  (
    cd "$dir"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=visi-farm-ca" \
      -keyout ca-key.pem -out ca.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server-key.pem -out server.csr 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 \
      -extfile server.ext -out server-cert.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=visid" -keyout key.pem.tmp -out client.csr 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 \
      -extfile client.ext -out cert.pem 2>/dev/null
    rm -f ./*.csr ./*.ext
    mv key.pem.tmp key.pem  # last: its presence means the set is complete
  )
}

# A free TCP port on 127.0.0.1, from 23000 up, claimed for the machine
# (/run/visi-farm/ports/PORT, released by delete): a daemon just started may
# not listen yet when the next create looks.
free_port() {
  local port
  mkdir -p /run/visi-farm/ports
  for port in $(seq 23000 23999); do
    ss -ltnH "sport = :$port" 2>/dev/null | grep -q . && continue
    mkdir "/run/visi-farm/ports/$port" 2>/dev/null && { echo "$port"; return 0; }
  done
  return 1
}

copy_images() {
  local sock="$1" image src dst
  for image in $images; do
    src="$(docker -H "$image_source" image inspect -f '{{.Id}}' "$image" 2>/dev/null)" ||
      die "image $image is not on the main daemon $image_source (build it: hack/images.sh)"
    dst="$(docker -H "unix://$sock" image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)"
    [ "$src" = "$dst" ] && continue
    log "copying $image"
    docker -H "$image_source" save "$image" | docker -H "unix://$sock" load >/dev/null
  done
}

# What a daemon of machine NAME that died (or was killed) left running: its
# containers' processes (by their cgroups), then its containerd and shims
# (by the exec root on their command lines).
kill_leftovers() {
  local name="$1" state run id procs i
  state="$(state_dir "$name")"; run="$(run_dir "$name")"
  for id in $(ls "$state/data/containers" 2>/dev/null); do
    for procs in /sys/fs/cgroup/docker/"$id"/cgroup.procs /sys/fs/cgroup/*/docker/"$id"/cgroup.procs \
                 /sys/fs/cgroup/system.slice/docker-"$id".scope/cgroup.procs; do
      [ -f "$procs" ] && xargs -r kill -9 <"$procs" 2>/dev/null || true
    done
  done
  pkill -9 -f -- "$run/exec/" 2>/dev/null || true
  # Else the next dockerd waits 15 s for the containerd this pid file names
  # (a zombie not reaped yet looks alive to it).
  rm -f "$run/exec/containerd/containerd.pid"
  for id in $(ls "$state/data/containers" 2>/dev/null); do
    for i in $(seq 1 25); do  # a cgroup goes once its last process has
      local left=0 cg
      for cg in /sys/fs/cgroup/docker/"$id" /sys/fs/cgroup/*/docker/"$id" /sys/fs/cgroup/system.slice/docker-"$id".scope; do
        [ -d "$cg" ] || continue
        rmdir "$cg" 2>/dev/null || left=1
      done
      [ "$left" = 0 ] && break
      sleep 0.2
    done
  done
  return 0
}

# Starts the machine's dockerd in the background; its pid goes to
# launched.pid at once (dockerd writes its own pidfile only later).
start_daemon() {
  local name="$1" state run sock bridge bip
  state="$(state_dir "$name")"; run="$(run_dir "$name")"; sock="$(socket_of "$name")"
  bridge="vf$(machine_id "$name")"  # 14 characters: interface names are at most 15
  # One machine at a time picks a /24 and a port: two must not pick the same.
  exec 9>/run/visi-farm/.bridges.lock
  flock 9
  if ! ip link show "$bridge" >/dev/null 2>&1; then
    bip="$(free_bip)" || die "no free /24 in 172.29.0.0/16 for the bridge of $name"
    ip link add name "$bridge" type bridge
    ip addr add "$bip" dev "$bridge"
    ip link set "$bridge" up
  fi
  local tls_flags=() port
  if [ "${VISI_FARM_TLS:-}" = 1 ]; then
    make_pki "$state/tls"
    if [ ! -s "$state/tcp-port" ]; then
      port="$(free_port)" || die "no free TCP port in 23000-23999"
      echo "$port" >"$state/tcp-port.tmp" && mv "$state/tcp-port.tmp" "$state/tcp-port"
    fi
    tls_flags=(-H "tcp://127.0.0.1:$(cat "$state/tcp-port")" --tlsverify --tlscacert "$state/tls/ca.pem"
      --tlscert "$state/tls/server-cert.pem" --tlskey "$state/tls/server-key.pem")
  fi
  # A daemon that was killed leaves its pidfile (a reused pid in it would
  # stop the new one) and its containerd, which would hold the exec root.
  rm -f "$state/docker.pid"
  kill_leftovers "$name"
  log "starting dockerd for $name (log: $state/dockerd.log)"
  # Its own session: visid kills the create program's process group. (Not a
  # process group leader here, so setsid does not fork: $! is dockerd.)
  setsid dockerd -H "unix://$sock" "${tls_flags[@]}" --data-root "$state/data" --exec-root "$run/exec" \
    --pidfile "$state/docker.pid" --bridge "$bridge" --iptables=false --ip-masq=false \
    >>"$state/dockerd.log" 2>&1 </dev/null 8>&- 9>&- &
  echo $! >"$state/launched.pid"
  exec 9>&-
}

cmd_create() {
  local name="${VISI_MACHINE:-}" state run sock waited=0 starts=0
  check_name "$name"
  [ "${VISI_FARM_FAIL_CREATE:-}" = 1 ] && die "VISI_FARM_FAIL_CREATE=1: refusing to create $name"
  state="$(state_dir "$name")"; run="$(run_dir "$name")"; sock="$(socket_of "$name")"
  # One create or delete per machine at a time: a create left running by a
  # visid that was killed, and the create or delete its successor runs, do
  # not start or leave a daemon behind each other's back. The lock file
  # outlives the machine's state (delete removes that).
  mkdir -p /run/visi-farm
  exec 8>"/run/visi-farm/$(machine_id "$name").lock"
  flock 8
  mkdir -p "$state" "$run"
  touch "$state/.visi-farm-machine"  # what delete-all looks for
  [ -n "${VISI_FARM_CREATE_DELAY:-}" ] && sleep "$VISI_FARM_CREATE_DELAY"
  # A daemon of this machine that is up is reported again. One that is
  # still going away (stopped a moment ago) is waited for, then replaced.
  until answers "$sock"; do
    if ! daemon_pid "$name" >/dev/null; then
      [ "$starts" -lt 3 ] || die "dockerd for $name exited at once 3 times; see $state/dockerd.log"
      start_daemon "$name"
      starts=$((starts + 1))
    fi
    if [ "$waited" -ge "$((timeout * 5))" ]; then
      tail -n 5 "$state/dockerd.log" >&2 || true
      die "dockerd for $name did not answer on $sock within ${timeout}s"
    fi
    sleep 0.2
    waited=$((waited + 1))
  done
  copy_images "$sock"
  if [ -f "$state/tcp-port" ]; then
    printf '{"endpoint":"tcp://127.0.0.1:%s","tlsSecretPath":"%s","providerID":"%s"}\n' \
      "$(cat "$state/tcp-port")" "$state/tls" "$state"
  else
    printf '{"endpoint":"unix://%s","providerID":"%s"}\n' "$sock" "$state"
  fi
}

cmd_delete() {
  local name="${VISI_MACHINE:-}" state run sock pid ids i m
  check_name "$name"
  mkdir -p /run/visi-farm
  exec 8>"/run/visi-farm/$(machine_id "$name").lock"
  flock 8
  state="$(state_dir "$name")"; run="$(run_dir "$name")"; sock="$(socket_of "$name")"
  if answers "$sock"; then
    ids="$(docker -H "unix://$sock" ps -aq)"
    [ -z "$ids" ] || docker -H "unix://$sock" rm -f $ids >/dev/null || true
    docker -H "unix://$sock" network prune -f >/dev/null 2>&1 || true
  fi
  if pid="$(daemon_pid "$name")"; then
    log "stopping dockerd $pid of $name"
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  fi
  kill_leftovers "$name"
  # Mounts it left behind, deepest first.
  findmnt -rn -o TARGET 2>/dev/null | grep -E "^($state|$run)/" | sort -r | while IFS= read -r m; do
    umount -l "$m" 2>/dev/null || true
  done || true
  ip link del "vf$(machine_id "$name")" 2>/dev/null || true
  [ -s "$state/tcp-port" ] && rmdir "/run/visi-farm/ports/$(cat "$state/tcp-port")" 2>/dev/null || true
  rm -rf --one-file-system "$state" "$run"
}

cmd_list() {
  local dir name state pid
  [ -d "$farm_dir" ] || return 0
  for dir in "$farm_dir"/*/; do
    [ -d "$dir" ] || continue
    name="$(basename "$dir")"
    if pid="$(daemon_pid "$name")"; then state="pid $pid"; else state="not running"; fi
    if answers "$(socket_of "$name")"; then state="$state, answers"; fi
    echo "$name: $state, endpoint unix://$(socket_of "$name")"
  done
}

cmd_delete_all() {
  local dir
  [ -d "$farm_dir" ] || return 0
  for dir in "$farm_dir"/*/; do
    # Only what create made: VISI_FARM_DIR may hold other things.
    [ -f "$dir/.visi-farm-machine" ] || continue
    [[ "$(basename "$dir")" =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] || { log "skipping $dir: not a machine name"; continue; }
    VISI_MACHINE="$(basename "$dir")" cmd_delete
  done
}

case "${1:-}" in
  create) cmd_create ;;
  delete) cmd_delete ;;
  list) cmd_list ;;
  delete-all) cmd_delete_all ;;
  -h|--help|help) usage ;;
  "") usage >&2; exit 2 ;;
  *) usage >&2; die "unknown command \"$1\" (create, delete, list, delete-all)" 2 ;;
esac
