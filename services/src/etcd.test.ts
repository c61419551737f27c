import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { castEtcdError, createEtcdClient } from './etcd.js';
import { EtcdUnavailableError, isRecoverable } from './errors.js';
import { EtcdLayout } from './endpoints/keys.js';
import { decodeEndpointRecord, encodeEndpointRecord, type EndpointRecord } from './endpoints/record.js';

const endpoints = (process.env.ETCD_ENDPOINTS ?? 'http://127.0.0.1:2379').split(',');
const client = createEtcdClient({ endpoints });
const layout = new EtcdLayout(`/test-${randomUUID().slice(0, 8)}`);
after(async () => {
  await client.delete().prefix(layout.prefix + '/');
  client.close();
});

test('real etcd: an endpoint record written under the layout is read back by one range read', async () => {
  const base: EndpointRecord = {
    v: 1,
    cluster: 'default',
    namespace: 'default',
    service: 'web',
    labels: [],
    appId: '/theseus/default/web',
    taskId: '',
    appVersion: '2026-11-21T07:00:00.000Z',
    host: '127.0.0.1',
    ipAddresses: [],
    ports: { http: { host: 31001, container: 80, protocol: 'tcp' } },
    healthy: null,
    startedAt: null,
    updatedAt: '2026-11-21T07:00:00.000Z',
  };
  for (const n of [1, 2, 3]) {
    const taskId = `theseus_default_web.instance-${n}._app.1`;
    await client.put(layout.endpoint('default', 'web', taskId)).value(encodeEndpointRecord({ ...base, taskId }));
  }
  await client
    .put(layout.endpoint('default', 'web-2', 'other.x'))
    .value(encodeEndpointRecord({ ...base, service: 'web-2', taskId: 'other.x' }));
  const stored = await client.getAll().prefix(layout.serviceEndpoints('default', 'web')).strings();
  const records = Object.entries(stored).map(([key, json]) => decodeEndpointRecord(json, key));
  assert.deepEqual(
    records.map((r) => r.taskId).sort(),
    [1, 2, 3].map((n) => `theseus_default_web.instance-${n}._app.1`),
  );
});

test('an unreachable etcd becomes a recoverable EtcdUnavailableError', async () => {
  const dead = createEtcdClient({ endpoints: ['http://127.0.0.1:1'], timeoutMs: 500 });
  try {
    const err = await dead
      .get('/x')
      .string()
      .then(
        () => undefined,
        (e: unknown) => castEtcdError(e),
      );
    assert.ok(err instanceof EtcdUnavailableError, `got ${String(err)}`);
    assert.equal(isRecoverable(err), true);
  } finally {
    dead.close();
  }
});
