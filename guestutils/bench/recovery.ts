/**
 * How soon guestutils works again after an etcd restart, on its own etcd client (short
 * circuit-breaker delays) next to an etcd3 client with default fault handling (a host's circuit
 * opens for 5 s after 3 failures):
 * - getNodeList, asked every 50 ms through the outage: time from etcd healthy to the first answer;
 * - the watcher: time from etcd healthy to the handler seeing a write made then.
 * Uses a private etcd on random ports, killed and restarted here.
 *
 *   node --import tsx --conditions=source guestutils/bench/recovery.ts
 */
import { randomUUID } from 'node:crypto';
import { Etcd3 } from 'etcd3';
import { EtcdLayout, encodeEndpointRecord } from '@theseus/services';
import { watchServices } from '../src/watcher.js';
import { Guest } from '../src/guest.js';
import { EtcdProcess } from '@theseus/services/testing';
import { endpointRecord } from '../src/test-support/records.js';
import { memoryLog } from '../src/test-support/deltas.js';
import { elapsedMs, percentiles } from './support/stats.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const DOWN_MS = 2_000;
const etcd = await EtcdProcess.start();
const rows: Record<string, ReturnType<typeof percentiles>> = {};

async function measureQueries(name: string, client: Etcd3 | undefined): Promise<void> {
  const layout = new EtcdLayout(`/bench-${randomUUID().slice(0, 8)}`);
  const guest = new Guest({
    env: { ENVIRONMENT_NAME: 'default' },
    endpoints: [etcd.endpoint],
    prefix: layout.prefix,
    ...(client ? { client } : {}),
  });
  const samples: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    await guest.getNodeList('bench', { minimum: 0 });
    await etcd.stop();
    let up: bigint | undefined;
    const restarting = new Promise((resolve) => setTimeout(resolve, DOWN_MS))
      .then(() => etcd.restart())
      .then(() => (up = process.hrtime.bigint()));
    for (;;) {
      const ok = await guest.getNodeList('bench', { minimum: 0 }).then(
        () => true,
        () => false,
      );
      if (ok && up !== undefined) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    samples.push(elapsedMs(up!));
    await restarting;
  }
  await guest.close();
  client?.close();
  rows[`getNodeList, ${name}`] = percentiles(samples);
}

async function measureWatch(name: string, client: Etcd3 | undefined): Promise<void> {
  const layout = new EtcdLayout(`/bench-${randomUUID().slice(0, 8)}`);
  const waiting = new Map<string, () => void>();
  const watcher = watchServices(['bench'], (_s, delta) => delta.added.forEach((r) => waiting.get(r.taskId)?.()), {
    env: { ENVIRONMENT_NAME: 'default' },
    endpoints: [etcd.endpoint],
    ...(client ? { client } : {}),
    prefix: layout.prefix,
    coalesceMs: 0,
    reportInitial: false,
    logger: memoryLog(),
  });
  await watcher.ready;
  const samples: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    await etcd.stop();
    await new Promise((resolve) => setTimeout(resolve, DOWN_MS));
    await etcd.restart();
    const start = process.hrtime.bigint();
    const writer = new Etcd3({ hosts: etcd.endpoint });
    const record = endpointRecord({ service: 'bench' });
    const seen = new Promise<void>((resolve) => waiting.set(record.taskId, resolve));
    await writer.put(layout.endpoint('default', 'bench', record.taskId)).value(encodeEndpointRecord(record));
    writer.close();
    await seen;
    samples.push(elapsedMs(start));
  }
  await watcher.stop();
  client?.close();
  rows[`watcher, ${name}`] = percentiles(samples);
}

try {
  await measureQueries('guestutils client', undefined);
  await measureQueries('etcd3 defaults', new Etcd3({ hosts: etcd.endpoint }));
  await measureWatch('guestutils client', undefined);
  await measureWatch('etcd3 defaults', new Etcd3({ hosts: etcd.endpoint }));
  console.log(`etcd killed for ${DOWN_MS} ms then restarted, ${ROUNDS} rounds; ms from etcd healthy again`);
  console.table(rows);
  const ratio = (what: string) =>
    (rows[`${what}, etcd3 defaults`]!.p50 / rows[`${what}, guestutils client`]!.p50).toFixed(1);
  console.log(
    `median ratio etcd3 defaults / guestutils client: getNodeList ${ratio('getNodeList')}x, watcher ${ratio('watcher')}x`,
  );
} finally {
  await etcd.destroy();
}
