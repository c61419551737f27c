#!/usr/bin/env bash
# The main job: from a fresh clone on a fresh machine (root, Node only), install what Theseus
# needs, start the local stack and build the local images. Running it twice is harmless.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
bash cluster/scripts/stack.sh up
bash docker-images/base/build.sh
npx tsc -b

cat <<MSG

Theseus is ready.
  etcd          http://127.0.0.1:${ETCD_PORT:-2379}
  Redis         redis://127.0.0.1:${REDIS_PORT:-6379}
  Docker Engine unix:///var/run/docker.sock
  CLI           npx theseus --help
Stop with: npm run down
MSG
