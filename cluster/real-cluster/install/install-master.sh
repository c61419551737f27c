#!/usr/bin/env bash
# Master role: ZooKeeper, a Mesos master and Marathon on this host (one of MASTER_HOSTS).
#
#   install-master.sh --config cluster.env [--address <this host>] [--root <dir> --no-start]
#
# Installs Docker if missing, writes /etc/theseus/{cluster,host}.env and the systemd units, then
# enables and (re)starts them. Running it again applies a changed cluster.env.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; }

parse_options "$@"
require_listed master MASTER_HOSTS
ensure_docker
install_common
mkdir -p "$ROOT$DATA_DIR/zookeeper/data" "$ROOT$DATA_DIR/zookeeper/datalog" "$ROOT$DATA_DIR/mesos-master"
install_units theseus-zookeeper theseus-mesos-master theseus-marathon
say "master $ADDRESS: ZooKeeper :$ZK_PORT, Mesos master http://$ADDRESS:$MESOS_MASTER_PORT, Marathon http://$ADDRESS:$MARATHON_PORT"
