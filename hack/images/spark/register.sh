#!/bin/sh
# Handles one connection to the master's port: a single line
#   REGISTER <name>   records <name> in /tmp/workers with the time; "OK <name>"
#   PING              "PONG" (a reachability probe that registers nothing)
# Names are hostnames: letters, digits, '.', '_' and '-', at most 63.
set -u
dir=/tmp/workers
cr=$(printf '\r')
verb=
name=
IFS=' ' read -r -t 5 verb name rest
verb=${verb%"$cr"}
name=${name%"$cr"}

case $verb in
  PING)
    echo PONG
    ;;
  REGISTER)
    case $name in
      '' | .* | *[!A-Za-z0-9._-]*)
        echo "ERR bad worker name"
        exit 0
        ;;
    esac
    if [ ${#name} -gt 63 ]; then
      echo "ERR bad worker name"
      exit 0
    fi
    now=$(date +%s)
    # A worker is new when unknown or silent for longer than the timeout.
    last=0
    [ -f "$dir/$name" ] && read -r last <"$dir/$name"
    echo "$now" >"$dir/.$name.$$" && mv -f "$dir/.$name.$$" "$dir/$name"
    if [ $((now - ${last:-0})) -gt "${SPARK_WORKER_TIMEOUT:-30}" ]; then
      echo "spark master: worker $name registered" >&2
    fi
    echo "OK $name"
    ;;
  *)
    echo "ERR expected REGISTER <name> or PING"
    ;;
esac
