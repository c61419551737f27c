/**
 * The `theseus` command table. Each command lives in the package that owns it and is loaded only
 * when run, so `theseus guest ...` inside a container never loads the deployer's dependencies.
 * A command module exports `run(command, argv)` returning the exit code.
 */
import { DEFAULT_SETTINGS } from '@theseus/services';

export interface CommandModule {
  run(command: string, argv: string[]): Promise<number>;
}

export interface CommandEntry {
  summary: string;
  /** Loads the implementing package's CLI entry. */
  load: () => Promise<CommandModule>;
  group: 'Servers' | 'Client' | 'In containers' | 'Agents' | 'Diagnostics';
}

const deployer = () => import('@theseus/deployer/cli');
const guestutils = () => import('@theseus/guestutils/cli');

export const COMMANDS: Record<string, CommandEntry> = {
  deployer: {
    summary: `run the YAML deploy API (default port ${DEFAULT_SETTINGS.deployer.port})`,
    load: deployer,
    group: 'Servers',
  },
  subscriber: {
    summary: `keep etcd in sync with Marathon tasks (default port ${DEFAULT_SETTINGS.subscriber.port})`,
    load: () => import('@theseus/subscriber/cli'),
    group: 'Servers',
  },
  engine: {
    summary: `run the single-machine Marathon-compatible engine (default port ${DEFAULT_SETTINGS.engine.port})`,
    load: () => import('@theseus/cluster/cli'),
    group: 'Servers',
  },
  deploy: { summary: 'send a deploy document (-f spec.yaml) and follow it', load: deployer, group: 'Client' },
  services: { summary: 'list deployed services', load: deployer, group: 'Client' },
  status: { summary: 'show one service: spec, tasks, endpoints', load: deployer, group: 'Client' },
  scale: { summary: 'change the instance count of a service', load: deployer, group: 'Client' },
  restart: { summary: 'replace every instance of a service (rolling)', load: deployer, group: 'Client' },
  versions: { summary: "list a service's versions and what changed between them", load: deployer, group: 'Client' },
  rollback: { summary: 'roll a service back to its previous version (or --to one)', load: deployer, group: 'Client' },
  logs: { summary: "print a service's output, instances merged (--follow, --tail)", load: deployer, group: 'Client' },
  rm: { summary: 'remove a service', load: deployer, group: 'Client' },
  guest: {
    summary: 'service discovery from inside a container (node-list, port, ...)',
    load: guestutils,
    group: 'In containers',
  },
  watch: { summary: 'call a handler when watched services change (WATCHES)', load: guestutils, group: 'In containers' },
  containerizer: {
    summary: 'the Mesos external containerizer (launch, wait, usage, ...)',
    load: () => import('@theseus/containerizer/cli'),
    group: 'Agents',
  },
  config: {
    summary: 'print the effective settings (secrets hidden) and exit',
    load: () => import('./config-command.js'),
    group: 'Diagnostics',
  },
};
