/**
 * `theseus-guest` (the static program for images without Node): its size, how long it takes to
 * start, and a whole `node-list` call against real etcd (process start, one range read, exit),
 * side by side with the same call through `theseus guest` (Node).
 *
 *   node --import tsx --conditions=source guestutils/bench/theseus-guest.ts
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { EtcdLayout } from '@theseus/services';
import { endpointRecord, putRecord } from '../src/test-support/records.js';
import { elapsedMs, percentiles } from './support/stats.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
const binary = fileURLToPath(new URL('../bundle/theseus-guest', import.meta.url));
const theseus = fileURLToPath(new URL('../../bin/theseus.js', import.meta.url));
const etcdUrl = (process.env.ETCD_ENDPOINTS ?? 'http://127.0.0.1:2379').split(',')[0]!;
const prefix = `/bench-guest-${randomUUID().slice(0, 8)}`;
const client = new Etcd3({ hosts: etcdUrl });
const env = {
  PATH: process.env.PATH ?? '',
  ETCD_ENDPOINTS: etcdUrl,
  THESEUS_ETCD_PREFIX: prefix,
  ENVIRONMENT_NAME: 'default',
};

function timeRuns(command: string, args: string[]): ReturnType<typeof percentiles> {
  const samples: number[] = [];
  for (let i = 0; i < ROUNDS + 3; i++) {
    const start = process.hrtime.bigint();
    const r = spawnSync(command, args, { env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${r.stderr}`);
    if (i >= 3) samples.push(elapsedMs(start));
  }
  return percentiles(samples);
}

try {
  execFileSync(process.execPath, [fileURLToPath(new URL('../scripts/build-guest.mjs', import.meta.url)), '--install'], {
    stdio: 'inherit',
  });
  const layout = new EtcdLayout(prefix);
  for (let i = 0; i < 20; i++)
    await putRecord(
      client,
      layout,
      endpointRecord({
        service: 'web',
        host: `10.0.0.${i + 1}`,
        ports: { http: { host: 31000 + i, container: 80, protocol: 'tcp' } },
      }),
    );
  const size = statSync(binary).size;
  const help = timeRuns(binary, ['--help']);
  const staticNodeList = timeRuns(binary, ['node-list', 'web', '--ports', 'http']);
  const nodeNodeList = timeRuns(process.execPath, [theseus, 'guest', 'node-list', 'web', '--ports', 'http']);
  console.log(`theseus-guest: ${(size / 1024 / 1024).toFixed(1)} MiB, static, no libc`);
  console.log(`start and exit (--help), ms:            p50 ${help.p50.toFixed(1)}  p99 ${help.p99.toFixed(1)}`);
  console.log(
    `node-list of 20 instances, ms:          p50 ${staticNodeList.p50.toFixed(1)}  p99 ${staticNodeList.p99.toFixed(1)}`,
  );
  console.log(
    `same through theseus guest (Node), ms:  p50 ${nodeNodeList.p50.toFixed(1)}  p99 ${nodeNodeList.p99.toFixed(1)}`,
  );
} finally {
  await client.delete().prefix(prefix + '/');
  client.close();
}
