// The local stack is real: etcd, Redis and the Docker Engine answer, started by cluster/scripts/stack.sh.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import Docker from 'dockerode';
import { createEtcdClient } from '@theseus/services';

const runId = randomUUID().slice(0, 8);

test('etcd 3.4 answers and keeps what is written', async () => {
  const etcd = createEtcdClient({ endpoints: (process.env.ETCD_ENDPOINTS ?? 'http://127.0.0.1:2379').split(',') });
  try {
    const key = `/test-stack-${runId}/hello`;
    await etcd.put(key).value('world');
    assert.equal(await etcd.get(key).string(), 'world');
    await etcd.delete().key(key);
    assert.equal(await etcd.get(key).string(), null);
    const status = await etcd.maintenance.status();
    assert.match(status.version, /^3\.4\./);
  } finally {
    etcd.close();
  }
});

test('Redis 7 answers with append-only persistence on', async () => {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
  });
  await redis.connect();
  try {
    const key = `test-stack-${runId}`;
    await redis.set(key, 'value', 'EX', 30);
    assert.equal(await redis.get(key), 'value');
    await redis.del(key);
    const info = await redis.info('server');
    assert.match(info, /redis_version:7\./);
    const [, appendonly] = (await redis.config('GET', 'appendonly')) as [string, string];
    assert.equal(appendonly, 'yes');
  } finally {
    redis.disconnect();
  }
});

const docker = new Docker({ socketPath: '/var/run/docker.sock' });
after(async () => {
  const leftovers = await docker.listContainers({ all: true, filters: { label: [`io.theseus.test=${runId}`] } });
  await Promise.all(leftovers.map((c) => docker.getContainer(c.Id).remove({ force: true })));
});

test('the Docker Engine runs a container from the locally built busybox image', async () => {
  assert.equal(String(await docker.ping()), 'OK');
  const container = await docker.createContainer({
    Image: 'theseus/busybox:local',
    Cmd: ['sh', '-c', 'echo "$GREETING from $(hostname)"; exit 3'],
    Env: ['GREETING=hello'],
    Labels: { 'io.theseus.test': runId },
    HostConfig: { Memory: 32 * 1024 * 1024 },
  });
  await container.start();
  const exit = (await container.wait()) as { StatusCode: number };
  assert.equal(exit.StatusCode, 3);
  const logs = (await container.logs({ stdout: true, stderr: true })).toString();
  assert.match(logs, /hello from [0-9a-f]{12}/);
  const inspect = await container.inspect();
  assert.equal(inspect.HostConfig.Memory, 32 * 1024 * 1024);
  await container.remove();
});

test("the node image carries the machine's Node runtime", async () => {
  const container = await docker.createContainer({
    Image: 'theseus/node:local',
    Cmd: ['node', '-e', 'console.log(process.version)'],
    Labels: { 'io.theseus.test': runId },
  });
  await container.start();
  await container.wait();
  const logs = (await container.logs({ stdout: true })).toString();
  assert.match(logs, new RegExp(process.version.replace(/\./g, '\\.')));
  await container.remove();
});
