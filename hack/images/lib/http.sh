# A minimal HTTP/1.1 request reader and response writer, sourced by the
# handlers that `nc -ll -p PORT -e HANDLER` runs: one process per
# connection, stdin and stdout are the socket, stderr is the container log.
#
# Why not busybox httpd: it runs CGI only under /cgi-bin/ and answers
# POST to any other path with 501, so it cannot serve POST /notes,
# GET /healthz or GET /workers. One request per connection; the response
# always carries Content-Length and "Connection: close".

HTTP_MAX_BODY=65536
HTTP_READ_TIMEOUT=10
http_cr=$(printf '\r')
http_method=
http_path=
http_content_length=0
http_expect=

# Reads the request line and the headers. Returns 1 when the request is
# malformed, incomplete or too slow.
http_read_request() {
  local line name value
  IFS= read -r -t "$HTTP_READ_TIMEOUT" line || return 1
  line=${line%"$http_cr"}
  set -f  # split the request line on spaces, never glob it
  # shellcheck disable=SC2086
  set -- $line
  set +f
  [ $# -eq 3 ] || return 1
  http_method=$1
  http_path=${2%%\?*}   # the query string is ignored
  case $http_path in /*) ;; *) return 1 ;; esac
  while IFS= read -r -t "$HTTP_READ_TIMEOUT" line; do
    line=${line%"$http_cr"}
    [ -z "$line" ] && return 0
    name=${line%%:*}
    value=${line#*:}
    value=${value# }
    case $name in
      [Cc]ontent-[Ll]ength) http_content_length=$value ;;
      [Ee]xpect) http_expect=$value ;;
    esac
  done
  return 1
}

# Prints the request body. Returns 1 when Content-Length is not a number
# or exceeds HTTP_MAX_BODY, 2 when the body does not arrive in time.
http_read_body() {
  case $http_content_length in '' | *[!0-9]*) return 1 ;; esac
  [ "$http_content_length" -le "$HTTP_MAX_BODY" ] || return 1
  [ "$http_content_length" -gt 0 ] || return 0
  case $http_expect in
    100-[Cc]ontinue) printf 'HTTP/1.1 100 Continue\r\n\r\n' ;;
  esac
  timeout "$HTTP_READ_TIMEOUT" head -c "$http_content_length" || return 2
}

# http_respond STATUS CONTENT_TYPE [EXTRA_HEADER]
# Sends the response with the body read from stdin (kept byte for byte,
# trailing newlines included). EXTRA_HEADER is one "Name: value" line.
http_respond() {
  local status=$1 type=$2 extra=${3:-} body length
  body=$(cat; printf x)
  body=${body%x}
  length=$(printf '%s' "$body" | wc -c)
  printf 'HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %s\r\nConnection: close\r\n' \
    "$status" "$type" "$length"
  [ -n "$extra" ] && printf '%s\r\n' "$extra"
  printf '\r\n'
  [ "$http_method" = HEAD ] || printf '%s' "$body"
  # Health probes come every few seconds; log everything else.
  [ "$http_path" = /healthz ] || echo "$http_method $http_path -> $status" >&2
}

# http_text STATUS TEXT: a one-line text/plain response.
http_text() {
  printf '%s\n' "$2" | http_respond "$1" 'text/plain; charset=utf-8'
}

# Escapes stdin for HTML text and attribute values.
http_html_escape() {
  sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g; s/"/\&quot;/g'
}
