/** An app in Marathon's canonical (1.5+) form, every default filled in: what the engine stores and returns. */
import type {
  MarathonApp,
  MarathonHealthCheck,
  MarathonNetwork,
  MarathonPortDefinition,
  MarathonPortMapping,
  MarathonVolume,
} from '@theseus/services';

export interface PortMapping extends MarathonPortMapping {
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'udp,tcp';
  servicePort: number;
}

export interface PortDefinition extends MarathonPortDefinition {
  protocol: 'tcp' | 'udp' | 'udp,tcp';
}

export interface HealthCheck extends MarathonHealthCheck {
  protocol: NonNullable<MarathonHealthCheck['protocol']>;
  gracePeriodSeconds: number;
  intervalSeconds: number;
  timeoutSeconds: number;
  maxConsecutiveFailures: number;
}

export interface AppContainer {
  type: 'DOCKER' | 'MESOS';
  docker?: {
    image: string;
    forcePullImage: boolean;
    privileged: boolean;
    parameters: Array<{ key: string; value: string }>;
    [key: string]: unknown;
  };
  portMappings?: PortMapping[];
  volumes: MarathonVolume[];
  [key: string]: unknown;
}

/** A definition before it is stored (no version yet). */
export interface AppDraft extends MarathonApp {
  id: string;
  instances: number;
  cpus: number;
  mem: number;
  disk: number;
  gpus: number;
  backoffSeconds: number;
  backoffFactor: number;
  maxLaunchDelaySeconds: number;
  executor: string;
  labels: Record<string, string>;
  env: Record<string, string | { secret: string }>;
  networks: MarathonNetwork[];
  portDefinitions?: PortDefinition[];
  requirePorts: boolean;
  container?: AppContainer;
  healthChecks: HealthCheck[];
  upgradeStrategy: { minimumHealthCapacity: number; maximumOverCapacity: number };
  killSelection: 'YOUNGEST_FIRST' | 'OLDEST_FIRST';
  unreachableStrategy: { inactiveAfterSeconds: number; expungeAfterSeconds: number } | 'disabled';
  constraints: string[][];
}

export interface AppDefinition extends AppDraft {
  version: string;
  versionInfo: { lastScalingAt: string; lastConfigChangeAt: string };
}

/** How a task of this app is networked: Marathon's `networks[0].mode`. */
export function networkMode(app: AppDefinition): 'host' | 'container/bridge' | 'container' {
  return app.networks[0]?.mode ?? 'host';
}

/** The ports a task of the app asks for, in order: port mappings (bridge/container) or port definitions (host). */
export function requestedPorts(
  app: AppDefinition,
): Array<{ name?: string; containerPort?: number; hostPort?: number; protocol: string; servicePort: number }> {
  if (networkMode(app) === 'host') {
    return (app.portDefinitions ?? []).map((p) => ({
      ...(p.name ? { name: p.name } : {}),
      hostPort: app.requirePorts ? p.port : 0,
      protocol: p.protocol,
      servicePort: p.port,
    }));
  }
  return (app.container?.portMappings ?? []).map((m) => ({
    ...(m.name ? { name: m.name } : {}),
    containerPort: m.containerPort,
    ...(m.hostPort !== undefined ? { hostPort: m.hostPort } : {}),
    protocol: m.protocol,
    servicePort: m.servicePort,
  }));
}

/** The fields that, when changed, replace running tasks (Marathon's "config change" vs a scale). */
export function configOf(app: AppDefinition): unknown {
  const { instances: _i, version: _v, versionInfo: _vi, ...config } = app;
  return config;
}

/** Fields Marathon 1.5+ leaves out of its answers when empty (RAML `pragma.omitEmpty`). */
const OMIT_EMPTY = [
  'args',
  'constraints',
  'dependencies',
  'env',
  'fetch',
  'healthChecks',
  'readinessChecks',
  'secrets',
] as const;

/** The app as Marathon writes it in answers and events. */
export function appJson(app: AppDefinition): AppDefinition {
  const out: Record<string, unknown> = { ...app };
  for (const key of OMIT_EMPTY) {
    const value = out[key];
    if (
      value === undefined ||
      (Array.isArray(value) && value.length === 0) ||
      (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0)
    )
      delete out[key];
  }
  return out as AppDefinition;
}
