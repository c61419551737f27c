#!/usr/bin/env bash
# Theseus role: the subscriber and the deployer on this host (one of THESEUS_HOSTS).
#
#   install-theseus.sh --config cluster.env --secrets secrets.env [--address <this host>] [--root <dir> --no-start]
#
# Needs the master and data roles running (Marathon, etcd, Redis).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; }

parse_options "$@"
require_listed theseus THESEUS_HOSTS
load_secrets
ensure_docker
install_common
redis_host=${DATA_HOSTS%% *}
install_private theseus.env 0600 <<ENV
THESEUS_API_TOKEN=$THESEUS_API_TOKEN
REDIS_URL=redis://:$REDIS_PASSWORD@$redis_host:$REDIS_PORT
ENV
install_units theseus-subscriber theseus-deployer
say "theseus $ADDRESS: deploy API http://$ADDRESS:$DEPLOYER_PORT, subscriber http://$ADDRESS:$SUBSCRIBER_PORT"
