#!/bin/sh
# Reloads HAProxy gracefully (SIGUSR2 to its master) and returns once a new worker runs. The master
# re-executes itself to reload; a signal that reaches it meanwhile is lost, so the next reload must
# not be sent before this one has taken effect. theseus-guest runs reloads one at a time and runs
# a failed one again.
set -eu
pidfile=/run/lb/haproxy.pid
# HAProxy not started yet: it reads the rendered file when it starts.
[ -s "$pidfile" ] || exit 0
master=$(cat "$pidfile")
workers() { awk -v m="$master" '$4 == m { print $1 }' /proc/[0-9]*/stat 2>/dev/null | sort; }
before=" $(workers | tr '\n' ' ')"
kill -USR2 "$master"
for _ in $(seq 1 150); do
  sleep 0.1
  for pid in $(workers); do
    case "$before" in *" $pid "*) ;; *) exit 0 ;; esac
  done
done
echo "lb: HAProxy started no new worker within 15 s of the reload signal" >&2
exit 1
