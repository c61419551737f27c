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
STEP="installing Debian's chromium and a C compiler"
# The dashboard's browser tests drive Debian's Chromium (never a downloaded browser).
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium python3-marathon
fi
# The containerizer's native client is compiled by the build (a C compiler and a static C library).
if ! command -v cc >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev
fi
STEP="building the base images"
bash docker-images/base/build.sh
STEP="building the code (npm run build)"
npm run build --silent
STEP="running the tests"
node scripts/run-tests.mjs "$@"
