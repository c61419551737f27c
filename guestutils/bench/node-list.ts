/**
 * getNodeList latency for a service with 1,000 running instances (target: p50 under 2 ms), measured
 * side by side with the bare etcd range read it makes, and with the watch-fed cache.
 *
 *   node --import tsx --conditions=source guestutils/bench/node-list.ts
 */
import { randomUUID } from 'node:crypto';
import { Etcd3 } from 'etcd3';
import { EtcdLayout, encodeEndpointRecord } from '@theseus/services';
import { Guest } from '../src/guest.js';
import { endpointRecord } from '../src/test-support/records.js';
import { elapsedMs, percentiles } from './support/stats.js';

const INSTANCES = 1_000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 300);
const etcdUrl = (process.env.ETCD_ENDPOINTS ?? 'http://127.0.0.1:2379').split(',')[0]!;
const layout = new EtcdLayout(`/bench-${randomUUID().slice(0, 8)}`);
const client = new Etcd3({ hosts: etcdUrl });

async function measure(rounds: number, fn: () => Promise<unknown>): Promise<ReturnType<typeof percentiles>> {
  for (let i = 0; i < 20; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const start = process.hrtime.bigint();
    await fn();
    samples.push(elapsedMs(start));
  }
  return percentiles(samples);
}

try {
  const records = Array.from({ length: INSTANCES }, (_, i) =>
    endpointRecord({
      service: 'bench',
      host: `10.1.${Math.floor(i / 250)}.${i % 250}`,
      ports: {
        api: { host: 31000 + (i % 1000), container: 8080, protocol: 'tcp' },
        metrics: { host: 32000 + (i % 1000), container: 9100, protocol: 'tcp' },
      },
    }),
  );
  for (let i = 0; i < records.length; i += 100) {
    await client
      .if(layout.prefix + '/none', 'Create', '==', 0)
      .then(
        ...records
          .slice(i, i + 100)
          .map((r) => client.put(layout.endpoint('default', 'bench', r.taskId)).value(encodeEndpointRecord(r))),
      )
      .commit();
  }
  const env = { ENVIRONMENT_NAME: 'default' };
  const direct = new Guest({ env, client, prefix: layout.prefix });
  const cached = new Guest({ env, client, prefix: layout.prefix, cache: true });
  const nodes = await direct.getNodeList('bench', { ports: ['api'] });
  if (nodes.length !== INSTANCES) throw new Error(`expected ${INSTANCES} nodes, got ${nodes.length}`);

  const prefix = layout.serviceEndpoints('default', 'bench');
  const rangeOnly = await measure(ROUNDS, () => client.getAll().prefix(prefix).exec());
  const uncached = await measure(ROUNDS, () => direct.getNodeList('bench', { ports: ['api'] }));
  const fromCache = await measure(ROUNDS * 10, () => cached.getNodeList('bench', { ports: ['api'] }));
  const bytes = (await client.getAll().prefix(prefix).exec()).kvs.reduce((n, kv) => n + kv.value.length, 0);

  console.log(
    `getNodeList('bench', { ports: ['api'] }) over ${INSTANCES} endpoints (${(bytes / 1024).toFixed(0)} KiB of records), etcd ${etcdUrl}`,
  );
  console.table({
    'etcd range read alone': rangeOnly,
    'getNodeList, one range read': uncached,
    'getNodeList, cache: true': fromCache,
  });
  console.log(
    `uncached / range read (p50): ${(uncached.p50 / rangeOnly.p50).toFixed(2)}x; cached p50 ${fromCache.p50} ms (target p50 < 2 ms)`,
  );
  await direct.close();
  await cached.close();
} finally {
  await client.delete().prefix(layout.prefix + '/');
  client.close();
}
