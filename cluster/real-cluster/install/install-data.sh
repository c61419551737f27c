#!/usr/bin/env bash
# Data role: an etcd member on this host (one of DATA_HOSTS), and Redis on the first of them.
#
#   install-data.sh --config cluster.env --secrets secrets.env --credentials <dir> [--address <this host>] [--root <dir> --no-start]
#
# <dir>: what make-credentials.sh wrote (this host's etcd certificate and the CA are taken from it).
# Start every etcd member within a few minutes of each other: a new cluster waits for a majority.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; }

parse_options "$@"
require_listed data DATA_HOSTS
load_secrets
ensure_docker
install_common
units=(theseus-etcd)
[ -n "$CREDENTIALS" ] || fail "--credentials <dir> is required (make-credentials.sh writes it)"
mkdir -p "$ROOT$DATA_DIR/etcd" "$ROOT$ETCD_PRIVATE"
chmod 0700 "$ROOT$THESEUS_ETC/private" "$ROOT$ETCD_PRIVATE"
member=etcd-$(position "$ADDRESS" "$DATA_HOSTS")
copy_credential "$ROOT$ETCD_PRIVATE" ca.crt 0644
copy_credential "$ROOT$ETCD_PRIVATE" "$member.crt" 0644 member.crt
copy_credential "$ROOT$ETCD_PRIVATE" "$member.key" 0600 member.key
render_etcd_config "$ADDRESS" >"$ROOT$ETCD_PRIVATE/etcd.conf.yml"
say "wrote $ROOT$ETCD_PRIVATE (etcd.conf.yml, the CA, $member's certificate)"
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
say "data $ADDRESS: etcd https://$ADDRESS:$ETCD_CLIENT_PORT${units[1]:+, Redis $ADDRESS:$REDIS_PORT}"
