/** Endpoint records as the subscriber writes them, for tests and benchmarks. */
import { randomUUID } from 'node:crypto';
import { encodeEndpointRecord, toAppId, type EndpointRecord, type EtcdLayout } from '@theseus/services';
import type { Etcd3 } from 'etcd3';

export function endpointRecord(fields: Partial<EndpointRecord> & { service: string; taskId?: string }): EndpointRecord {
  const namespace = fields.namespace ?? 'default';
  const labels = fields.labels ?? [];
  const appId = toAppId({ namespace, service: fields.service, labels });
  return {
    v: 1,
    cluster: 'default',
    namespace,
    labels,
    appId,
    taskId: fields.taskId ?? `${appId.slice(1).split('/').join('_')}.instance-${randomUUID()}._app.1`,
    appVersion: '2026-11-21T07:00:00.000Z',
    host: '10.0.0.1',
    ipAddresses: [],
    ports: { api: { host: 31001, container: 8080, protocol: 'tcp' } },
    healthy: null,
    startedAt: '2026-11-21T07:00:01.000Z',
    updatedAt: new Date().toISOString(),
    ...fields,
  };
}

/** Writes a record where the subscriber would; returns the etcd revision of the write. */
export async function putRecord(client: Etcd3, layout: EtcdLayout, record: EndpointRecord): Promise<string> {
  const response = await client
    .put(layout.endpoint(record.namespace, record.service, record.taskId))
    .value(encodeEndpointRecord(record))
    .exec();
  return response.header.revision;
}

export async function deleteRecord(client: Etcd3, layout: EtcdLayout, record: EndpointRecord): Promise<string> {
  const response = await client
    .delete()
    .key(layout.endpoint(record.namespace, record.service, record.taskId))
    .exec();
  return response.header.revision;
}

/** Deletes the records in one etcd transaction: a watcher sees them go in one change. */
export async function deleteRecordsAtOnce(
  client: Etcd3,
  layout: EtcdLayout,
  records: EndpointRecord[],
): Promise<string> {
  const response = await client.kv.txn({
    success: records.map((record) => ({
      request_delete_range: { key: Buffer.from(layout.endpoint(record.namespace, record.service, record.taskId)) },
    })),
  });
  return response.header.revision;
}

/** Polls `check` until it returns true (or throws after `timeoutMs`): for waiting, not for timing. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
