#!/usr/bin/env bash
# The main job. From a fresh clone on a fresh machine (root, Node only): install what Theseus needs,
# start etcd, Redis and the Docker Engine, build the images, start the engine, the subscriber and
# the deployer, deploy examples/deploy.yaml and say where everything is. Running it twice is
# harmless: what already answers is left alone, and an unchanged deploy is a no-op.
#
# Settings: THESEUS_RUN_DIR (logs, pids, engine data, the API token; default /var/tmp/theseus-run),
#           ENGINE_PORT (8080), SUBSCRIBER_PORT (5001), DEPLOYER_PORT (5000); and the stack's
#           THESEUS_STACK_DIR, ETCD_PORT (2379), REDIS_PORT (6379) (see cluster/scripts/stack.sh).
PREFIX=up
# shellcheck source=lib/steps.sh
source "$(dirname "$0")/lib/steps.sh"
cd "$(dirname "$0")/.."
RUN_DIR=${THESEUS_RUN_DIR:-/var/tmp/theseus-run}
ENGINE_PORT=${ENGINE_PORT:-8080}
SUBSCRIBER_PORT=${SUBSCRIBER_PORT:-5001}
DEPLOYER_PORT=${DEPLOYER_PORT:-5000}
ETCD_PORT=${ETCD_PORT:-2379}
REDIS_PORT=${REDIS_PORT:-6379}
STEP="installing the project's npm dependencies (npm ci)"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
STEP="starting etcd, Redis and the Docker Engine"
bash cluster/scripts/stack.sh up
STEP="finding the Docker bridge's address"
gateway=$(bash cluster/scripts/stack.sh bridge-gateway)
[ -n "$gateway" ] || fail "the Docker bridge has no gateway address"

# Containers read etcd through the Docker bridge. An etcd this project started before the bridge
# existed is restarted to listen there too; someone else's etcd is left alone with a clear error.
if ! curl -fsS -m 2 "http://$gateway:$ETCD_PORT/health" >/dev/null 2>&1; then
  if [ -f "${THESEUS_STACK_DIR:-/var/tmp/theseus-stack}/etcd.pid" ]; then
    say "restarting etcd to listen on the Docker bridge ($gateway) too"
    bash cluster/scripts/stack.sh down etcd
    bash cluster/scripts/stack.sh up etcd
  else
    fail "etcd does not answer on the Docker bridge at http://$gateway:$ETCD_PORT, so containers cannot reach it: start it with --listen-client-urls including that address"
  fi
fi

# Only the images the example runs: the engine, subscriber and deployer run from this checkout.
STEP="building the example's images (docker-images/build.sh)"
bash docker-images/build.sh example-echo example-pinger example-lb
STEP="building the code (npm run build)"
npm run build --silent
STEP="writing the API token"

mkdir -p "$RUN_DIR"
chmod 700 "$RUN_DIR"
if [ ! -s "$RUN_DIR/api-token" ]; then
  (umask 077; node -e 'process.stdout.write(require("crypto").randomBytes(24).toString("base64url"))' >"$RUN_DIR/api-token")
fi
TOKEN=$(cat "$RUN_DIR/api-token")
ETCD_HOST_URL="http://127.0.0.1:$ETCD_PORT"
ETCD_CONTAINER_URL="http://$gateway:$ETCD_PORT"
MARATHON="http://127.0.0.1:$ENGINE_PORT"

# etcd with users and roles (cluster/scripts/etcd-auth.mjs): the subscriber writes endpoint records,
# the deployer and every container only read them. Only on an etcd the stack started: someone
# else's etcd is theirs to configure.
STACK_DIR=${THESEUS_STACK_DIR:-/var/tmp/theseus-stack}
SUBSCRIBER_ETCD=() DEPLOYER_ETCD=() GUEST_ETCD=()
if [ -f "$STACK_DIR/etcd.pid" ] && kill -0 "$(cat "$STACK_DIR/etcd.pid")" 2>/dev/null; then
  STEP="turning etcd's authentication on (cluster/scripts/etcd-auth.mjs)"
  ETCD_ENDPOINTS="$ETCD_HOST_URL" node cluster/scripts/etcd-auth.mjs "$RUN_DIR/etcd"
  SUBSCRIBER_ETCD=(ETCD_USERNAME=theseus-subscriber ETCD_PASSWORD_FILE="$RUN_DIR/etcd/theseus-subscriber.password"
    THESEUS_CONTAINER_ETCD_USERNAME=theseus-container)
  DEPLOYER_ETCD=(ETCD_USERNAME=theseus-deployer ETCD_PASSWORD_FILE="$RUN_DIR/etcd/theseus-deployer.password"
    THESEUS_CONTAINER_ETCD_USERNAME=theseus-container THESEUS_CONTAINER_ETCD_PASSWORD_FILE="$RUN_DIR/etcd/theseus-container.password")
  GUEST_ETCD=(ETCD_USERNAME=theseus-container ETCD_PASSWORD_FILE="$RUN_DIR/etcd/theseus-container.password")
else
  say "etcd on port $ETCD_PORT was not started by this stack: its authentication is left as it is"
fi

# start_part NAME PORT HEALTH_PATH ENV... -- ARGS...
start_part() {
  local name=$1 port=$2 health=$3; shift 3
  local envs=() args=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  args=("$@")
  if curl -fsS -m 2 "http://127.0.0.1:$port$health" >/dev/null 2>&1; then
    say "$name already answers on port $port"
    return
  fi
  env "${envs[@]}" LOG_FORMAT=json nohup node bin/theseus.js "$name" --port "$port" "${args[@]}" \
    >>"$RUN_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/$name.pid"
  for _ in $(seq 1 300); do
    curl -fsS -m 2 "http://127.0.0.1:$port$health" >/dev/null 2>&1 && { say "$name started on port $port"; return; }
    kill -0 "$(cat "$RUN_DIR/$name.pid")" 2>/dev/null || { tail -n 20 "$RUN_DIR/$name.log" >&2; fail "$name exited; its log is $RUN_DIR/$name.log"; }
    sleep 0.2
  done
  fail "$name did not answer within 60 s; its log is $RUN_DIR/$name.log"
}

STEP="starting the engine, the subscriber and the deployer"
start_part engine "$ENGINE_PORT" /ping -- --data-dir "$RUN_DIR/engine" --hostname "$gateway"
start_part subscriber "$SUBSCRIBER_PORT" /healthz MARATHON_URL="$MARATHON" ETCD_ENDPOINTS="$ETCD_HOST_URL" THESEUS_API_TOKEN="$TOKEN" \
  "${SUBSCRIBER_ETCD[@]}" --
start_part deployer "$DEPLOYER_PORT" /healthz MARATHON_URL="$MARATHON" ETCD_ENDPOINTS="$ETCD_HOST_URL" REDIS_URL="redis://127.0.0.1:$REDIS_PORT" \
  "${DEPLOYER_ETCD[@]}" \
  THESEUS_CONTAINER_ETCD_ENDPOINTS="$ETCD_CONTAINER_URL" THESEUS_API_TOKEN="$TOKEN" THESEUS_OPEN_READS=true \
  MESOS_MASTER_URL="$MARATHON" --

DEPLOYER="http://127.0.0.1:$DEPLOYER_PORT"
say "deploying examples/deploy.yaml"
STEP="deploying examples/deploy.yaml (see $RUN_DIR/deployer.log)"
THESEUS_API_TOKEN="$TOKEN" node bin/theseus.js deploy -f examples/deploy.yaml --wait --url "$DEPLOYER"
say "deploying examples/lb/deploy.yaml"
STEP="deploying examples/lb/deploy.yaml (see $RUN_DIR/deployer.log)"
THESEUS_API_TOKEN="$TOKEN" node bin/theseus.js deploy -f examples/lb/deploy.yaml --wait --url "$DEPLOYER"

endpoints() {
  env "${GUEST_ETCD[@]}" ETCD_ENDPOINTS="$ETCD_HOST_URL" ENVIRONMENT_NAME=default node bin/theseus.js guest node-list "$1" --ports http --minimum 0 2>/dev/null |
    sed 's/^/      http:\/\//' || true
}

STEP="listing the example's endpoints"
cat <<MSG

Theseus is running.
  deploy API    $DEPLOYER            (token: $RUN_DIR/api-token)
  dashboard     $DEPLOYER/ui
  engine        $MARATHON            (Marathon REST API v2 and /v2/events)
  subscriber    http://127.0.0.1:$SUBSCRIBER_PORT       (/readyz, /metrics, POST /cleanup)
  etcd          $ETCD_HOST_URL       (containers: $ETCD_CONTAINER_URL)$([ "${#GUEST_ETCD[@]}" -gt 0 ] && printf '\n                users and roles on; passwords in %s' "$RUN_DIR/etcd")
  logs          $RUN_DIR/*.log

The example (examples/deploy.yaml):
  echo
$(endpoints echo)
  pinger (GET /status shows what it discovered and reached)
$(endpoints pinger)
  lb (HAProxy in front of echo's healthy instances, examples/lb)
$(endpoints lb)

Try:
  export THESEUS_API_TOKEN=\$(cat $RUN_DIR/api-token)
  npx theseus services
  npx theseus scale echo 3 --labels demo
Stop everything with: npm run down
MSG
