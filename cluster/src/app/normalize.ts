/** Type-checked body -> canonical app: the pre-1.5 form translated (AppNormalization), defaults filled in. */
import type { MarathonNetwork, MarathonVolume } from '@theseus/services';
import type { AppContainer, AppDraft, HealthCheck, PortDefinition, PortMapping } from './definition.js';
import type { Problems } from './problems.js';

type Raw = Record<string, any>;

/** Canonical absolute id: `my-app` -> `/my-app`, `a//b/` -> `/a/b`. */
export function canonicalId(id: string): string {
  return '/' + id.split('/').filter(Boolean).join('/');
}

const LEGACY_NETWORKS: Record<string, MarathonNetwork['mode']> = {
  HOST: 'host',
  BRIDGE: 'container/bridge',
  USER: 'container',
};

/** Translates `docker.network`, `docker.portMappings`, `ipAddress`, `ports`, `uris` into the 1.5 form. */
function translateLegacy(raw: Raw, problems: Problems): Raw {
  const app: Raw = { ...raw };
  const docker: Raw | undefined = raw.container?.docker ?? undefined;
  const legacyNetwork = docker?.network != null || raw.ipAddress != null;
  const legacyUsed = legacyNetwork || docker?.portMappings != null;
  if (legacyNetwork && raw.networks != null) {
    problems.add('/', 'cannot mix deprecated and canonical network APIs');
    return app;
  }
  if (docker?.portMappings?.length && raw.container?.portMappings?.length) {
    problems.add('/container', 'cannot specify both portMappings and docker.portMappings');
    return app;
  }
  if (legacyUsed) {
    let mode: MarathonNetwork['mode'] | undefined;
    if (docker?.network != null) {
      mode = LEGACY_NETWORKS[docker.network as string];
      if (!mode) problems.add('/container/docker/network', `unsupported docker network type ${String(docker.network)}`);
    } else if (raw.ipAddress != null) mode = 'container';
    const networks: MarathonNetwork[] = [];
    if (mode === 'container') {
      const name = raw.ipAddress?.networkName as string | undefined;
      networks.push({
        mode,
        ...(name ? { name } : {}),
        ...(raw.ipAddress?.labels ? { labels: raw.ipAddress.labels } : {}),
      });
    } else if (mode) networks.push({ mode });
    app.networks = networks;
    if (raw.container) {
      const { network: _n, portMappings, ...rest } = docker ?? {};
      app.container = { ...raw.container, ...(docker ? { docker: rest } : {}) };
      if (portMappings?.length) app.container.portMappings = portMappings;
    }
    const discovery = raw.ipAddress?.discovery?.ports as Raw[] | undefined;
    if (discovery?.length && !app.container?.portMappings?.length) {
      // 1.4 `ipAddress.discovery.ports` become the container's port mappings (no host ports)
      app.container = {
        type: 'MESOS',
        ...(app.container ?? {}),
        portMappings: discovery.map((p) => ({ containerPort: p.number, name: p.name, protocol: p.protocol })),
      };
    }
    delete app.ipAddress;
  }
  if (raw.ports != null) {
    if (raw.portDefinitions != null) problems.add('/', 'You cannot specify both ports and port definitions');
    else app.portDefinitions = (raw.ports as number[]).map((port) => ({ port }));
    delete app.ports;
  }
  if (raw.uris != null) {
    if (raw.fetch != null) problems.add('/', 'You cannot specify both uris and fetch fields');
    else app.fetch = (raw.uris as string[]).map((uri) => ({ uri }));
    delete app.uris;
  }
  return app;
}

function hasResidentVolumes(container: Raw | undefined): boolean {
  return (
    Array.isArray(container?.volumes) &&
    container.volumes.some((v: Raw) => v?.persistent != null || v?.external != null)
  );
}

/** Fields of 1.8-1.10 that the engine keeps as given (stored and returned, not acted on). */
const PASSTHROUGH = [
  'user',
  'acceptedResourceRoles',
  'dependencies',
  'fetch',
  'readinessChecks',
  'residency',
  'secrets',
  'taskKillGracePeriodSeconds',
  'args',
  'cmd',
  'check',
  'tty',
  'role',
  'resourceLimits',
] as const;

export function normalizeApp(input: Raw, problems: Problems): AppDraft {
  const raw = translateLegacy(input, problems);
  const container = normalizeContainer(raw.container);
  const networks: MarathonNetwork[] =
    Array.isArray(raw.networks) && raw.networks.length > 0
      ? raw.networks.map((n: Raw) => ({
          mode: n.mode ?? 'container',
          ...pick(n, ['name', 'labels']),
        }))
      : [{ mode: 'host' }];
  const host = networks[0]?.mode === 'host';
  const app: Raw = {
    id: canonicalId(String(raw.id ?? '')),
    backoffFactor: raw.backoffFactor ?? 1.15,
    backoffSeconds: raw.backoffSeconds ?? 1,
    constraints: raw.constraints ?? [],
    cpus: raw.cpus ?? 1,
    disk: raw.disk ?? 0,
    env: raw.env ?? {},
    executor: raw.executor ?? '',
    gpus: raw.gpus ?? 0,
    healthChecks: (raw.healthChecks ?? []).map(normalizeHealthCheck),
    instances: raw.instances ?? 1,
    killSelection: raw.killSelection ?? 'YOUNGEST_FIRST',
    labels: raw.labels ?? {},
    maxLaunchDelaySeconds: raw.maxLaunchDelaySeconds ?? 300,
    mem: raw.mem ?? 128,
    networks,
    requirePorts: raw.requirePorts ?? false,
    unreachableStrategy: raw.unreachableStrategy ?? { inactiveAfterSeconds: 0, expungeAfterSeconds: 0 },
    upgradeStrategy: {
      minimumHealthCapacity:
        raw.upgradeStrategy?.minimumHealthCapacity ?? (hasResidentVolumes(raw.container) ? 0.5 : 1),
      maximumOverCapacity: raw.upgradeStrategy?.maximumOverCapacity ?? (hasResidentVolumes(raw.container) ? 0 : 1),
    },
  };
  for (const key of PASSTHROUGH) if (raw[key] != null) app[key] = raw[key];
  if (container) {
    if (host) delete container.portMappings;
    else
      container.portMappings = normalizePortMappings(
        container.portMappings as Raw[] | undefined,
        networks[0]?.mode === 'container/bridge',
      );
    app.container = container;
  }
  if (host) {
    const definitions: Raw[] = raw.portDefinitions ?? [{ port: 0, name: 'default' }];
    app.portDefinitions = definitions.map((d): PortDefinition => ({
      port: d.port ?? 0,
      protocol: d.protocol ?? 'tcp',
      ...pick(d, ['name', 'labels']),
    }));
  } else if (!container) {
    app.container = {
      type: 'MESOS',
      volumes: [],
      portMappings: normalizePortMappings(undefined, networks[0]?.mode === 'container/bridge'),
    };
  }
  return app as AppDraft;
}

function normalizeContainer(raw: Raw | undefined | null): AppContainer | undefined {
  if (raw == null) return undefined;
  const { docker: _d, portMappings: pm, volumes: _v, ...others } = raw;
  const container: AppContainer = {
    ...pick(others, ['appc', 'linuxInfo']),
    ...(pm != null ? { portMappings: pm } : {}),
    type: raw.type ?? 'DOCKER',
    volumes: (raw.volumes ?? []).map((v: Raw) => ({ ...v }) as MarathonVolume),
  };
  if (raw.docker != null) {
    container.docker = {
      ...pick(raw.docker, ['credential', 'pullConfig']),
      image: raw.docker.image,
      forcePullImage: raw.docker.forcePullImage ?? false,
      privileged: raw.docker.privileged ?? false,
      parameters: raw.docker.parameters ?? [],
    };
  }
  return container;
}

function normalizePortMappings(raw: Raw[] | undefined, bridge: boolean): PortMapping[] {
  const list = raw ?? [{ name: 'default' }];
  return list.map((m): PortMapping => ({
    containerPort: m.containerPort ?? 0,
    ...(m.hostPort != null ? { hostPort: m.hostPort } : bridge ? { hostPort: 0 } : {}),
    servicePort: m.servicePort ?? 0,
    protocol: m.protocol ?? 'tcp',
    ...pick(m, ['name', 'labels', 'networkNames']),
  }));
}

function normalizeHealthCheck(raw: Raw): HealthCheck {
  const protocol = raw.protocol ?? 'HTTP';
  const check: Raw = {
    gracePeriodSeconds: raw.gracePeriodSeconds ?? 300,
    intervalSeconds: raw.intervalSeconds ?? 60,
    timeoutSeconds: raw.timeoutSeconds ?? 20,
    maxConsecutiveFailures: raw.maxConsecutiveFailures ?? 3,
    protocol,
    delaySeconds: raw.delaySeconds ?? 15,
  };
  if (protocol === 'COMMAND') check.command = raw.command;
  else {
    if (raw.port != null) check.port = raw.port;
    else check.portIndex = raw.portIndex ?? 0;
    if (protocol.endsWith('HTTP') || protocol.endsWith('HTTPS')) {
      check.path = raw.path ?? '/';
      check.ignoreHttp1xx = raw.ignoreHttp1xx ?? false;
    }
  }
  return check as HealthCheck;
}

function pick(raw: Raw, keys: string[]): Raw {
  return Object.fromEntries(keys.filter((k) => raw[k] != null).map((k) => [k, raw[k]]));
}
