#!/usr/bin/env bash
# The whole test suite from a bare machine: dependencies, the local stack (etcd, Redis, Docker
# Engine), the local images, a type-checked build, then every test against the real services.
PREFIX=test
# shellcheck source=lib/steps.sh
source "$(dirname "$0")/lib/steps.sh"
cd "$(dirname "$0")/.."
STEP="installing the project's npm dependencies (npm ci)"

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ -n "${CI:-}" ]; then
  npm ci --no-audit --no-fund
fi
STEP="starting etcd, Redis and the Docker Engine"
bash cluster/scripts/stack.sh up
STEP="checking that etcd answers without credentials"
if curl -sS -m 5 -X POST "http://127.0.0.1:${ETCD_PORT:-2379}/v3/kv/range" -d '{"key":"AA=="}' | grep -q 'user name is empty'; then
  fail "etcd on 127.0.0.1:${ETCD_PORT:-2379} has authentication on (npm run up turns it on): run npm run down, then npm test"
fi
# What the tests use from Debian: Chromium for the dashboard's browser tests (never a downloaded
# browser), python3-marathon (a real Marathon client library) for the engine's fidelity tests, and a
# C compiler with a static C library for the containerizer's native client.
STEP="installing Debian's chromium, python3-marathon and a C compiler"
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
/usr/bin/python3 -c 'import marathon' >/dev/null 2>&1 || missing+=(python3-marathon)
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
STEP="building the base images"
bash docker-images/base/build.sh
STEP="building the code (npm run build)"
npm run build --silent
STEP="running the tests"
node scripts/run-tests.mjs "$@"
