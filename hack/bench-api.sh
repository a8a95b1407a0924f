#!/usr/bin/env bash
# API benchmark: wrk against visid (durable creates, GETs) and against etcd's
# v3 JSON gateway (puts, range reads) at 1 and 32 connections, in one run on
# this machine, with visid/etcd ratios; then write-to-watch latency through
# the API with 100 watchers. Starts and stops its own etcd and visid (by pid).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$VISI_ROOT"
visi::ensure_packages "${VISI_BUILD_PACKAGES[@]}" wrk etcd-server
visi::build visid api_watch_bench etcd_watch_bench
build="${VISI_BUILD_DIR:-$VISI_ROOT/build}"
duration="${BENCH_DURATION:-10s}"
warmup="${BENCH_WARMUP:-2s}"
tmp="$(mktemp -d /tmp/visi-bench-api-XXXXXX)"
etcd_pid="" backing_pid="" sqlite_pid="" onetcd_pid=""
cleanup() {
  local pid
  for pid in "$sqlite_pid" "$onetcd_pid" "$etcd_pid" "$backing_pid"; do
    [ -n "$pid" ] || continue
    kill "$pid" 2>/dev/null || continue
    # A process that does not stop within 10 s (a visid whose etcd is gone
    # first) is killed: the benchmark leaves nothing running.
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# start_visid NAME FLAGS...: a visid on a port of its own (API only: the
# figures are the API's and the store's), with a probe object; sets
# NAME_url, NAME_token and NAME_pid.
start_visid() {
  local name="$1"; shift
  "$build/controller/cmd/visid/visid" --data-dir "$tmp/$name" --listen 127.0.0.1:0 --no-controllers "$@" \
    >"$tmp/$name.out" 2>"$tmp/$name.log" &
  printf -v "${name}_pid" '%s' $!
  for _ in $(seq 1 100); do grep -q listening "$tmp/$name.out" 2>/dev/null && break; sleep 0.1; done
  local url token
  url="$(sed -n 's/^listening on //p' "$tmp/$name.out")"
  [ -n "$url" ] || { cat "$tmp/$name.log" >&2; visi::log "visid $name did not start"; exit 1; }
  token="$(sed -n 's/^ *token: //p' "$tmp/$name/visictl.conf")"
  curl -sf --cacert "$tmp/$name/pki/ca.crt" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    "$url/apis/visi.dev/v1alpha1/namespaces/bench/visisessions" \
    -d '{"apiVersion":"visi.dev/v1alpha1","kind":"VisiSession","metadata":{"name":"probe","namespace":"bench"},"spec":{"user":"bench"}}' >/dev/null
  printf -v "${name}_url" '%s' "$url"
  printf -v "${name}_token" '%s' "$token"
}

# visid on its embedded SQLite store.
start_visid sqlite

# start_etcd NAME: an etcd on loopback ports of its own, serving TLS with
# the same certificate as visid, so that every figure pays for TLS; sets
# NAME_url and NAME_pid.
start_etcd() {
  local name="$1" port url
  port=$((20000 + RANDOM % 20000))
  etcd --name "$name" --data-dir "$tmp/$name" \
    --cert-file "$tmp/sqlite/pki/server.crt" --key-file "$tmp/sqlite/pki/server.key" \
    --listen-client-urls "https://127.0.0.1:$port" --advertise-client-urls "https://127.0.0.1:$port" \
    --listen-peer-urls "http://127.0.0.1:$((port + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((port + 1))" \
    --initial-cluster "$name=http://127.0.0.1:$((port + 1))" >"$tmp/$name.log" 2>&1 &
  printf -v "${name}_pid" '%s' $!
  url="https://127.0.0.1:$port"
  for _ in $(seq 1 100); do curl -sf --cacert "$tmp/sqlite/pki/ca.crt" "$url/health" >/dev/null 2>&1 && break; sleep 0.1; done
  printf -v "${name}_url" '%s' "$url"
}

# Raw etcd, measured alone.
start_etcd etcd
curl -sf --cacert "$tmp/sqlite/pki/ca.crt" "$etcd_url/v3/kv/put" -d '{"key":"L2JlbmNoL3Byb2Jl","value":"cHJvYmU="}' >/dev/null

# visid on an etcd of its own, alike: neither figure runs on a database the
# other one grew.
start_etcd backing
start_visid onetcd --store "etcd+https://${backing_url#https://}" --etcd-ca "$tmp/sqlite/pki/ca.crt"

# run NAME CONNECTIONS URL SCRIPT ARGS... -> "rps p99_ms"
run() {
  local conns="$1" url="$2" script="$3"; shift 3
  local threads=$(( conns < 2 ? 1 : 2 ))
  local out
  # An unmeasured warm-up at the same concurrency first: a figure is the
  # steady state, not the opening of connections (for visid on etcd, also
  # its TLS connections to etcd, opened as concurrency first rises).
  # Writes in the warm-up go to names of their own (the first argument is
  # their prefix); reads read the same object.
  local first="$1"; shift
  local warm_first="$first"
  case "$script" in *create* | *put*) warm_first="w$first" ;; esac
  wrk -t"$threads" -c"$conns" -d"$warmup" -s "test/bench/wrk/$script" "$url" -- "$warm_first" "$@" >/dev/null
  set -- "$first" "$@"
  out="$(wrk -t"$threads" -c"$conns" -d"$duration" --latency -s "test/bench/wrk/$script" "$url" -- "$@")"
  if grep -q "Non-2xx" <<<"$out"; then
    visi::log "WARNING: $script had failed requests: $(grep Non-2xx <<<"$out")"
  fi
  local rps p99
  rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
  p99="$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' <<<"$out")"
  echo "$rps $p99"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
printf '# Visi API benchmark, %s per figure, one run on %s (%s cores)\n' "$duration" "$(hostname)" "$(nproc)"
printf '# visid/s: on SQLite; visid-etcd/s: visid on an etcd of its own, set up as the raw one; ratios against raw etcd in the same run\n'
printf '%-24s %9s %11s %9s %7s %10s %21s\n' "figure" "visid/s" "visid-etcd/s" "etcd/s" "visid÷" "v-etcd÷" \
  "p99 ms: visid/v-etcd/etcd"
figure() {  # TITLE VISID_SCRIPT ETCD_SCRIPT CONNS VISID_ARG
  local title="$1" vs="$2" es="$3" c="$4" arg="$5" s_rps s_p99 o_rps o_p99 e_rps e_p99
  read -r s_rps s_p99 < <(run "$c" "$sqlite_url" "$vs" "$arg" "$sqlite_token")
  read -r o_rps o_p99 < <(run "$c" "$onetcd_url" "$vs" "$arg" "$onetcd_token")
  read -r e_rps e_p99 < <(run "$c" "$etcd_url" "$es" "c$c")
  printf '%-24s %9.0f %11.0f %9.0f %7s %10s %9.2f/%.2f/%.2f\n' "$title" "$s_rps" "$o_rps" "$e_rps" \
    "$(ratio "$s_rps" "$e_rps")" "$(ratio "$o_rps" "$e_rps")" "$s_p99" "$o_p99" "$e_p99"
}
for c in 1 32; do figure "durable writes, $c conn" visid_create.lua etcd_put.lua "$c" "c$c"; done
for c in 1 32; do figure "reads, $c conn" visid_get.lua etcd_range.lua "$c" probe; done
echo "# visid: creates of ~1 KiB VisiSessions over HTTPS with bearer tokens; GETs of one object."
echo "# etcd: puts of 1 KiB values to new keys and linearizable range reads, over its JSON gateway, TLS with the same certificate."
echo "# Watch: write-to-event latency, 100 watchers each on its own TLS connection, 200 writes, one every 5 ms."
printf '%-12s ' "visid:"; "$build/test/bench/api_watch_bench" "$tmp/sqlite/visictl.conf" 100 200
printf '%-12s ' "visid-etcd:"; "$build/test/bench/api_watch_bench" "$tmp/onetcd/visictl.conf" 100 200
printf '%-12s ' "etcd:"; "$build/test/bench/etcd_watch_bench" "$etcd_url" "$tmp/sqlite/pki/ca.crt" 100 200
