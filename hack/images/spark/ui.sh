#!/bin/sh
# Serves one HTTP request on the master's status port:
#   GET /healthz  200 "ok"
#   GET /workers  the live workers, text/plain, one name per line: those
#                 that registered within the last $SPARK_WORKER_TIMEOUT s
#   GET /         a one-line summary
set -u
. /usr/lib/visi/http.sh

live_workers() {
  local now f last
  now=$(date +%s)
  for f in /tmp/workers/*; do
    [ -f "$f" ] || continue
    read -r last <"$f" || continue
    [ $((now - last)) -le "${SPARK_WORKER_TIMEOUT:-30}" ] && echo "${f##*/}"
  done
}

if ! http_read_request; then
  http_text '400 Bad Request' 'malformed request'
  exit 0
fi
case "$http_method $http_path" in
  'GET /healthz' | 'HEAD /healthz') http_text '200 OK' ok ;;
  'GET /workers' | 'HEAD /workers') live_workers | http_respond '200 OK' 'text/plain; charset=utf-8' ;;
  'GET /' | 'HEAD /')
    http_text '200 OK' "spark master: $(live_workers | grep -c .) live worker(s); see /workers"
    ;;
  *) http_text '404 Not Found' "no route for $http_path" ;;
esac
