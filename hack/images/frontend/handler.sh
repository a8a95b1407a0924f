#!/bin/sh
# Serves one HTTP request of the notebook stand-in (see docs/images.md):
#   GET  /healthz  200 "ok"
#   GET  /         HTML page titled with $VISI_SESSION, listing the notes
#   GET  /notes    the notes, text/plain, one per line
#   POST /notes    appends a note: form field note=... (answers 303 to /)
#                  or the raw body (answers 201 with the note)
#   GET  /spark    what the Spark master reports about its workers
# Each path is also served under $VISI_BASE_URL (the router's /s/NS/NAME/).
set -u
. /usr/lib/visi/http.sh

notes_file="${VISI_STATE_PATH:-/data}/notes.txt"

page() {
  local title
  title="Visi notebook: $(printf '%s' "${VISI_SESSION:-unnamed}" | http_html_escape)"
  {
    printf '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>%s</title></head>\n' "$title"
    printf '<body>\n<h1>%s</h1>\n' "$title"
    if [ -s "$notes_file" ]; then
      printf '<ul>\n'
      http_html_escape <"$notes_file" | sed 's|.*|<li>&</li>|'
      printf '</ul>\n'
    else
      printf '<p>No notes yet.</p>\n'
    fi
    printf '<form method="post" action="notes">\n'
    printf '<input name="note" size="60" autofocus> <button>Save note</button>\n</form>\n'
    printf '<p><a href="spark">Spark cluster</a> | <a href="notes">notes as text</a></p>\n'
    printf '</body></html>\n'
  } | http_respond '200 OK' 'text/html; charset=utf-8'
}

list_notes() {
  { [ -f "$notes_file" ] && cat "$notes_file"; } | http_respond '200 OK' 'text/plain; charset=utf-8'
}

add_note() {
  local body note form=
  body=$(http_read_body)
  case $? in
    0) ;;
    1)
      http_text '413 Payload Too Large' "a note is at most $HTTP_MAX_BODY bytes"
      return
      ;;
    *)
      http_text '400 Bad Request' 'incomplete body'
      return
      ;;
  esac
  case $body in
    note=* | *'&note='*)
      # application/x-www-form-urlencoded: '+' is a space, then %XX.
      form=1
      note=${body#*note=}
      note=${note%%&*}
      note=$(httpd -d "$(printf '%s' "$note" | tr '+' ' ')")
      ;;
    *) note=$body ;;
  esac
  # One note per line in notes.txt.
  note=$(printf '%s' "$note" | tr '\r\n\t' '   ' | sed 's/^ *//; s/ *$//')
  if [ -z "$note" ]; then
    http_text '400 Bad Request' 'empty note: send a body or the form field note='
    return
  fi
  if ! printf '%s\n' "$note" >>"$notes_file"; then
    http_text '500 Internal Server Error' "cannot write $notes_file"
    return
  fi
  if [ -n "$form" ]; then
    http_text '303 See Other' 'saved' "Location: $base"
  else
    http_text '201 Created' "$note"
  fi
}

spark() {
  local host="${SPARK_MASTER_HOST:-spark-master}" port="${SPARK_MASTER_UI_PORT:-8081}" workers
  # timeout(1), not wget -T: Debian 12's static busybox wget crashes on -T.
  if workers=$(timeout 3 wget -q -O - "http://$host:$port/workers" 2>/dev/null); then
    {
      printf 'spark master %s:%s reports %s worker(s)\n' "$host" "$port" \
        "$(printf '%s' "$workers" | grep -c .)"
      [ -z "$workers" ] || printf '%s\n' "$workers"
    } | http_respond '200 OK' 'text/plain; charset=utf-8'
  else
    http_text '502 Bad Gateway' "spark master $host:$port is not answering"
  fi
}

if ! http_read_request; then
  http_text '400 Bad Request' 'malformed request'
  exit 0
fi
# Behind the router the session lives under $VISI_BASE_URL (/s/NS/NAME/), as
# a JupyterHub single-user server lives under its service prefix: serve the
# same pages there (links are relative) and at / for direct probes.
base="${VISI_BASE_URL:-/}"
case "$http_path" in
  "$base"*) http_path="/${http_path#"$base"}" ;;
esac
case "$http_method $http_path" in
  'GET /healthz' | 'HEAD /healthz') http_text '200 OK' ok ;;
  'GET /' | 'HEAD /') page ;;
  'GET /notes' | 'HEAD /notes') list_notes ;;
  'POST /notes') add_note ;;
  'GET /spark') spark ;;
  *' /healthz' | *' /' | *' /notes' | *' /spark') http_text '405 Method Not Allowed' 'method not allowed' ;;
  *) http_text '404 Not Found' "no route for $http_path" ;;
esac
