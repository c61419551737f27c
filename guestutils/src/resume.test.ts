// The watcher across etcd failures, on a private etcd (restarted and compacted here, never the shared
// one) behind a proxy the test can cut, so writes provably happen while the watcher is disconnected.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Etcd3 } from 'etcd3';
import { EtcdLayout, readServiceEndpoints } from '@theseus/services';
import { watchServices, type ServiceWatcher } from './watcher.js';
import { Guest } from './guest.js';
import { EtcdUnavailableError } from '@theseus/services';
import { EtcdProcess } from '@theseus/services/testing';
import { TcpProxy } from '@theseus/services/testing';
import { deleteRecord, endpointRecord, eventually, putRecord } from './test-support/records.js';
import { memoryLog, recordingHandler, replay } from './test-support/deltas.js';
import type { EndpointDelta } from './delta.js';

let etcd: EtcdProcess;
let proxy: TcpProxy;
let direct: Etcd3;

before(async () => {
  etcd = await EtcdProcess.start();
  proxy = await TcpProxy.start('127.0.0.1', etcd.clientPort);
  direct = new Etcd3({ hosts: etcd.endpoint });
});
after(async () => {
  direct?.close();
  await proxy?.close();
  await etcd?.destroy();
});

function start(layout: EtcdLayout, endpoint = proxy.endpoint) {
  const log = memoryLog();
  const recording = recordingHandler();
  const watcher = watchServices(['redis'], recording.handler, {
    env: { ENVIRONMENT_NAME: 'default' },
    endpoints: [endpoint],
    prefix: layout.prefix,
    coalesceMs: 20,
    retryDelayMs: 50,
    maxRetryDelayMs: 200,
    logger: log,
  });
  return { log, recording, watcher };
}

const deltas = (calls: Array<{ delta: EndpointDelta }>) => calls.map((c) => c.delta);

async function settled(watcher: ServiceWatcher, layout: EtcdLayout, calls: Array<{ delta: EndpointDelta }>) {
  const truth = await readServiceEndpoints(direct, layout, 'default', 'redis');
  await eventually(() => BigInt(watcher.status()[0]!.revision) >= BigInt(truth.revision), 'the watcher to catch up');
  await eventually(() => {
    const last = calls.at(-1)?.delta.current ?? [];
    return JSON.stringify(last) === JSON.stringify(truth.endpoints.map((e) => e.record));
  }, 'the handler to see the current state');
  return truth;
}

/** Two instances, a watcher that has reported them, and the number of calls so far. */
async function watchingTwo(t: { after(fn: () => unknown): void }, subnet: string) {
  const layout = new EtcdLayout(`/test-${randomUUID().slice(0, 8)}`);
  const a = endpointRecord({ service: 'redis', host: `${subnet}.1` });
  const b = endpointRecord({ service: 'redis', host: `${subnet}.2` });
  await putRecord(direct, layout, a);
  await putRecord(direct, layout, b);
  const { log, recording, watcher } = start(layout);
  t.after(() => watcher.stop());
  await watcher.ready;
  await settled(watcher, layout, recording.calls);
  return { layout, a, b, log, recording, watcher, before: recording.calls.length };
}

test('etcd unreachable at start: the watcher keeps trying, then reports what is running', async (t) => {
  const layout = new EtcdLayout(`/test-${randomUUID().slice(0, 8)}`);
  const a = endpointRecord({ service: 'redis' });
  await putRecord(direct, layout, a);
  proxy.cut();
  const { log, recording, watcher } = start(layout);
  t.after(() => watcher.stop());
  await eventually(
    () => log.lines.some((l) => l.message === 'cannot read the service from etcd yet, retrying'),
    'a retry',
  );
  assert.equal(recording.calls.length, 0);
  proxy.restore();
  await watcher.ready;
  await eventually(() => recording.calls.length === 1, 'the initial call');
  assert.deepEqual(recording.calls[0]!.delta.added, [a]);
});

test('after an etcd restart the watch resumes from the revision after the last one seen: no change missed, none twice', async (t) => {
  const { layout, a, b, log, recording, watcher, before } = await watchingTwo(t, '10.0.0');
  const seen = watcher.status()[0]!.revision;

  proxy.cut();
  await etcd.restart();
  direct.close();
  direct = new Etcd3({ hosts: etcd.endpoint });
  // Written while the watcher cannot reach etcd.
  const c = endpointRecord({ service: 'redis', host: '10.0.0.3' });
  const aMoved = { ...a, host: '10.0.0.11' };
  await putRecord(direct, layout, c);
  await putRecord(direct, layout, aMoved);
  await deleteRecord(direct, layout, b);
  assert.equal(watcher.status()[0]!.connected, false);
  const restoredAt = Date.now();
  proxy.restore();

  const truth = await settled(watcher, layout, recording.calls);
  t.diagnostic(`watch resumed ${Date.now() - restoredAt} ms after etcd became reachable`);
  const resumed = log.lines.filter((l) => l.message === 'watch resumed');
  assert.ok(resumed.length >= 1);
  assert.equal(resumed[0]!.meta.fromRevision, String(BigInt(seen) + 1n));
  assert.ok(!log.lines.some((l) => l.message === 'service read again'), 'resumed by replay, not by re-reading');

  const after = deltas(recording.calls.slice(before));
  assert.deepEqual(
    after.flatMap((d) => d.added),
    [c],
  );
  assert.deepEqual(
    after.flatMap((d) => d.changed),
    [{ before: a, after: aMoved }],
  );
  assert.deepEqual(
    after.flatMap((d) => d.removed),
    [b],
  );
  const view = replay(deltas(recording.calls));
  assert.deepEqual(
    [...view.keys()].sort().map((id) => view.get(id)),
    truth.endpoints.map((e) => e.record),
  );
});

test('connected straight to etcd (no proxy), a killed and restarted etcd is followed without a miss or a repeat', async (t) => {
  const layout = new EtcdLayout(`/test-${randomUUID().slice(0, 8)}`);
  const a = endpointRecord({ service: 'redis', host: '10.0.2.1' });
  await putRecord(direct, layout, a);
  const { log, recording, watcher } = start(layout, etcd.endpoint);
  t.after(() => watcher.stop());
  await watcher.ready;
  await settled(watcher, layout, recording.calls);
  const seen = watcher.status()[0]!.revision;
  await etcd.restart();
  direct.close();
  direct = new Etcd3({ hosts: etcd.endpoint });
  const b = endpointRecord({ service: 'redis', host: '10.0.2.2' });
  await putRecord(direct, layout, b);
  await deleteRecord(direct, layout, a);
  const truth = await settled(watcher, layout, recording.calls);
  assert.equal(log.lines.find((l) => l.message === 'watch resumed')?.meta.fromRevision, String(BigInt(seen) + 1n));
  assert.deepEqual(
    recording.calls.slice(1).flatMap((c) => c.delta.added),
    [b],
  );
  assert.deepEqual(
    recording.calls.slice(1).flatMap((c) => c.delta.removed),
    [a],
  );
  const view = replay(deltas(recording.calls));
  assert.deepEqual(
    [...view.keys()].sort().map((id) => view.get(id)),
    truth.endpoints.map((e) => e.record),
  );
});

test('when the revision to resume from was compacted, the watcher reads the service again and reports the difference', async (t) => {
  const { layout, a, b, log, recording, watcher, before } = await watchingTwo(t, '10.0.1');

  proxy.cut();
  const c = endpointRecord({ service: 'redis', host: '10.0.1.3' });
  const bMoved = { ...b, healthy: true };
  await putRecord(direct, layout, c);
  await deleteRecord(direct, layout, a);
  const last = await putRecord(direct, layout, bMoved);
  await direct.kv.compact({ revision: last, physical: true });
  proxy.restore();

  const truth = await settled(watcher, layout, recording.calls);
  assert.ok(
    log.lines.some((l) => l.level === 'warn' && l.message.startsWith('etcd canceled the watch')),
    'the cancel is logged',
  );
  assert.ok(log.lines.some((l) => l.message === 'service read again'));
  const after = deltas(recording.calls.slice(before));
  assert.deepEqual(
    after.flatMap((d) => d.added),
    [c],
  );
  assert.deepEqual(
    after.flatMap((d) => d.removed),
    [a],
  );
  assert.deepEqual(
    after.flatMap((d) => d.changed),
    [{ before: b, after: bMoved }],
  );
  const view = replay(deltas(recording.calls));
  assert.deepEqual(
    [...view.keys()].sort().map((id) => view.get(id)),
    truth.endpoints.map((e) => e.record),
  );

  // And it keeps watching from the re-read revision.
  const d = endpointRecord({ service: 'redis', host: '10.0.1.4' });
  await putRecord(direct, layout, d);
  await settled(watcher, layout, recording.calls);
  assert.deepEqual(recording.calls.at(-1)!.delta.added, [d]);
});

test('while etcd is unreachable the cache answers what it last knew, and catches up when etcd is back', async (t) => {
  const layout = new EtcdLayout(`/test-${randomUUID().slice(0, 8)}`);
  const a = endpointRecord({ service: 'redis', host: '10.0.3.1' });
  await putRecord(direct, layout, a);
  const cached = new Guest({
    env: { ENVIRONMENT_NAME: 'default' },
    endpoints: [proxy.endpoint],
    prefix: layout.prefix,
    cache: true,
  });
  const uncached = new Guest({
    env: { ENVIRONMENT_NAME: 'default' },
    endpoints: [proxy.endpoint],
    prefix: layout.prefix,
    timeoutMs: 1_000,
  });
  t.after(() => Promise.all([cached.close(), uncached.close()]));
  assert.deepEqual(await cached.getNodeList('redis'), ['10.0.3.1']);
  proxy.cut();
  t.after(() => proxy.restore());
  const b = endpointRecord({ service: 'redis', host: '10.0.3.2' });
  await putRecord(direct, layout, b);
  assert.deepEqual(await cached.getNodeList('redis'), ['10.0.3.1']);
  await assert.rejects(uncached.getNodeList('redis'), EtcdUnavailableError);
  proxy.restore();
  await eventually(async () => (await cached.getNodeList('redis')).length === 2, 'the cache to catch up');
  assert.deepEqual(new Set(await cached.getNodeList('redis')), new Set(['10.0.3.1', '10.0.3.2']));
});

test('stop() does not hang while etcd is unreachable', { timeout: 15_000 }, async () => {
  const layout = new EtcdLayout(`/test-${randomUUID().slice(0, 8)}`);
  const { watcher } = start(layout);
  await watcher.ready;
  proxy.cut();
  try {
    await eventually(() => !watcher.status()[0]!.connected, 'the disconnect');
    await watcher.stop();
  } finally {
    proxy.restore();
  }
});
