// The WATCHES watcher against the real etcd: exact deltas, coalescing, no overlap, failing handlers.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Etcd3 } from 'etcd3';
import { ConfigError, EtcdLayout, encodeEndpointRecord } from '@theseus/services';
import { watchServices, type ServiceWatcher, type WatchServicesOptions } from './watcher.js';
import { MissingEnvironmentError } from './errors.js';
import { deleteRecord, endpointRecord, eventually, putRecord } from './test-support/records.js';
import { memoryLog, recordingHandler, replay } from './test-support/deltas.js';

const etcdUrl = (process.env.ETCD_ENDPOINTS ?? 'http://127.0.0.1:2379').split(',')[0]!;
const client = new Etcd3({ hosts: etcdUrl });
const prefixes: string[] = [];
after(async () => {
  for (const prefix of prefixes) await client.delete().prefix(prefix + '/');
  client.close();
});

function setUp(options: Partial<WatchServicesOptions> = {}) {
  const prefix = `/test-watch-${randomUUID().slice(0, 8)}`;
  prefixes.push(prefix);
  const layout = new EtcdLayout(prefix);
  const log = memoryLog();
  const recording = recordingHandler();
  const start = (services: string[] = ['redis']): ServiceWatcher =>
    watchServices(services, recording.handler, {
      env: { ENVIRONMENT_NAME: 'default', ETCD_ENDPOINTS: etcdUrl },
      prefix,
      coalesceMs: 20,
      logger: log,
      ...options,
    });
  return { layout, log, recording, start };
}

/** Waits until the watcher's view has reached etcd revision `revision` for every watched service. */
function caughtUp(watcher: ServiceWatcher, revision: string) {
  return eventually(
    () => watcher.status().every((s) => BigInt(s.revision) >= BigInt(revision)),
    `the watcher to reach revision ${revision}`,
  );
}

test('at start the handler gets the instances already running as added; then each add, change and remove exactly', async (t) => {
  const { layout, recording, start } = setUp();
  const a = endpointRecord({ service: 'redis', host: '10.0.0.1' });
  const b = endpointRecord({ service: 'redis', host: '10.0.0.2' });
  await putRecord(client, layout, a);
  await putRecord(client, layout, b);
  await putRecord(client, layout, endpointRecord({ service: 'other', host: '10.0.0.3' }));
  const watcher = start();
  t.after(() => watcher.stop());
  await eventually(() => recording.calls.length === 1, 'the initial call');
  const [initial] = recording.calls;
  assert.equal(initial!.service, 'redis');
  assert.deepEqual(new Set(initial!.delta.added.map((r) => r.taskId)), new Set([a.taskId, b.taskId]));
  assert.deepEqual(initial!.delta.removed, []);
  assert.deepEqual(initial!.delta.changed, []);

  const c = endpointRecord({ service: 'redis', host: '10.0.0.4' });
  await putRecord(client, layout, c);
  await eventually(() => recording.calls.length === 2, 'the add');
  assert.deepEqual(recording.calls[1]!.delta.added, [c]);
  assert.deepEqual([recording.calls[1]!.delta.removed, recording.calls[1]!.delta.changed], [[], []]);

  const moved = { ...a, host: '10.0.0.9', ports: { api: { host: 31999, container: 8080, protocol: 'tcp' as const } } };
  const revision = await putRecord(client, layout, moved);
  await eventually(() => recording.calls.length === 3, 'the change');
  assert.deepEqual(recording.calls[2]!.delta.changed, [{ before: a, after: moved }]);
  assert.deepEqual([recording.calls[2]!.delta.added, recording.calls[2]!.delta.removed], [[], []]);
  assert.ok(BigInt(recording.calls[2]!.delta.revision) >= BigInt(revision), 'the delta reflects the write');

  await deleteRecord(client, layout, b);
  await eventually(() => recording.calls.length === 4, 'the remove');
  assert.deepEqual(recording.calls[3]!.delta.removed, [b]);
  const view = replay(recording.calls.map((c) => c.delta));
  assert.deepEqual([...view.keys()].sort(), [moved.taskId, c.taskId].sort());
});

test('a rewrite that changes only updatedAt, and writes to other services, never reach the handler', async (t) => {
  const { layout, recording, start } = setUp({ reportInitial: false });
  const a = endpointRecord({ service: 'redis' });
  await putRecord(client, layout, a);
  const watcher = start();
  t.after(() => watcher.stop());
  await watcher.ready;
  await putRecord(client, layout, { ...a, updatedAt: new Date(Date.now() + 1000).toISOString() });
  await putRecord(client, layout, endpointRecord({ service: 'redis-2' }));
  const sentinel = endpointRecord({ service: 'redis', host: '10.0.0.77' });
  await putRecord(client, layout, sentinel);
  await eventually(() => recording.calls.length >= 1, 'the sentinel');
  // A barrier under the watched prefix that is itself no change: once applied, everything before it was.
  await caughtUp(
    watcher,
    await putRecord(client, layout, { ...sentinel, updatedAt: new Date(Date.now() + 2000).toISOString() }),
  );
  assert.equal(recording.calls.length, 1);
  assert.deepEqual(recording.calls[0]!.delta.added, [sentinel]);
  assert.deepEqual(recording.calls[0]!.delta.changed, []);
});

test('changes made while a call runs come as one delta after it; an add undone meanwhile is no change; calls never overlap', async (t) => {
  const { layout, recording, start } = setUp({ reportInitial: false });
  const watcher = start();
  t.after(() => watcher.stop());
  await watcher.ready;
  recording.hold();
  const first = endpointRecord({ service: 'redis', host: '10.0.1.1' });
  await putRecord(client, layout, first);
  await eventually(() => recording.calls.length === 1, 'the first call');

  // While the first call is held: a burst of 30 adds, an add then delete, and a change of `first`.
  const burst = Array.from({ length: 30 }, (_, i) => endpointRecord({ service: 'redis', host: `10.0.2.${i}` }));
  await Promise.all(burst.map((r) => putRecord(client, layout, r)));
  const transient = endpointRecord({ service: 'redis', host: '10.0.3.1' });
  await putRecord(client, layout, transient);
  await deleteRecord(client, layout, transient);
  const firstMoved = { ...first, host: '10.0.1.2' };
  await caughtUp(watcher, await putRecord(client, layout, firstMoved));
  assert.equal(recording.calls.length, 1, 'no call starts while one runs');
  recording.release();

  await eventually(() => recording.calls.length === 2, 'the coalesced call');
  const coalesced = recording.calls[1]!.delta;
  assert.deepEqual(new Set(coalesced.added.map((r) => r.taskId)), new Set(burst.map((r) => r.taskId)));
  assert.deepEqual(coalesced.changed, [{ before: first, after: firstMoved }]);
  assert.deepEqual(coalesced.removed, []);
  assert.equal(coalesced.current.length, 31);
  assert.equal(recording.maxActive, 1);
  replay(recording.calls.map((c) => c.delta));
});

test('a burst of writes within the window reaches the handler as fewer calls that add up to the same state', async (t) => {
  const { layout, recording, start } = setUp({ reportInitial: false, coalesceMs: 200 });
  const watcher = start();
  t.after(() => watcher.stop());
  await watcher.ready;
  const records = Array.from({ length: 20 }, (_, i) => endpointRecord({ service: 'redis', host: `10.0.4.${i}` }));
  // One transaction: a single revision, so certainly one window.
  await client
    .if(layout.serviceEndpoints('default', 'redis') + 'nothing', 'Create', '==', 0)
    .then(
      ...records.map((r) => client.put(layout.endpoint('default', 'redis', r.taskId)).value(encodeEndpointRecord(r))),
    )
    .commit();
  await eventually(() => recording.calls.length === 1, 'one call');
  assert.equal(recording.calls[0]!.delta.added.length, 20);
  // Then writes one by one, faster than the window: every record arrives, nothing twice.
  for (const r of records.slice(0, 10)) await deleteRecord(client, layout, r);
  await eventually(() => recording.calls.reduce((n, c) => n + c.delta.removed.length, 0) === 10, 'the removals');
  assert.ok(recording.calls.length < 11, `${recording.calls.length} calls for 1 + 10 writes`);
  const view = replay(recording.calls.map((c) => c.delta));
  assert.deepEqual(
    [...view.keys()].sort(),
    records
      .slice(10)
      .map((r) => r.taskId)
      .sort(),
  );
});

test('with labels, only instances carrying them count: one leaving the label set is removed', async (t) => {
  const { layout, recording, start } = setUp({ labels: ['prod'] });
  const prod = endpointRecord({ service: 'redis', labels: ['blue', 'prod'] });
  const dev = endpointRecord({ service: 'redis', labels: ['dev'] });
  await putRecord(client, layout, prod);
  await putRecord(client, layout, dev);
  const watcher = start();
  t.after(() => watcher.stop());
  await eventually(() => recording.calls.length === 1, 'the initial call');
  assert.deepEqual(recording.calls[0]!.delta.current, [prod]);
  await putRecord(client, layout, endpointRecord({ service: 'redis', labels: ['dev'] }));
  const relabelled = { ...prod, labels: ['blue'] };
  await putRecord(client, layout, relabelled);
  await eventually(() => recording.calls.length === 2, 'the relabel');
  assert.deepEqual(recording.calls[1]!.delta.removed, [prod]);
  assert.deepEqual(recording.calls[1]!.delta.added, []);
  assert.deepEqual(watcher.status()[0]!.instances, 0);
});

test('each watched service gets its own calls, named by the bare service name', async (t) => {
  const { layout, recording, start } = setUp({ reportInitial: false });
  const watcher = start(['redis', 'web']);
  t.after(() => watcher.stop());
  await watcher.ready;
  const r = endpointRecord({ service: 'redis' });
  const w = endpointRecord({ service: 'web' });
  await putRecord(client, layout, r);
  await putRecord(client, layout, w);
  await eventually(() => recording.calls.length === 2, 'two calls');
  const byService = new Map(recording.calls.map((c) => [c.service, c.delta.added.map((x) => x.taskId)]));
  assert.deepEqual(
    byService,
    new Map([
      ['redis', [r.taskId]],
      ['web', [w.taskId]],
    ]),
  );
  assert.deepEqual(
    watcher.status().map((s) => [s.service, s.instances, s.connected]),
    [
      ['redis', 1, true],
      ['web', 1, true],
    ],
  );
});

test('a handler that throws is logged with its stack, gets the same changes again, and later changes still arrive', async (t) => {
  const { layout, log } = setUp();
  const calls: string[][] = [];
  let throws = 2;
  const watcher = watchServices(
    ['redis'],
    {
      serviceChange(_service, delta) {
        calls.push(delta.added.map((r) => r.host));
        if (throws-- > 0) throw new Error('render failed');
      },
    },
    {
      env: { ENVIRONMENT_NAME: 'default', ETCD_ENDPOINTS: etcdUrl },
      prefix: layout.prefix,
      coalesceMs: 20,
      retryFailedMs: 50,
      reportInitial: false,
      logger: log,
    },
  );
  t.after(() => watcher.stop());
  await watcher.ready;
  await putRecord(client, layout, endpointRecord({ service: 'redis', host: '10.0.5.1' }));
  await eventually(() => calls.length === 3, 'two failures and a success');
  assert.deepEqual(calls, [['10.0.5.1'], ['10.0.5.1'], ['10.0.5.1']]);
  const errors = log.lines.filter((l) => l.level === 'error');
  assert.equal(errors.length, 2);
  assert.equal(errors[0]!.message, 'serviceChange failed');
  assert.equal(errors[0]!.meta.error, 'render failed');
  assert.match(String(errors[0]!.meta.stack), /Error: render failed\n\s+at .*serviceChange/);

  await putRecord(client, layout, endpointRecord({ service: 'redis', host: '10.0.5.2' }));
  await eventually(() => calls.length === 4, 'the next change');
  assert.deepEqual(calls[3], ['10.0.5.2']);
});

test('an async handler that rejects is treated the same; with retryFailedMs 0 the watcher moves on', async (t) => {
  const { layout, log } = setUp();
  const calls: string[][] = [];
  const watcher = watchServices(
    'redis',
    async (_service, delta) => {
      calls.push(delta.added.map((r) => r.host));
      await new Promise((resolve) => setTimeout(resolve, 5));
      throw new TypeError('boom');
    },
    {
      env: { ENVIRONMENT_NAME: 'default', ETCD_ENDPOINTS: etcdUrl },
      prefix: layout.prefix,
      coalesceMs: 20,
      retryFailedMs: 0,
      reportInitial: false,
      logger: log,
    },
  );
  t.after(() => watcher.stop());
  await watcher.ready;
  await putRecord(client, layout, endpointRecord({ service: 'redis', host: '10.0.6.1' }));
  await eventually(() => calls.length === 1, 'the first call');
  await putRecord(client, layout, endpointRecord({ service: 'redis', host: '10.0.6.2' }));
  await eventually(() => log.lines.filter((l) => l.level === 'error').length === 2, 'the second failure');
  assert.deepEqual(calls, [['10.0.6.1'], ['10.0.6.2']]);
  assert.deepEqual(
    log.lines.filter((l) => l.level === 'error').map((l) => l.meta.error),
    ['boom', 'boom'],
  );
});

test('a record that does not decode is logged and never handed to the handler', async (t) => {
  const { layout, log, recording, start } = setUp({ reportInitial: false });
  const watcher = start();
  t.after(() => watcher.stop());
  await watcher.ready;
  const key = layout.endpoint('default', 'redis', 'theseus_default_redis.bad');
  await client.put(key).value('not json');
  const good = endpointRecord({ service: 'redis' });
  await putRecord(client, layout, good);
  await eventually(() => recording.calls.length === 1, 'the good record');
  assert.deepEqual(recording.calls[0]!.delta.added, [good]);
  assert.ok(log.lines.some((l) => l.level === 'warn' && l.meta.key === key));
});

test('stop() waits for the call in progress and no call starts after it', async (t) => {
  const { layout, recording, start } = setUp({ reportInitial: false });
  const watcher = start();
  await watcher.ready;
  recording.hold();
  await putRecord(client, layout, endpointRecord({ service: 'redis' }));
  await eventually(() => recording.calls.length === 1, 'a call');
  let stopped = false;
  const stopping = watcher.stop().then(() => (stopped = true));
  await putRecord(client, layout, endpointRecord({ service: 'redis' }));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(stopped, false, 'stop() returned while the handler ran');
  recording.release();
  await stopping;
  await putRecord(client, layout, endpointRecord({ service: 'redis' }));
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(recording.calls.length, 1);
  t.diagnostic('stopped cleanly');
});

test('no service, a bad name or no ENVIRONMENT_NAME is a clear error at once, not a silent loop', () => {
  const noop = () => undefined;
  assert.throws(
    () => watchServices([], noop),
    (err: unknown) => err instanceof ConfigError && /^services: names no service to watch$/.test(err.message),
  );
  assert.throws(() => watchServices(' , ', noop), ConfigError);
  assert.throws(
    () => watchServices(['Redis'], noop),
    (err: unknown) => err instanceof ConfigError && /invalid service "Redis"/.test(err.message),
  );
  assert.throws(
    () => watchServices(['redis'], noop, { env: {} }),
    (err: unknown) => err instanceof MissingEnvironmentError && /ENVIRONMENT_NAME/.test(err.message),
  );
});
