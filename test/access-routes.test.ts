// Who may do what on every HTTP route of the deployer (and its dashboard) and the subscriber: each
// route is asked without a token, with a wrong one and with the right one. Mutating routes refuse
// callers without the token; readers never see an environment value. The subscriber takes Marathon
// events only with its callback secret, and a forged event is checked against Marathon before
// anything is written. Everything real: the engine, Redis, etcd.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type express from 'express';
import {
  createEtcdClient,
  createLogger,
  decodeEndpointRecord,
  EtcdLayout,
  identityLabels,
  loadSettings,
  type EndpointRecord,
} from '@theseus/services';
import { startEngine, type RunningEngine } from '@theseus/cluster';
import { startDeployerServer, type DeployerServer } from '@theseus/deployer';
import { discoveryHttp, Subscriber, subscriberHttpApp, type DiscoveryHttp } from '@theseus/subscriber';
import { eventually } from './support/processes.js';

const TOKEN = `token-${randomUUID()}`;
const CALLBACK_SECRET = `callback-${randomUUID()}`;
const SECRET_VALUES = ['value-s3cret-7781', 'value-s3cret-7782', 'value-s3cret-web'];
const PREFIX = `/test-access-${randomUUID().slice(0, 8)}`;
const QUEUE_PREFIX = `test-access-${randomUUID().slice(0, 8)}`;
const layout = new EtcdLayout(PREFIX);
const etcdEndpoints = (process.env.ETCD_ENDPOINTS ?? 'http://127.0.0.1:2379').split(',');
const quiet = () => createLogger({ component: 'test', silent: true });

let dataDir: string;
let engine: RunningEngine;
let openReads: DeployerServer;
let closedReads: DeployerServer;
let subscriber: Subscriber;
let subscriberApp: express.Express;
let discovery: DiscoveryHttp;
let subscriberServer: Server;
let subscriberUrl = '';

type Caller = 'none' | 'wrong' | 'right';
const CALLERS: Caller[] = ['none', 'wrong', 'right'];
const headersOf = (caller: Caller): Record<string, string> =>
  caller === 'none' ? {} : { Authorization: `Bearer ${caller === 'right' ? TOKEN : `wrong-${randomUUID()}`}` };

/** Every route of an Express app, as `METHOD /path`, nested routers included. */
function routesOf(app: express.Express): string[] {
  const found: string[] = [];
  const walk = (
    stack: Array<{ route?: { path: string; methods: Record<string, boolean> }; handle?: { stack?: unknown[] } }>,
  ) => {
    for (const layer of stack) {
      if (layer.route)
        for (const method of Object.keys(layer.route.methods))
          found.push(`${method.toUpperCase()} ${layer.route.path}`);
      else if (Array.isArray(layer.handle?.stack)) walk(layer.handle.stack as typeof stack);
    }
  };
  walk((app as unknown as { router: { stack: Parameters<typeof walk>[0] } }).router.stack);
  return found.sort();
}

/** Status and body text of a request; an event stream is read until its first `snapshot` event. */
async function ask(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; text: string }> {
  const abort = new AbortController();
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...headers, ...(body ? { 'Content-Type': 'application/yaml' } : {}) },
    body,
    redirect: 'manual',
    signal: abort.signal,
  });
  if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream'))
    return { status: res.status, text: await res.text() };
  let text = '';
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    text += decoder.decode(chunk, { stream: true });
    if (/event: snapshot\ndata: .*\n\n/.test(text)) break;
  }
  abort.abort();
  return { status: res.status, text };
}

const SHOP = (secret: string) =>
  `deploy:\n  shop: {image: theseus/busybox:local, ports: {http: 8080}, environment: {SHOP_SECRET: ${secret}}, deadline: 2, onFailure: keep}\n`;

async function deployerFor(open: boolean): Promise<DeployerServer> {
  const settings = loadSettings({
    env: {
      MARATHON_URL: engine.url,
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      THESEUS_API_TOKEN: TOKEN,
      THESEUS_QUEUE_PREFIX: QUEUE_PREFIX, // one queue: both answer for the same deployments
      THESEUS_DEPLOYMENT_TIMEOUT_MS: '1500',
      THESEUS_OPEN_READS: String(open),
      ETCD_ENDPOINTS: etcdEndpoints.join(','),
      THESEUS_ETCD_PREFIX: PREFIX,
    },
  });
  return startDeployerServer({
    settings,
    logger: quiet(),
    port: 0,
    defaultMetrics: false,
    lockDurationMs: 2000,
    backoffMs: 20,
  });
}

async function records(): Promise<EndpointRecord[]> {
  const client = createEtcdClient({ endpoints: etcdEndpoints });
  try {
    const stored = await client.getAll().prefix(layout.serviceEndpoints('default', 'web')).strings();
    return Object.entries(stored).map(([key, json]) => decodeEndpointRecord(json, key));
  } finally {
    client.close();
  }
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'theseus-access-'));
  engine = await startEngine({
    dataDir,
    port: 0,
    listenHost: '127.0.0.1',
    portRange: [36200, 36299],
    allowHostCommands: true,
    logger: quiet(),
  }); // the web app is a host command
  openReads = await deployerFor(true);
  closedReads = await deployerFor(false);

  subscriberServer = createServer();
  subscriberServer.listen(0, '127.0.0.1');
  await new Promise((resolve) => subscriberServer.once('listening', resolve));
  subscriberUrl = `http://127.0.0.1:${(subscriberServer.address() as AddressInfo).port}`;
  subscriber = new Subscriber({
    marathonUrls: [engine.url],
    etcdEndpoints,
    etcdPrefix: PREFIX,
    cluster: 'test',
    reconcileIntervalMs: 0,
    leaderTtlSeconds: 2,
    callbackUrl: `${subscriberUrl}/callback`,
    callbackSecret: CALLBACK_SECRET,
    logger: quiet(),
  });
  // No container user here (this etcd has no authentication): discovery answers anyone, as etcd does.
  // With one, discovery needs its credentials: subscriber/src/discovery-http/readers.test.ts.
  discovery = discoveryHttp({ client: subscriber.etcd, layout, maxWaitMs: 1_000 });
  subscriberApp = subscriberHttpApp(subscriber, { apiToken: TOKEN, discovery });
  subscriberServer.on('request', subscriberApp);
  subscriber.start();
  await eventually('the subscriber leading and registered', async () => {
    const status = await subscriber.status();
    return status.role === 'leader' && status.stream === 'callbacks' && status.lastReconcile !== undefined;
  });

  // A service through the deployer, its secret changed once (the second deployment records an update).
  for (const secret of SECRET_VALUES.slice(0, 2)) {
    const res = await fetch(`${openReads.url}/deploy?wait=true`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/yaml' },
      body: SHOP(secret),
    });
    assert.equal(res.status, 200, await res.text());
  }
  // A running task of a command-only app, started directly on the engine.
  const created = await fetch(`${engine.url}/v2/apps`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      id: '/theseus/default/web',
      cmd: 'sleep 600',
      cpus: 0.01,
      mem: 16,
      instances: 1,
      env: { WEB_SECRET: SECRET_VALUES[2] },
      labels: identityLabels({ namespace: 'default', service: 'web', labels: [] }),
      portDefinitions: [{ port: 0, name: 'http', protocol: 'tcp' }],
    }),
  });
  assert.equal(created.status, 201, await created.text());
});

after(async () => {
  discovery?.release();
  await subscriber?.stop();
  subscriberServer?.closeAllConnections();
  subscriberServer?.close();
  await openReads?.close();
  await closedReads?.close();
  if (engine) {
    for (const id of ['/theseus/default/web', '/theseus/default/shop'])
      await fetch(`${engine.url}/v2/apps${id}?force=true`, { method: 'DELETE' }).catch(() => undefined);
    await eventually('tasks gone', async () => engine.engine.scheduler.tasks.size === 0).catch(() => undefined);
    await engine.stop();
  }
  const client = createEtcdClient({ endpoints: etcdEndpoints });
  await client
    .delete()
    .prefix(`${PREFIX}/`)
    .catch(() => undefined);
  client.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const PUBLIC = 'public';
const READ = 'read';
const WRITE = 'write';
/** Every deployer route, what it is, and a request that reaches its handler. */
const DEPLOYER_ROUTES: Record<string, { kind: string; path: string; body?: string }> = {
  'GET /healthz': { kind: PUBLIC, path: '/healthz' },
  'GET /readyz': { kind: PUBLIC, path: '/readyz' },
  'GET /metrics': { kind: PUBLIC, path: '/metrics' },
  'GET /openapi.json': { kind: PUBLIC, path: '/openapi.json' },
  'GET /ui': { kind: PUBLIC, path: '/ui' },
  'GET /ui/api/snapshot': { kind: READ, path: '/ui/api/snapshot' },
  'GET /ui/api/live': { kind: READ, path: '/ui/api/live' },
  'GET /deployments': { kind: READ, path: '/deployments' },
  'GET /deployments/:id': { kind: READ, path: '/deployments/' },
  'GET /services': { kind: READ, path: '/services' },
  'GET /services/:name': { kind: READ, path: '/services/shop' },
  'GET /services/:name/versions': { kind: READ, path: '/services/shop/versions' },
  'GET /services/:name/logs': { kind: READ, path: '/services/shop/logs?tail=5' },
  'POST /deploy': { kind: WRITE, path: '/deploy?dryRun=true', body: SHOP('x') },
  'POST /services/:name/scale': { kind: WRITE, path: '/services/nothing/scale?instances=1' },
  'POST /services/:name/restart': { kind: WRITE, path: '/services/nothing/restart' },
  'POST /services/:name/rollback': { kind: WRITE, path: '/services/nothing/rollback' },
  'DELETE /services/:name': { kind: WRITE, path: '/services/nothing' },
};

test('deployer: every route without a token, with a wrong one and with the right one', async () => {
  assert.deepEqual(routesOf(openReads.app), Object.keys(DEPLOYER_ROUTES).sort(), 'every route is in the table');
  const latest = (
    JSON.parse((await ask(openReads.url, 'GET', '/deployments', headersOf('right'))).text) as {
      deployments: Array<{
        id: string;
        steps: Array<{ changes?: Array<{ path: string; from: unknown; to: unknown }> }>;
      }>;
    }
  ).deployments;
  assert.deepEqual(
    latest[0]!.steps[0]!.changes?.find((c) => c.path === '/env/SHOP_SECRET'),
    { path: '/env/SHOP_SECRET', from: '(hidden)', to: '(hidden)' },
    'the update is recorded, its values hidden',
  );
  DEPLOYER_ROUTES['GET /deployments/:id']!.path = `/deployments/${latest[0]!.id}`;

  for (const [route, { kind, path, body }] of Object.entries(DEPLOYER_ROUTES)) {
    const method = route.split(' ')[0]!;
    for (const [server, open] of [
      [openReads, true],
      [closedReads, false],
    ] as const) {
      for (const caller of CALLERS) {
        const { status, text } = await ask(server.url, method, path, headersOf(caller), body);
        const what = `${route} (${open ? 'open' : 'closed'} reads, ${caller} token): ${status} ${text.slice(0, 200)}`;
        const refused =
          caller === 'wrong' ? kind !== PUBLIC : caller === 'none' && (kind === WRITE || (kind === READ && !open));
        if (refused) assert.equal(status, 401, what);
        else {
          assert.ok(status < 500 && status !== 401 && status !== 403, what);
          if (kind === READ) assert.ok(status === 200, what);
        }
        const shown = SECRET_VALUES.filter((v) => text.includes(v));
        if (route === 'GET /services/:name' && caller === 'right')
          assert.equal(shown.length, 1, `${what}: the token holder sees the value`);
        else if (kind === WRITE && caller === 'right')
          continue; // a dry run shows the token holder the definition it would send
        else assert.deepEqual(shown, [], `${what}: no environment value`);
      }
    }
  }
  const reader = JSON.parse((await ask(openReads.url, 'GET', '/services/shop', {})).text) as {
    groups: Array<{ spec: { environment: Record<string, unknown> } }>;
  };
  assert.deepEqual(reader.groups[0]!.spec.environment, { SHOP_SECRET: null }, 'readers see the names');
});

test('subscriber: /cleanup and /reconcile need the API token; /callback needs the callback secret, never the token', async () => {
  const routes: Record<string, { kind: string; path: string }> = {
    'GET /healthz': { kind: PUBLIC, path: '/healthz' },
    'GET /readyz': { kind: PUBLIC, path: '/readyz' },
    'GET /metrics': { kind: PUBLIC, path: '/metrics' },
    'POST /cleanup': { kind: WRITE, path: '/cleanup' },
    'POST /reconcile': { kind: WRITE, path: '/reconcile' },
    'POST /callback': { kind: 'callback', path: '/callback' },
    'GET /v1/endpoints/:namespace/:service': { kind: PUBLIC, path: '/v1/endpoints/default/web' },
    'GET /v2/tasks': { kind: PUBLIC, path: '/v2/tasks' },
  };
  assert.deepEqual(routesOf(subscriberApp), Object.keys(routes).sort(), 'every route is in the table');
  for (const [route, { kind, path }] of Object.entries(routes)) {
    const method = route.split(' ')[0]!;
    for (const caller of CALLERS) {
      const { status, text } = await ask(subscriberUrl, method, path, headersOf(caller));
      const what = `${route} (${caller} token): ${status} ${text.slice(0, 200)}`;
      if (kind === PUBLIC) assert.ok(status === 200, what);
      else if (kind === WRITE) assert.equal(status, caller === 'right' ? 200 : 401, what);
      else assert.equal(status, 401, what);
    }
  }
  const event = JSON.stringify({
    eventType: 'app_terminated_event',
    appId: '/theseus/default/nothing',
    timestamp: new Date().toISOString(),
  });
  const post = (query: string) =>
    fetch(`${subscriberUrl}/callback${query}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: event,
    });
  assert.equal((await post(`?token=${TOKEN}`)).status, 401, 'the API token is not the callback secret');
  assert.equal((await post(`?secret=wrong-${CALLBACK_SECRET}`)).status, 401);
  assert.equal((await post(`?secret=${CALLBACK_SECRET}`)).status, 200);
  const registered = (await (await fetch(`${engine.url}/v2/eventSubscriptions`)).json()) as { callbackUrls: string[] };
  assert.ok(
    registered.callbackUrls.includes(`${subscriberUrl}/callback?secret=${CALLBACK_SECRET}`),
    JSON.stringify(registered),
  );
  assert.ok(!registered.callbackUrls.some((url) => url.includes(TOKEN)), 'the API token is not in Marathon');
});

test("a forged callback event is not written; the same event from the engine's own callback is", async () => {
  const [real] = await eventually("the engine's callback wrote the task", async () => {
    const found = await records();
    return found.length === 1 ? found : undefined;
  });
  const forge = (taskId: string, host: string, port: number) =>
    fetch(`${subscriberUrl}/callback?secret=${CALLBACK_SECRET}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        eventType: 'status_update_event',
        timestamp: new Date().toISOString(),
        slaveId: 'agent-1',
        taskId,
        taskStatus: 'TASK_RUNNING',
        message: '',
        appId: '/theseus/default/web',
        host,
        ipAddresses: [],
        ports: [port],
        version: real!.appVersion,
      }),
    });
  assert.equal((await forge('theseus_default_web.forged-1', '203.0.113.9', 6666)).status, 200);
  assert.equal((await forge(real!.taskId, '203.0.113.9', 6666)).status, 200);

  // A real change after the forgeries: once it is written, they have been dealt with.
  const scaled = await fetch(`${engine.url}/v2/apps/theseus/default/web`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ instances: 2 }),
  });
  assert.ok(scaled.ok, await scaled.text());
  const after = await eventually('the second task written', async () => {
    const found = await records();
    return found.length === 2 ? found : undefined;
  });
  assert.ok(
    after.every((r) => r.host === '127.0.0.1' && !r.taskId.includes('forged')),
    JSON.stringify(after),
  );
  assert.deepEqual(
    after.find((r) => r.taskId === real!.taskId)?.ports,
    real!.ports,
    "the real task's record is unchanged",
  );
});
