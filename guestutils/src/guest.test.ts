// Peer discovery against the real etcd, with records written the way the subscriber writes them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Etcd3 } from 'etcd3';
import { EtcdLayout, EtcdUnavailableError, ValidationError, type EndpointRecord } from '@theseus/services';
import { Guest } from './guest.js';
import { ContainerNotFoundError, NotEnoughNodesError, PortNotFoundError } from './errors.js';
import { deleteRecord, endpointRecord, eventually, putRecord } from './test-support/records.js';
import * as guestutils from './index.js';

const etcdUrl = (process.env.ETCD_ENDPOINTS ?? 'http://127.0.0.1:2379').split(',')[0]!;
const prefix = `/test-guest-${randomUUID().slice(0, 8)}`;
const layout = new EtcdLayout(prefix);
const client = new Etcd3({ hosts: etcdUrl });
const env = { ENVIRONMENT_NAME: 'default', ETCD_ENDPOINTS: etcdUrl, THESEUS_ETCD_PREFIX: prefix };

const redisA = endpointRecord({
  service: 'redis',
  host: '10.0.0.5',
  ports: {
    api: { host: 31002, container: 6379, protocol: 'tcp' },
    metrics: { host: 31003, container: 9121, protocol: 'tcp' },
  },
});
const redisB = endpointRecord({
  service: 'redis',
  host: '10.0.0.6',
  labels: ['prod'],
  ports: {
    api: { host: 31010, container: 6379, protocol: 'tcp' },
    metrics: { host: 31011, container: 9121, protocol: 'tcp' },
  },
});
const redisC = endpointRecord({
  service: 'redis',
  host: '10.0.0.7',
  labels: ['blue', 'prod'],
  ports: {
    api: { host: 31020, container: 6379, protocol: 'tcp' },
    metrics: { host: 31021, container: 9121, protocol: 'tcp' },
  },
});
const sick = endpointRecord({
  service: 'redis',
  host: '10.0.0.8',
  healthy: false,
  ports: { api: { host: 31030, container: 6379, protocol: 'tcp' } },
});
// Host networking: no container port; container network: no host port.
const hostNet = endpointRecord({
  service: 'proxy',
  host: '10.0.0.9',
  ports: { http: { host: 31100, container: null, protocol: 'tcp' } },
});
const bridgeOnly = endpointRecord({
  service: 'proxy',
  host: '10.0.0.10',
  ports: { http: { host: null, container: 80, protocol: 'tcp' } },
});
const otherNamespace = endpointRecord({ service: 'redis', namespace: 'staging', host: '10.9.9.9' });

const byHost = (records: EndpointRecord[]) => [...records].sort((a, b) => (a.taskId < b.taskId ? -1 : 1));
const node = (r: EndpointRecord, ...ports: string[]) => [r.host, ...ports.map((p) => r.ports[p]!.host)].join(':');

before(async () => {
  for (const record of [redisA, redisB, redisC, sick, hostNet, bridgeOnly, otherNamespace])
    await putRecord(client, layout, record);
});
after(async () => {
  await client.delete().prefix(prefix + '/');
  client.close();
});

/** Counts etcd range reads made through `client`. */
function countRanges(etcd: Etcd3): { count: number } {
  const counter = { count: 0 };
  const range = etcd.kv.range.bind(etcd.kv);
  etcd.kv.range = (...args: Parameters<typeof range>) => {
    counter.count++;
    return range(...args);
  };
  return counter;
}

test('getNodeList answers host:port of every healthy instance, in task-id order, with one range read', async (t) => {
  const etcd = new Etcd3({ hosts: etcdUrl });
  const guest = new Guest({ env, client: etcd });
  t.after(async () => {
    await guest.close();
    etcd.close();
  });
  const ranges = countRanges(etcd);
  const nodes = await guest.getNodeList('redis', { ports: ['api'] });
  assert.equal(ranges.count, 1);
  assert.deepEqual(
    nodes,
    byHost([redisA, redisB, redisC]).map((r) => node(r, 'api')),
  );
  assert.deepEqual(
    await guest.getNodeList('redis', { ports: ['api', 'metrics'] }),
    byHost([redisA, redisB, redisC]).map((r) => node(r, 'api', 'metrics')),
  );
  assert.deepEqual(
    await guest.getNodeList('redis'),
    byHost([redisA, redisB, redisC]).map((r) => r.host),
  );
  assert.deepEqual(
    await guest.getNodeList('redis', { ports: ['api'], includeUnhealthy: true }),
    byHost([redisA, redisB, redisC, sick]).map((r) => node(r, 'api')),
  );
  // Namespaces do not mix.
  const staging = new Guest({ env: { ...env, ENVIRONMENT_NAME: 'staging' } });
  t.after(() => staging.close());
  assert.deepEqual(await staging.getNodeList('redis'), ['10.9.9.9']);
});

test('getNodeList filters by labels: an instance matches when it has every label asked for', async (t) => {
  const guest = new Guest({ env });
  t.after(() => guest.close());
  assert.deepEqual(
    await guest.getNodeList('redis', { labels: ['prod'] }),
    byHost([redisB, redisC]).map((r) => r.host),
  );
  assert.deepEqual(await guest.getNodeList('redis', { labels: ['prod', 'blue'] }), [redisC.host]);
  await assert.rejects(
    guest.getNodeList('redis', { labels: ['green'] }),
    (err: unknown) =>
      err instanceof NotEnoughNodesError && /with labels green .*has no running instances/.test(err.message),
  );
  assert.deepEqual(
    (await guest.getEndpoints('redis', { labels: ['blue'] })).map((r) => r.taskId),
    [redisC.taskId],
  );
});

test('getNodeList: fewer instances than minimum, or an unknown service, is a NotEnoughNodesError; minimum 0 allows none', async (t) => {
  const guest = new Guest({ env });
  t.after(() => guest.close());
  await assert.rejects(
    guest.getNodeList('redis', { minimum: 4 }),
    (err: unknown) =>
      err instanceof NotEnoughNodesError &&
      err.found === 3 &&
      err.minimum === 4 &&
      /has 3 running instances, fewer than the 4 required/.test(err.message),
  );
  await assert.rejects(
    guest.getNodeList('memcached'),
    (err: unknown) =>
      err instanceof NotEnoughNodesError &&
      /service "memcached" in environment "default" has no running instances/.test(err.message),
  );
  assert.deepEqual(await guest.getNodeList('memcached', { minimum: 0 }), []);
  await assert.rejects(guest.getNodeList('redis', { minimum: -1 }), RangeError);
});

test('getNodeList: a port an instance does not have is a PortNotFoundError naming the port and the container', async (t) => {
  const guest = new Guest({ env });
  t.after(() => guest.close());
  await assert.rejects(
    guest.getNodeList('redis', { ports: ['admin'] }),
    (err: unknown) =>
      err instanceof PortNotFoundError &&
      err.port === 'admin' &&
      err.message.includes(byHost([redisA, redisB, redisC])[0]!.taskId) &&
      /it has api, metrics/.test(err.message),
  );
  await assert.rejects(
    guest.getNodeList('proxy', { ports: ['http'] }),
    (err: unknown) => err instanceof PortNotFoundError && /no host port/.test(err.message),
  );
});

test('getSpecificHost / getSpecificPort / getSpecificExposedPort answer one container, ports as numbers', async (t) => {
  const guest = new Guest({ env });
  t.after(() => guest.close());
  assert.equal(await guest.getSpecificHost('redis', redisB.taskId), '10.0.0.6');
  assert.equal(await guest.getSpecificPort('redis', redisB.taskId, 'api'), 31010);
  assert.equal(await guest.getSpecificExposedPort('redis', redisB.taskId, 'api'), 6379);
  // Host networking: the exposed port is the host port.
  assert.equal(await guest.getSpecificExposedPort('proxy', hostNet.taskId, 'http'), 31100);
  assert.equal(await guest.getSpecificExposedPort('proxy', bridgeOnly.taskId, 'http'), 80);
});

test('getSpecific*: a missing container or port is a typed error naming it, unless a default is given', async (t) => {
  const guest = new Guest({ env });
  t.after(() => guest.close());
  const missing = 'theseus_default_redis.instance-gone._app.1';
  await assert.rejects(
    guest.getSpecificHost('redis', missing),
    (err: unknown) =>
      err instanceof ContainerNotFoundError &&
      err.container === missing &&
      err.code === 'NOT_FOUND' &&
      err.message.includes('of service "redis" in environment "default"'),
  );
  await assert.rejects(guest.getSpecificPort('redis', missing, 'api'), ContainerNotFoundError);
  await assert.rejects(guest.getSpecificExposedPort('redis', missing, 'api'), ContainerNotFoundError);
  await assert.rejects(guest.getSpecificHost('nosuch', redisA.taskId), ContainerNotFoundError);
  assert.equal(await guest.getSpecificPort('redis', missing, 'api', 6379), 6379);
  assert.equal(await guest.getSpecificExposedPort('redis', missing, 'api', 6379), 6379);

  await assert.rejects(
    guest.getSpecificPort('redis', redisA.taskId, 'admin'),
    (err: unknown) => err instanceof PortNotFoundError && err.port === 'admin',
  );
  await assert.rejects(guest.getSpecificExposedPort('redis', redisA.taskId, 'admin'), PortNotFoundError);
  assert.equal(await guest.getSpecificPort('redis', redisA.taskId, 'admin', 7000), 7000);
  assert.equal(await guest.getSpecificExposedPort('redis', redisA.taskId, 'admin', 7000), 7000);
  // No host port (container network only).
  await assert.rejects(
    guest.getSpecificPort('proxy', bridgeOnly.taskId, 'http'),
    (err: unknown) => err instanceof PortNotFoundError && /no host port/.test(err.message),
  );
  assert.equal(await guest.getSpecificPort('proxy', bridgeOnly.taskId, 'http', 8000), 8000);
});

test('a record that does not decode is skipped with a warning naming its key; asking for it directly is a ValidationError', async (t) => {
  const key = layout.endpoint('default', 'broken', 'theseus_default_broken.x');
  await client.put(key).value('{"v":1,"host":');
  const good = endpointRecord({ service: 'broken', host: '10.0.1.1' });
  await putRecord(client, layout, good);
  const warnings: string[] = [];
  const guest = new Guest({ env, onInvalidRecord: (k, problem) => warnings.push(`${k}: ${problem}`) });
  t.after(() => guest.close());
  assert.deepEqual(await guest.getNodeList('broken'), ['10.0.1.1']);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, new RegExp(`^${key}: ${key} is not valid JSON`));
  await assert.rejects(guest.getSpecificHost('broken', 'theseus_default_broken.x'), ValidationError);
});

test('invalid names are refused before any etcd call', async (t) => {
  const guest = new Guest({ env });
  t.after(() => guest.close());
  await assert.rejects(guest.getNodeList('Redis'), /invalid service "Redis": must be lower-case/);
  await assert.rejects(
    new Guest({ env: { ...env, ENVIRONMENT_NAME: 'a/b' } }).getNodeList('redis'),
    /invalid namespace/,
  );
});

test('with etcd unreachable a question fails with a recoverable EtcdUnavailableError, not a hang', async (t) => {
  const guest = new Guest({ env: { ...env, ETCD_ENDPOINTS: 'http://127.0.0.1:1' }, timeoutMs: 1_000 });
  t.after(() => guest.close());
  await assert.rejects(
    guest.getNodeList('redis'),
    (err: unknown) => err instanceof EtcdUnavailableError && err.recoverable,
  );
});

test('cache: answers come from memory after the first read and follow changes through the watch', async (t) => {
  const etcd = new Etcd3({ hosts: etcdUrl });
  const guest = new Guest({ env, client: etcd, cache: true });
  t.after(async () => {
    await guest.close();
    etcd.close();
  });
  const ranges = countRanges(etcd);
  assert.deepEqual(
    await guest.getNodeList('redis'),
    byHost([redisA, redisB, redisC]).map((r) => r.host),
  );
  assert.equal(await guest.getSpecificPort('redis', redisA.taskId, 'api'), 31002);
  for (let i = 0; i < 5; i++) await guest.getNodeList('redis', { ports: ['api'] });
  assert.equal(ranges.count, 1, 'only the first question reads etcd');

  const added = endpointRecord({ service: 'redis', host: '10.0.0.50' });
  await putRecord(client, layout, added);
  await eventually(
    async () => (await guest.getNodeList('redis')).includes('10.0.0.50'),
    'the cache to see the new instance',
  );
  await putRecord(client, layout, {
    ...redisA,
    ports: { ...redisA.ports, api: { host: 32000, container: 6379, protocol: 'tcp' } },
  });
  await eventually(
    async () => (await guest.getSpecificPort('redis', redisA.taskId, 'api')) === 32000,
    'the cache to see the new port',
  );
  await deleteRecord(client, layout, added);
  await eventually(
    async () => !(await guest.getNodeList('redis')).includes('10.0.0.50'),
    'the cache to drop the instance',
  );
  await putRecord(client, layout, redisA);
  assert.equal(ranges.count, 1);
});

test('configureGuest({ cache: true }) switches the module functions to the cache; the positional get_node_list still works', async (t) => {
  t.after(() => guestutils.closeGuest());
  await guestutils.configureGuest({ env, cache: true });
  assert.deepEqual(
    await guestutils.get_node_list('redis', ['api'], 1, ['prod']),
    byHost([redisB, redisC]).map((r) => node(r, 'api')),
  );
  assert.deepEqual(await guestutils.get_node_list('redis', { ports: ['api'], labels: ['blue'] }), [
    node(redisC, 'api'),
  ]);
  await assert.rejects(guestutils.get_node_list('redis', [], 9), NotEnoughNodesError);
  assert.equal(await guestutils.get_specific_host('redis', redisC.taskId), '10.0.0.7');
  assert.equal(await guestutils.get_specific_port('redis', redisC.taskId, 'metrics'), 31021);
  assert.equal(await guestutils.get_specific_exposed_port('redis', redisC.taskId, 'metrics'), 9121);
  assert.equal(await guestutils.getSpecificExposedPort('redis', 'gone', 'metrics', 1), 1);
});
