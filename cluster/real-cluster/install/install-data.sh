#!/usr/bin/env bash
# Data role: an etcd member on this host (one of DATA_HOSTS), and Redis on the first of them.
#
#   install-data.sh --config cluster.env --secrets secrets.env [--address <this host>] [--root <dir> --no-start]
#
# Start every etcd member within a few minutes of each other: a new cluster waits for a majority.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; }

parse_options "$@"
require_listed data DATA_HOSTS
load_secrets
ensure_docker
install_common
units=(theseus-etcd)
mkdir -p "$ROOT$DATA_DIR/etcd"
if [ "$(position "$ADDRESS" "$DATA_HOSTS")" = 1 ]; then
  mkdir -p "$ROOT$DATA_DIR/redis"
  # Append-only: the deployer's queue must survive a Redis restart. noeviction: never drop jobs.
  install_private redis.conf 0644 <<CONF
port $REDIS_PORT
requirepass $REDIS_PASSWORD
appendonly yes
appendfsync everysec
maxmemory-policy noeviction
CONF
  units+=(theseus-redis)
fi
install_units "${units[@]}"
say "data $ADDRESS: etcd http://$ADDRESS:$ETCD_CLIENT_PORT${units[1]:+, Redis $ADDRESS:$REDIS_PORT}"
