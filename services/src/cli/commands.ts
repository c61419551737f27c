/**
 * The `theseus` command table. Each command lives in the package that owns it and is loaded only
 * when run, so `theseus guest ...` inside a container never loads the deployer's dependencies.
 * A command module exports `run(command, argv)` returning the exit code.
 */
export interface CommandEntry {
  summary: string;
  /** Module specifier of the implementing package's CLI entry. */
  module: string;
  group: 'Servers' | 'Client' | 'In containers' | 'Agents' | 'Diagnostics';
}

export const COMMANDS: Record<string, CommandEntry> = {
  deployer: { summary: 'run the YAML deploy API (default port 5000)', module: '@theseus/deployer/cli', group: 'Servers' },
  subscriber: { summary: 'keep etcd in sync with Marathon tasks (default port 5001)', module: '@theseus/subscriber/cli', group: 'Servers' },
  engine: { summary: 'run the single-machine Marathon-compatible engine (default port 8080)', module: '@theseus/cluster/cli', group: 'Servers' },
  deploy: { summary: 'send a deploy document (-f spec.yaml) and follow it', module: '@theseus/deployer/cli', group: 'Client' },
  services: { summary: 'list deployed services', module: '@theseus/deployer/cli', group: 'Client' },
  status: { summary: 'show one service: spec, tasks, endpoints', module: '@theseus/deployer/cli', group: 'Client' },
  scale: { summary: 'change the instance count of a service', module: '@theseus/deployer/cli', group: 'Client' },
  restart: { summary: 'replace every instance of a service (rolling)', module: '@theseus/deployer/cli', group: 'Client' },
  versions: { summary: 'list a service\'s versions and what changed between them', module: '@theseus/deployer/cli', group: 'Client' },
  rollback: { summary: 'roll a service back to its previous version (or --to one)', module: '@theseus/deployer/cli', group: 'Client' },
  rm: { summary: 'remove a service', module: '@theseus/deployer/cli', group: 'Client' },
  guest: { summary: 'service discovery from inside a container (node-list, port, ...)', module: '@theseus/guestutils/cli', group: 'In containers' },
  watch: { summary: 'call a handler when watched services change (WATCHES)', module: '@theseus/guestutils/cli', group: 'In containers' },
  containerizer: { summary: 'the Mesos external containerizer (launch, wait, usage, ...)', module: '@theseus/containerizer/cli', group: 'Agents' },
  config: { summary: 'print the effective settings (secrets hidden) and exit', module: '@theseus/services/cli', group: 'Diagnostics' },
};
