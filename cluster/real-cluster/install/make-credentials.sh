#!/usr/bin/env bash
# etcd's certificates and users for the whole cluster, made once (on any machine with openssl)
# and copied to the hosts: the data and theseus roles install what they need from it.
#
#   make-credentials.sh --config cluster.env --out <dir>
#
# <dir> gets: ca.crt and ca.key (the cluster's etcd CA; keep ca.key off the hosts), etcd-N.crt/.key
# for the Nth DATA_HOSTS entry (server and peer certificate, its address as subject alternative
# name, and the name every member carries, <cluster>-etcd), client certificates root, theseus-subscriber, theseus-deployer and theseus-container
# (common name = etcd user), and etcd-users/<user>.password. Existing files are kept: rerun it
# after adding a data host. Then turn etcd's authentication on: apply-etcd-rbac.sh.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }

parse_tool_options "$@"
OUT=$CREDENTIALS
command -v openssl >/dev/null || fail "openssl is required"
mkdir -p "$OUT/etcd-users" && chmod 0700 "$OUT" "$OUT/etcd-users"
umask 077

DAYS=3650
# new_key FILE: an EC P-256 key, unless FILE exists.
new_key() { [ -f "$1" ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

if [ ! -f "$OUT/ca.crt" ]; then
  new_key "$OUT/ca.key"
  openssl req -x509 -new -key "$OUT/ca.key" -sha256 -days "$DAYS" -subj "/CN=${THESEUS_CLUSTER}-etcd-ca" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out "$OUT/ca.crt"
  say "made the CA: $OUT/ca.crt"
fi

# issue NAME CN USAGES [SAN]: NAME.crt and NAME.key signed by the CA, unless NAME.crt exists.
issue() {
  local name=$1 cn=$2 usages=$3 san=${4:-} ext
  [ -f "$OUT/$name.crt" ] && return 0
  new_key "$OUT/$name.key"
  ext=$(mktemp)
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$usages"
    [ -z "$san" ] || echo "subjectAltName=$san"
  } >"$ext"
  openssl req -new -key "$OUT/$name.key" -subj "/CN=$cn" 2>/dev/null |
    openssl x509 -req -CA "$OUT/ca.crt" -CAkey "$OUT/ca.key" -CAcreateserial -sha256 -days "$DAYS" \
      -extfile "$ext" -out "$OUT/$name.crt" 2>/dev/null
  rm -f "$ext"
  say "issued $name.crt (CN=$cn)"
}

# A data host's certificate serves clients and peers, and is its client towards the other members.
i=0
for h in $DATA_HOSTS; do
  i=$((i + 1))
  if [[ "$h" =~ ^[0-9.]+$ ]]; then san="IP:$h"; else san="DNS:$h"; fi
  issue "etcd-$i" "etcd-$i" serverAuth,clientAuth "$san,DNS:$(etcd_server_name),DNS:localhost,IP:127.0.0.1"
done
for user in root theseus-subscriber theseus-deployer theseus-container; do
  issue "$user" "$user" clientAuth
  password_file="$OUT/etcd-users/$user.password"
  [ -f "$password_file" ] || openssl rand -base64 24 | tr '+/' '-_' | tr -d '=' >"$password_file"
done
rm -f "$OUT/ca.srl"
say "credentials in $OUT; next: apply-etcd-rbac.sh --config $CONFIG --credentials $OUT once etcd runs"
