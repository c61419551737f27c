#!/usr/bin/env bash
# Theseus role: the subscriber and the deployer on this host (one of THESEUS_HOSTS).
#
#   install-theseus.sh --config cluster.env --secrets secrets.env --credentials <dir> [--address <this host>] [--root <dir> --no-start]
#
# <dir>: what make-credentials.sh wrote (the parts' etcd certificates and passwords are taken from it).
# Needs the master and data roles running (Marathon, etcd, Redis) and etcd's users (apply-etcd-rbac.sh).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; }

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
[ -n "$CREDENTIALS" ] || fail "--credentials <dir> is required (make-credentials.sh writes it)"
# Each part's etcd identity: a client certificate and a password, both files (never command-line
# values), readable by the images' user (uid 1000) through a read-only mount at the same path.
client=$ROOT$ETCD_CLIENT_PRIVATE
mkdir -p "$client" && chmod 0700 "$client"
copy_credential "$client" ca.crt 0644
for part in subscriber deployer; do
  copy_credential "$client" "theseus-$part.crt" 0644
  copy_credential "$client" "theseus-$part.key" 0600
  copy_credential "$client" "etcd-users/theseus-$part.password" 0600
  install_private "$part.env" 0600 <<ENV
ETCD_CA_FILE=$ETCD_CLIENT_PRIVATE/ca.crt
ETCD_SERVER_NAME=$(etcd_server_name)
ETCD_CERT_FILE=$ETCD_CLIENT_PRIVATE/theseus-$part.crt
ETCD_KEY_FILE=$ETCD_CLIENT_PRIVATE/theseus-$part.key
ETCD_USERNAME=theseus-$part
ETCD_PASSWORD_FILE=$ETCD_CLIENT_PRIVATE/theseus-$part.password
THESEUS_CONTAINER_ETCD_USERNAME=theseus-container
ENV
done
# The deployer hands containers the read-only user's password and client certificate, and the CA.
copy_credential "$client" etcd-users/theseus-container.password 0600
copy_credential "$client" theseus-container.crt 0644
copy_credential "$client" theseus-container.key 0600
cat >>"$ROOT$THESEUS_ETC/private/deployer.env" <<ENV
THESEUS_CONTAINER_ETCD_PASSWORD_FILE=$ETCD_CLIENT_PRIVATE/theseus-container.password
THESEUS_CONTAINER_ETCD_CERT_FILE=$ETCD_CLIENT_PRIVATE/theseus-container.crt
THESEUS_CONTAINER_ETCD_KEY_FILE=$ETCD_CLIENT_PRIVATE/theseus-container.key
ENV
[ "$START" -eq 0 ] || chown -R 1000:1000 "$client"
install_units theseus-subscriber theseus-deployer
say "theseus $ADDRESS: deploy API http://$ADDRESS:$DEPLOYER_PORT, subscriber http://$ADDRESS:$SUBSCRIBER_PORT"
