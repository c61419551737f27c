/**
 * Engine benchmark (not a test). Reports:
 *  1. time to create 1,000 apps of 0 instances (POST /v2/apps, one after another, keep-alive);
 *  2. GET /v2/apps?embed=apps.tasks latency with 5,000 tasks. The 5,000 tasks are an in-memory
 *     population: TaskRecords built by the same launch planner as real tasks (ports, env, ids),
 *     RUNNING with health results, tracked by the same scheduler store the HTTP layer reads; no
 *     processes. Side by side, 500 REAL local-process tasks (`sleep 3600`) vs 500 in-memory ones,
 *     to show the listing does not depend on how the tasks are backed;
 *  3. SSE: 10 clients (in a worker thread, its own event loop) while events are published at
 *     1,000 events/s for 5 s, 5,000 events/s for 3 s, then as fast as the bus goes for 3 s. Reports delivered
 *     events/s per client, delivery lag (median, p99) and whether any client fell behind or was dropped.
 * Run: node --import tsx --conditions=source cluster/bench/engine.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { createLogger } from '@theseus/services';
import { startEngine, type RunningEngine } from '../src/run.js';
import { planLaunch } from '../src/tasks/launch-spec.js';
import { PortRange } from '../src/tasks/ports.js';
import { newTaskIds, type TaskRecord } from '../src/tasks/task.js';
import { timestamp } from '../src/time.js';

const logger = createLogger({ component: 'engine-bench', level: 'error', format: 'json' });

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))]!;
}
const ms = (n: number) => `${n.toFixed(1)} ms`;

async function post(url: string, body: unknown): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' },
  });
  if (res.status !== 201) throw new Error(`POST answered ${res.status}: ${await res.text()}`);
  await res.arrayBuffer();
}

/**
 * A GET that tries once more when the connection was reset: a keep-alive connection the server
 * closed as idle just as the request went out (likely on a machine busy with hundreds of tasks).
 */
async function getOnce(url: string): Promise<ArrayBuffer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await (await fetch(url)).arrayBuffer();
    } catch (err) {
      const code = (err as { cause?: { code?: string } }).cause?.code;
      if (attempt >= 3 || (code !== 'ECONNRESET' && code !== 'UND_ERR_SOCKET')) throw err;
    }
  }
}

async function timeListing(url: string, rounds: number): Promise<{ median: number; p90: number; bytes: number }> {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < rounds + 3; i++) {
    const t0 = performance.now();
    const buf = await getOnce(`${url}/v2/apps?embed=apps.tasks`);
    if (i >= 3) times.push(performance.now() - t0);
    bytes = buf.byteLength;
  }
  return { median: median(times), p90: percentile(times, 0.9), bytes };
}

/** Adds `count` RUNNING tasks of `appId` to the engine's store, built like real launches. */
function populate(engine: RunningEngine, appId: string, count: number): void {
  const app = engine.engine.getApp(appId);
  const ports = new PortRange(40000, 60000);
  for (let i = 0; i < count; i++) {
    const ids = newTaskIds(app.id);
    const plan = planLaunch(app, ids, {
      hostname: '127.0.0.1',
      engineId: engine.engine.engineId,
      hostPorts: ports,
      containerLabels: {},
      volumesDir: '/nonexistent',
      sandboxesDir: '/nonexistent',
      hostCommands: true,
      privileges: {
        allowPrivileged: false,
        allowHostNetwork: false,
        allowUser: false,
        allowHostVolumes: false,
        hostVolumePaths: [],
      },
    });
    const now = timestamp();
    const task: TaskRecord = {
      id: ids.taskId,
      instanceId: ids.instanceId,
      appId: app.id,
      version: app.version,
      configVersion: app.versionInfo.lastConfigChangeAt,
      state: 'TASK_RUNNING',
      stagedAt: now,
      startedAt: now,
      host: '127.0.0.1',
      ports: plan.ports,
      servicePorts: plan.servicePorts,
      ipAddresses: [{ ipAddress: '127.0.0.1', protocol: 'IPv4' }],
      runner: 'process',
      spec: plan.spec,
      cpus: app.cpus,
      mem: app.mem,
      healthCheckResults: app.healthChecks.map(() => ({
        alive: true,
        consecutiveFailures: 0,
        firstSuccess: now,
        lastSuccess: now,
        lastFailure: null,
        lastFailureCause: null,
        instanceId: ids.instanceId,
      })),
    };
    engine.engine.scheduler.track(task);
  }
}

async function createApps(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'engine-bench-'));
  const engine = await startEngine({
    dataDir: dir,
    port: 0,
    listenHost: '127.0.0.1',
    allowHostCommands: true,
    logger,
    cpus: 1000,
    memMb: 1_000_000,
  });
  try {
    const per: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) {
      const t = performance.now();
      await post(`${engine.url}/v2/apps`, {
        id: `/bench/group-${i % 20}/app-${i}`,
        cmd: 'sleep 3600',
        instances: 0,
        cpus: 0.01,
        mem: 8,
        labels: { n: String(i) },
      });
      per.push(performance.now() - t);
    }
    const total = performance.now() - t0;
    console.log(
      `1. create 1,000 apps of 0 instances: total ${ms(total)} (${(1000 / (total / 1000)).toFixed(0)} apps/s), per POST median ${ms(median(per))}, p99 ${ms(percentile(per, 0.99))}`,
    );

    // 2. 5,000 tasks over 100 apps (50 each, half with an HTTP health check), next to the 1,000 empty apps
    for (let i = 0; i < 100; i++) {
      await post(`${engine.url}/v2/apps`, {
        id: `/bench/busy/app-${i}`,
        cmd: 'sleep 3600',
        instances: 0,
        cpus: 0.01,
        mem: 8,
        env: { SERVICE_NAME: `svc-${i}` },
        labels: { THESEUS_MANAGED: 'true' },
        ...(i % 2 ? { healthChecks: [{ protocol: 'HTTP', path: '/health', portIndex: 0 }] } : {}),
      });
    }
    engine.engine.orchestrator.close(); // the population is not to be reconciled (instances stay 0)
    for (let i = 0; i < 100; i++) populate(engine, `/bench/busy/app-${i}`, 50);
    const listing = await timeListing(engine.url, 30);
    console.log(
      `2. GET /v2/apps?embed=apps.tasks, 1,100 apps, ${engine.engine.allTasks().length} tasks (in-memory population): median ${ms(listing.median)}, p90 ${ms(listing.p90)}, ${(listing.bytes / 1e6).toFixed(1)} MB (target < 100 ms)`,
    );
  } finally {
    await engine.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Removes every app and waits until no task is left; processes still there after that are killed. */
async function killAll(engine: RunningEngine): Promise<void> {
  for (const app of engine.engine.listApps()) {
    try {
      engine.engine.deleteApp(app.id, true);
    } catch (err) {
      console.error(`could not remove ${app.id}: ${(err as Error).message}`);
    }
  }
  const deadline = Date.now() + 120_000;
  while (engine.engine.allTasks().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  const left = engine.engine.allTasks();
  if (left.length > 0) console.error(`${left.length} task(s) still there after 120 s`);
}

async function realVersusMemory(): Promise<void> {
  const count = 500;
  const results: Record<string, { median: number; p90: number; bytes: number }> = {};
  for (const kind of ['real', 'memory'] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'engine-bench-'));
    const engine = await startEngine({
      dataDir: dir,
      port: 0,
      listenHost: '127.0.0.1',
      allowHostCommands: true,
      logger,
      cpus: 1000,
      memMb: 1_000_000,
      portRange: [41000, 42000],
    });
    try {
      await post(`${engine.url}/v2/apps`, {
        id: '/bench/side',
        cmd: 'exec sleep 3600',
        instances: kind === 'real' ? count : 0,
        cpus: 0.01,
        mem: 1,
      });
      if (kind === 'real') {
        const deadline = Date.now() + 120_000;
        while (engine.engine.tasksOf('/bench/side').filter((t) => t.state === 'TASK_RUNNING').length < count) {
          if (Date.now() > deadline) throw new Error('real tasks did not all start');
          await new Promise((r) => setTimeout(r, 100));
        }
      } else {
        engine.engine.orchestrator.close();
        populate(engine, '/bench/side', count);
      }
      results[kind] = await timeListing(engine.url, 30);
    } finally {
      // Tasks outlive the engine (as Marathon's outlive Marathon): kill the real ones, whatever happened.
      if (kind === 'real') await killAll(engine);
      await engine.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const real = results.real!;
  const memory = results.memory!;
  console.log(
    `   side by side, ${count} tasks: real processes median ${ms(real.median)} vs in-memory ${ms(memory.median)} (ratio ${(real.median / memory.median).toFixed(2)}), ${real.bytes} vs ${memory.bytes} bytes`,
  );
}

const CLIENTS = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const stats = [];
let attached = 0;
for (let c = 0; c < workerData.clients; c++) {
  const s = { received: 0, lags: [], closed: false };
  stats.push(s);
  http.get(workerData.url + '/v2/events?event_type=bench_event&event_type=event_stream_attached', { headers: { Accept: 'text/event-stream' } }, (res) => {
    let buffer = '';
    res.setEncoding('utf8');
    res.on('data', (chunk) => {
      buffer += chunk;
      let i;
      while ((i = buffer.indexOf('\\r\\n\\r\\n')) >= 0) {
        const frame = buffer.slice(0, i);
        buffer = buffer.slice(i + 4);
        const data = frame.split('\\r\\n').find((l) => l.startsWith('data: '));
        if (!data) continue;
        const event = JSON.parse(data.slice(6));
        if (event.eventType === 'event_stream_attached') { if (++attached === workerData.clients) parentPort.postMessage({ type: 'ready' }); continue; }
        s.received++;
        if (s.received % 10 === 0) s.lags.push(Date.now() - event.sentAt);
      }
    });
    res.on('close', () => { s.closed = true; });
  });
}
parentPort.on('message', (m) => { if (m === 'report') parentPort.postMessage({ type: 'report', stats: stats.map((s) => ({ received: s.received, lags: s.lags, closed: s.closed })) }); });
`;

async function sse(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'engine-bench-'));
  const engine = await startEngine({ dataDir: dir, port: 0, listenHost: '127.0.0.1', allowHostCommands: true, logger });
  const task = {
    slaveId: 'agent-S0',
    taskId: 'bench_app.instance-00000000-0000-0000-0000-000000000000._app.1',
    taskStatus: 'TASK_RUNNING',
    message: '',
    appId: '/bench/app',
    host: '127.0.0.1',
    ipAddresses: [{ ipAddress: '172.17.0.2', protocol: 'IPv4' }],
    ports: [31000],
    version: timestamp(),
  };
  try {
    for (const phase of [
      { name: '1,000 events/s for 5 s', rate: 1000, seconds: 5 },
      { name: '5,000 events/s for 3 s', rate: 5000, seconds: 3 },
      { name: 'as fast as the bus goes (bursts of 200 per event-loop turn) for 3 s', rate: 0, seconds: 3 },
    ]) {
      const worker = new Worker(CLIENTS, { eval: true, workerData: { url: engine.url, clients: 10 } });
      await new Promise<void>((resolve) =>
        worker.on('message', (m: { type: string }) => m.type === 'ready' && resolve()),
      );
      let sent = 0;
      const t0 = performance.now();
      const end = t0 + phase.seconds * 1000;
      while (performance.now() < end) {
        if (phase.rate > 0) {
          const due = Math.floor(((performance.now() - t0) / 1000) * phase.rate);
          while (sent < due) engine.engine.bus.publish('bench_event', { ...task, sentAt: Date.now(), n: sent++ });
          await new Promise((r) => setTimeout(r, 1));
        } else {
          for (let i = 0; i < 200; i++)
            engine.engine.bus.publish('bench_event', { ...task, sentAt: Date.now(), n: sent++ });
          await new Promise((r) => setImmediate(r));
        }
      }
      const elapsed = (performance.now() - t0) / 1000;
      const settle = Date.now() + 10_000;
      let report: Array<{ received: number; lags: number[]; closed: boolean }> = [];
      for (;;) {
        report = await new Promise((resolve) => {
          worker.once('message', (m: { type: string; stats: typeof report }) => resolve(m.stats));
          worker.postMessage('report');
        });
        if (report.every((s) => s.received >= sent || s.closed) || Date.now() > settle) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await worker.terminate();
      const lags = report.flatMap((s) => s.lags);
      const behind = report.filter((s) => s.received < sent && !s.closed).length;
      const dropped = report.filter((s) => s.closed).length;
      console.log(
        `3. SSE, 10 clients, ${phase.name}: published ${sent} (${(sent / elapsed).toFixed(0)}/s); delivered per client ${(median(report.map((s) => s.received)) / elapsed).toFixed(0)}/s ` +
          `(${(report.reduce((a, s) => a + s.received, 0) / elapsed).toFixed(0)}/s in all); lag median ${median(lags)} ms, p99 ${percentile(lags, 0.99)} ms; ` +
          `clients behind at the end: ${behind}, disconnected: ${dropped}`,
      );
    }
  } finally {
    await engine.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const only = process.argv[2];
if (!only || only === 'apps') await createApps();
if (!only || only === 'side') await realVersusMemory();
if (!only || only === 'sse') await sse();
process.exit(0);
