/**
 * The load balancer example following the fleet, end to end: the real engine running tasks in
 * Docker, the subscriber writing endpoints to etcd, the deployer, `echo` behind `lb` (HAProxy whose
 * configuration theseus-guest renders). While a client sends requests through the balancer without
 * pause, echo is scaled 2 -> 5 -> 1 and rolled to a new version. Reported per phase: requests sent
 * and failed; and for each new instance, the time from its endpoint record turning up healthy in
 * etcd to the first request it answered through the balancer.
 *
 * etcd has users and roles on, as under `npm run up`: the balancer reads as the container user.
 *
 *   node --import tsx --conditions=source guestutils/bench/lb-follows-fleet.ts
 *   LB_BENCH_LOGS=1 ...   also prints each failed request, the endpoint puts and deletes, and lb's log
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createEtcdClient, EtcdLayout, decodeEndpointRecord } from '@theseus/services';
import { startPlatform, type Platform } from '../../test/support/platform.js';
import { percentiles } from './support/stats.js';

const BUILD = fileURLToPath(new URL('../../docker-images/build.sh', import.meta.url));
const CLIENTS = 2;
const PHASE_LIMIT_MS = 180_000;

const document = (instances: number, greeting: string) => `
deploy:
  echo:
    image: theseus/example-echo:local
    ports: {http: 8000}
    environment: {GREETING: "${greeting}", DRAIN_MS: "5000"}
    killGracePeriod: 8s
    instances: ${instances}
    cpus: 0.1
    mem: 96
    healthChecks:
      - {protocol: HTTP, port: http, path: /healthz, gracePeriodSeconds: 30, intervalSeconds: 1, timeoutSeconds: 1, maxConsecutiveFailures: 2}
  lb:
    image: theseus/example-lb:local
    ports: {http: 8080}
    environment: {LB_SERVICE: echo, LB_PORT: http, WATCH_COALESCE_MS: "20"}
    instances: 1
    cpus: 0.1
    mem: 96
    healthChecks:
      - {protocol: HTTP, port: http, path: /lb-healthz, gracePeriodSeconds: 30, intervalSeconds: 2, timeoutSeconds: 2, maxConsecutiveFailures: 3}
`;

interface Tally {
  sent: number;
  failed: number;
  errors: Map<string, number>;
}

async function call(
  platform: Platform,
  method: string,
  path: string,
  body: string,
  type: string,
): Promise<{ state?: string }> {
  const res = await fetch(`${platform.deployerUrl}${path}`, {
    method,
    headers: { Authorization: `Bearer ${platform.token}`, 'Content-Type': type },
    body,
  });
  return (await res.json()) as { state?: string };
}

async function until<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + PHASE_LIMIT_MS;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const images = spawnSync('bash', [BUILD, 'example-echo', 'example-lb'], { encoding: 'utf8' });
if (images.status !== 0) throw new Error(`building the images failed:\n${images.stderr}`);
const platform = await startPlatform({ enginePortRange: '35000-35499', reconcileIntervalMs: 5000, etcdAuth: true });
const layout = new EtcdLayout(platform.etcdPrefix);
// etcd authentication on, as `npm run up` runs it: the balancer reads as the container user.
const etcd = createEtcdClient({ endpoints: [platform.etcd.endpoint], access: platform.etcdAccess });
const healthyAt = new Map<string, number>();
const firstServedAt = new Map<string, number>();
let tally: Tally = { sent: 0, failed: 0, errors: new Map() };
let running = true;
try {
  const watcher = await etcd.watch().prefix(layout.serviceEndpoints('default', 'echo')).create();
  watcher.on('put', (kv) => {
    try {
      const record = decodeEndpointRecord(kv.value.toString());
      if (process.env.LB_BENCH_LOGS) console.error(new Date().toISOString(), 'put', record.taskId, record.healthy);
      if (record.healthy !== false && !healthyAt.has(record.taskId)) healthyAt.set(record.taskId, Date.now());
    } catch {
      // not a record this benchmark needs
    }
  });

  if (process.env.LB_BENCH_LOGS)
    watcher.on('delete', (kv) => console.error(new Date().toISOString(), 'delete', kv.key.toString()));

  const deployed = await call(platform, 'POST', '/deploy?wait=true', document(2, 'v1'), 'application/yaml');
  if (deployed.state !== 'succeeded') throw new Error(`the first deploy did not succeed: ${JSON.stringify(deployed)}`);
  const lbAddress = await until('the lb endpoint', async () => {
    const kvs = await etcd.getAll().prefix(layout.serviceEndpoints('default', 'lb')).strings();
    const record = Object.values(kvs).map((json) => decodeEndpointRecord(json))[0];
    return record ? `${record.host}:${record.ports.http!.host}` : undefined;
  });
  await until('echo answering through lb', async () =>
    (await fetch(`http://${lbAddress}/`).catch(() => undefined))?.ok ? true : undefined,
  );
  const initial = new Set(healthyAt.keys());

  const clients = Array.from({ length: CLIENTS }, async () => {
    while (running) {
      tally.sent++;
      const sentAt = Date.now();
      try {
        const res = await fetch(`http://${lbAddress}/`, { signal: AbortSignal.timeout(3_000) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const { instance } = (await res.json()) as { instance: string };
        if (!firstServedAt.has(instance)) firstServedAt.set(instance, Date.now());
      } catch (err) {
        tally.failed++;
        const reason = (err as Error).message;
        if (process.env.LB_BENCH_LOGS)
          console.error(new Date(sentAt).toISOString(), reason, (err as Error).cause ?? '');
        tally.errors.set(reason, (tally.errors.get(reason) ?? 0) + 1);
      }
    }
  });

  const instancesNow = async () =>
    Object.keys(await etcd.getAll().prefix(layout.serviceEndpoints('default', 'echo')).keys()).length;
  const phases: Array<[string, () => Promise<unknown>, () => Promise<boolean>]> = [
    [
      'scale 2 -> 5',
      () =>
        call(platform, 'POST', '/services/echo/scale?wait=true', JSON.stringify({ instances: 5 }), 'application/json'),
      async () => (await instancesNow()) === 5,
    ],
    [
      'scale 5 -> 1',
      () =>
        call(platform, 'POST', '/services/echo/scale?wait=true', JSON.stringify({ instances: 1 }), 'application/json'),
      async () => (await instancesNow()) === 1,
    ],
    [
      'roll to v2',
      () => call(platform, 'POST', '/deploy?wait=true', document(1, 'v2'), 'application/yaml'),
      async () => (await instancesNow()) === 1,
    ],
  ];
  const report: string[] = [];
  for (const [name, act, settled] of phases) {
    tally = { sent: 0, failed: 0, errors: new Map() };
    const outcome = (await act()) as { state?: string };
    await until(`${name} to settle`, async () => ((await settled()) ? true : undefined));
    await new Promise((r) => setTimeout(r, 3_000)); // requests after the change, too
    const errors = [...tally.errors].map(([e, n]) => `${n}x ${e}`).join('; ');
    report.push(
      `${name.padEnd(14)} ${outcome.state ?? '?'}: sent ${tally.sent}, failed ${tally.failed}${errors ? ` (${errors})` : ''}`,
    );
  }
  running = false;
  await Promise.all(clients);
  if (process.env.LB_BENCH_LOGS) {
    const ids = spawnSync(
      'docker',
      [
        'ps',
        '-aq',
        '--filter',
        `label=theseus.engine=${platform.engineId}`,
        '--filter',
        'ancestor=theseus/example-lb:local',
      ],
      { encoding: 'utf8' },
    )
      .stdout.split(/\s+/)
      .filter(Boolean);
    for (const line of platform.subscriber.output().split('\n'))
      if (line.includes('echo')) console.error(`subscriber: ${line.slice(0, 400)}`);
    for (const id of ids) {
      const logs = spawnSync('docker', ['logs', '--timestamps', id], { encoding: 'utf8' });
      console.error(`--- lb ${id}\n${logs.stdout}${logs.stderr}`);
    }
  }
  watcher.cancel().catch(() => undefined);

  const delays = [...healthyAt]
    .filter(([id]) => !initial.has(id) && firstServedAt.has(id))
    .map(([id, at]) => firstServedAt.get(id)! - at);
  const stats = percentiles(delays.length ? delays : [NaN]);
  console.log(report.join('\n'));
  console.log(
    `healthy in etcd -> first request through lb, ms (${delays.length} new instances): p50 ${stats.p50}  max ${stats.max}`,
  );
} finally {
  running = false;
  etcd.close();
  await platform.stop();
}
