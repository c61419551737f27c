# Shared by the install scripts (sourced, never run). Reads cluster.env, works out this host's
# settings (host.env), and installs files under $ROOT (default /) and systemd units.
# shellcheck shell=bash

THESEUS_ETC=/etc/theseus
UNIT_DIR=/etc/systemd/system
LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
UNITS_SRC=$(cd "$LIB_DIR/../units" && pwd)

say() { printf 'theseus-install: %s\n' "$*" >&2; }
fail() { say "error: $*"; exit 1; }

# Every key cluster.env must set, with the form its value must have.
REQUIRED_SETTINGS=(
  "THESEUS_CLUSTER:name" "MASTER_HOSTS:hosts" "DATA_HOSTS:hosts" "THESEUS_HOSTS:hosts"
  "ZK_PORT:port" "ZK_PEER_PORT:port" "ZK_ELECTION_PORT:port" "MESOS_MASTER_PORT:port" "MESOS_SLAVE_PORT:port"
  "MARATHON_PORT:port" "ETCD_CLIENT_PORT:port" "ETCD_PEER_PORT:port" "REDIS_PORT:port" "DEPLOYER_PORT:port"
  "SUBSCRIBER_PORT:port" "TASK_PORTS:range" "ZOOKEEPER_IMAGE:image" "MESOS_MASTER_IMAGE:image" "MARATHON_IMAGE:image"
  "MESOS_SLAVE_IMAGE:image" "ETCD_IMAGE:image" "REDIS_IMAGE:image" "SUBSCRIBER_IMAGE:image" "DEPLOYER_IMAGE:image"
  "SLAVE_CONTAINERIZER:containerizer" "EXECUTOR_REGISTRATION_TIMEOUT:duration" "DATA_DIR:path"
)

# load_config FILE: checks and loads cluster.env into the environment.
load_config() {
  local file=$1 line key value n=0
  [ -r "$file" ] || fail "cannot read $file"
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    case "$line" in ''|'#'*) continue ;; esac
    [[ "$line" =~ ^([A-Z][A-Z0-9_]*)=(.*)$ ]] || fail "$file:$n: expected KEY=value, got: $line"
    key=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
    [[ "$value" != *'$'* && "$value" != *'"'* && "$value" != *"'"* ]] || fail "$file:$n: $key: no quotes or \$ in values (systemd reads this file too)"
    printf -v "$key" '%s' "$value"
    export "${key?}"
  done <"$file"
  local spec name form
  for spec in "${REQUIRED_SETTINGS[@]}"; do
    name=${spec%%:*} form=${spec#*:}
    value=${!name:-}
    [ -n "$value" ] || fail "$file: $name is not set"
    case "$form" in
      port) [[ "$value" =~ ^[0-9]+$ ]] && [ "$value" -ge 1 ] && [ "$value" -le 65535 ] || fail "$file: $name=$value is not a port" ;;
      range) [[ "$value" =~ ^([0-9]+)-([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -le "${BASH_REMATCH[2]}" ] || fail "$file: $name=$value is not a port range (low-high)" ;;
      hosts) [[ "$value" =~ ^[A-Za-z0-9.-]+( [A-Za-z0-9.-]+)*$ ]] || fail "$file: $name must be host names or IPv4 addresses separated by spaces" ;;
      name) [[ "$value" =~ ^[a-z0-9]([a-z0-9-]*[a-z0-9])?$ ]] || fail "$file: $name=$value: lowercase letters, digits and dashes" ;;
      containerizer) [[ "$value" =~ ^(external|docker|docker,mesos|mesos)$ ]] || fail "$file: $name=$value: external, docker, docker,mesos or mesos" ;;
      path) [[ "$value" = /* ]] || fail "$file: $name=$value must be an absolute path" ;;
      *) ;;
    esac
  done
  local master_count
  master_count=$(wc -w <<<"$MASTER_HOSTS")
  [ $((master_count % 2)) -eq 1 ] || fail "$file: MASTER_HOSTS needs an odd number of hosts (ZooKeeper and Mesos need a majority), got $master_count"
}

# position WORD LIST: 1-based position of WORD in the space-separated LIST, or nothing.
position() {
  local i=0 w
  for w in $2; do i=$((i + 1)); [ "$w" = "$1" ] && { echo "$i"; return; }; done
}

join_mapped() { # separator format list: each item through printf format, joined
  local sep=$1 format=$2 out="" item
  for item in $3; do
    # shellcheck disable=SC2059
    out+="${out:+$sep}$(printf "$format" "$item")"
  done
  echo "$out"
}

# render_host_env ADDRESS: this host's derived settings as KEY=value lines (host.env).
render_host_env() {
  local address=$1 zk_hosts zk_id etcd_index i=0 servers="" h
  zk_hosts=$(join_mapped , "%s:$ZK_PORT" "$MASTER_HOSTS")
  for h in $MASTER_HOSTS; do
    i=$((i + 1))
    servers+="${servers:+ }server.$i=$h:$ZK_PEER_PORT:$ZK_ELECTION_PORT"
  done
  zk_id=$(position "$address" "$MASTER_HOSTS")
  etcd_index=$(position "$address" "$DATA_HOSTS")
  i=0
  local etcd_cluster=""
  for h in $DATA_HOSTS; do
    i=$((i + 1))
    etcd_cluster+="${etcd_cluster:+,}etcd-$i=https://$h:$ETCD_PEER_PORT"
  done
  cat <<ENV
HOST_ADDRESS=$address
ZK_ID=${zk_id:-0}
ZOO_SERVERS=$servers
MESOS_ZK=zk://$zk_hosts/mesos
MARATHON_ZK=zk://$zk_hosts/marathon
MESOS_QUORUM=$(( $(wc -w <<<"$MASTER_HOSTS") / 2 + 1 ))
MARATHON_URL=$(join_mapped , "http://%s:$MARATHON_PORT" "$MASTER_HOSTS")
ETCD_NAME=etcd-${etcd_index:-0}
ETCD_INITIAL_CLUSTER=$etcd_cluster
ETCD_ENDPOINTS=$(join_mapped , "https://%s:$ETCD_CLIENT_PORT" "$DATA_HOSTS")
SLAVE_RESOURCES=ports(*):[$TASK_PORTS]
ENV
}

# etcd's files on a data host (mounted at the same path in its container) and the clients' on a theseus host.
ETCD_PRIVATE=$THESEUS_ETC/private/etcd
ETCD_CLIENT_PRIVATE=$THESEUS_ETC/private/etcd-client

# The host name every etcd member's certificate carries: clients check it (ETCD_SERVER_NAME) since a
# TLS server name cannot be an IP address.
etcd_server_name() { echo "$THESEUS_CLUSTER-etcd"; }

# render_etcd_config ADDRESS: this data host's etcd configuration file (etcd --config-file). Clients
# and peers speak TLS and must present a certificate of the cluster's CA; etcd listens on this
# host's address (and loopback for local tools), nowhere else.
render_etcd_config() {
  local address=$1 index clients
  index=$(position "$address" "$DATA_HOSTS")
  clients="https://$address:$ETCD_CLIENT_PORT"
  [ "$address" = 127.0.0.1 ] || clients+=",https://127.0.0.1:$ETCD_CLIENT_PORT"
  cat <<YAML
name: etcd-$index
data-dir: $DATA_DIR/etcd
listen-client-urls: $clients
advertise-client-urls: https://$address:$ETCD_CLIENT_PORT
listen-peer-urls: https://$address:$ETCD_PEER_PORT
initial-advertise-peer-urls: https://$address:$ETCD_PEER_PORT
initial-cluster: $(render_host_env "$address" | sed -n 's/^ETCD_INITIAL_CLUSTER=//p')
initial-cluster-state: new
initial-cluster-token: $THESEUS_CLUSTER-etcd
auto-compaction-mode: revision
auto-compaction-retention: "100000"
client-transport-security:
  cert-file: $ETCD_PRIVATE/member.crt
  key-file: $ETCD_PRIVATE/member.key
  client-cert-auth: true
  trusted-ca-file: $ETCD_PRIVATE/ca.crt
peer-transport-security:
  cert-file: $ETCD_PRIVATE/member.crt
  key-file: $ETCD_PRIVATE/member.key
  client-cert-auth: true
  trusted-ca-file: $ETCD_PRIVATE/ca.crt
YAML
}

# copy_credential DIR NAME MODE [AS]: one file of make-credentials.sh's output into DIR (as AS).
copy_credential() {
  [ -r "$CREDENTIALS/$2" ] || fail "$CREDENTIALS/$2 is missing: run make-credentials.sh --config <cluster.env> --out $CREDENTIALS"
  install -m "$3" "$CREDENTIALS/$2" "$1/${4:-$(basename "$2")}"
}

# parse_tool_options ARGS...: the options of the tools run once for the cluster (make-credentials.sh,
# apply-etcd-rbac.sh): --config and the credentials directory (--out or --credentials). Sets CONFIG, CREDENTIALS.
parse_tool_options() {
  CONFIG="" CREDENTIALS=""
  while [ "$#" -gt 0 ]; do
    case "$1" in
      --config) CONFIG=${2:?--config needs a file}; shift 2 ;;
      --out|--credentials) CREDENTIALS=${2:?$1 needs a directory}; shift 2 ;;
      -h|--help) usage; exit 0 ;;
      *) fail "unknown option $1 (see --help)" ;;
    esac
  done
  [ -n "$CONFIG" ] || fail "--config <cluster.env> is required"
  [ -n "$CREDENTIALS" ] || fail "the credentials directory is required (see --help)"
  load_config "$CONFIG"
}

# Options every install script takes. Sets CONFIG, ADDRESS, ROOT, START, SECRETS, CREDENTIALS.
parse_options() {
  CONFIG="" ADDRESS="" ROOT="/" START=1 SECRETS="" CREDENTIALS=""
  while [ "$#" -gt 0 ]; do
    case "$1" in
      --config) CONFIG=${2:?--config needs a file}; shift 2 ;;
      --credentials) CREDENTIALS=${2:?--credentials needs the directory make-credentials.sh wrote}; shift 2 ;;
      --address) ADDRESS=${2:?--address needs an address}; shift 2 ;;
      --secrets) SECRETS=${2:?--secrets needs a file}; shift 2 ;;
      --root) ROOT=${2:?--root needs a directory}; shift 2 ;;
      --no-start) START=0; shift ;;
      -h|--help) usage; exit 0 ;;
      *) fail "unknown option $1 (see --help)" ;;
    esac
  done
  [ -n "$CONFIG" ] || fail "--config <cluster.env> is required"
  load_config "$CONFIG"
  if [ -z "$ADDRESS" ]; then
    ADDRESS=$(hostname -I 2>/dev/null | awk '{print $1}')
    [ -n "$ADDRESS" ] || fail "cannot tell this host's address: pass --address"
  fi
  if [ "$START" -eq 1 ]; then
    [ "$ROOT" = / ] || fail "--root is for preparing files elsewhere; use it with --no-start"
    [ "$(id -u)" -eq 0 ] || fail "run as root (it installs Docker, files under /etc and systemd units)"
    [ -d /run/systemd/system ] || fail "systemd is not running on this host: the roles run as systemd units (--root <dir> --no-start only writes the files)"
  fi
}

require_listed() { # role list-name
  local list=${!2}
  [ -n "$(position "$ADDRESS" "$list")" ] || fail "$ADDRESS is not in $2 ($list): the $1 role runs only there (or pass --address)"
}

# install_common: cluster.env and host.env under $ROOT/etc/theseus, the data directory.
install_common() {
  local etc=$ROOT$THESEUS_ETC
  mkdir -p "$etc" "$ROOT$DATA_DIR"
  install -m 0644 "$CONFIG" "$etc/cluster.env"
  render_host_env "$ADDRESS" >"$etc/host.env.new" && mv "$etc/host.env.new" "$etc/host.env"
  say "wrote $etc/cluster.env and $etc/host.env (host $ADDRESS)"
}

# install_private NAME MODE: writes stdin to $ROOT/etc/theseus/private/NAME (directory 0700).
install_private() {
  local dir=$ROOT$THESEUS_ETC/private
  mkdir -p "$dir" && chmod 0700 "$dir"
  (umask 077 && cat >"$dir/$1.new") && chmod "$2" "$dir/$1.new" && mv "$dir/$1.new" "$dir/$1"
  say "wrote $dir/$1"
}

# load_secrets: THESEUS_API_TOKEN and REDIS_PASSWORD from --secrets (secrets.env).
load_secrets() {
  [ -n "$SECRETS" ] || fail "--secrets <secrets.env> is required for this role (see secrets.env.example)"
  [ -r "$SECRETS" ] || fail "cannot read $SECRETS"
  local line n=0
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    case "$line" in ''|'#'*) continue ;; esac
    [[ "$line" =~ ^(THESEUS_API_TOKEN|REDIS_PASSWORD)=(.+)$ ]] || fail "$SECRETS:$n: expected THESEUS_API_TOKEN=... or REDIS_PASSWORD=..."
    printf -v "${BASH_REMATCH[1]}" '%s' "${BASH_REMATCH[2]}"
  done <"$SECRETS"
  [ "${#THESEUS_API_TOKEN}" -ge 32 ] || fail "$SECRETS: THESEUS_API_TOKEN must be at least 32 characters (openssl rand -hex 32)"
  [ "${#REDIS_PASSWORD}" -ge 16 ] || fail "$SECRETS: REDIS_PASSWORD must be at least 16 characters (openssl rand -hex 24)"
  [ "$THESEUS_API_TOKEN" != replace-with-a-long-random-token ] || fail "$SECRETS: replace the example THESEUS_API_TOKEN"
}

ensure_docker() {
  [ "$START" -eq 1 ] || return 0
  if ! command -v docker >/dev/null; then
    say "installing Docker (docker.io)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
  fi
  systemctl enable --now docker >/dev/null
}

# install_units UNIT...: copies the units, then (unless --no-start) enables and (re)starts them.
install_units() {
  mkdir -p "$ROOT$UNIT_DIR"
  local unit
  for unit in "$@"; do
    install -m 0644 "$UNITS_SRC/$unit.service" "$ROOT$UNIT_DIR/$unit.service"
  done
  say "installed units: $*"
  [ "$START" -eq 1 ] || return 0
  systemctl daemon-reload
  for unit in "$@"; do
    systemctl enable "$unit.service" >/dev/null
    systemctl restart "$unit.service"
  done
  say "started: $*"
}
