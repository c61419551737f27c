/**
 * The environment contract between the deployer (which sets these variables on every app) and the
 * code inside containers (guestutils, the watcher). Marathon and the engine add their own:
 * HOST, PORT0..N, PORT_<NAME>, PORTS, MARATHON_APP_ID, MARATHON_APP_VERSION, MESOS_TASK_ID.
 */
import { envName } from './naming.js';

export const DISCOVERY_ENV = {
  service: 'SERVICE_NAME',
  /** The namespace, named as maestro named it. */
  environment: 'ENVIRONMENT_NAME',
  /** Comma-separated canonical label set. */
  labels: 'LABELS',
  /** Comma-separated etcd client URLs. */
  etcdEndpoints: 'ETCD_ENDPOINTS',
  /** The etcd key prefix the subscriber writes under. */
  etcdPrefix: 'THESEUS_ETCD_PREFIX',
  /** The read-only etcd user of containers, when etcd has authentication on. */
  etcdUsername: 'ETCD_USERNAME',
  etcdPassword: 'ETCD_PASSWORD',
  /** PEM CA bundle of etcd's server certificate, when etcd speaks TLS. */
  etcdCa: 'ETCD_CA',
  /** PEM client certificate and key of the read-only user, when etcd asks every client for one. */
  etcdCert: 'ETCD_CERT',
  etcdKey: 'ETCD_KEY',
  /** The host name etcd's server certificate is checked against, for endpoints given as IP addresses. */
  etcdServerName: 'ETCD_SERVER_NAME',
  /** Comma-separated port names, in port-mapping order. */
  portNames: 'PORT_NAMES',
  /** Prefix of CONTAINER_PORT_<NAME>: the container port of each named port. */
  containerPortPrefix: 'CONTAINER_PORT_',
} as const;

/** Names of every variable the deployer injects for a service with these port names. */
export function reservedEnvNames(portNames: readonly string[]): string[] {
  const fixed = Object.values(DISCOVERY_ENV).filter((n) => n !== DISCOVERY_ENV.containerPortPrefix);
  return [...fixed, ...portNames.map((p) => DISCOVERY_ENV.containerPortPrefix + envName(p))];
}

/** What containers are given to reach etcd, as PEM text. */
export interface ContainerEtcdAccess {
  username?: string | undefined;
  password?: string | undefined;
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  serverName?: string | undefined;
}

export interface DiscoveryEnvInput {
  namespace: string;
  service: string;
  labels: readonly string[];
  etcdEndpoints: readonly string[];
  etcdPrefix: string;
  /** The read-only etcd user, the CA bundle and the user's client certificate handed to containers. */
  etcdAccess?: ContainerEtcdAccess | undefined;
  /** Port name -> container port, in mapping order. */
  ports: ReadonlyArray<{ name: string; containerPort: number }>;
}

export function discoveryEnv(input: DiscoveryEnvInput): Record<string, string> {
  const env: Record<string, string> = {
    [DISCOVERY_ENV.service]: input.service,
    [DISCOVERY_ENV.environment]: input.namespace,
    [DISCOVERY_ENV.labels]: input.labels.join(','),
    [DISCOVERY_ENV.etcdEndpoints]: input.etcdEndpoints.join(','),
    [DISCOVERY_ENV.etcdPrefix]: input.etcdPrefix,
    [DISCOVERY_ENV.portNames]: input.ports.map((p) => p.name).join(','),
  };
  if (input.etcdAccess?.username && input.etcdAccess.password !== undefined) {
    env[DISCOVERY_ENV.etcdUsername] = input.etcdAccess.username;
    env[DISCOVERY_ENV.etcdPassword] = input.etcdAccess.password;
  }
  if (input.etcdAccess?.ca) env[DISCOVERY_ENV.etcdCa] = input.etcdAccess.ca;
  if (input.etcdAccess?.serverName) env[DISCOVERY_ENV.etcdServerName] = input.etcdAccess.serverName;
  if (input.etcdAccess?.cert && input.etcdAccess.key) {
    env[DISCOVERY_ENV.etcdCert] = input.etcdAccess.cert;
    env[DISCOVERY_ENV.etcdKey] = input.etcdAccess.key;
  }
  for (const p of input.ports) env[DISCOVERY_ENV.containerPortPrefix + envName(p.name)] = String(p.containerPort);
  return env;
}
