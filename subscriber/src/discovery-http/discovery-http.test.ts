// Discovery over plain HTTP, driven the way a script in a container drives it: busybox `wget` in a
// container of the busybox image, against the routes served from the real etcd.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { Etcd3 } from 'etcd3';
import { EtcdLayout, encodeEndpointRecord, toAppId, type EndpointRecord } from '@theseus/services';
import { discoveryHttp, type DiscoveryHttp } from './routes.js';

const etcdUrl = (process.env.ETCD_ENDPOINTS ?? 'http://127.0.0.1:2379').split(',')[0]!;
const layout = new EtcdLayout(`/test-discovery-${randomUUID().slice(0, 8)}`);
const client = new Etcd3({ hosts: etcdUrl });
const label = `io.theseus.test-run=discovery-http-${randomUUID().slice(0, 8)}`;
const gatewayScript = fileURLToPath(new URL('../../../cluster/scripts/bridge-gateway.mjs', import.meta.url));
let discovery: DiscoveryHttp;
let server: Server;
let base = '';
let container = '';

function record(service: string, n: number, fields: Partial<EndpointRecord> = {}): EndpointRecord {
  const labels = fields.labels ?? [];
  const appId = toAppId({ namespace: 'default', service, labels });
  return {
    v: 1,
    cluster: 'default',
    namespace: 'default',
    service,
    labels,
    appId,
    taskId: `${appId.slice(1).split('/').join('_')}.instance-${randomUUID()}._app.1`,
    appVersion: '2026-12-01T00:00:00.000Z',
    host: `10.7.0.${n}`,
    ipAddresses: [],
    ports: { http: { host: 31000 + n, container: 8080, protocol: 'tcp' } },
    healthy: true,
    startedAt: '2026-12-01T00:00:01.000Z',
    updatedAt: new Date().toISOString(),
    ...fields,
  };
}

async function put(r: EndpointRecord): Promise<void> {
  await client
    .put(layout.endpoint(r.namespace, r.service, r.taskId))
    .value(encodeEndpointRecord(r))
    .exec();
}

function docker(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile('docker', args, { encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? 1 : 0, stdout, stderr }),
    ),
  );
}

/** busybox wget inside the container. */
async function wget(path: string): Promise<{ code: number; body: string }> {
  const r = await docker('exec', container, 'wget', '-q', '-O', '-', `${base}${path}`);
  return { code: r.code, body: r.stdout };
}

async function eventually(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const web1 = record('web', 1);
const web2 = record('web', 2, {
  ports: {
    http: { host: 31002, container: 8080, protocol: 'tcp' },
    admin: { host: 32002, container: 9090, protocol: 'tcp' },
  },
});
const sick = record('web', 3, { healthy: false });
const prod = record('web', 4, { labels: ['prod'] });
const [w1, w2] = [web1, web2].sort((a, b) => (a.taskId < b.taskId ? -1 : 1)) as [EndpointRecord, EndpointRecord];

before(async () => {
  for (const r of [web1, web2, sick, prod]) await put(r);
  const network = execFileSync('docker', ['network', 'inspect', 'bridge', '--format', '{{json .}}'], {
    encoding: 'utf8',
  });
  const gateway = execFileSync(process.execPath, [gatewayScript], { input: network, encoding: 'utf8' }).trim();
  discovery = discoveryHttp({ client, layout, maxWaitMs: 30_000 });
  const app = express();
  app.use(discovery.router);
  // Reachable from containers on the bridge, and from nowhere else.
  server = app.listen(0, gateway);
  await once(server, 'listening');
  base = `http://${gateway}:${(server.address() as AddressInfo).port}`;
  const created = await docker('run', '-d', '--label', label, 'theseus/busybox:local', 'sleep', '600');
  assert.equal(created.code, 0, created.stderr);
  container = created.stdout.trim();
});

after(async () => {
  discovery?.release();
  server?.closeAllConnections();
  server?.close();
  if (container) await docker('rm', '-f', container);
  await client.delete().prefix(layout.prefix + '/');
  client.close();
});

test('host:port lines of the healthy instances, one a line; labels and ports select', async () => {
  assert.deepEqual(await wget('/v1/endpoints/default/web?ports=http'), {
    code: 0,
    body: [w1, w2, prod]
      .sort((a, b) => (a.taskId < b.taskId ? -1 : 1))
      .map((r) => `${r.host}:${r.ports.http!.host}\n`)
      .join(''),
  });
  assert.equal((await wget('/v1/endpoints/default/web?labels=prod')).body, `${prod.host}\n`);
  assert.equal(
    (await wget('/v1/endpoints/default/web?ports=http,admin')).body,
    '10.7.0.2:31002:32002\n',
    'only instances with every wanted port',
  );
  const all = (await wget('/v1/endpoints/default/web?include_unhealthy=true')).body.trim().split('\n');
  assert.ok(all.includes(sick.host));
});

test('JSON carries the records and the revision to wait on', async () => {
  const { body } = await wget('/v1/endpoints/default/web?ports=http&labels=prod&format=json');
  const answer = JSON.parse(body);
  assert.equal(answer.namespace, 'default');
  assert.deepEqual(answer.nodes, [`${prod.host}:${prod.ports.http!.host}`]);
  assert.deepEqual(answer.endpoints, [prod]);
  assert.match(answer.revision, /^\d+$/);
});

test('?wait=<revision> holds the request until the answer changes', async () => {
  const first = JSON.parse((await wget('/v1/endpoints/default/api?ports=http&format=json')).body);
  assert.deepEqual(first.nodes, []);
  const started = await docker(
    'exec',
    '-d',
    container,
    'sh',
    '-c',
    `wget -q -O /tmp/poll.out '${base}/v1/endpoints/default/api?ports=http&wait=${first.revision}' && touch /tmp/poll.done`,
  );
  assert.equal(started.code, 0);
  await eventually(() => discovery.waiting() === 1, 'the request to be held');
  // A write elsewhere does not answer it.
  await put(record('other', 9));
  const api = record('api', 5);
  await put(api);
  await eventually(
    async () => (await docker('exec', container, 'test', '-f', '/tmp/poll.done')).code === 0,
    'the held request to be answered',
  );
  assert.equal(
    (await docker('exec', container, 'cat', '/tmp/poll.out')).stdout,
    `${api.host}:${api.ports.http!.host}\n`,
  );
  assert.equal(discovery.waiting(), 0);
});

test('a wait on a revision already out of date answers at once; a timeout answers the unchanged set', async () => {
  const now = JSON.parse((await wget('/v1/endpoints/default/web?format=json')).body);
  const stale = await wget(`/v1/endpoints/default/web?ports=http&wait=1`);
  assert.equal(stale.code, 0);
  assert.notEqual(stale.body, '');
  const unchanged = await wget(`/v1/endpoints/default/web?format=json&wait=${now.revision}&timeout=1`);
  assert.deepEqual(JSON.parse(unchanged.body).nodes, now.nodes);
});

test("/v2/tasks lists the cluster in the text form of Marathon's GET /v2/tasks", async () => {
  const { body } = await wget('/v2/tasks');
  const lines = body.split('\n').filter((l) => l.length > 0);
  const webLine = lines.find((l) => l.startsWith('theseus_default_web\t8080\t'));
  assert.equal(
    webLine,
    `theseus_default_web\t8080\t${['10.7.0.1:31001', '10.7.0.2:31002'].join('\t')}\t`,
    'healthy instances only, addresses sorted',
  );
  assert.ok(lines.includes('theseus_default_web\t9090\t10.7.0.2:32002\t'), 'a line per port');
  assert.ok(lines.includes(`theseus_default_web--prod\t8080\t10.7.0.4:31004\t`));
});

test('bad input is a 400 naming what is wrong', async () => {
  const bad = await fetch(`${base}/v1/endpoints/Default/web`);
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { error: string }).error, /invalid namespace "Default"/);
  const wait = await fetch(`${base}/v1/endpoints/default/web?wait=soon`);
  assert.equal(wait.status, 400);
  assert.deepEqual(await wait.json(), { error: 'wait must be a whole number, got "soon"' });
  assert.equal((await fetch(`${base}/v1/endpoints/default/web?include_unhealthy=maybe`)).status, 400);
});
