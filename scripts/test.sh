#!/usr/bin/env bash
# The whole test suite from a bare machine: dependencies, the local stack (etcd, Redis, Docker
# Engine), the local images, a type-checked build, then every test against the real services.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ -n "${CI:-}" ]; then
  npm ci --no-audit --no-fund
fi
bash cluster/scripts/stack.sh up
# The dashboard's browser tests drive Debian's Chromium (never a downloaded browser).
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
# The containerizer's native client is compiled by the build (a C compiler and a static C library).
if ! command -v cc >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev
fi
bash docker-images/base/build.sh
npm run build --silent
node scripts/run-tests.mjs "$@"
