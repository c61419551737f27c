import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEndpointRecord, encodeEndpointRecord, sameEndpoint, type EndpointRecord } from './record.js';
import { ValidationError } from '../errors.js';

const record: EndpointRecord = {
  v: 1,
  cluster: 'default',
  namespace: 'default',
  service: 'web',
  labels: ['dev'],
  appId: '/theseus/default/web--dev',
  taskId: 'theseus_default_web--dev.instance-6f1c._app.1',
  appVersion: '2026-11-21T07:00:00.000Z',
  host: '10.0.0.5',
  ipAddresses: ['172.17.0.3'],
  ports: {
    api: { host: 31005, container: 5000, protocol: 'tcp' },
    ssh: { host: 31004, container: 22, protocol: 'tcp' },
  },
  healthy: null,
  startedAt: '2026-11-21T07:00:01.000Z',
  updatedAt: '2026-11-21T07:00:01.500Z',
};

test('a record survives encode/decode unchanged, as plain JSON', () => {
  const json = encodeEndpointRecord(record);
  assert.deepEqual(JSON.parse(json), record);
  assert.deepEqual(decodeEndpointRecord(json), record);
});

test('decode names the key and every bad field', () => {
  const bad = {
    ...record,
    service: 'Web',
    ports: { api: { host: 70000, container: 5000, protocol: 'sctp' } },
    extra: 1,
  };
  assert.throws(
    () => decodeEndpointRecord(JSON.stringify(bad), '/theseus/v1/endpoints/default/web/t1'),
    (err: unknown) => {
      assert.ok(err instanceof ValidationError);
      assert.match(err.message, /\/theseus\/v1\/endpoints\/default\/web\/t1 is not a valid endpoint record/);
      const paths = err.problems.map((p) => p.path);
      assert.ok(paths.includes('/service'), paths.join());
      assert.ok(paths.includes('/ports/api/host'), paths.join());
      assert.ok(paths.includes('/ports/api/protocol'), paths.join());
      assert.ok(paths.includes('/'), paths.join()); // the unknown key
      return true;
    },
  );
});

test('decode rejects non-JSON and other format versions', () => {
  assert.throws(() => decodeEndpointRecord("{'service_name': 'web'}"), /is not valid JSON/);
  assert.throws(
    () => decodeEndpointRecord(JSON.stringify({ ...record, v: 2 })),
    (err: unknown) => err instanceof ValidationError && err.problems[0]?.path === '/v',
  );
});

test('encode refuses to write an invalid record', () => {
  assert.throws(() => encodeEndpointRecord({ ...record, host: '' }));
});

test('sameEndpoint ignores updatedAt and key order, not content', () => {
  const { updatedAt: _ignored, ...rest } = record;
  const reordered = {
    updatedAt: '2030-01-01T00:00:00.000Z',
    ...Object.fromEntries(Object.entries(rest).reverse()),
  } as EndpointRecord;
  assert.equal(sameEndpoint(record, reordered), true);
  assert.equal(sameEndpoint(record, { ...record, healthy: true }), false);
  assert.equal(
    sameEndpoint(record, { ...record, ports: { api: { host: 31006, container: 5000, protocol: 'tcp' } } }),
    false,
  );
});
