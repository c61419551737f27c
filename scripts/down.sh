#!/usr/bin/env bash
# Stops what `npm run up` started; services that were already running before are left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
bash cluster/scripts/stack.sh down
