/**
 * Endpoint records as the JSON the subscriber stores, built straight from an app's model and a
 * task's facts (no intermediate record object, no validation pass on the event path), with the
 * hash of their state.
 *
 * The JSON has one canonical form: the EndpointRecord's fields in a fixed order, ports in the app's
 * order, `startedAt` and `updatedAt` last. Everything before `startedAt` is the record's state: two
 * records with the same state describe the same endpoint (an event's time and Marathon's
 * `startedAt` for the same start differ by milliseconds; a rewrite for that alone would wake every
 * watcher for nothing). A record read back from etcd is re-encoded the same way (`encodeRecord`),
 * so its state compares with a new one's.
 */
import { ENDPOINT_RECORD_VERSION, type EndpointRecord, type EtcdLayout } from '@theseus/services';
import type { AppModel, TaskFacts } from './endpoint-of-task.js';

/** A record ready to store. */
export interface EncodedEndpoint {
  json: string;
  /** 53-bit hash of the state part of `json`; never 0. */
  state: number;
  /** The record's startedAt, ms. */
  startedAt: number | null;
  healthy: boolean | null;
}

/** The per-app parts of every record of an app, serialised once. */
interface PreparedApp {
  keyPrefix: string;
  head: string;
  /** Ports in the app's order: `"name":{"host":` and the rest after the host port. */
  ports: Array<{ open: string; hostPortIndex: number | undefined; containerPort: number | null; close: string }>;
}

const str = JSON.stringify;

export class EndpointEncoder {
  private readonly prepared = new WeakMap<AppModel, PreparedApp>();

  constructor(
    private readonly layout: EtcdLayout,
    private readonly cluster: string,
  ) {}

  /** The etcd key of a task of a Theseus app. */
  key(model: AppModel, taskId: string): string {
    if (!taskId || taskId.includes('/')) throw new Error(`invalid task id ${str(taskId)}`);
    return this.prepare(model).keyPrefix + taskId;
  }

  encode(model: AppModel, facts: TaskFacts, updatedAt: string, startedAtMs?: number | null): EncodedEndpoint {
    const app = this.prepare(model);
    let ports = '{';
    for (let i = 0; i < app.ports.length; i++) {
      const slot = app.ports[i]!;
      const host = slot.hostPortIndex === undefined ? null : (facts.ports[slot.hostPortIndex] ?? null);
      const container = slot.containerPort === null ? null : slot.containerPort === 0 ? host : slot.containerPort;
      ports += (i ? ',' : '') + slot.open + host + ',"container":' + container + slot.close;
    }
    return encodeParts(
      app.head,
      facts.taskId,
      facts.version || model.version,
      facts.host,
      facts.ipAddresses,
      ports + '}',
      facts.healthy,
      facts.startedAt,
      updatedAt,
      startedAtMs,
    );
  }

  private prepare(model: AppModel): PreparedApp {
    let app = this.prepared.get(model);
    if (!app) {
      const ref = model.ref;
      if (!ref) throw new Error(`${model.id} is not a Theseus app`);
      app = {
        keyPrefix: this.layout.serviceEndpoints(ref.namespace, ref.service),
        head: headOf(this.cluster, ref.namespace, ref.service, ref.labels, model.id),
        ports: model.ports.map((slot) => ({
          open: str(slot.name) + ':{"host":',
          hostPortIndex: slot.hostPortIndex,
          containerPort: slot.containerPort,
          close: ',"protocol":' + str(slot.protocol) + '}',
        })),
      };
      this.prepared.set(model, app);
    }
    return app;
  }
}

/** The canonical encoding of a record (one read back from etcd, or built elsewhere). */
export function encodeRecord(record: EndpointRecord): EncodedEndpoint {
  let ports = '{';
  for (const name of Object.keys(record.ports)) {
    const port = record.ports[name]!;
    ports +=
      (ports.length > 1 ? ',' : '') +
      str(name) +
      ':{"host":' +
      port.host +
      ',"container":' +
      port.container +
      ',"protocol":' +
      str(port.protocol) +
      '}';
  }
  const head = headOf(record.cluster, record.namespace, record.service, record.labels, record.appId);
  return encodeParts(
    head,
    record.taskId,
    record.appVersion,
    record.host,
    record.ipAddresses,
    ports + '}',
    record.healthy,
    record.startedAt,
    record.updatedAt,
  );
}

function headOf(cluster: string, namespace: string, service: string, labels: readonly string[], appId: string): string {
  return `{"v":${ENDPOINT_RECORD_VERSION},"cluster":${str(cluster)},"namespace":${str(namespace)},"service":${str(service)},"labels":${str(labels)},"appId":${str(appId)}`;
}

function encodeParts(
  head: string,
  taskId: string,
  appVersion: string,
  host: string,
  ipAddresses: readonly string[],
  ports: string,
  healthy: boolean | null,
  startedAt: string | null,
  updatedAt: string,
  startedAtMs?: number | null,
): EncodedEndpoint {
  const state =
    head +
    ',"taskId":' +
    str(taskId) +
    ',"appVersion":' +
    str(appVersion) +
    ',"host":' +
    str(host) +
    ',"ipAddresses":' +
    str(ipAddresses) +
    ',"ports":' +
    ports +
    ',"healthy":' +
    healthy;
  const json =
    state + ',"startedAt":' + (startedAt === null ? 'null' : str(startedAt)) + ',"updatedAt":' + str(updatedAt) + '}';
  return {
    json,
    // Hashed as a prefix of the whole: only the JSON is made flat (once, here), not the state too.
    state: hashOf(json, state.length),
    startedAt: startedAtMs !== undefined ? startedAtMs : startedAt === null ? null : Date.parse(startedAt),
    healthy,
  };
}

/**
 * A 53-bit hash (two 32-bit multiply-xorshift lanes, mixed): much cheaper than a digest on the
 * event path, and as unlikely to collide for the one-key comparisons it serves. Never 0.
 */
function hashOf(text: string, length: number): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0) || 1;
}
