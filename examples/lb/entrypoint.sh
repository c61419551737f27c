#!/bin/sh
# The load balancer: theseus-guest keeps /run/lb/haproxy.cfg rendered from LB_SERVICE's endpoints
# and reloads HAProxy after each change (reload.sh); HAProxy runs in the foreground.
set -eu
export LB_SERVICE="${LB_SERVICE:-echo}" LB_PORT="${LB_PORT:-http}"
cfg=/run/lb/haproxy.cfg
pid=/run/lb/haproxy.pid
theseus-guest watch "$LB_SERVICE" --template /lb/haproxy.cfg.tmpl --out "$cfg" \
  --check 'haproxy -c -q -f {{out}}' \
  --reload /lb/reload.sh &
while [ ! -s "$cfg" ]; do
  kill -0 $! 2>/dev/null || { echo "lb: the watcher stopped before the first render" >&2; exit 1; }
  sleep 0.1
done
exec haproxy -W -db -f "$cfg" -p "$pid"
