/** Marathon's JSON type pass before any rule: a wrong type is 422 "Invalid JSON" with play-json's error keys. */
import { Problems } from './problems.js';

type Shape =
  | 'string'
  | 'number'
  | 'int'
  | 'boolean'
  | 'any'
  | { object: Record<string, Shape>; values?: Shape }
  | { array: Shape }
  | { either: Shape[] };

const stringMap: Shape = { object: {}, values: 'string' };
const portMapping: Shape = {
  object: {
    containerPort: 'int',
    hostPort: 'int',
    servicePort: 'int',
    protocol: 'string',
    name: 'string',
    labels: stringMap,
    networkNames: { array: 'string' },
  },
};
const volume: Shape = {
  object: {
    containerPath: 'string',
    hostPath: 'string',
    mode: 'string',
    persistent: { object: {} },
    external: { object: {} },
    secret: 'string',
  },
};

export const APP_SHAPE: Shape = {
  object: {
    id: 'string',
    cmd: 'string',
    args: { array: 'string' },
    user: 'string',
    instances: 'int',
    cpus: 'number',
    mem: 'number',
    disk: 'number',
    gpus: 'int',
    executor: 'string',
    constraints: { array: { array: 'string' } },
    acceptedResourceRoles: { array: 'string' },
    dependencies: { array: 'string' },
    env: { object: {}, values: { either: ['string', { object: { secret: 'string' } }] } },
    labels: stringMap,
    secrets: { object: {}, values: { object: { source: 'string' } } },
    fetch: {
      array: {
        object: { uri: 'string', extract: 'boolean', executable: 'boolean', cache: 'boolean', destPath: 'string' },
      },
    },
    uris: { array: 'string' },
    ports: { array: 'int' },
    portDefinitions: { array: { object: { port: 'int', protocol: 'string', name: 'string', labels: stringMap } } },
    requirePorts: 'boolean',
    backoffSeconds: 'number',
    backoffFactor: 'number',
    maxLaunchDelaySeconds: 'number',
    taskKillGracePeriodSeconds: 'number',
    killSelection: 'string',
    networks: { array: { object: { mode: 'string', name: 'string', labels: stringMap } } },
    ipAddress: {
      object: { networkName: 'string', groups: { array: 'string' }, labels: stringMap, discovery: { object: {} } },
    },
    container: {
      object: {
        type: 'string',
        docker: {
          object: {
            image: 'string',
            network: 'string',
            portMappings: { array: portMapping },
            privileged: 'boolean',
            forcePullImage: 'boolean',
            parameters: { array: { object: { key: 'string', value: 'string' } } },
          },
        },
        portMappings: { array: portMapping },
        volumes: { array: volume },
      },
    },
    healthChecks: {
      array: {
        object: {
          protocol: 'string',
          path: 'string',
          portIndex: 'int',
          port: 'int',
          command: { object: { value: 'string' } },
          gracePeriodSeconds: 'int',
          intervalSeconds: 'int',
          timeoutSeconds: 'int',
          maxConsecutiveFailures: 'int',
          delaySeconds: 'int',
          ignoreHttp1xx: 'boolean',
        },
      },
    },
    readinessChecks: { array: { object: {} } },
    upgradeStrategy: { object: { minimumHealthCapacity: 'number', maximumOverCapacity: 'number' } },
    unreachableStrategy: {
      either: ['string', { object: { inactiveAfterSeconds: 'int', expungeAfterSeconds: 'int' } }],
    },
    residency: { object: {} },
    version: 'string',
  },
};

const EXPECTED: Record<string, string> = {
  string: 'error.expected.jsstring',
  number: 'error.expected.jsnumber',
  int: 'error.expected.jsnumber',
  boolean: 'error.expected.jsboolean',
};

function expectedOf(shape: Shape): string {
  if (typeof shape === 'string') return EXPECTED[shape] ?? 'error.expected.jsvalue';
  if ('array' in shape) return 'error.expected.jsarray';
  if ('either' in shape) return expectedOf(shape.either[0]!);
  return 'error.expected.jsobject';
}

/**
 * Type-checks `value` against `shape`. A `null` field counts as absent, as Marathon's reads treat
 * optional fields; a `null` array element or map value is of the wrong type.
 */
export function checkShape(value: unknown, shape: Shape, path: string, problems: Problems, element = false): void {
  if (shape === 'any' || value === undefined) return;
  if (value === null) {
    if (element) problems.add(path, expectedOf(shape));
    return;
  }
  if (typeof shape === 'string') {
    if (shape === 'int') {
      if (typeof value !== 'number') problems.add(path, EXPECTED.int!);
      else if (!Number.isInteger(value)) problems.add(path, 'error.expected.int');
      return;
    }
    if (typeof value !== shape) problems.add(path, EXPECTED[shape]!);
    return;
  }
  if ('either' in shape) {
    const attempts = shape.either.map((s) => {
      const p = new Problems();
      checkShape(value, s, path, p);
      return p;
    });
    if (attempts.every((p) => !p.empty))
      for (const e of attempts[0]!.list()) for (const m of e.errors) problems.add(e.path, m);
    return;
  }
  if ('array' in shape) {
    if (!Array.isArray(value)) {
      problems.add(path, 'error.expected.jsarray');
      return;
    }
    value.forEach((item, i) => checkShape(item, shape.array, `${path}(${i})`, problems, true));
    return;
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.add(path, 'error.expected.jsobject');
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    const field = shape.object[key];
    if (field) checkShape(item, field, `${path}/${key}`, problems);
    else if (shape.values) checkShape(item, shape.values, `${path}/${key}`, problems, true);
  }
}
