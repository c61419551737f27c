/**
 * etcd-write-to-handler latency of the watcher (target: p99 under 20 ms plus the coalescing
 * window), next to the latency of the etcd write alone. Writes are sequential: each waits until the
 * handler has seen the previous one.
 *
 *   node --import tsx --conditions=source guestutils/bench/watch-latency.ts
 */
import { randomUUID } from 'node:crypto';
import { Etcd3 } from 'etcd3';
import { EtcdLayout, encodeEndpointRecord } from '@theseus/services';
import { watchServices } from '../src/watcher.js';
import { endpointRecord } from '../src/test-support/records.js';
import { memoryLog } from '../src/test-support/deltas.js';
import { elapsedMs, percentiles } from './support/stats.js';

const etcdUrl = (process.env.ETCD_ENDPOINTS ?? 'http://127.0.0.1:2379').split(',')[0]!;
const client = new Etcd3({ hosts: etcdUrl });
const layout = new EtcdLayout(`/bench-${randomUUID().slice(0, 8)}`);
const rows: Record<string, ReturnType<typeof percentiles> & { 'p99 - window': number }> = {};

async function run(coalesceMs: number, samples: number): Promise<void> {
  const waiting = new Map<string, () => void>();
  const watcher = watchServices(
    ['bench'],
    (_service, delta) => {
      for (const record of delta.added) waiting.get(record.taskId)?.();
    },
    {
      env: { ENVIRONMENT_NAME: 'default' },
      client,
      prefix: layout.prefix,
      coalesceMs,
      reportInitial: false,
      logger: memoryLog(),
    },
  );
  await watcher.ready;
  const latencies: number[] = [];
  const writes: number[] = [];
  const afterAck: number[] = [];
  for (let i = 0; i < samples + 10; i++) {
    const record = endpointRecord({ service: 'bench', host: `10.2.0.${i % 250}` });
    const seen = new Promise<void>((resolve) => waiting.set(record.taskId, resolve));
    const start = process.hrtime.bigint();
    await client.put(layout.endpoint('default', 'bench', record.taskId)).value(encodeEndpointRecord(record));
    const written = elapsedMs(start);
    await seen;
    if (i >= 10) {
      const total = elapsedMs(start);
      latencies.push(total);
      writes.push(written);
      afterAck.push(total - written);
    }
  }
  await watcher.stop();
  const write = percentiles(writes);
  rows[`etcd put alone (run with window ${coalesceMs} ms)`] = { ...write, 'p99 - window': write.p99 };
  const total = percentiles(latencies);
  rows[`write to handler, window ${coalesceMs} ms`] = {
    ...total,
    'p99 - window': Math.round((total.p99 - coalesceMs) * 1000) / 1000,
  };
  const ack = percentiles(afterAck);
  rows[`  of which after the put was acknowledged (window ${coalesceMs} ms)`] = {
    ...ack,
    'p99 - window': Math.round((ack.p99 - coalesceMs) * 1000) / 1000,
  };
}

try {
  await run(0, 300);
  await run(20, 100);
  await run(100, 60);
  console.log(`etcd ${etcdUrl}; latencies in ms; target: p99 - window < 20 ms`);
  console.table(rows);
} finally {
  await client.delete().prefix(layout.prefix + '/');
  client.close();
}
