/**
 * Answers that come from this container's environment alone (no network): what the deployer
 * injects (DISCOVERY_ENV: SERVICE_NAME, ENVIRONMENT_NAME, LABELS, CONTAINER_PORT_<NAME>, ...) and
 * what Marathon or the engine injects (HOST, PORT_<NAME>, MESOS_TASK_ID). maestro's names
 * CONTAINER_NAME and CONTAINER_HOST_ADDRESS win when set, so maestro-era images keep working.
 */
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { NotFoundError } from '@theseus/services/errors';
import { DISCOVERY_ENV } from '@theseus/services/discovery-env';
import { envName } from '@theseus/services/naming';
import { InvalidEnvironmentError, MissingEnvironmentError, PortNotFoundError } from './errors.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** Variables set by the scheduler (Marathon, the engine) or by maestro-era launchers. */
export const SCHEDULER_ENV = {
  containerName: 'CONTAINER_NAME',
  taskId: 'MESOS_TASK_ID',
  containerHostAddress: 'CONTAINER_HOST_ADDRESS',
  host: 'HOST',
  /** Prefix of PORT_<NAME>: the host port of each named port. */
  hostPortPrefix: 'PORT_',
} as const;

export const DEFAULT_ETCD_ENDPOINTS = ['http://127.0.0.1:2379'];

const OUTSIDE_HINT = 'set by Theseus in its containers; set it yourself when running elsewhere';

function first(env: Env, what: string, variables: string[], hint = OUTSIDE_HINT): string {
  for (const variable of variables) {
    const value = env[variable]?.trim();
    if (value) return value;
  }
  throw new MissingEnvironmentError(what, variables, hint);
}

/** The namespace this container runs in (maestro's "environment"). */
export function environmentName(env: Env): string {
  return first(env, 'environment name', [DISCOVERY_ENV.environment]);
}

export function serviceName(env: Env): string {
  return first(env, 'service name', [DISCOVERY_ENV.service]);
}

/** This container's name: the Marathon task id, the key of its endpoint record. */
export function containerName(env: Env): string {
  return first(env, 'container name', [SCHEDULER_ENV.containerName, SCHEDULER_ENV.taskId]);
}

/** The address of the host (agent) this container runs on, where its host ports are reachable. */
export function containerHostAddress(env: Env): string {
  return first(env, 'container host address', [SCHEDULER_ENV.containerHostAddress, SCHEDULER_ENV.host]);
}

/** This service's label set (LABELS, comma-separated). */
export function serviceLabels(env: Env): string[] {
  return (env[DISCOVERY_ENV.labels] ?? '')
    .split(',')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

/**
 * The container's own IPv4 address: eth0's, else the first non-loopback interface's (what modern
 * maestro reads with netifaces).
 */
export function containerInternalAddress(
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): string {
  const ipv4 = (list: NetworkInterfaceInfo[] | undefined) =>
    list?.find((a) => a.family === 'IPv4' && !a.internal)?.address;
  const address =
    ipv4(interfaces.eth0) ??
    Object.values(interfaces)
      .map(ipv4)
      .find((a) => a !== undefined);
  if (!address)
    throw new NotFoundError('internal address (no network interface with an IPv4 address other than loopback)');
  return address;
}

function parsePort(variable: string, raw: string): number {
  const port = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || port > 65535) throw new InvalidEnvironmentError(variable, raw, 'a port number');
  return port;
}

/**
 * The port this container listens on for a named port: CONTAINER_PORT_<NAME>, or, when that is
 * unset or 0 (host networking, where the listening port is the host port), PORT_<NAME>.
 */
export function ownPort(env: Env, name: string, fallback?: number): number {
  const containerVar = DISCOVERY_ENV.containerPortPrefix + envName(name);
  const hostVar = SCHEDULER_ENV.hostPortPrefix + envName(name);
  for (const variable of [containerVar, hostVar]) {
    const raw = env[variable]?.trim();
    if (!raw) continue;
    const port = parsePort(variable, raw);
    if (port > 0) return port;
  }
  if (fallback !== undefined) return fallback;
  throw new PortNotFoundError(name, 'this container', `${containerVar} and ${hostVar} are not set`);
}

/** etcd client URLs (ETCD_ENDPOINTS, comma-separated). */
export function etcdEndpoints(env: Env): string[] {
  const list = (env[DISCOVERY_ENV.etcdEndpoints] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  return list.length ? list : [...DEFAULT_ETCD_ENDPOINTS];
}

/** The key prefix the subscriber writes under (THESEUS_ETCD_PREFIX); undefined means the layout's default. */
export function etcdPrefix(env: Env): string | undefined {
  return env[DISCOVERY_ENV.etcdPrefix]?.trim() || undefined;
}
