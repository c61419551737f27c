/**
 * Helpers for subscriber tests: a subscriber on a random etcd prefix against an in-process engine, what
 * etcd holds, and what it should hold according to Marathon, worked out independently of the code
 * under test (from the engine's apps and tasks, by the rules of the endpoint contract).
 */
import { randomUUID } from 'node:crypto';
import {
  createEtcdClient,
  createLogger,
  decodeEndpointRecord,
  EtcdLayout,
  identityLabels,
  type MarathonApp,
  type ServiceRef,
} from '@theseus/services';
import { Subscriber, type SubscriberOptions } from '../subscriber.js';
import { InProcessEngine } from '@theseus/cluster/testing';

export const ETCD_ENDPOINTS = (process.env.ETCD_ENDPOINTS ?? 'http://127.0.0.1:2379').split(',');

export function randomPrefix(): string {
  return `/test-${randomUUID().slice(0, 8)}`;
}

export function quietLogger() {
  return createLogger({ component: 'subscriber', silent: !process.env.TEST_LOGS, format: 'json' });
}

/**
 * An in-process engine (Marathon) for subscriber tests: tasks come from `startTask`, and the ones the
 * engine launches on its own to replace ended ones never start, so the tasks that run are the test's.
 */
export function startMarathon(heartbeatMs: number): Promise<InProcessEngine> {
  return InProcessEngine.start({
    eventHeartbeatMs: heartbeatMs,
    eventMaxOutstanding: 100_000,
    script: () => ({ until: 'TASK_STAGING' }),
  });
}

export function makeSubscriber(
  marathon: InProcessEngine | string[],
  prefix: string,
  options: Partial<SubscriberOptions> = {},
): Subscriber {
  return new Subscriber({
    marathonUrls: Array.isArray(marathon) ? marathon : [marathon.url],
    etcdEndpoints: ETCD_ENDPOINTS,
    etcdPrefix: prefix,
    cluster: 'test',
    reconcileIntervalMs: 0,
    streamIdleTimeoutMs: 2_000,
    streamBackoffMs: 50,
    leaderTtlSeconds: 2,
    logger: quietLogger(),
    ...options,
  });
}

/** A Theseus app definition with named ports on the host network. */
export function theseusApp(ref: ServiceRef, extra: Partial<MarathonApp> = {}): MarathonApp {
  return {
    id: `/theseus/${ref.namespace}/${[ref.service, ...ref.labels].join('--')}`,
    cmd: 'serve',
    labels: identityLabels(ref),
    portDefinitions: [
      { port: 0, name: 'http', protocol: 'tcp' },
      { port: 0, name: 'admin', protocol: 'tcp' },
    ],
    ...extra,
  };
}

/** What matters of a record for "etcd equals Marathon". */
export interface EndpointView {
  taskId: string;
  host: string;
  ports: Record<string, number | null>;
  healthy: boolean | null;
  cluster: string;
}

/** Endpoint records under `prefix`, by key, reduced to their view. */
export async function etcdView(prefix: string, endpoints = ETCD_ENDPOINTS): Promise<Map<string, EndpointView>> {
  const client = createEtcdClient({ endpoints });
  try {
    const layout = new EtcdLayout(prefix);
    const all = await client.getAll().prefix(layout.allEndpoints()).strings();
    const out = new Map<string, EndpointView>();
    for (const [key, json] of Object.entries(all)) {
      const r = decodeEndpointRecord(json, key);
      out.set(key, {
        taskId: r.taskId,
        host: r.host,
        ports: Object.fromEntries(Object.entries(r.ports).map(([n, p]) => [n, p.host])),
        healthy: r.healthy,
        cluster: r.cluster,
      });
    }
    return out;
  } finally {
    client.close();
  }
}

/**
 * What etcd must hold for the engine's state: every TASK_RUNNING task of a Theseus app (healthy, when
 * it has health checks and `requireHealthy`), keyed by namespace/service/task, host ports by name.
 */
export function marathonView(
  marathon: InProcessEngine,
  prefix: string,
  options: { requireHealthy?: boolean; cluster?: string } = {},
): Map<string, EndpointView> {
  const layout = new EtcdLayout(prefix);
  const out = new Map<string, EndpointView>();
  const apps = new Map(marathon.apps().map((a) => [a.id, a]));
  for (const task of marathon.tasks()) {
    const app = apps.get(task.appId);
    const labels = app?.labels ?? {};
    if (!app || labels.THESEUS_MANAGED !== 'true' || task.state !== 'TASK_RUNNING') continue;
    const checks = app.healthChecks?.length ?? 0;
    const healthy =
      checks === 0
        ? null
        : (task.healthCheckResults ?? []).length >= checks && task.healthCheckResults!.every((r) => r.alive);
    if (checks > 0 && (options.requireHealthy ?? true) && !healthy) continue;
    const names = (app.portDefinitions ?? app.container?.portMappings ?? []).map((p, i) => p.name ?? `port${i}`);
    out.set(layout.endpoint(labels.THESEUS_NAMESPACE!, labels.THESEUS_SERVICE!, task.id), {
      taskId: task.id,
      host: task.host,
      ports: Object.fromEntries(names.map((n, i) => [n, task.ports?.[i] ?? null])),
      healthy,
      cluster: options.cluster ?? 'test',
    });
  }
  return out;
}

/** Polls until `check` holds; the limit only stops a broken test from hanging. */
export async function until(check: () => boolean | Promise<boolean>, what: string, limitMs = 20_000): Promise<void> {
  const end = Date.now() + limitMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Waits until etcd holds exactly what Marathon says, and returns the last view of both. */
export async function untilInSync(
  marathon: InProcessEngine,
  prefix: string,
  options: { requireHealthy?: boolean; endpoints?: string[] } = {},
): Promise<void> {
  let last = '';
  await until(async () => {
    const want = JSON.stringify([...marathonView(marathon, prefix, options)].sort());
    const have = JSON.stringify([...(await etcdView(prefix, options.endpoints))].sort());
    last = `want ${want}\nhave ${have}`;
    return want === have;
  }, 'etcd to equal Marathon').catch((err: Error) => {
    throw new Error(`${err.message}\n${last}`);
  });
}

export async function clearPrefix(prefix: string): Promise<void> {
  const client = createEtcdClient({ endpoints: ETCD_ENDPOINTS });
  await client.delete().prefix(prefix + '/');
  client.close();
}
