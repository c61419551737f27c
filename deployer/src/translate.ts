/**
 * A resolved service spec as a Marathon app, in Marathon 1.5+ canonical form: a Docker container
 * on the bridge network with named `container.portMappings`, numbers as numbers, constraints as
 * string triples, `fetch` for URIs, the discovery environment, and identity labels with the spec
 * hash that makes an unchanged re-deploy a no-op.
 */
import { createHash } from 'node:crypto';
import {
  MARATHON_LABELS,
  discoveryEnv,
  identityLabels,
  toAppId,
  toMarathonConstraint,
  type ContainerEtcdAccess,
  type MarathonApp,
  type MarathonHealthCheck,
  type ServiceSpec,
} from '@theseus/services';

/** What the translation needs besides the spec: where the app lives and what containers are told. */
export interface TranslationContext {
  /** The Marathon group of every Theseus app (`appGroup` setting). */
  appGroup: string;
  /** etcd client URLs handed to containers as ETCD_ENDPOINTS. */
  etcdEndpoints: readonly string[];
  /** etcd key prefix handed to containers as THESEUS_ETCD_PREFIX. */
  etcdPrefix: string;
  /** The read-only etcd user (ETCD_USERNAME, ETCD_PASSWORD), etcd's CA bundle (ETCD_CA) and the user's client certificate (ETCD_CERT, ETCD_KEY) handed to containers. */
  etcdAccess?: ContainerEtcdAccess | undefined;
  /**
   * `legacy` writes the networking form of Marathon up to 1.4 (`container.docker.network`,
   * `container.docker.portMappings`), which the Mesos 0.19-1.0 external-containerizer pairing needs.
   * @defaultValue 'canonical' (Marathon 1.5+)
   */
  networkApi?: 'canonical' | 'legacy';
}

/** The networking form a Marathon of this version reads (`/v2/info` `version`, e.g. `1.4.12`). */
export function networkApiOf(marathonVersion: string): 'canonical' | 'legacy' {
  const [major, minor] = marathonVersion.replace(/^v/, '').split('.').map(Number);
  if (major === undefined || minor === undefined || Number.isNaN(major) || Number.isNaN(minor)) return 'canonical';
  return major < 1 || (major === 1 && minor < 5) ? 'legacy' : 'canonical';
}

export function toMarathonApp(spec: ServiceSpec, context: TranslationContext): MarathonApp {
  const ref = { namespace: spec.namespace, service: spec.service, labels: spec.labels };
  const env = {
    ...spec.environment,
    ...discoveryEnv({
      ...ref,
      etcdEndpoints: context.etcdEndpoints,
      etcdPrefix: context.etcdPrefix,
      etcdAccess: context.etcdAccess,
      ports: spec.ports.map((p) => ({ name: p.name, containerPort: p.containerPort })),
    }),
  };
  const app: MarathonApp = {
    id: toAppId(ref, context.appGroup),
    instances: spec.instances,
    cpus: spec.cpus,
    mem: spec.mem,
    disk: spec.disk,
    container: {
      type: 'DOCKER',
      docker: { image: spec.image, forcePullImage: false, privileged: false },
      portMappings: spec.ports.map((p) => ({
        containerPort: p.containerPort,
        hostPort: p.hostPort,
        protocol: p.protocol,
        name: p.name,
      })),
      volumes: spec.volumes.map((v) => ({ hostPath: v.hostPath, containerPath: v.containerPath, mode: v.mode })),
    },
    networks: [{ mode: 'container/bridge' }],
    env,
    labels: identityLabels(ref),
    constraints: spec.constraints.map(toMarathonConstraint),
    healthChecks: spec.healthChecks.map((hc): MarathonHealthCheck => {
      const check: MarathonHealthCheck = {
        protocol: hc.protocol,
        gracePeriodSeconds: hc.gracePeriodSeconds,
        intervalSeconds: hc.intervalSeconds,
        timeoutSeconds: hc.timeoutSeconds,
        maxConsecutiveFailures: hc.maxConsecutiveFailures,
      };
      if (hc.port !== undefined) check.portIndex = spec.ports.findIndex((p) => p.name === hc.port);
      if (hc.path !== undefined) check.path = hc.path;
      if (hc.command !== undefined) check.command = { value: hc.command };
      return check;
    }),
    upgradeStrategy: {
      minimumHealthCapacity: spec.upgrade.minimumHealthCapacity,
      maximumOverCapacity: spec.upgrade.maximumOverCapacity,
    },
    fetch: spec.uris.map((u) => ({
      uri: u.uri,
      extract: u.extract,
      executable: u.executable,
      cache: u.cache,
      ...(u.destPath ? { destPath: u.destPath } : {}),
    })),
  };
  if (spec.cmd !== undefined) app.cmd = spec.cmd;
  if (spec.args !== undefined) app.args = spec.args;
  if (spec.killGracePeriodSeconds !== undefined) app.taskKillGracePeriodSeconds = spec.killGracePeriodSeconds;
  if (context.networkApi === 'legacy') toLegacyNetworking(app);
  app.labels = { ...app.labels, [MARATHON_LABELS.specHash]: specHash(app) };
  return app;
}

/** Moves bridge networking and port mappings to where Marathon up to 1.4 reads them. */
function toLegacyNetworking(app: MarathonApp): void {
  const container = app.container!;
  const { portMappings, ...rest } = container;
  app.container = { ...rest, docker: { ...container.docker!, network: 'BRIDGE', portMappings: portMappings ?? [] } };
  delete app.networks;
}

/**
 * Hash of everything in an app definition but its instance count (so a change of instances alone
 * is recognised as a scale) and the hash label itself. Keys are sorted: equal content, equal hash.
 */
export function specHash(app: MarathonApp): string {
  const { instances: _instances, labels, ...rest } = app;
  const { [MARATHON_LABELS.specHash]: _hash, ...otherLabels } = labels ?? {};
  return createHash('sha256')
    .update(stableJson({ ...rest, labels: otherLabels }))
    .digest('hex')
    .slice(0, 20);
}

/** JSON with object keys sorted, so equal values serialise equally. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
