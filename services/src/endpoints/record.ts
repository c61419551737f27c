/**
 * The endpoint record: what the subscriber writes into etcd for each running task of a Theseus
 * service, and what guestutils and the watcher read. Stored as JSON; `v` is the format version.
 */
import * as z from 'zod';
import { ValidationError, type ProblemDetail } from '../errors.js';
import { nameProblem } from '../naming.js';

export const ENDPOINT_RECORD_VERSION = 1;

const name = z.string().superRefine((value, ctx) => {
  const problem = nameProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
const port = z.number().int().min(0).max(65535);
const timestamp = z.string().datetime({ offset: true });

export const EndpointPortSchema = z.strictObject({
  /** The port on `host` that reaches this port of the task (null: none allocated, e.g. container networks). */
  host: port.nullable(),
  /** The port inside the container (null: host networking, where it equals `host`). */
  container: port.nullable(),
  protocol: z.enum(['tcp', 'udp', 'udp,tcp']),
});

export const EndpointRecordSchema = z.strictObject({
  v: z.literal(ENDPOINT_RECORD_VERSION),
  /** The Marathon cluster (subscriber setting THESEUS_CLUSTER) that owns this record. */
  cluster: name,
  namespace: name,
  service: name,
  labels: z.array(name),
  appId: z.string().startsWith('/'),
  taskId: z.string().min(1),
  /** The app version the task runs (Marathon's `version`). */
  appVersion: z.string(),
  /** The agent's hostname or address, as Marathon reports it (`task.host`). */
  host: z.string().min(1),
  ipAddresses: z.array(z.string()),
  /** Named ports. Unnamed Marathon ports appear as `port0`, `port1`, ... */
  ports: z.record(z.string().min(1), EndpointPortSchema),
  /** true / false from health checks; null when the app has none. */
  healthy: z.boolean().nullable(),
  startedAt: timestamp.nullable(),
  /** Time of the Marathon event or snapshot this record reflects; newer wins. */
  updatedAt: timestamp,
});

export type EndpointPort = z.infer<typeof EndpointPortSchema>;
export type EndpointRecord = z.infer<typeof EndpointRecordSchema>;

export function encodeEndpointRecord(record: EndpointRecord): string {
  return JSON.stringify(EndpointRecordSchema.parse(record));
}

/** Parses and validates a stored record; `where` (usually the etcd key) is named in the error. */
export function decodeEndpointRecord(json: string, where = 'endpoint record'): EndpointRecord {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new ValidationError(`${where} is not valid JSON`, [{ path: '/', message: (err as Error).message }]);
  }
  const parsed = EndpointRecordSchema.safeParse(value);
  if (!parsed.success) throw new ValidationError(`${where} is not a valid endpoint record`, zodProblems(parsed.error));
  return parsed.data;
}

/** Zod issues as path-named problems. */
export function zodProblems(error: z.ZodError, base = ''): ProblemDetail[] {
  return error.issues.map((issue) => ({
    path: base + (issue.path.length ? '/' + issue.path.map(String).join('/') : '') || '/',
    message: issue.message,
  }));
}

/** True when two records describe the same endpoint state (ignoring `updatedAt`). */
export function sameEndpoint(a: EndpointRecord, b: EndpointRecord): boolean {
  const { updatedAt: _a, ...restA } = a;
  const { updatedAt: _b, ...restB } = b;
  return stableStringify(restA) === stableStringify(restB);
}

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
