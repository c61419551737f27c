#!/usr/bin/env bash
# Slave role: a Mesos slave on this host that runs tasks in Docker (SLAVE_CONTAINERIZER).
#
#   install-slave.sh --config cluster.env [--address <this host>] [--root <dir> --no-start]
#
# Any number of hosts; each needs Docker, which this installs when missing.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; }

parse_options "$@"
ensure_docker
install_common
mkdir -p "$ROOT$DATA_DIR/mesos-slave"
install_units theseus-mesos-slave
say "slave $ADDRESS: Mesos slave http://$ADDRESS:$MESOS_SLAVE_PORT, containerizer $SLAVE_CONTAINERIZER, task ports $TASK_PORTS"
