// Reading endpoint records back from the real etcd: one range read, invalid records apart, decode reuse.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createEtcdClient } from '../etcd.js';
import { EtcdLayout } from './keys.js';
import { encodeEndpointRecord, type EndpointRecord } from './record.js';
import { DecodedEndpoints, readEndpoint, readNamespaceEndpoints, readServiceEndpoints } from './registry-reader.js';

const client = createEtcdClient({ endpoints: (process.env.ETCD_ENDPOINTS ?? 'http://127.0.0.1:2379').split(',') });
const layout = new EtcdLayout(`/test-${randomUUID().slice(0, 8)}`);
after(async () => {
  await client.delete().prefix(layout.prefix + '/');
  client.close();
});

function record(service: string, taskId: string, host = '10.0.0.1'): EndpointRecord {
  return {
    v: 1,
    cluster: 'default',
    namespace: 'default',
    service,
    labels: [],
    appId: `/theseus/default/${service}`,
    taskId,
    appVersion: '2026-11-21T07:00:00.000Z',
    host,
    ipAddresses: [],
    ports: { http: { host: 31001, container: 80, protocol: 'tcp' } },
    healthy: null,
    startedAt: null,
    updatedAt: '2026-11-21T07:00:00.000Z',
  };
}
const put = (r: EndpointRecord) =>
  client
    .put(layout.endpoint(r.namespace, r.service, r.taskId))
    .value(encodeEndpointRecord(r))
    .exec();

test('a service is one range read: its records in key order, the revision read, undecodable records listed apart', async () => {
  await put(record('web', 'theseus_default_web.b'));
  await put(record('web', 'theseus_default_web.a'));
  await put(record('web-2', 'theseus_default_web-2.a'));
  await client.put(layout.endpoint('default', 'web', 'theseus_default_web.c')).value('{oops');
  // A record stored under another task's key is not believed.
  const last = await client
    .put(layout.endpoint('default', 'web', 'theseus_default_web.d'))
    .value(encodeEndpointRecord(record('web', 'theseus_default_web.x')))
    .exec();
  const snapshot = await readServiceEndpoints(client, layout, 'default', 'web');
  assert.deepEqual(
    snapshot.endpoints.map((e) => e.taskId),
    ['theseus_default_web.a', 'theseus_default_web.b'],
  );
  assert.equal(snapshot.endpoints[0]!.record.host, '10.0.0.1');
  assert.deepEqual(
    snapshot.invalid.map((i) => [i.key.split('/').pop(), i.error.message.replace(/^\S+ /, '')]),
    [
      ['theseus_default_web.c', 'is not valid JSON'],
      ['theseus_default_web.d', 'holds the record of another task'],
    ],
  );
  // The store's revision when read: at least that of the last write (others write to this etcd too).
  assert.ok(BigInt(snapshot.revision) >= BigInt(last.header.revision));
  const all = await readNamespaceEndpoints(client, layout, 'default');
  assert.equal(all.endpoints.length, 3);
  assert.equal(
    (await readEndpoint(client, layout, 'default', 'web', 'theseus_default_web.a'))?.record.taskId,
    'theseus_default_web.a',
  );
  assert.equal(await readEndpoint(client, layout, 'default', 'web', 'theseus_default_web.none'), undefined);
  await assert.rejects(readEndpoint(client, layout, 'default', 'web', 'theseus_default_web.c'), /is not valid JSON/);
});

test('DecodedEndpoints decodes a record again only when its bytes changed, hands out frozen records, and forgets deleted keys', async () => {
  const decoded = new DecodedEndpoints();
  await put(record('api', 'theseus_default_api.a'));
  await put(record('api', 'theseus_default_api.b'));
  const first = await readServiceEndpoints(client, layout, 'default', 'api', { decoded });
  const again = await readServiceEndpoints(client, layout, 'default', 'api', { decoded });
  assert.equal(again.endpoints[0]!.record, first.endpoints[0]!.record, 'unchanged record reused');
  assert.ok(Object.isFrozen(first.endpoints[0]!.record.ports.http));
  await put(record('api', 'theseus_default_api.a', '10.0.0.2'));
  const changed = await readServiceEndpoints(client, layout, 'default', 'api', { decoded });
  assert.notEqual(changed.endpoints[0]!.record, first.endpoints[0]!.record);
  assert.equal(changed.endpoints[0]!.record.host, '10.0.0.2');
  assert.equal(changed.endpoints[1]!.record, first.endpoints[1]!.record);
  await client.delete().key(layout.endpoint('default', 'api', 'theseus_default_api.b'));
  await readServiceEndpoints(client, layout, 'default', 'api', { decoded });
  assert.equal(decoded.size, 1);
});
