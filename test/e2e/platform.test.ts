// The whole platform on one machine, everything real: the engine running the example services in
// the Docker Engine, the subscriber writing their endpoints into etcd, the deployer applying YAML
// through its Redis queue, and the example containers finding each other through guestutils.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import { EtcdPermissionDeniedError } from 'etcd3';
import {
  createEtcdClient,
  decodeEndpointRecord,
  EtcdLayout,
  type EndpointRecord,
  type MarathonAppInfo,
} from '@theseus/services';
import { eventually } from '../support/processes.js';
import { docker, startPlatform, type Platform } from '../support/platform.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const exampleYaml = readFileSync(join(root, 'examples/deploy.yaml'), 'utf8');
const removeYaml = readFileSync(join(root, 'examples/remove.yaml'), 'utf8');

let platform: Platform;
let layout: EtcdLayout;

async function deploy(body: string, query = 'wait=true'): Promise<{ status: number; body: any }> {
  const res = await fetch(`${platform.deployerUrl}/deploy?${query}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${platform.token}`, 'Content-Type': 'application/yaml' },
    body,
  });
  return { status: res.status, body: await res.json() };
}

async function endpoints(service: string): Promise<EndpointRecord[]> {
  const client = createEtcdClient({ endpoints: [platform.etcd.endpoint], access: platform.etcdAccess });
  try {
    const stored = await client.getAll().prefix(layout.serviceEndpoints('default', service)).strings();
    return Object.entries(stored).map(([key, json]) => decodeEndpointRecord(json, key));
  } finally {
    client.close();
  }
}

async function appOf(service: string): Promise<MarathonAppInfo | undefined> {
  const apps = await platform.marathon.listApps({ embed: ['apps.tasks'], label: `THESEUS_SERVICE==${service}` });
  return apps[0];
}

/** Running tasks of a service as the engine sees them, as `taskId@host:port`. */
async function engineView(service: string): Promise<string[]> {
  const app = await appOf(service);
  return (app?.tasks ?? [])
    .filter((t) => t.state === 'TASK_RUNNING')
    .map((t) => `${t.id}@${t.host}:${t.ports?.[0]}`)
    .sort();
}

async function etcdView(service: string): Promise<string[]> {
  return (await endpoints(service)).map((r) => `${r.taskId}@${r.host}:${r.ports.http?.host}`).sort();
}

async function containersOfEngine(): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: false, filters: { label: [`theseus.engine=${platform.engineId}`] } });
}

async function pingerStatus(): Promise<{
  rounds: number;
  lastRound: { nodes: string[]; results: Array<{ address: string; ok: boolean }> } | null;
  changes: unknown[];
}> {
  const [record] = await endpoints('pinger');
  assert.ok(record, 'pinger has an endpoint');
  const res = await fetch(`http://${record.host}:${record.ports.http!.host}/status`, {
    signal: AbortSignal.timeout(3_000),
  });
  return (await res.json()) as never;
}

before(async () => {
  const images = spawnSync('bash', [join(root, 'docker-images/build.sh'), 'example-echo', 'example-pinger'], {
    encoding: 'utf8',
  });
  assert.equal(images.status, 0, images.stderr);
  platform = await startPlatform({ enginePortRange: '34000-34499', etcdAuth: true });
  layout = new EtcdLayout(platform.etcdPrefix);
});

after(async () => {
  await platform?.stop();
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
  assert.deepEqual(
    echo.map((r) => r.labels),
    [['demo'], ['demo']],
  );
  assert.ok(echo.every((r) => r.ports.http?.container === 8000));

  // pinger looked echo up through guestutils and called every instance over TCP.
  const addresses = echo.map((r) => `${r.host}:${r.ports.http!.host}`).sort();
  const status1 = await eventually(
    'pinger reached every echo instance',
    async () => {
      const s = await pingerStatus();
      const reached = (s.lastRound?.results ?? [])
        .filter((r) => r.ok)
        .map((r) => r.address)
        .sort();
      return JSON.stringify(reached) === JSON.stringify(addresses) ? s : undefined;
    },
    60_000,
  );
  assert.deepEqual([...status1.lastRound!.nodes].sort(), addresses);

  // It did so as the read-only container user, which etcd does not let change a record.
  const pinger = (await containersOfEngine()).find((c) => c.Image.includes('pinger'))!;
  const env = Object.fromEntries(
    ((await docker.getContainer(pinger.Id).inspect()).Config.Env ?? []).map(
      (e) => e.split(/=(.*)/s, 2) as [string, string],
    ),
  );
  assert.equal(env.ETCD_USERNAME, 'theseus-container');
  const asContainer = createEtcdClient({
    endpoints: [platform.etcd.endpoint],
    access: { username: env.ETCD_USERNAME, password: env.ETCD_PASSWORD },
  });
  try {
    const key = layout.endpoint('default', 'echo', echo[0]!.taskId);
    await assert.rejects(asContainer.put(key).value('{"forged":true}').exec(), EtcdPermissionDeniedError);
    await assert.rejects(asContainer.delete().key(key).exec(), EtcdPermissionDeniedError);
    assert.equal((await asContainer.getAll().prefix(layout.serviceEndpoints('default', 'echo')).keys()).length, 2);
  } finally {
    asContainer.close();
  }
});

test('6. a bad deploy document changes nothing anywhere', async () => {
  const before = {
    apps: (await platform.marathon.listApps()).map((a) => `${a.id}@${a.version}:${a.instances}`).sort(),
    echo: await etcdView('echo'),
    containers: (await containersOfEngine()).map((c) => c.Id).sort(),
  };
  const bad = exampleYaml
    .replace('instances: 2', 'instances: -3')
    .replace('image: theseus/example-pinger:local', 'image: ""');
  const { status, body } = await deploy(bad);
  assert.ok(status === 400 || status === 422, `status ${status}`);
  assert.ok(JSON.stringify(body).includes('instances'), JSON.stringify(body));
  const broken = await deploy('deploy:\n  echo: {image: [unclosed\n');
  assert.equal(broken.status, 400);
  assert.match(JSON.stringify(broken.body), /line \d+/);
  const after = {
    apps: (await platform.marathon.listApps()).map((a) => `${a.id}@${a.version}:${a.instances}`).sort(),
    echo: await etcdView('echo'),
    containers: (await containersOfEngine()).map((c) => c.Id).sort(),
  };
  assert.deepEqual(after, before);
});

test("2. scaling echo up through the deploy API reaches the pinger's watcher as a delta naming the new instance", async () => {
  const beforeIds = new Set((await endpoints('echo')).map((r) => r.taskId));
  const res = await fetch(`${platform.deployerUrl}/services/echo/scale?wait=true`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${platform.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ instances: 3 }),
  });
  const body = (await res.json()) as { state?: string };
  assert.equal(body.state, 'succeeded', JSON.stringify(body));
  const added = await eventually('a third echo endpoint', async () => {
    const now = await endpoints('echo');
    return now.length === 3 ? now.find((r) => !beforeIds.has(r.taskId)) : undefined;
  });
  await eventually(
    'the pinger watcher logged the new instance',
    async () => {
      const s = await pingerStatus();
      return JSON.stringify(s.changes).includes(added.taskId);
    },
    30_000,
  );
});

test('3. a container killed from outside is relaunched and its endpoint swapped; no stale endpoint remains', async () => {
  const [victim] = await endpoints('echo');
  assert.ok(victim);
  const [container] = await docker.listContainers({ filters: { label: [`theseus.engine.task-id=${victim.taskId}`] } });
  assert.ok(container, 'the task runs in a container labelled with its task id');
  await docker.getContainer(container.Id).kill();
  await eventually(
    'the killed task replaced in etcd, etcd equal to the engine',
    async () => {
      const engineNow = await engineView('echo');
      const etcdNow = await etcdView('echo');
      return (
        engineNow.length === 3 &&
        !etcdNow.some((e) => e.startsWith(victim.taskId + '@')) &&
        JSON.stringify(engineNow) === JSON.stringify(etcdNow)
      );
    },
    60_000,
  );
});

test('4. the subscriber killed with SIGKILL during churn and restarted: etcd matches the engine exactly', async () => {
  const scaled = fetch(`${platform.deployerUrl}/services/echo/scale`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${platform.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ instances: 1 }),
  });
  await new Promise((r) => setTimeout(r, 300));
  await platform.subscriber.kill();
  await scaled;
  await eventually('the engine scaled echo down', async () => (await engineView('echo')).length === 1, 60_000);
  await platform.restartSubscriber();
  await eventually(
    'etcd equal to the engine after the restart',
    async () => JSON.stringify(await etcdView('echo')) === JSON.stringify(await engineView('echo')),
  );
  assert.deepEqual(await etcdView('pinger'), await engineView('pinger'));
});

test('5. remove: the services leaves no containers and no endpoints', async () => {
  const { status, body } = await deploy(removeYaml);
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.state, 'succeeded', JSON.stringify(body));
  await eventually('no containers of the examples', async () => (await containersOfEngine()).length === 0, 60_000);
  await eventually(
    'no endpoints left',
    async () => (await endpoints('echo')).length === 0 && (await endpoints('pinger')).length === 0,
  );
  assert.deepEqual(await platform.marathon.listApps(), []);
});
