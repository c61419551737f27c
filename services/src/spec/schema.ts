/**
 * The deploy document: what a developer sends to `POST /deploy`.
 *
 *   deploy:
 *     ingestor:
 *       image: registry.local:5000/flask
 *       labels: [dev]
 *       ports: {ssh: 22, api: 5000}
 *       environment: {APP_NAME: Ingestor}
 *       instances: 4
 *   remove:
 *     old-ingestor: {labels: [dev]}
 *
 * `DeployDocumentInput` is the shape as written (zod, strict: unknown fields are errors); it also
 * generates the JSON Schema in the deployer's OpenAPI document. `DeployDocument` is the resolved
 * form every later step works on: defaults filled in, names canonical, constraints as triples.
 * A service entry may also be a list of entries, one per label set (labeled groups side by side).
 */
import * as z from 'zod';

export const PORT_PROTOCOLS = ['tcp', 'udp', 'udp,tcp'] as const;
export type PortProtocol = (typeof PORT_PROTOCOLS)[number];

export const CONSTRAINT_OPERATORS = ['UNIQUE', 'CLUSTER', 'GROUP_BY', 'LIKE', 'UNLIKE', 'MAX_PER'] as const;
export type ConstraintOperator = (typeof CONSTRAINT_OPERATORS)[number];

export const HEALTH_CHECK_PROTOCOLS = [
  'HTTP',
  'HTTPS',
  'TCP',
  'COMMAND',
  'MESOS_HTTP',
  'MESOS_HTTPS',
  'MESOS_TCP',
] as const;
export type HealthCheckProtocol = (typeof HEALTH_CHECK_PROTOCOLS)[number];

/** Defaults of a service entry. cpus/mem follow Marathon's scale, not the 2014 original's. */
export const SERVICE_DEFAULTS = {
  namespace: 'default',
  instances: 1,
  cpus: 0.1,
  mem: 128,
  disk: 0,
  upgrade: { minimumHealthCapacity: 1, maximumOverCapacity: 1 },
  healthCheck: { gracePeriodSeconds: 300, intervalSeconds: 60, timeoutSeconds: 20, maxConsecutiveFailures: 3 },
  onFailure: 'rollback',
  /** Seconds a service's rollout may take before it counts as failed. */
  deadlineSeconds: 600,
} as const;

export const ON_FAILURE = ['rollback', 'stop', 'keep'] as const;
export type OnFailure = (typeof ON_FAILURE)[number];

const portNumber = z.number().int().min(1).max(65535);
const hostPortNumber = z.number().int().min(0).max(65535);
const seconds = z.number().int().min(0);
const fraction = z.number().min(0).max(1);
/** Whole seconds, or a number with a unit: `90s`, `10m`, `1h`, `1h30m`. */
export const DurationInput = z.union([
  seconds,
  z.string().regex(/^\s*(\d+\s*[hms]\s*)+$/i, 'expected seconds or a duration like 30s, 10m, 1h30m'),
]);

export const PortInput = z.union([
  portNumber,
  z.strictObject({
    /** Container port. */
    port: portNumber,
    protocol: z.enum(PORT_PROTOCOLS).optional(),
    /** A fixed host port; 0 or absent lets Marathon pick one. */
    hostPort: hostPortNumber.optional(),
  }),
]);

/** `"host:container[:ro|rw]"` or the object form. Host mounts need `deployer.hostVolumePaths`. */
export const VolumeInput = z.union([
  z.string().min(3),
  z.strictObject({
    hostPath: z.string().min(1),
    containerPath: z.string().min(1),
    mode: z.enum(['RO', 'RW', 'ro', 'rw']).optional(),
  }),
]);

/** `UNIQUE`, `CLUSTER value`, `GROUP_BY [n]`, `LIKE regex`, `UNLIKE regex`, `MAX_PER n`. */
export const ConstraintText = z.string().min(1);

export const ConstraintsInput = z.union([
  /** `{hostname: UNIQUE, rack: "GROUP_BY 3"}` */
  z.record(z.string(), ConstraintText),
  /** `["hostname UNIQUE", {rack: "GROUP_BY 3"}]`: a list allows the same field twice. */
  z.array(z.union([z.string(), z.record(z.string(), ConstraintText)])),
]);

export const HealthCheckInput = z.strictObject({
  protocol: z.enum(HEALTH_CHECK_PROTOCOLS).optional(),
  /** Name of one of the service's ports; defaults to the first. */
  port: z.string().optional(),
  path: z.string().startsWith('/').optional(),
  command: z.string().min(1).optional(),
  gracePeriodSeconds: seconds.optional(),
  intervalSeconds: seconds.optional(),
  timeoutSeconds: seconds.optional(),
  maxConsecutiveFailures: seconds.optional(),
});

export const UriInput = z.union([
  z.string().min(1),
  z.strictObject({
    uri: z.string().min(1),
    extract: z.boolean().optional(),
    executable: z.boolean().optional(),
    cache: z.boolean().optional(),
    destPath: z.string().min(1).optional(),
  }),
]);

export const ServiceInput = z.strictObject({
  image: z.string().min(1),
  labels: z.array(z.string()).optional(),
  namespace: z.string().optional(),
  /** Port name -> container port (or `{port, protocol, hostPort}`). */
  ports: z.record(z.string(), PortInput).optional(),
  /** Values may be written as numbers or booleans; containers get them as strings. */
  environment: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  /** 0 is a valid scale-to-zero. */
  instances: z.number().int().min(0).optional(),
  cpus: z.number().min(0.001).optional(),
  /** MB */
  mem: z.number().positive().optional(),
  /** MB */
  disk: z.number().min(0).optional(),
  cmd: z.string().min(1).optional(),
  args: z.array(z.string()).optional(),
  volumes: z.array(VolumeInput).optional(),
  constraints: ConstraintsInput.optional(),
  healthChecks: z.array(HealthCheckInput).optional(),
  upgrade: z
    .strictObject({ minimumHealthCapacity: fraction.optional(), maximumOverCapacity: fraction.optional() })
    .optional(),
  uris: z.array(UriInput).optional(),
  killGracePeriod: DurationInput.optional().meta({
    description:
      "Time between SIGTERM and SIGKILL when an instance is stopped (Marathon's taskKillGracePeriodSeconds); the instance's endpoint is withdrawn before the SIGTERM. Absent: the cluster's default.",
  }),
  onFailure: z.enum(ON_FAILURE).optional().meta({
    description:
      'When the rollout fails or passes its deadline: rollback returns to the previous version, stop halts the rollout where it is, keep leaves it running.',
    default: SERVICE_DEFAULTS.onFailure,
  }),
  deadline: DurationInput.optional().meta({
    description: 'How long the rollout may take before it counts as failed (seconds, or e.g. 90s, 10m, 1h).',
    default: SERVICE_DEFAULTS.deadlineSeconds,
  }),
});

export const RemoveInput = z.strictObject({
  labels: z.array(z.string()).optional(),
  namespace: z.string().optional(),
});

export const DeployDocumentInput = z.strictObject({
  deploy: z.record(z.string(), z.union([ServiceInput, z.array(ServiceInput).min(1)])).optional(),
  remove: z.record(z.string(), z.union([RemoveInput, z.array(RemoveInput).min(1)])).optional(),
});

/** The deploy document's JSON Schema (2020-12), as written by a person: for API descriptions and editors. */
export function deployDocumentJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(DeployDocumentInput, { io: 'input', target: 'draft-2020-12' }) as Record<
    string,
    unknown
  >;
  delete schema.$schema;
  return schema;
}

export type ServiceInputType = z.infer<typeof ServiceInput>;
export type RemoveInputType = z.infer<typeof RemoveInput>;
export type DeployDocumentInputType = z.infer<typeof DeployDocumentInput>;

// ---- the resolved form ----------------------------------------------------------------------

export interface PortSpec {
  name: string;
  containerPort: number;
  protocol: PortProtocol;
  /** 0 = assigned by Marathon. */
  hostPort: number;
}

export interface VolumeSpec {
  hostPath: string;
  containerPath: string;
  mode: 'RO' | 'RW';
}

export interface ConstraintSpec {
  field: string;
  operator: ConstraintOperator;
  value?: string;
}

export interface HealthCheckSpec {
  protocol: HealthCheckProtocol;
  /** Port name, for every protocol but COMMAND. */
  port?: string;
  path?: string;
  command?: string;
  gracePeriodSeconds: number;
  intervalSeconds: number;
  timeoutSeconds: number;
  maxConsecutiveFailures: number;
}

export interface UriSpec {
  uri: string;
  extract: boolean;
  executable: boolean;
  cache: boolean;
  destPath?: string;
}

/** One labeled group of a service, resolved. */
export interface ServiceSpec {
  service: string;
  namespace: string;
  /** Canonical: sorted, unique. */
  labels: string[];
  image: string;
  ports: PortSpec[];
  environment: Record<string, string>;
  instances: number;
  cpus: number;
  mem: number;
  disk: number;
  cmd?: string;
  args?: string[];
  volumes: VolumeSpec[];
  constraints: ConstraintSpec[];
  healthChecks: HealthCheckSpec[];
  upgrade: { minimumHealthCapacity: number; maximumOverCapacity: number };
  uris: UriSpec[];
  /** Absent: the cluster's default. */
  killGracePeriodSeconds?: number;
  onFailure: OnFailure;
  deadlineSeconds: number;
}

export interface RemoveSpec {
  service: string;
  namespace: string;
  labels: string[];
}

export interface DeployDocument {
  deploy: ServiceSpec[];
  remove: RemoveSpec[];
}
