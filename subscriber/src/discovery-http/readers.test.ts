// Discovery over HTTP behind the container user's etcd credentials: a private etcd with
// authentication on (users and roles by applyEtcdRbac, as cluster/scripts/etcd-auth.mjs makes
// them), the routes served with the subscriber's etcd user, and busybox `wget` in a container
// asking with no credentials, the right ones, a wrong password, and another etcd user's.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { Etcd3 } from 'etcd3';
import { applyEtcdRbac, createEtcdClient, EtcdLayout, encodeEndpointRecord, toAppId } from '@theseus/services';
import { EtcdProcess } from '@theseus/services/testing';
import { discoveryHttp, type DiscoveryHttp } from './routes.js';

const PREFIX = '/theseus-readers';
const layout = new EtcdLayout(PREFIX);
const label = `io.theseus.test-run=discovery-readers-${randomUUID().slice(0, 8)}`;
const gatewayScript = fileURLToPath(new URL('../../../cluster/scripts/bridge-gateway.mjs', import.meta.url));
const password = () => randomBytes(18).toString('base64url');
const users = {
  subscriber: { name: 'theseus-subscriber', password: password() },
  deployer: { name: 'theseus-deployer', password: password() },
  container: { name: 'theseus-container', password: password() },
};
const rootPassword = password();

let etcd: EtcdProcess;
let subscriberClient: Etcd3;
const servers: Array<{ server: Server; discovery: DiscoveryHttp }> = [];
let gateway = '';
let container = '';
/** The discovery routes with the container user's credentials required, no cache (every request asks etcd). */
let guarded = '';

function docker(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile('docker', args, { encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? 1 : 0, stdout, stderr }),
    ),
  );
}

/** busybox wget inside the container, credentials in the URL as a script would put them. */
async function wget(path: string, credentials?: string): Promise<{ code: number; body: string; stderr: string }> {
  const url = `http://${credentials ? `${credentials}@` : ''}${guarded.slice('http://'.length)}${path}`;
  const r = await docker('exec', container, 'wget', '-q', '-O', '-', url);
  return { code: r.code, body: r.stdout, stderr: r.stderr };
}

async function serve(client: Etcd3, readers?: { username: string; cacheMs: number }): Promise<string> {
  const discovery = discoveryHttp({ client, layout, maxWaitMs: 5_000, readers });
  const app = express();
  app.use(discovery.router);
  const server = app.listen(0, gateway);
  await once(server, 'listening');
  servers.push({ server, discovery });
  return `http://${gateway}:${(server.address() as AddressInfo).port}`;
}

const appId = toAppId({ namespace: 'default', service: 'web', labels: [] });
const web = {
  v: 1 as const,
  cluster: 'default',
  namespace: 'default',
  service: 'web',
  labels: [],
  appId,
  taskId: `theseus_default_web.instance-${randomUUID()}._app.1`,
  appVersion: '2026-12-01T00:00:00.000Z',
  host: '10.8.0.1',
  ipAddresses: [],
  ports: { http: { host: 31001, container: 8080, protocol: 'tcp' as const } },
  healthy: true,
  startedAt: '2026-12-01T00:00:01.000Z',
  updatedAt: '2026-12-01T00:00:02.000Z',
};

before(async () => {
  const network = execFileSync('docker', ['network', 'inspect', 'bridge', '--format', '{{json .}}'], {
    encoding: 'utf8',
  });
  gateway = execFileSync(process.execPath, [gatewayScript], { input: network, encoding: 'utf8' }).trim();
  etcd = await EtcdProcess.start();
  const connect = (asRoot: boolean) =>
    createEtcdClient({
      endpoints: [etcd.endpoint],
      access: asRoot ? { username: 'root', password: rootPassword } : undefined,
    });
  await applyEtcdRbac(connect, { prefix: PREFIX, rootPassword, users });
  subscriberClient = createEtcdClient({
    endpoints: [etcd.endpoint],
    access: { username: users.subscriber.name, password: users.subscriber.password },
  });
  await subscriberClient
    .put(layout.endpoint('default', 'web', web.taskId))
    .value(encodeEndpointRecord(web))
    .exec();
  guarded = await serve(subscriberClient, { username: users.container.name, cacheMs: 0 });
  const created = await docker('run', '-d', '--label', label, 'theseus/busybox:local', 'sleep', '600');
  assert.equal(created.code, 0, created.stderr);
  container = created.stdout.trim();
});

after(async () => {
  for (const { server, discovery } of servers) {
    discovery.release();
    server.closeAllConnections();
    server.close();
  }
  if (container) await docker('rm', '-f', container);
  subscriberClient?.close();
  await etcd?.destroy();
});

test("with the container user's credentials, both routes answer; without any, 401 asking for Basic", async () => {
  const credentials = `${users.container.name}:${users.container.password}`;
  assert.deepEqual(await wget('/v1/endpoints/default/web?ports=http', credentials), {
    code: 0,
    body: '10.8.0.1:31001\n',
    stderr: '',
  });
  const tasks = await wget('/v2/tasks', credentials);
  assert.equal(tasks.body, 'theseus_default_web\t8080\t10.8.0.1:31001\t\n');

  for (const path of ['/v1/endpoints/default/web', '/v2/tasks']) {
    const refused = await wget(path);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /401/, path);
    assert.equal(refused.body, '');
  }
  const answer = await fetch(`${guarded}/v1/endpoints/default/web`);
  assert.equal(answer.status, 401);
  assert.match(answer.headers.get('www-authenticate') ?? '', /^Basic realm="theseus discovery"/);
  assert.equal(((await answer.json()) as { error: string }).error, 'discovery needs credentials');
});

test('a wrong password is refused, and so is another etcd user with its right password', async () => {
  for (const credentials of [
    `${users.container.name}:${users.container.password}x`,
    `${users.container.name}:`,
    `${users.subscriber.name}:${users.subscriber.password}`,
    `${users.deployer.name}:${users.deployer.password}`,
    `root:${rootPassword}`,
  ]) {
    const refused = await wget('/v1/endpoints/default/web', credentials);
    assert.equal(refused.code, 1, credentials.split(':')[0]);
    assert.match(refused.stderr, /401/);
  }
});

test('etcd is the judge: a password changed in etcd is refused at once, the new one accepted', async () => {
  const root = createEtcdClient({ endpoints: [etcd.endpoint], access: { username: 'root', password: rootPassword } });
  const changed = password();
  try {
    await root.user(users.container.name).setPassword(changed);
    const old = await wget('/v1/endpoints/default/web', `${users.container.name}:${users.container.password}`);
    assert.equal(old.code, 1);
    assert.match(old.stderr, /401/);
    assert.equal((await wget('/v1/endpoints/default/web', `${users.container.name}:${changed}`)).code, 0);
  } finally {
    await root.user(users.container.name).setPassword(users.container.password);
    root.close();
  }
});

test('credentials required while etcd authentication is off: 503 naming the setting, never an open answer', async () => {
  const open = new Etcd3({ hosts: (process.env.ETCD_ENDPOINTS ?? 'http://127.0.0.1:2379').split(',')[0]! });
  try {
    const base = await serve(open, { username: users.container.name, cacheMs: 0 });
    const answer = await fetch(`${base}/v2/tasks`, {
      headers: { Authorization: `Basic ${Buffer.from(`${users.container.name}:anything`).toString('base64')}` },
    });
    assert.equal(answer.status, 503);
    const body = (await answer.json()) as { error: string; hint: string };
    assert.match(body.error, /^cannot check the credentials with etcd: .*authentication is not enabled/);
    assert.match(body.hint, /etcd\.containerUsername/);
  } finally {
    open.close();
  }
});
