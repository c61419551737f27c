#!/usr/bin/env bash
# Undoes `npm run up`: removes the example's services, stops the deployer, the subscriber and the
# engine, removes any container the engine left, and stops the stack services it started. What was
# running before `up` is left alone.
PREFIX=down
# shellcheck source=lib/steps.sh
source "$(dirname "$0")/lib/steps.sh"
cd "$(dirname "$0")/.."
RUN_DIR=${THESEUS_RUN_DIR:-/var/tmp/theseus-run}
ENGINE_PORT=${ENGINE_PORT:-8080}
DEPLOYER_PORT=${DEPLOYER_PORT:-5000}

started() { [ -f "$RUN_DIR/$1.pid" ] && kill -0 "$(cat "$RUN_DIR/$1.pid")" 2>/dev/null; }

stop_part() {
  started "$1" || { rm -f "$RUN_DIR/$1.pid"; return 0; }
  local pid; pid=$(cat "$RUN_DIR/$1.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$RUN_DIR/$1.pid"
  say "$1 stopped"
}

STEP="removing the example's services"
if started deployer && [ -s "$RUN_DIR/api-token" ]; then
  say "removing the example's services"
  THESEUS_API_TOKEN=$(cat "$RUN_DIR/api-token") node bin/theseus.js deploy -f examples/remove.yaml --wait \
    --url "http://127.0.0.1:$DEPLOYER_PORT" >/dev/null || say "warning: removing the examples failed; their containers are removed below"
fi
engine_id=""
if started engine; then
  engine_id=$(curl -fsS -m 2 "http://127.0.0.1:$ENGINE_PORT/v2/info" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{process.stdout.write(String(JSON.parse(s).frameworkId).replace(/-0000$/,""))}catch{}})') || engine_id=""
fi
STEP="stopping the deployer, the subscriber and the engine"
stop_part deployer
stop_part subscriber
stop_part engine
STEP="removing the engine's remaining containers"
if [ -n "$engine_id" ] && command -v docker >/dev/null; then
  left=$(docker ps -aq --filter "label=theseus.engine=$engine_id")
  if [ -n "$left" ]; then
    # shellcheck disable=SC2086
    docker rm -f $left >/dev/null
    say "removed the engine's remaining containers"
  fi
fi
if [ -f "$RUN_DIR/etcd/root.password" ]; then
  STEP="turning etcd's authentication off"
  ETCD_ENDPOINTS="http://127.0.0.1:${ETCD_PORT:-2379}" node cluster/scripts/etcd-auth.mjs --off "$RUN_DIR/etcd"
fi
rm -rf "$RUN_DIR"
STEP="stopping the stack services that up started"
bash cluster/scripts/stack.sh down
