# Shared helpers for hack/ scripts. Source it; it defines functions only.

VISI_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian packages the build and tests need (named in README.md).
VISI_BUILD_PACKAGES=(
  g++ make cmake ccache pkg-config
  libyaml-cpp-dev nlohmann-json3-dev libsqlite3-dev sqlite3
  libcpprest-dev libssl-dev libboost-dev libcli11-dev
  libgtest-dev libgmock-dev curl
)

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
