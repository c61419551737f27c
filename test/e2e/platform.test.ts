// The whole platform on one machine, everything real: the engine running the example services in
// the Docker Engine, the subscriber writing their endpoints into etcd, the deployer applying YAML
// through its Redis queue, and the example containers finding each other through guestutils.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { createEtcdClient, decodeEndpointRecord, EtcdLayout, MarathonClient, type EndpointRecord, type MarathonAppInfo } from '@theseus/services';
import { EtcdProcess } from '@theseus/services/testing';
import { answers, eventually, freePort, startPart, type PartProcess } from '../support/processes.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const exampleYaml = readFileSync(join(root, 'examples/deploy.yaml'), 'utf8');
const removeYaml = readFileSync(join(root, 'examples/remove.yaml'), 'utf8');
const token = `e2e-${randomUUID()}`;
const prefix = `/e2e-${randomUUID().slice(0, 8)}`;
const docker = new Docker({ socketPath: '/var/run/docker.sock' });

let etcd: EtcdProcess;
let engine: PartProcess;
let subscriber: PartProcess;
let deployer: PartProcess;
let engineUrl: string;
let deployerUrl: string;
let subscriberEnv: Record<string, string>;
let subscriberPort: number;
let engineId: string;
let marathon: MarathonClient;
const dataDir = mkdtempSync(join(tmpdir(), 'theseus-e2e-engine-'));
const layout = new EtcdLayout(prefix);

async function bridgeGateway(): Promise<string> {
  const bridge = (await docker.getNetwork('bridge').inspect()) as { IPAM: { Config: Array<{ Gateway?: string }> } };
  const gateway = bridge.IPAM.Config.find((c) => c.Gateway)?.Gateway;
  assert.ok(gateway, 'the Docker bridge has a gateway address');
  return gateway;
}

async function deploy(body: string, query = 'wait=true'): Promise<{ status: number; body: any }> {
  const res = await fetch(`${deployerUrl}/deploy?${query}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/yaml' },
    body,
  });
  return { status: res.status, body: await res.json() };
}

async function endpoints(service: string): Promise<EndpointRecord[]> {
  const client = createEtcdClient({ endpoints: [etcd.endpoint] });
  try {
    const stored = await client.getAll().prefix(layout.serviceEndpoints('default', service)).strings();
    return Object.entries(stored).map(([key, json]) => decodeEndpointRecord(json, key));
  } finally {
    client.close();
  }
}

async function appOf(service: string): Promise<MarathonAppInfo | undefined> {
  const apps = await marathon.listApps({ embed: ['apps.tasks'], label: `THESEUS_SERVICE==${service}` });
  return apps[0];
}

/** Running tasks of a service as the engine sees them, as `taskId@host:port`. */
async function engineView(service: string): Promise<string[]> {
  const app = await appOf(service);
  return (app?.tasks ?? []).filter((t) => t.state === 'TASK_RUNNING').map((t) => `${t.id}@${t.host}:${t.ports?.[0]}`).sort();
}

async function etcdView(service: string): Promise<string[]> {
  return (await endpoints(service)).map((r) => `${r.taskId}@${r.host}:${r.ports.http?.host}`).sort();
}

async function containersOfEngine(): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: false, filters: { label: [`theseus.engine=${engineId}`] } });
}

async function pingerStatus(): Promise<{ rounds: number; lastRound: { nodes: string[]; results: Array<{ address: string; ok: boolean }> } | null; changes: unknown[] }> {
  const [record] = await endpoints('pinger');
  assert.ok(record, 'pinger has an endpoint');
  const res = await fetch(`http://${record.host}:${record.ports.http!.host}/status`, { signal: AbortSignal.timeout(3_000) });
  return (await res.json()) as never;
}

async function startSubscriber(): Promise<PartProcess> {
  return startPart('subscriber', {
    args: ['--port', String(subscriberPort)],
    env: subscriberEnv,
    ready: () => answers(`http://127.0.0.1:${subscriberPort}/readyz`),
  });
}

before(async () => {
  const images = spawnSync('bash', [join(root, 'docker-images/build.sh'), 'example-echo', 'example-pinger'], { encoding: 'utf8' });
  assert.equal(images.status, 0, images.stderr);
  const gateway = await bridgeGateway();
  // A private etcd on the Docker bridge: containers read it through guestutils.
  etcd = await EtcdProcess.start(gateway);

  const enginePort = await freePort();
  engineUrl = `http://127.0.0.1:${enginePort}`;
  engine = await startPart('engine', {
    args: ['--port', String(enginePort), '--data-dir', dataDir, '--hostname', gateway],
    env: { ENGINE_PORT_RANGE: '34000-34499' },
    ready: () => answers(`${engineUrl}/ping`),
  });
  marathon = new MarathonClient({ urls: [engineUrl] });
  engineId = String((await marathon.info()).frameworkId).replace(/-0000$/, '');

  subscriberPort = await freePort();
  subscriberEnv = { MARATHON_URL: engineUrl, ETCD_ENDPOINTS: etcd.endpoint, THESEUS_ETCD_PREFIX: prefix, RECONCILE_INTERVAL_MS: '5000' };
  subscriber = await startSubscriber();

  const deployerPort = await freePort();
  deployerUrl = `http://127.0.0.1:${deployerPort}`;
  deployer = await startPart('deployer', {
    args: ['--port', String(deployerPort)],
    env: {
      MARATHON_URL: engineUrl,
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      THESEUS_API_TOKEN: token,
      THESEUS_QUEUE_PREFIX: `e2e-${randomUUID().slice(0, 8)}`,
      ETCD_ENDPOINTS: etcd.endpoint,
      THESEUS_ETCD_PREFIX: prefix,
    },
    ready: () => answers(`${deployerUrl}/healthz`),
  });
});

after(async () => {
  for (const part of [deployer, subscriber, engine]) if (part) await part.stop();
  const leftovers = await docker.listContainers({ all: true, filters: { label: [`theseus.engine=${engineId}`] } }).catch(() => []);
  await Promise.all(leftovers.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  await etcd?.destroy();
  rmSync(dataDir, { recursive: true, force: true });
});

test('1. POST /deploy runs the examples in Docker with their limits; endpoints reach etcd; pinger reaches echo at the addresses guestutils gave', async () => {
  const { status, body } = await deploy(exampleYaml);
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.state, 'succeeded', JSON.stringify(body));

  const containers = await containersOfEngine();
  assert.equal(containers.length, 3, 'two echo and one pinger containers');
  for (const c of containers) {
    const inspect = await docker.getContainer(c.Id).inspect();
    assert.equal(inspect.HostConfig.Memory, 96 * 1024 * 1024, 'mem: 96');
    assert.equal(inspect.HostConfig.CpuShares, Math.round(0.1 * 1024), 'cpus: 0.1');
    assert.equal(inspect.HostConfig.Privileged, false);
  }

  await eventually('echo endpoints in etcd', async () => (await etcdView('echo')).length === 2);
  assert.deepEqual(await etcdView('echo'), await engineView('echo'));
  const echo = await endpoints('echo');
  assert.deepEqual(echo.map((r) => r.labels), [['demo'], ['demo']]);
  assert.ok(echo.every((r) => r.ports.http?.container === 8000));

  // pinger looked echo up through guestutils and called every instance over TCP.
  const addresses = echo.map((r) => `${r.host}:${r.ports.http!.host}`).sort();
  const status1 = await eventually('pinger reached every echo instance', async () => {
    const s = await pingerStatus();
    const reached = (s.lastRound?.results ?? []).filter((r) => r.ok).map((r) => r.address).sort();
    return JSON.stringify(reached) === JSON.stringify(addresses) ? s : undefined;
  }, 60_000);
  assert.deepEqual([...status1.lastRound!.nodes].sort(), addresses);
});

test('6. a bad deploy document changes nothing anywhere', async () => {
  const before = { apps: (await marathon.listApps()).map((a) => `${a.id}@${a.version}:${a.instances}`).sort(), echo: await etcdView('echo'), containers: (await containersOfEngine()).map((c) => c.Id).sort() };
  const bad = exampleYaml.replace('instances: 2', 'instances: -3').replace('image: theseus/example-pinger:local', 'image: ""');
  const { status, body } = await deploy(bad);
  assert.ok(status === 400 || status === 422, `status ${status}`);
  assert.ok(JSON.stringify(body).includes('instances'), JSON.stringify(body));
  const broken = await deploy('deploy:\n  echo: {image: [unclosed\n');
  assert.equal(broken.status, 400);
  assert.match(JSON.stringify(broken.body), /line \d+/);
  const after = { apps: (await marathon.listApps()).map((a) => `${a.id}@${a.version}:${a.instances}`).sort(), echo: await etcdView('echo'), containers: (await containersOfEngine()).map((c) => c.Id).sort() };
  assert.deepEqual(after, before);
});

test('2. scaling echo up through the deploy API reaches the pinger\'s watcher as a delta naming the new instance', async () => {
  const beforeIds = new Set((await endpoints('echo')).map((r) => r.taskId));
  const res = await fetch(`${deployerUrl}/services/echo/scale?wait=true`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ instances: 3 }),
  });
  const body = (await res.json()) as { state?: string };
  assert.equal(body.state, 'succeeded', JSON.stringify(body));
  const added = await eventually('a third echo endpoint', async () => {
    const now = await endpoints('echo');
    return now.length === 3 ? now.find((r) => !beforeIds.has(r.taskId)) : undefined;
  });
  await eventually('the pinger watcher logged the new instance', async () => {
    const s = await pingerStatus();
    return JSON.stringify(s.changes).includes(added.taskId);
  }, 30_000);
});

test('3. a container killed from outside is relaunched and its endpoint swapped; no stale endpoint remains', async () => {
  const [victim] = await endpoints('echo');
  assert.ok(victim);
  const [container] = await docker.listContainers({ filters: { label: [`theseus.engine.task-id=${victim.taskId}`] } });
  assert.ok(container, 'the task runs in a container labelled with its task id');
  await docker.getContainer(container.Id).kill();
  await eventually('the killed task replaced in etcd, etcd equal to the engine', async () => {
    const engineNow = await engineView('echo');
    const etcdNow = await etcdView('echo');
    return engineNow.length === 3 && !etcdNow.some((e) => e.startsWith(victim.taskId + '@')) && JSON.stringify(engineNow) === JSON.stringify(etcdNow);
  }, 60_000);
});

test('4. the subscriber killed with SIGKILL during churn and restarted: etcd matches the engine exactly', async () => {
  const scaled = fetch(`${deployerUrl}/services/echo/scale`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ instances: 1 }),
  });
  await new Promise((r) => setTimeout(r, 300));
  await subscriber.kill();
  await scaled;
  await eventually('the engine scaled echo down', async () => (await engineView('echo')).length === 1, 60_000);
  subscriber = await startSubscriber();
  await eventually('etcd equal to the engine after the restart', async () => JSON.stringify(await etcdView('echo')) === JSON.stringify(await engineView('echo')));
  assert.deepEqual(await etcdView('pinger'), await engineView('pinger'));
});

test('5. remove: the services leaves no containers and no endpoints', async () => {
  const { status, body } = await deploy(removeYaml);
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.state, 'succeeded', JSON.stringify(body));
  await eventually('no containers of the examples', async () => (await containersOfEngine()).length === 0, 60_000);
  await eventually('no endpoints left', async () => (await endpoints('echo')).length === 0 && (await endpoints('pinger')).length === 0);
  assert.deepEqual(await marathon.listApps(), []);
});
