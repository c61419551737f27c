/**
 * Reading endpoint records back from etcd. A service's instances are one range read under
 * `EtcdLayout.serviceEndpoints`; the answer carries the etcd revision it reflects, so a watch can
 * start at `revision + 1` and miss nothing. Records that do not decode are returned apart, with
 * the reason, never silently dropped and never failing the whole read.
 */
import type { IKeyValue, Namespace } from 'etcd3';
import { castEtcdError } from '../etcd-errors.js';
import { ValidationError } from '../errors.js';
import type { EtcdLayout } from './keys.js';
import { decodeEndpointRecord, type EndpointRecord } from './record.js';

export interface StoredEndpoint {
  key: string;
  /** The task id, from the key. */
  taskId: string;
  record: EndpointRecord;
  /** Revision of the last write of this key. */
  modRevision: string;
}

export interface InvalidEndpoint {
  key: string;
  error: ValidationError;
}

export interface EndpointSnapshot {
  endpoints: StoredEndpoint[];
  invalid: InvalidEndpoint[];
  /** The etcd revision this snapshot reflects. */
  revision: string;
}

/** Decodes one stored key/value of the endpoint layout. */
export function decodeStoredEndpoint(layout: EtcdLayout, kv: IKeyValue): StoredEndpoint | InvalidEndpoint {
  const key = kv.key.toString();
  const parsed = layout.parseEndpointKey(key);
  if (!parsed) {
    return {
      key,
      error: new ValidationError(`${key} is not an endpoint key`, [
        { path: key, message: 'expected <prefix>/v1/endpoints/<namespace>/<service>/<taskId>' },
      ]),
    };
  }
  try {
    const record = decodeEndpointRecord(kv.value.toString(), key);
    if (record.taskId !== parsed.taskId || record.service !== parsed.service || record.namespace !== parsed.namespace) {
      return {
        key,
        error: new ValidationError(`${key} holds the record of another task`, [
          { path: key, message: `record names ${record.namespace}/${record.service}/${record.taskId}` },
        ]),
      };
    }
    return { key, taskId: parsed.taskId, record, modRevision: kv.mod_revision };
  } catch (err) {
    if (err instanceof ValidationError) return { key, error: err };
    throw err;
  }
}

export function isStoredEndpoint(value: StoredEndpoint | InvalidEndpoint): value is StoredEndpoint {
  return 'record' in value;
}

/**
 * Decoded records by key: a record read again with the same bytes is not parsed and validated
 * again. Worth keeping in a reader that reads the same keys over and over (guestutils without its
 * cache, a dashboard). Records it hands out are frozen, since they are shared between reads.
 */
export class DecodedEndpoints {
  private readonly byKey = new Map<string, { value: Buffer; decoded: StoredEndpoint | InvalidEndpoint }>();

  decode(layout: EtcdLayout, kv: IKeyValue): StoredEndpoint | InvalidEndpoint {
    const key = kv.key.toString();
    const hit = this.byKey.get(key);
    if (hit && hit.value.equals(kv.value)) {
      return isStoredEndpoint(hit.decoded) ? { ...hit.decoded, modRevision: kv.mod_revision } : hit.decoded;
    }
    const decoded = decodeStoredEndpoint(layout, kv);
    if (isStoredEndpoint(decoded)) deepFreeze(decoded.record);
    this.byKey.set(key, { value: Buffer.from(kv.value), decoded });
    return decoded;
  }

  forget(key: string): void {
    this.byKey.delete(key);
  }

  /** Forgets the keys under `keyPrefix` that are not in `present`. */
  prune(keyPrefix: string, present: ReadonlySet<string>): void {
    for (const key of this.byKey.keys()) if (key.startsWith(keyPrefix) && !present.has(key)) this.byKey.delete(key);
  }

  get size(): number {
    return this.byKey.size;
  }
}

function deepFreeze(value: unknown): void {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
}

export interface ReadEndpointsOptions {
  /** Reuse records decoded by earlier reads. @defaultValue none: decode every record */
  decoded?: DecodedEndpoints;
}

/** Every endpoint record under `keyPrefix` (one range read), in key order. */
export async function readEndpointsUnder(
  client: Namespace,
  layout: EtcdLayout,
  keyPrefix: string,
  options: ReadEndpointsOptions = {},
): Promise<EndpointSnapshot> {
  let response;
  try {
    response = await client.getAll().prefix(keyPrefix).exec();
  } catch (err) {
    throw castEtcdError(err);
  }
  const snapshot: EndpointSnapshot = { endpoints: [], invalid: [], revision: response.header.revision };
  const memo = options.decoded;
  for (const kv of response.kvs) {
    const decoded = memo ? memo.decode(layout, kv) : decodeStoredEndpoint(layout, kv);
    if (isStoredEndpoint(decoded)) snapshot.endpoints.push(decoded);
    else snapshot.invalid.push(decoded);
  }
  memo?.prune(keyPrefix, new Set(response.kvs.map((kv) => kv.key.toString())));
  return snapshot;
}

/** The records of one service in one namespace: one range read. */
export function readServiceEndpoints(
  client: Namespace,
  layout: EtcdLayout,
  namespace: string,
  service: string,
  options: ReadEndpointsOptions = {},
): Promise<EndpointSnapshot> {
  return readEndpointsUnder(client, layout, layout.serviceEndpoints(namespace, service), options);
}

/** The records of every service of a namespace: one range read. */
export function readNamespaceEndpoints(
  client: Namespace,
  layout: EtcdLayout,
  namespace: string,
  options: ReadEndpointsOptions = {},
): Promise<EndpointSnapshot> {
  return readEndpointsUnder(client, layout, layout.namespaceEndpoints(namespace), options);
}

/** One task's record, or undefined when there is none. Throws ValidationError for a record that does not decode. */
export async function readEndpoint(
  client: Namespace,
  layout: EtcdLayout,
  namespace: string,
  service: string,
  taskId: string,
): Promise<StoredEndpoint | undefined> {
  const key = layout.endpoint(namespace, service, taskId);
  let response;
  try {
    response = await client.get(key).exec();
  } catch (err) {
    throw castEtcdError(err);
  }
  const kv = response.kvs[0];
  if (!kv) return undefined;
  const decoded = decodeStoredEndpoint(layout, kv);
  if (!isStoredEndpoint(decoded)) throw decoded.error;
  return decoded;
}
