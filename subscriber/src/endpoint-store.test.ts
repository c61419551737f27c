/** EndpointStore against real etcd: staleness, batching, races with other writers, leadership guard. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createEtcdClient, EtcdLayout, type EndpointRecord } from '@theseus/services';
import { EndpointStore } from './endpoint-store.js';
import { encodeRecord } from './endpoint-encoder.js';
import { SubscriberMetrics } from './metrics.js';
import { clearPrefix, ETCD_ENDPOINTS, quietLogger, randomPrefix } from './testing/harness.js';

const client = createEtcdClient({ endpoints: ETCD_ENDPOINTS });
const prefixes: string[] = [];
after(async () => {
  for (const p of prefixes) await clearPrefix(p);
  client.close();
});

async function storeOnNewPrefix() {
  const prefix = randomPrefix();
  prefixes.push(prefix);
  const layout = new EtcdLayout(prefix);
  const guard = `${prefix}/guard`;
  await client.put(guard).value('leader');
  const store = new EndpointStore({
    client,
    layout,
    logger: quietLogger(),
    metrics: new SubscriberMetrics(),
    cluster: 'c1',
  });
  store.lead(guard);
  return { layout, store, guard };
}

const record = (taskId: string, at: number, host = 'h1'): EndpointRecord => ({
  v: 1,
  cluster: 'c1',
  namespace: 'default',
  service: 'web',
  labels: [],
  appId: '/theseus/default/web',
  taskId,
  appVersion: '2026-01-01T00:00:00.000Z',
  host,
  ipAddresses: [],
  ports: { http: { host: 31000, container: null, protocol: 'tcp' } },
  healthy: null,
  startedAt: null,
  updatedAt: new Date(at).toISOString(),
});

const change = (layout: EtcdLayout, taskId: string, at: number, host?: string) => ({
  key: layout.endpoint('default', 'web', taskId),
  appId: '/theseus/default/web',
  taskId,
  at,
  value: encodeRecord(record(taskId, at, host)),
});

const hostAt = async (key: string) => {
  const json = await client.get(key).string();
  return json ? (JSON.parse(json) as EndpointRecord).host : undefined;
};

test('older changes are stale, repeated ones unchanged, and a deleted endpoint is not revived by an older put', async () => {
  const { layout, store } = await storeOnNewPrefix();
  const c = change(layout, 't.1', 2_000);
  assert.equal(store.submit(c), 'queued');
  await store.flushed();
  assert.equal(store.submit(change(layout, 't.1', 1_000, 'old-host')), 'stale');
  assert.equal(store.submit(change(layout, 't.1', 3_000)), 'unchanged');
  assert.equal(store.submit({ key: c.key, appId: c.appId, taskId: 't.1', at: 4_000 }), 'queued');
  await store.flushed();
  assert.equal(await hostAt(c.key), undefined);
  assert.equal(store.submit(change(layout, 't.1', 3_500)), 'stale');
  assert.equal(
    store.submit(change(layout, 't.1', 5_000)),
    'queued',
    'a newer put after a non-final delete is accepted',
  );
  await store.flushed();
  assert.equal(await hostAt(c.key), 'h1');
  store.submit({ key: c.key, appId: c.appId, taskId: 't.1', at: 6_000, final: true });
  await store.flushed();
  assert.equal(store.submit(change(layout, 't.1', 9_000)), 'stale', 'a task that ended never comes back');
});

test('changes are batched into transactions; the newest change per key wins', async () => {
  const { layout, store } = await storeOnNewPrefix();
  let transactions = 0;
  store.on('written', () => transactions++);
  for (let i = 0; i < 600; i++) store.submit(change(layout, `t.${i}`, 1_000));
  for (let i = 0; i < 600; i += 2) store.submit(change(layout, `t.${i}`, 2_000, 'moved'));
  await store.flushed();
  const all = await client.getAll().prefix(layout.allEndpoints()).strings();
  assert.equal(Object.keys(all).length, 600);
  assert.equal(Object.values(all).filter((v) => (JSON.parse(v) as EndpointRecord).host === 'moved').length, 300);
  // The first changes leave at once (up to 4 transactions under way), the rest wait and go in full batches.
  assert.ok(transactions <= Math.ceil(600 / 120) + 4, `${transactions} transactions for 600 keys`);
});

test('a write racing another writer: the newer record stays, whichever side it came from', async () => {
  const { layout, store } = await storeOnNewPrefix();
  await store.load();
  const newer = change(layout, 't.a', 5_000, 'theirs');
  await client.put(newer.key).value(newer.value.json);
  assert.equal(store.submit(change(layout, 't.a', 4_000, 'ours')), 'queued', 'the store has not seen their write yet');
  await store.flushed();
  assert.equal(await hostAt(newer.key), 'theirs');

  const older = change(layout, 't.b', 1_000, 'theirs');
  await client.put(older.key).value(older.value.json);
  store.submit(change(layout, 't.b', 4_000, 'ours'));
  await store.flushed();
  assert.equal(await hostAt(older.key), 'ours');
});

test('without the leader key nothing is written and the store reports it was deposed', async () => {
  const { layout, store, guard } = await storeOnNewPrefix();
  let deposed = false;
  store.on('deposed', () => (deposed = true));
  await client.delete().key(guard);
  const c = change(layout, 't.x', 1_000);
  store.submit(c);
  await store.flushed();
  assert.equal(deposed, true);
  assert.equal(await hostAt(c.key), undefined);
});

test('load reads every endpoint across pages and knows their revisions', async () => {
  const { layout, store } = await storeOnNewPrefix();
  for (let i = 0; i < 250; i++) store.submit(change(layout, `t.${i}`, 1_000));
  await store.flushed();
  await client.put(layout.endpoint('default', 'web', 'broken.1')).value('{"not":"a record"}');
  const paged = new EndpointStore({
    client,
    layout,
    logger: quietLogger(),
    metrics: new SubscriberMetrics(),
    cluster: 'c1',
    pageSize: 40,
  });
  assert.deepEqual(await paged.load(), { total: 251, unreadable: 1 });
  assert.equal(paged.size, 251);
  assert.equal(paged.keysOfApp('/theseus/default/web').length, 250);
});
