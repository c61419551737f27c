/**
 * Subscriber benchmark, one run. Each part, and each measurement of part 1, runs against a private
 * etcd started for it (fresh data directory, random ports; removed after), so that none meets what
 * another left behind (history, a grown file: etcd slows by a third after a few hundred thousand
 * writes without compaction); or against ETCD_ENDPOINTS when given. Marathon is the engine, in-process. Measured:
 *
 *  1. events/s from an SSE stream into etcd, next to the raw etcd write ceiling measured the same
 *     way (same records, same client, transactions of 120 puts, 1, 4 and 16 in flight as the
 *     subscriber) and next to plain concurrent puts (64 in flight); medians of 3 runs. Each side
 *     first writes as many other keys untimed (a warm-up: compiled code, an etcd holding keys);
 *  2. p99 event-to-etcd latency at a steady 1,000 events/s (event timestamp to an etcd watch seeing
 *     the record; a separate client), in turns with raw puts and transactions timed the same way;
 *  3. full reconcile of 10,000 tasks with 10% drift (missing, wrong, stale), median of 3;
 *  4. RSS of a `theseus subscriber` process holding 100,000 endpoints (steady and peak), as users run
 *     it and with V8's default heap settings.
 *
 *   node --import tsx --conditions=source subscriber/bench/subscriber.ts [--quick] [throughput|latency|reconcile|memory...]
 *
 * For profiling: SUBSCRIBER_NODE_ARGS adds node flags to the subscriber processes (e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof`), SUBSCRIBER_STDOUT=1 passes their stdout through (`--trace-gc`).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createEtcdClient, EtcdLayout, type EndpointRecord, type MarathonAppInfo } from '@theseus/services';
import { EtcdProcess, freePort } from '@theseus/services/testing';
import type { InProcessEngine } from '@theseus/cluster/testing';

// The harness reads ETCD_ENDPOINTS when loaded: start a private etcd first (each part gets a fresh one).
const sharedEtcd = process.env.ETCD_ENDPOINTS;
let privateEtcd = sharedEtcd ? undefined : await EtcdProcess.start();
if (privateEtcd) process.env.ETCD_ENDPOINTS = privateEtcd.endpoint;
const { clearPrefix, ETCD_ENDPOINTS, makeSubscriber, randomPrefix, startMarathon, theseusApp, until } =
  await import('../src/testing/harness.js');

const QUICK = process.argv.includes('--quick');
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
let etcd = createEtcdClient({ endpoints: ETCD_ENDPOINTS, timeoutMs: 30_000 });

/** Points this script and the harness (whose endpoint list is read at each use) at a fresh private etcd. */
async function freshEtcd(): Promise<void> {
  if (sharedEtcd) return;
  etcd.close();
  await privateEtcd?.destroy();
  privateEtcd = await EtcdProcess.start();
  ETCD_ENDPOINTS.splice(0, ETCD_ENDPOINTS.length, privateEtcd.endpoint);
  etcd = createEtcdClient({ endpoints: ETCD_ENDPOINTS, timeoutMs: 30_000 });
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuSecondsOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}
const ownCpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

/** CPU microseconds per item spent by etcd, the writer (subscriber or raw client) and this process (the engine). */
interface CpuLedger {
  etcd: number;
  writer: number;
  bench: number;
}
const cpuLedgers: Record<string, CpuLedger[]> = {};
function ledger(name: string, writerPid?: number): (items: number) => void {
  const etcdPid = privateEtcd?.pid;
  const before = { etcd: cpuSecondsOf(etcdPid), writer: cpuSecondsOf(writerPid), bench: ownCpuSeconds() };
  return (items) => {
    const perItem = (now: number, then: number) => (1e6 * (now - then)) / items;
    (cpuLedgers[name] ??= []).push({
      etcd: perItem(cpuSecondsOf(etcdPid), before.etcd),
      writer: writerPid === undefined ? 0 : perItem(cpuSecondsOf(writerPid), before.writer),
      bench: perItem(ownCpuSeconds(), before.bench),
    });
  };
}

function statusEvent(app: MarathonAppInfo, n: number, timestamp: string) {
  return JSON.stringify({
    slaveId: 'agent-1-S0',
    taskId: `${app.id.slice(1).split('/').join('_')}.instance-${n}._app.1`,
    taskStatus: 'TASK_RUNNING',
    message: '',
    appId: app.id,
    host: `10.0.${(n >> 8) & 255}.${n & 255}`,
    ipAddresses: [{ ipAddress: '10.0.0.1', protocol: 'IPv4' }],
    ports: [31000 + (n % 1000), 32000 + (n % 1000)],
    version: app.version,
    eventType: 'status_update_event',
    timestamp,
  });
}

/** A leader subscriber with one app, reconciled, on a fresh prefix. */
async function ready(marathon: InProcessEngine) {
  const prefix = randomPrefix();
  const sub = makeSubscriber(marathon, prefix, { leaderTtlSeconds: 10, streamIdleTimeoutMs: 30_000 });
  sub.start();
  await until(() => sub.isLeader && marathon.faults.streamCount === 1, 'leader');
  await sub.reconcileNow('bench');
  return { prefix, sub };
}

async function sseThroughput(n: number): Promise<number> {
  const writer = 'subscriber';
  const marathon = await startMarathon(10_000);
  const app = await marathon.putApp(theseusApp({ namespace: 'default', service: 'web', labels: [] }));
  const prefix = randomPrefix();
  const { child, port } = await spawnSubscriber(marathon, prefix);
  await until(() => marathon.faults.streamCount === 1, 'stream attached');
  const now = Date.now();
  const endpoints = async () =>
    ((await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as { endpoints: number }).endpoints;
  // Warm-up: a first burst of other tasks, untimed, so that the burst measured meets a writer whose
  // code the JIT has compiled, as a subscriber that has been running is (the raw client is warmed too).
  for (let i = 0; i < n; i++)
    marathon.faults.publishRaw('status_update_event', statusEvent(app, n + i, new Date(now + i).toISOString()));
  await until(async () => (await endpoints()) >= n, 'the warm-up burst in etcd', 120_000);
  const lines = Array.from({ length: n }, (_, i) => statusEvent(app, i, new Date(now + i).toISOString()));
  const cpu = ledger(writer, child.pid);
  const start = performance.now();
  for (const line of lines) marathon.faults.publishRaw('status_update_event', line);
  await until(async () => (await endpoints()) >= 2 * n, 'all events in etcd', 120_000);
  const seconds = (performance.now() - start) / 1000;
  cpu(n);
  child.kill('SIGTERM');
  await once(child, 'exit');
  await marathon.close().catch(() => undefined);
  await clearPrefix(prefix);
  return n / seconds;
}

/**
 * The same records, written straight to etcd in transactions of 120 puts, `inFlight` at once; with
 * `checked`, each transaction also compares what the subscriber's do (a guard key's existence and
 * every key's mod revision), else a single compare.
 */
async function rawTxnCeiling(records: Array<[string, string]>, inFlight: number, checked = false): Promise<number> {
  const batches: Array<Array<[string, string]>> = [];
  for (let i = 0; i < records.length; i += 120) batches.push(records.slice(i, i + 120));
  const guardKey = `${records[0]![0]}.guard`;
  if (checked) await etcd.put(guardKey).value('leader');
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < batches.length) {
        const batch = batches[next++]!;
        const puts = batch.map(([k, v]) => etcd.put(k).value(v));
        if (!checked)
          await etcd
            .if(batch[0]![0], 'Mod', '>', -1)
            .then(...puts)
            .commit();
        else {
          let txn = etcd.if(guardKey, 'Create', '>', 0);
          for (const [k] of batch) txn = txn.and(k, 'Mod', '==', 0);
          const result = await txn.then(...puts).commit();
          if (!result.succeeded) throw new Error('a checked raw transaction failed its compares');
        }
      }
    }),
  );
  return records.length / ((performance.now() - start) / 1000);
}

async function rawConcurrentPuts(records: Array<[string, string]>, inFlight = 64): Promise<number> {
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < records.length) {
        const [k, v] = records[next++]!;
        await etcd.put(k).value(v);
      }
    }),
  );
  return records.length / ((performance.now() - start) / 1000);
}

function sampleRecords(prefix: string, n: number): Array<[string, string]> {
  const layout = new EtcdLayout(prefix);
  return Array.from({ length: n }, (_, i) => {
    const taskId = `theseus_default_web.instance-${i}._app.1`;
    const record: EndpointRecord = {
      v: 1,
      cluster: 'test',
      namespace: 'default',
      service: 'web',
      labels: [],
      appId: '/theseus/default/web',
      taskId,
      appVersion: '2026-11-21T07:00:00.000Z',
      host: `10.0.${(i >> 8) & 255}.${i & 255}`,
      ipAddresses: ['10.0.0.1'],
      ports: {
        http: { host: 31000 + (i % 1000), container: null, protocol: 'tcp' },
        admin: { host: 32000 + (i % 1000), container: null, protocol: 'tcp' },
      },
      healthy: null,
      startedAt: '2026-11-21T07:00:00.000Z',
      updatedAt: new Date().toISOString(),
    };
    return [layout.endpoint('default', 'web', taskId), JSON.stringify(record)];
  });
}

async function throughput() {
  const n = QUICK ? 5_000 : 20_000;
  const sse: number[] = [];
  const raw: Record<string, number[]> = {
    'txn of 120, 1 at a time': [],
    'txn of 120, 4 at a time': [],
    'txn of 120, 16 at a time (as the subscriber)': [],
    'txn of 120 + its compares, 16 at a time': [],
    'single puts, 64 at a time': [],
  };
  const measure = async (name: string, write: (records: Array<[string, string]>) => Promise<number>) => {
    await freshEtcd();
    const prefix = randomPrefix();
    await write(sampleRecords(prefix, n)); // warm-up, untimed, as for the subscriber
    const records = sampleRecords(prefix, n).map(([k, v]): [string, string] => [`${k}.b`, v]);
    const cpu = ledger(name);
    raw[name]!.push(await write(records));
    cpu(n);
    await clearPrefix(prefix);
  };
  for (let run = 0; run < 3; run++) {
    await freshEtcd();
    sse.push(await sseThroughput(n));
    await measure('txn of 120, 1 at a time', (r) => rawTxnCeiling(r, 1));
    await measure('txn of 120, 4 at a time', (r) => rawTxnCeiling(r, 4));
    await measure('txn of 120, 16 at a time (as the subscriber)', (r) => rawTxnCeiling(r, 16));
    await measure('txn of 120 + its compares, 16 at a time', (r) => rawTxnCeiling(r, 16, true));
    await measure('single puts, 64 at a time', (r) => rawConcurrentPuts(r, 64));
  }
  const ceiling = Math.max(...Object.values(raw).map(median));
  console.log(`1. SSE -> etcd, ${fmt(n)} events x 3 runs (medians)`);
  console.log(
    `   ${'subscriber, SSE to etcd'.padEnd(54)} ${fmt(median(sse))} events/s  (runs: ${sse.map((x) => fmt(x)).join(', ')})`,
  );
  for (const [name, xs] of Object.entries(raw))
    console.log(
      `   raw etcd, ${name.padEnd(44)} ${fmt(median(xs))} puts/s  (runs: ${xs.map((x) => fmt(x)).join(', ')})`,
    );
  console.log(
    `   subscriber: ${fmt(median(sse))} events/s (target >= 10,000 events/s), ${fmt((100 * median(sse)) / ceiling, 1)}% of the best raw ceiling`,
  );
  console.log(
    '   CPU per event or put (medians, µs): etcd / the subscriber process / this process (the engine or raw client); 2 cores = 2,000,000 µs/s',
  );
  for (const [name, runs] of Object.entries(cpuLedgers)) {
    const m = (k: keyof CpuLedger) => fmt(median(runs.map((r) => r[k])), 1);
    console.log(`   ${name.padEnd(54)} ${m('etcd')} / ${m('writer')} / ${m('bench')}`);
  }
}

/**
 * Subscriber, raw etcd puts and raw transactions take turns, one second each, so that all meet the
 * same etcd (a compaction or snapshot lands on all alike). All are timed to the moment an etcd watch
 * (in this process) sees the write: subscriber from the event's publication, raw from the request.
 */
async function latency() {
  const rate = 1_000;
  const seconds = QUICK ? 3 : 10;
  const marathon = await startMarathon(10_000);
  const app = await marathon.putApp(theseusApp({ namespace: 'default', service: 'web', labels: [] }));
  const prefix = randomPrefix();
  const rawPrefix = randomPrefix();
  const { child, port } = await spawnSubscriber(marathon, prefix);
  await until(() => marathon.faults.streamCount === 1, 'stream attached');
  const watcher = createEtcdClient({ endpoints: ETCD_ENDPOINTS });
  const samples: number[] = [];
  const raw: number[] = [];
  const watch = await watcher.watch().prefix(new EtcdLayout(prefix).allEndpoints()).create();
  watch.on('put', (kv) =>
    samples.push(Date.now() - Date.parse((JSON.parse(kv.value.toString()) as EndpointRecord).updatedAt)),
  );
  // Raw puts (k...) and raw transactions shaped like the subscriber's (t...: the guard key's
  // existence and the key's revision compared, then the put).
  const checked: number[] = [];
  const guardKey = `${rawPrefix}/guard`;
  await etcd.put(guardKey).value('leader');
  const rawWatch = await watcher.watch().prefix(`${rawPrefix}/`).create();
  rawWatch.on('put', (kv) => {
    const key = kv.key.toString();
    if (key === guardKey) return;
    (key.startsWith(`${rawPrefix}/t`) ? checked : raw).push(
      Date.now() - Date.parse((JSON.parse(kv.value.toString()) as { updatedAt: string }).updatedAt),
    );
  });
  const padding = 'x'.repeat(450);
  const total = rate * seconds;
  let sent = 0;
  let rawSent = 0;
  let checkedSent = 0;
  for (let slice = 0; slice < 3 * seconds; slice++) {
    const turn = slice % 3;
    const base = turn === 0 ? sent : turn === 1 ? rawSent : checkedSent;
    const start = Date.now();
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const due = base + Math.min(rate, Math.floor(((Date.now() - start) * rate) / 1000));
        const value = () => JSON.stringify({ updatedAt: new Date().toISOString(), padding });
        if (turn === 0)
          for (; sent < due; sent++)
            marathon.faults.publishRaw('status_update_event', statusEvent(app, sent, new Date().toISOString()));
        else if (turn === 1)
          for (; rawSent < due; rawSent++) void etcd.put(`${rawPrefix}/k${rawSent}`).value(value()).exec();
        else
          for (; checkedSent < due; checkedSent++) {
            const key = `${rawPrefix}/t${checkedSent}`;
            void etcd
              .if(guardKey, 'Create', '>', 0)
              .and(key, 'Mod', '==', 0)
              .then(etcd.put(key).value(value()))
              .commit();
          }
        if (due >= base + rate) {
          clearInterval(tick);
          resolve();
        }
      }, 1);
    });
  }
  await until(
    () => samples.length >= total && raw.length >= total && checked.length >= total,
    'every write seen in etcd',
    60_000,
  );
  const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
  const summary = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return `p50 ${pct(sorted, 50)} ms, p90 ${pct(sorted, 90)} ms, p99 ${pct(sorted, 99)} ms, max ${sorted[sorted.length - 1]} ms`;
  };
  console.log(
    `2. event-to-etcd latency at ${fmt(rate)} events/s, ${seconds} s in 1 s turns with raw puts and raw transactions (${fmt(samples.length)} events each; subscriber in its own process, timed to an etcd watch, 1 ms resolution)`,
  );
  console.log(`   subscriber: ${summary(samples)}  (target p99 < 25 ms)`);
  console.log(`   raw etcd puts at the same rate, in turns with it, to the same watch: ${summary(raw)}`);
  console.log(
    `   raw etcd transactions shaped as the subscriber's (guard + revision compare), likewise: ${summary(checked)}`,
  );
  const lag = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const buckets = [...lag.matchAll(/^theseus_subscriber_event_to_etcd_seconds_bucket\{le="([^"]+)"\} (\d+)/gm)].map(
    (m) => `<=${1000 * Number(m[1])} ms: ${m[2]}`,
  );
  console.log(`   the subscriber's own event-to-commit histogram: ${buckets.slice(0, 7).join(', ')}`);
  await watch.cancel();
  await rawWatch.cancel();
  watcher.close();
  child.kill('SIGTERM');
  await once(child, 'exit');
  await marathon.close();
  await clearPrefix(prefix);
  await clearPrefix(rawPrefix);
}

/**
 * Apps of `perApp` tasks, started without events (Marathon's state as a reconcile finds it). With
 * `containerPorts`, tasks have container ports only (no host ports: more tasks than one host has ports).
 */
async function populate(
  marathon: InProcessEngine,
  apps: number,
  perApp: number,
  containerPorts = false,
): Promise<MarathonAppInfo[]> {
  const out: MarathonAppInfo[] = [];
  const network = {
    portDefinitions: undefined,
    networks: [{ mode: 'container' as const, name: 'bench' }],
    container: {
      type: 'DOCKER' as const,
      docker: { image: 'theseus/busybox:local' },
      portMappings: [
        { containerPort: 8080, name: 'http' },
        { containerPort: 9000, name: 'admin' },
      ],
    },
  };
  for (let a = 0; a < apps; a++)
    out.push(
      await marathon.putApp(
        theseusApp({ namespace: `ns-${a % 10}`, service: `svc-${a}`, labels: [] }, containerPorts ? network : {}),
      ),
    );
  // no client is attached yet (the events go to nobody); launched together, the engine writes its state once
  await Promise.all(out.map((app) => marathon.startTasks(app.id, perApp)));
  return out;
}

async function reconcileDrift() {
  const marathon = await startMarathon(10_000);
  const apps = await populate(marathon, 500, 20);
  const { prefix, sub } = await ready(marathon);
  const layout = new EtcdLayout(prefix);
  const durations: number[] = [];
  let last = '';
  for (let run = 0; run < 3; run++) {
    // 10% drift: a third missing from etcd, a third wrong in etcd, a third stale in etcd.
    const tasks = marathon.tasks().filter((t) => t.state === 'TASK_RUNNING');
    const drift = Math.round(tasks.length / 10 / 3);
    // changes made together: the engine writes its state once for them
    await Promise.all(
      Array.from({ length: drift }, (_, i) => marathon.startTask(apps[i % apps.length]!.id, { silent: true })),
    );
    const victims = tasks.slice(0, 2 * drift);
    await Promise.all(
      victims.slice(0, drift).map((task) => marathon.setTaskState(task.id, 'TASK_KILLED', { silent: true })),
    );
    for (const task of victims.slice(drift)) {
      const labels = marathon.app(task.appId)!.labels!;
      const key = layout.endpoint(labels.THESEUS_NAMESPACE!, labels.THESEUS_SERVICE!, task.id);
      const json = await etcd.get(key).string();
      if (json) await etcd.put(key).value(JSON.stringify({ ...JSON.parse(json), host: 'wrong' }));
    }
    const result = await sub.reconcileNow('bench');
    durations.push(result.durationMs);
    last = `added ${result.added}, fixed ${result.fixed}, removed ${result.removed}, unchanged ${result.unchanged}, tasks ${result.tasks}`;
  }
  console.log(
    `3. reconcile of ${fmt(marathon.tasks().length)} tasks with 10% drift: median ${fmt(median(durations))} ms (runs: ${durations.join(', ')} ms; last: ${last})  (target < 1,000 ms)`,
  );
  await sub.stop();
  await marathon.close();
  await clearPrefix(prefix);
}

/** `theseus subscriber` as its own process (built sources), as it runs in production; resolves once it reconciled. */
async function spawnSubscriber(
  marathon: InProcessEngine,
  prefix: string,
  extraArgs: string[] = [],
): Promise<{ child: ChildProcess; port: number; endpoints: number }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      ...(process.env.SUBSCRIBER_NODE_ARGS?.split(' ') ?? []),
      `${ROOT}bin/theseus.js`,
      'subscriber',
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      ...extraArgs,
    ],
    {
      env: {
        ...process.env,
        MARATHON_URL: marathon.url,
        ETCD_ENDPOINTS: ETCD_ENDPOINTS.join(','),
        THESEUS_ETCD_PREFIX: prefix,
        THESEUS_CLUSTER: 'test',
        RECONCILE_INTERVAL_MS: '0',
        LOG_LEVEL: 'warn',
        MARATHON_TIMEOUT_MS: '60000',
      },
      stdio: ['ignore', process.env.SUBSCRIBER_STDOUT ? 'inherit' : 'ignore', 'inherit'],
    },
  );
  let endpoints = 0;
  await until(
    async () => {
      const body = (await (
        await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined)
      )
        ?.json()
        .catch(() => undefined)) as { endpoints?: number; lastReconcile?: unknown } | undefined;
      endpoints = body?.endpoints ?? 0;
      return body?.lastReconcile !== undefined;
    },
    'the subscriber to reconcile',
    300_000,
  );
  return { child, port, endpoints };
}

function rssOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

async function memory() {
  const count = QUICK ? 20_000 : 100_000;
  const marathon = await startMarathon(10_000);
  await populate(marathon, 1_000, count / 1_000, true);
  console.log(
    `4. theseus subscriber process holding ${fmt(count)} endpoints (1,000 apps), 10 s after its first reconcile  (target RSS < 200 MB)`,
  );
  const variants: Array<[string, string[]]> = [
    ['as users run it (its default heap budget)', []],
    ['--heap-mb 0 (V8 default heap settings)', ['--heap-mb', '0']],
  ];
  for (const [name, args] of variants) {
    const prefix = randomPrefix();
    const { child, endpoints, port } = await spawnSubscriber(marathon, prefix, args);
    try {
      await new Promise((r) => setTimeout(r, 10_000)); // let the heap settle after the snapshot
      const { rss, peak } = rssOf(child.pid!);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const heapUsed = Number(/^nodejs_heap_size_used_bytes (\d+)/m.exec(metrics)?.[1] ?? 0) / 2 ** 20;
      console.log(
        `   ${name.padEnd(44)} ${fmt(endpoints)} endpoints: RSS ${fmt(rss)} MB, peak ${fmt(peak)} MB, V8 heap used ${fmt(heapUsed)} MB`,
      );
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
      await clearPrefix(prefix);
    }
  }
  await marathon.close();
}

// The subscriber processes run the built sources.
execFileSync(process.execPath, [`${ROOT}node_modules/typescript/bin/tsc`, '-b', 'subscriber'], {
  cwd: ROOT,
  stdio: 'inherit',
});
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const parts: Array<[string, () => Promise<void>]> = [
  ['throughput', throughput],
  ['latency', latency],
  ['reconcile', reconcileDrift],
  ['memory', memory],
];
console.log(
  sharedEtcd
    ? `etcd: ${sharedEtcd} (ETCD_ENDPOINTS)`
    : 'etcd: a private etcd started for each part (fresh data directory, removed after)',
);
try {
  let first = true;
  for (const [name, run] of parts) {
    if (only.length > 0 && !only.includes(name)) continue;
    if (!first) await freshEtcd();
    first = false;
    await run();
  }
} finally {
  etcd.close();
  await privateEtcd?.destroy();
}
