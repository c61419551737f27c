#!/usr/bin/env bash
# The local stack Theseus runs on: etcd, Redis and the Docker Engine, from Debian's packages.
#
#   stack.sh up [etcd] [redis] [docker]   install what is missing, start what is not running, wait until each answers
#   stack.sh down                         stop only what this script started
#   stack.sh status                       say what answers
#   stack.sh bridge-gateway               print the address containers reach this host at
#
# A service already answering on its address is left alone (and never stopped by `down`).
# Settings: THESEUS_STACK_DIR (state and data, default /var/tmp/theseus-stack),
#           ETCD_PORT (2379), REDIS_PORT (6379), STACK_WAIT_SECONDS (60),
#           ETCD_DEFRAG_MB (256: `up` defragments etcd's file beyond this size when most of it is free).
PREFIX=stack
# shellcheck source=../../scripts/lib/steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/steps.sh"

STACK_DIR=${THESEUS_STACK_DIR:-/var/tmp/theseus-stack}
ETCD_PORT=${ETCD_PORT:-2379}
REDIS_PORT=${REDIS_PORT:-6379}
WAIT_SECONDS=${STACK_WAIT_SECONDS:-60}
DEFRAG_MB=${ETCD_DEFRAG_MB:-256}
DOCKER_SOCK=/var/run/docker.sock

declare -A PACKAGE=([etcd]=etcd-server [redis]=redis-server [docker]=docker.io)
declare -A BINARY=([etcd]=etcd [redis]=redis-server [docker]=dockerd)

etcd_answers() { curl -fsS -m 2 "http://127.0.0.1:${ETCD_PORT}/health" 2>/dev/null | grep -q '"health":"true"'; }
redis_answers() { [ "$(timeout 2 redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }
docker_answers() { curl -fsS -m 2 --unix-socket "$DOCKER_SOCK" http://localhost/_ping 2>/dev/null | grep -q OK; }

apt_updated=0
ensure_packages() {
  local missing=()
  command -v curl >/dev/null || missing+=(curl)
  command -v ip >/dev/null || missing+=(iproute2)
  for svc in "$@"; do
    command -v "${BINARY[$svc]}" >/dev/null || missing+=("${PACKAGE[$svc]}")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || fail "missing ${missing[*]}: run as root so apt-get can install them"
  say "installing ${missing[*]}"
  STEP="installing ${missing[*]} with apt-get"
  if [ "$apt_updated" -eq 0 ]; then apt-get update -qq >/dev/null; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian's packages try to start their own daemons through init scripts; this script owns them instead.
}

wait_until() { # name check-fn
  local name=$1 check=$2 deadline=$((SECONDS + WAIT_SECONDS))
  until "$check"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      local log="$STACK_DIR/$name.log"
      [ -f "$log" ] && tail -n 20 "$log" >&2
      fail "$name did not answer within ${WAIT_SECONDS}s"
    fi
    sleep 0.2
  done
}

start_bg() { # name command...
  local name=$1; shift
  mkdir -p "$STACK_DIR"
  nohup "$@" >"$STACK_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$STACK_DIR/$name.pid"
}

# The Docker bridge's gateway address: how containers reach services on this host
# (bridge-gateway.mjs: the IPAM gateway, else the bridge interface's address, else the subnet's first).
bridge_gateway() {
  STEP="finding the Docker bridge's gateway address"
  docker_answers || fail "the Docker Engine does not answer on $DOCKER_SOCK: start it with '$0 up docker'"
  local answer
  answer=$(curl -fsS -m 5 --unix-socket "$DOCKER_SOCK" http://localhost/networks/bridge) ||
    fail "the Docker Engine has no 'bridge' network (GET /networks/bridge failed): restart dockerd without --bridge=none"
  node "$(dirname "${BASH_SOURCE[0]}")/bridge-gateway.mjs" <<<"$answer" ||
    fail "no address for the Docker bridge: containers could not reach etcd"
}

# etcd keeps the pages its compactions free until it is defragmented: a stack used for weeks of tests
# grows to GBs (slower, and read-only at the quota). When the file is past DEFRAG_MB and less than half
# of it is in use, defragment it (etcd pauses for the seconds that takes).
defrag_etcd() {
  local base="http://127.0.0.1:${ETCD_PORT}" status size inuse
  STEP="checking etcd's file size"
  status=$(curl -fsS -m 5 -X POST "$base/v3/maintenance/status" -d '{}' 2>/dev/null) || return 0
  size=$(grep -o '"dbSize":"[0-9]*"' <<<"$status" | grep -o '[0-9][0-9]*' || true)
  inuse=$(grep -o '"dbSizeInUse":"[0-9]*"' <<<"$status" | grep -o '[0-9][0-9]*' || true)
  [ -n "$size" ] && [ -n "$inuse" ] || return 0
  [ "$size" -gt $((DEFRAG_MB * 1024 * 1024)) ] && [ "$size" -gt $((2 * inuse)) ] || return 0
  say "etcd's file is $((size >> 20)) MB with $((inuse >> 20)) MB in use: defragmenting"
  if curl -fsS -m 600 -X POST "$base/v3/maintenance/defragment" -d '{}' >/dev/null; then
    say "etcd defragmented"
  else
    say "etcd defragmentation failed; etcd runs on as it was"
  fi
}

up_etcd() {
  if etcd_answers; then say "etcd already answers on 127.0.0.1:$ETCD_PORT"; defrag_etcd; return; fi
  # Containers read etcd (guestutils, the watcher): listen on the Docker bridge too, never on all interfaces.
  local urls="http://127.0.0.1:${ETCD_PORT}" gateway=""
  if docker_answers; then gateway=$(bridge_gateway); fi
  [ -n "$gateway" ] && urls="$urls,http://${gateway}:${ETCD_PORT}"
  STEP="starting etcd"
  start_bg etcd etcd --name theseus-stack --data-dir "$STACK_DIR/etcd-data" \
    --listen-client-urls "$urls" --advertise-client-urls "$urls" \
    --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
    --initial-cluster "theseus-stack=http://127.0.0.1:$((ETCD_PORT + 1))" \
    --auto-compaction-mode revision --auto-compaction-retention 100000 --quota-backend-bytes 4294967296
  wait_until etcd etcd_answers
  say "etcd started on 127.0.0.1:$ETCD_PORT"
  defrag_etcd
}

up_redis() {
  if redis_answers; then say "redis already answers on 127.0.0.1:$REDIS_PORT"; return; fi
  STEP="starting redis"
  mkdir -p "$STACK_DIR/redis-data"
  # Append-only persistence: the deployer's queue must survive a Redis restart.
  start_bg redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$STACK_DIR/redis-data" \
    --appendonly yes --appendfsync everysec --save '' --daemonize no --maxmemory-policy noeviction
  wait_until redis redis_answers
  say "redis started on 127.0.0.1:$REDIS_PORT"
}

up_docker() {
  if docker_answers; then say "docker engine already answers on $DOCKER_SOCK"; return; fi
  [ "$(id -u)" -eq 0 ] || fail "the Docker Engine is not running and only root can start dockerd"
  STEP="starting the Docker Engine"
  start_bg docker dockerd --host "unix://$DOCKER_SOCK" --pidfile "$STACK_DIR/dockerd.pid"
  wait_until docker docker_answers
  say "docker engine started on $DOCKER_SOCK"
}

stop_one() {
  local name=$1 pidfile="$STACK_DIR/$1.pid"
  [ -f "$pidfile" ] || return 0
  local pid; pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    say "$name stopped"
  fi
  rm -f "$pidfile"
}

cmd=${1:-status}; shift || true
# Docker first: etcd listens on the bridge Docker creates.
services=("$@"); [ "${#services[@]}" -eq 0 ] && services=(docker etcd redis)
[ "$cmd" = bridge-gateway ] && services=(docker)
for s in "${services[@]}"; do [ -n "${PACKAGE[$s]:-}" ] || fail "unknown service '$s' (expected etcd, redis or docker)"; done

case "$cmd" in
  up)
    ensure_packages "${services[@]}"
    for s in "${services[@]}"; do "up_$s"; done ;;
  down)
    for s in "${services[@]}"; do stop_one "$s"; done ;;
  status)
    for s in "${services[@]}"; do if "${s}_answers"; then say "$s: up"; else say "$s: down"; fi; done ;;
  bridge-gateway)
    bridge_gateway ;;
  *) fail "unknown command '$cmd' (expected up, down or status)" ;;
esac
