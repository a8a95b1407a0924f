# Shared helpers for hack/ scripts. Source it; it defines functions only.

VISI_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian packages the build and tests need (named in README.md).
VISI_BUILD_PACKAGES=(
  g++ make cmake ccache pkg-config
  libyaml-cpp-dev nlohmann-json3-dev libsqlite3-dev sqlite3
  libcpprest-dev libssl-dev libboost-dev libcli11-dev
  libgtest-dev libgmock-dev zlib1g-dev curl
)

# Debian packages the workloads need at run time: the container runtime, the
# busybox the stand-in images are built from (hack/images.sh), iptables,
# which dockerd uses to isolate networks, haproxy (the session router) and
# iproute2 (hack/farm-machine.sh gives each extra daemon a bridge of its own).
VISI_RUNTIME_PACKAGES=(docker.io busybox-static iptables haproxy iproute2)

# kubectl for the compatibility tests: the one present, else Debian's
# kubernetes-client (which refuses to install over another kubectl).
visi::ensure_kubectl() {
  command -v kubectl >/dev/null 2>&1 && return 0
  visi::ensure_packages kubernetes-client
}

visi::log() { printf '[visi] %s\n' "$*" >&2; }

# Installs the named Debian packages that are missing. Idempotent: does
# nothing (and needs no network) when all are present.
visi::ensure_packages() {
  local missing=()
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  visi::log "installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    visi::log "need root to install packages: ${missing[*]}"
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Configures and builds into $VISI_BUILD_DIR (default build/), with ccache.
# Extra arguments are build targets.
visi::build() {
  local build_dir="${VISI_BUILD_DIR:-$VISI_ROOT/build}"
  export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/visi-ccache}"
  # Hits across clones in other directories (CI builds a fresh clone).
  export CCACHE_BASEDIR="$VISI_ROOT" CCACHE_NOHASHDIR=true
  if [ ! -f "$build_dir/CMakeCache.txt" ]; then
    cmake -S "$VISI_ROOT" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  local targets=()
  local t
  for t in "$@"; do targets+=(--target "$t"); done
  cmake --build "$build_dir" -j "$(nproc)" "${targets[@]}"
}

# The Docker Engine socket the hack scripts and the tests talk to.
VISI_DOCKER_SOCKET="${VISI_DOCKER_SOCKET:-/var/run/docker.sock}"

# True when a Docker daemon answers GET /_ping on $VISI_DOCKER_SOCKET.
visi::docker_ping() {
  curl -fsS --max-time 3 --unix-socket "$VISI_DOCKER_SOCKET" http://docker/_ping >/dev/null 2>&1
}

# True when PID is a live process (not a zombie waiting to be reaped).
visi::pid_alive() {
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
    ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null
}

# Makes sure a Docker daemon answers on $VISI_DOCKER_SOCKET. Idempotent:
# does nothing when one does. Otherwise starts dockerd in the background
# (there is no systemd here), logging to $VISI_STATE_DIR/dockerd.log
# (default /var/lib/visi) with its pid in dockerd.pid there, and waits up
# to $VISI_DOCKERD_TIMEOUT seconds (default 60) for it to answer.
visi::ensure_dockerd() {
  visi::ensure_packages "${VISI_RUNTIME_PACKAGES[@]}" curl || return 1
  visi::docker_ping && return 0

  local state_dir="${VISI_STATE_DIR:-/var/lib/visi}"
  local log="$state_dir/dockerd.log" pidfile="$state_dir/dockerd.pid"
  local timeout="${VISI_DOCKERD_TIMEOUT:-60}" pid=""
  mkdir -p "$state_dir" || return 1
  [ -f "$pidfile" ] && pid=$(cat "$pidfile")
  # The pid must still be a dockerd: pids are reused.
  if visi::pid_alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q dockerd; then
    # Started by an earlier call and still coming up: wait for it.
    visi::log "dockerd (pid $pid) is starting; waiting for $VISI_DOCKER_SOCKET"
  else
    if [ "$(id -u)" -ne 0 ]; then
      visi::log "no Docker daemon answers on $VISI_DOCKER_SOCKET, and starting one needs root"
      return 1
    fi
    visi::log "starting dockerd (log: $log)"
    # setsid: the daemon outlives this script and ignores its Ctrl-C; -w
    # keeps $! alive as long as dockerd if setsid has to fork.
    setsid -w dockerd -H "unix://$VISI_DOCKER_SOCKET" >>"$log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$pidfile"
  fi

  local waited=0
  until visi::docker_ping; do
    if ! visi::pid_alive "$pid"; then
      visi::log "dockerd (pid $pid) exited before answering; last lines of $log:"
      tail -n 20 "$log" >&2
      return 1
    fi
    if [ "$waited" -ge "$timeout" ]; then
      visi::log "dockerd (pid $pid) did not answer on $VISI_DOCKER_SOCKET within ${timeout}s; see $log"
      return 1
    fi
    if [ "$waited" -gt 0 ] && [ $((waited % 10)) -eq 0 ]; then
      visi::log "waiting for dockerd (${waited}s of ${timeout}s)"
    fi
    sleep 1
    waited=$((waited + 1))
  done
  visi::log "dockerd (pid $pid) is up"
}

# Builds the stand-in workload images (visi/busybox, visi/frontend,
# visi/spark) unless they are up to date; see hack/images.sh.
visi::ensure_images() {
  bash "$VISI_ROOT/hack/images.sh"
}
