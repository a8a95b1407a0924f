#!/usr/bin/env bash
# API benchmark: wrk against visid (durable creates, GETs) and against etcd's
# v3 JSON gateway (puts, range reads) at 1 and 32 connections, in one run on
# this machine, with visid/etcd ratios; then write-to-watch latency through
# the API with 100 watchers. Starts and stops its own etcd and visid (by pid).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$VISI_ROOT"
visi::ensure_packages "${VISI_BUILD_PACKAGES[@]}" wrk etcd-server
visi::build visid api_watch_bench
build="${VISI_BUILD_DIR:-$VISI_ROOT/build}"
duration="${BENCH_DURATION:-10s}"
tmp="$(mktemp -d /tmp/visi-bench-api-XXXXXX)"
etcd_pid="" visid_pid=""
cleanup() {
  [ -n "$visid_pid" ] && kill "$visid_pid" 2>/dev/null || true
  [ -n "$etcd_pid" ] && kill "$etcd_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# visid on a port of its own.
"$build/controller/cmd/visid/visid" --data-dir "$tmp/visid" --listen 127.0.0.1:0 >"$tmp/visid.out" 2>"$tmp/visid.log" &
visid_pid=$!
for _ in $(seq 1 100); do grep -q listening "$tmp/visid.out" 2>/dev/null && break; sleep 0.1; done
visid_url="$(sed -n 's/^listening on //p' "$tmp/visid.out")"
token="$(sed -n 's/^ *token: //p' "$tmp/visid/visictl.conf")"
curl -sf --cacert "$tmp/visid/pki/ca.crt" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  "$visid_url/apis/visi.dev/v1alpha1/namespaces/bench/visisessions" \
  -d '{"apiVersion":"visi.dev/v1alpha1","kind":"VisiSession","metadata":{"name":"probe","namespace":"bench"},"spec":{"user":"bench"}}' >/dev/null

# etcd on loopback ports of its own, serving TLS with the same certificate
# as visid, so that both pay for TLS.
port=$((20000 + RANDOM % 20000))
etcd --name bench --data-dir "$tmp/etcd" \
  --cert-file "$tmp/visid/pki/server.crt" --key-file "$tmp/visid/pki/server.key" \
  --listen-client-urls "https://127.0.0.1:$port" --advertise-client-urls "https://127.0.0.1:$port" \
  --listen-peer-urls "http://127.0.0.1:$((port + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((port + 1))" \
  --initial-cluster "bench=http://127.0.0.1:$((port + 1))" >"$tmp/etcd.log" 2>&1 &
etcd_pid=$!
etcd_url="https://127.0.0.1:$port"
for _ in $(seq 1 100); do curl -sf --cacert "$tmp/visid/pki/ca.crt" "$etcd_url/health" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf --cacert "$tmp/visid/pki/ca.crt" "$etcd_url/v3/kv/put" -d '{"key":"L2JlbmNoL3Byb2Jl","value":"cHJvYmU="}' >/dev/null

# run NAME CONNECTIONS URL SCRIPT ARGS... -> "rps p99_ms"
run() {
  local conns="$1" url="$2" script="$3"; shift 3
  local threads=$(( conns < 2 ? 1 : 2 ))
  local out
  out="$(wrk -t"$threads" -c"$conns" -d"$duration" --latency -s "test/bench/wrk/$script" "$url" -- "$@")"
  if grep -q "Non-2xx" <<<"$out"; then
    visi::log "WARNING: $script had failed requests: $(grep Non-2xx <<<"$out")"
  fi
  local rps p99
  rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
  p99="$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' <<<"$out")"
  echo "$rps $p99"
}

printf '# Visi API benchmark, %s per figure, one run on %s (%s cores)\n' "$duration" "$(hostname)" "$(nproc)"
printf '%-26s %12s %12s %8s %14s %14s\n' "figure" "visid/s" "etcd/s" "ratio" "visid p99 ms" "etcd p99 ms"
for c in 1 32; do
  read -r v_rps v_p99 < <(run "$c" "$visid_url" visid_create.lua "c$c" "$token")
  read -r e_rps e_p99 < <(run "$c" "$etcd_url" etcd_put.lua "c$c")
  printf '%-26s %12.0f %12.0f %8.2f %14.2f %14.2f\n' "durable writes, $c conn" "$v_rps" "$e_rps" \
    "$(awk -v a="$v_rps" -v b="$e_rps" 'BEGIN {print a / b}')" "$v_p99" "$e_p99"
done
for c in 1 32; do
  read -r v_rps v_p99 < <(run "$c" "$visid_url" visid_get.lua probe "$token")
  read -r e_rps e_p99 < <(run "$c" "$etcd_url" etcd_range.lua)
  printf '%-26s %12.0f %12.0f %8.2f %14.2f %14.2f\n' "reads, $c conn" "$v_rps" "$e_rps" \
    "$(awk -v a="$v_rps" -v b="$e_rps" 'BEGIN {print a / b}')" "$v_p99" "$e_p99"
done
echo "# visid: creates of ~1 KiB VisiSessions over HTTPS with bearer tokens; GETs of one object."
echo "# etcd: puts of 1 KiB values to new keys and linearizable range reads, over its JSON gateway, TLS with the same certificate."
"$build/test/bench/api_watch_bench" "$tmp/visid/visictl.conf" 100 200
