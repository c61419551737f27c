#!/usr/bin/env bash
# Turns etcd's authentication on for the cluster, with the users and roles of
# cluster/scripts/etcd-auth.mjs (theseus-subscriber read/write, theseus-deployer and
# theseus-container read-only) and the passwords make-credentials.sh made. Run it once etcd runs,
# from a checkout of this repository (`npm ci && npm run build`) that reaches a data host;
# running it again only brings etcd back in line with the password files.
#
#   apply-etcd-rbac.sh --config cluster.env --credentials <dir>
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; }

parse_tool_options "$@"
for f in ca.crt root.crt root.key etcd-users/root.password; do
  [ -r "$CREDENTIALS/$f" ] || fail "$CREDENTIALS/$f is missing: run make-credentials.sh first"
done
command -v node >/dev/null || fail "node is required (the users and roles are made by cluster/scripts/etcd-auth.mjs)"
# As root, by its client certificate (etcd asks every client for one) and then its password.
ETCD_ENDPOINTS=$(join_mapped , "https://%s:$ETCD_CLIENT_PORT" "$DATA_HOSTS") \
  ETCD_CA_FILE=$CREDENTIALS/ca.crt ETCD_SERVER_NAME=$(etcd_server_name) ETCD_CERT_FILE=$CREDENTIALS/root.crt ETCD_KEY_FILE=$CREDENTIALS/root.key \
  node "$LIB_DIR/../../scripts/etcd-auth.mjs" "$CREDENTIALS/etcd-users"
