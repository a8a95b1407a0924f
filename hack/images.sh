#!/usr/bin/env bash
# Builds the stand-in workload images from Debian's busybox-static with
# `docker import` (no registry is reachable): visi/busybox, visi/frontend
# and visi/spark, all :latest. Their sources are under hack/images/;
# docs/images.md describes them.
#
# Idempotent and fast: each image carries the label visi.dev/image-hash, a
# hash of its root filesystem (busybox binary included) and its image
# config. An image whose label matches is left alone; any change to the
# inputs re-imports it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

images_src="$VISI_ROOT/hack/images"
busybox_bin="${VISI_BUSYBOX_BIN:-/bin/busybox}"
hash_label=visi.dev/image-hash
# Bump to force a rebuild when the way images are assembled changes.
format_version=1

# The docker CLI talks to the daemon visi::ensure_dockerd checks.
export DOCKER_HOST="${DOCKER_HOST:-unix://$VISI_DOCKER_SOCKET}"
work_dir=""
cleanup() { [ -z "$work_dir" ] || rm -rf "$work_dir"; }
trap cleanup EXIT

# stage_base DIR: busybox with every applet linked at its usual path, the
# passwd and group files (uid/gid 65534 is nobody/nogroup) and a /tmp
# anyone can write to.
stage_base() {
  local root=$1 applet
  install -d -m 0755 "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin" "$root/etc"
  install -m 0755 "$busybox_bin" "$root/bin/busybox"
  while read -r applet; do
    case $applet in */*) ;; *) continue ;; esac   # skips "linuxrc"
    [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
  done < <("$root/bin/busybox" --list-full)
  install -m 0644 "$images_src/base/etc/passwd" "$images_src/base/etc/group" "$root/etc/"
  install -d -m 1777 "$root/tmp"
}

# stage_frontend DIR: the notebook stand-in; /data is its state directory.
stage_frontend() {
  local root=$1
  stage_base "$root"
  install -d -m 0755 "$root/usr/lib/visi/frontend"
  install -m 0644 "$images_src/lib/http.sh" "$root/usr/lib/visi/http.sh"
  install -m 0755 "$images_src/frontend/entrypoint.sh" "$images_src/frontend/handler.sh" \
    "$root/usr/lib/visi/frontend/"
  # Writable by whatever uid the container runs as (65534 in Visi).
  install -d -m 1777 "$root/data"
}

# stage_spark DIR: the Spark stand-in (master or worker).
stage_spark() {
  local root=$1
  stage_base "$root"
  install -d -m 0755 "$root/usr/lib/visi/spark"
  install -m 0644 "$images_src/lib/http.sh" "$root/usr/lib/visi/http.sh"
  install -m 0755 "$images_src/spark/entrypoint.sh" "$images_src/spark/register.sh" \
    "$images_src/spark/ui.sh" "$root/usr/lib/visi/spark/"
}

# build_image NAME STAGE_FUNCTION CHANGE...: stages the root filesystem,
# hashes it with the CHANGE instructions and imports it as NAME:latest
# unless NAME:latest already carries that hash.
build_image() {
  local name=$1 stage=$2
  shift 2
  local changes=("$@")
  local root="$work_dir/$name/rootfs" tarball="$work_dir/$name/rootfs.tar"
  mkdir -p "$root"
  "$stage" "$root"
  # A reproducible archive: same inputs, same bytes, same hash.
  tar -C "$root" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
    --format=gnu -cf "$tarball" .
  local hash
  hash=$( { sha256sum <"$tarball"; printf '%s\n' "format $format_version" "${changes[@]}"; } |
    sha256sum | cut -c1-32)

  local ref="$name:latest" current old_id=""
  current=$(docker image inspect --format "{{ index .Config.Labels \"$hash_label\" }}" "$ref" 2>/dev/null || true)
  if [ "$current" = "$hash" ]; then
    visi::log "image $ref is up to date ($hash)"
    return 0
  fi
  old_id=$(docker image inspect --format '{{ .Id }}' "$ref" 2>/dev/null || true)

  local args=() change
  for change in "${changes[@]}"; do args+=(--change "$change"); done
  args+=(--change "LABEL $hash_label=$hash visi.dev/image=$name")
  docker import "${args[@]}" --message "hack/images.sh $hash" "$tarball" "$ref" >/dev/null
  visi::log "built image $ref ($hash)"

  # The replaced image is now untagged; drop it unless a container uses it.
  if [ -n "$old_id" ]; then
    docker image rm "$old_id" >/dev/null 2>&1 || true
  fi
}

main() {
  visi::ensure_dockerd
  [ -x "$busybox_bin" ] || { visi::log "missing $busybox_bin (package busybox-static)"; return 1; }
  work_dir=$(mktemp -d)
  local path="ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin"

  build_image visi/busybox stage_base \
    "$path" \
    'CMD ["/bin/sh"]'

  build_image visi/frontend stage_frontend \
    "$path" \
    'USER 65534:65534' \
    'EXPOSE 8080' \
    'ENTRYPOINT ["/usr/lib/visi/frontend/entrypoint.sh"]'

  build_image visi/spark stage_spark \
    "$path" \
    'USER 65534:65534' \
    'EXPOSE 7077 8081' \
    'ENTRYPOINT ["/usr/lib/visi/spark/entrypoint.sh"]'
}

main "$@"
