/**
 * Resource monitor benchmark (not a test): latency of the engine's `GET /monitor/statistics` with
 * 20 running Docker tasks (busybox `sleep`), read from their cgroups, over 50 requests one after
 * another; and one Docker stats API sample for comparison (what the reader falls back to when the
 * cgroup is not visible). Removes its app, containers and data directory at the end.
 * Run: node --import tsx --conditions=source cluster/bench/monitor-statistics.ts
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get } from 'node:http';
import { DockerDriver } from '@theseus/containerizer';
import { createLogger, MarathonClient } from '@theseus/services';
import { startEngine } from '../src/run.js';
import { DockerRunner } from '../src/tasks/docker-runner.js';

const TASKS = 20;
const REQUESTS = 50;
const RUN_LABEL = 'theseus.bench.run';
const run = randomUUID().slice(0, 8);
const logger = createLogger({ component: 'monitor-bench', level: 'error', format: 'json' });
const driver = new DockerDriver();
const dataDir = mkdtempSync(join(tmpdir(), 'theseus-monitor-bench-'));

const percentile = (values: number[], p: number) => {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))]!;
};

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const engine = await startEngine({
  dataDir,
  port: 0,
  listenHost: '127.0.0.1',
  portRange: [38900, 38999],
  logger,
  dockerRunner: new DockerRunner(driver, logger, 'never'),
  containerLabels: { [RUN_LABEL]: run },
  cpus: 4,
  memMb: 4096,
});
const client = new MarathonClient({ urls: [engine.url] });
try {
  await client.createApp({
    id: '/bench/sleepers',
    instances: TASKS,
    cpus: 0.01,
    mem: 8,
    cmd: 'sleep 3600',
    container: { type: 'DOCKER', docker: { image: 'theseus/busybox:local' } },
  });
  await until(`${TASKS} tasks running`, async () => {
    const tasks = await client.appTasks('/bench/sleepers');
    return tasks.filter((t) => t.state === 'TASK_RUNNING').length === TASKS;
  });
  const times: number[] = [];
  let entries = 0;
  for (let i = 0; i < REQUESTS; i++) {
    const started = performance.now();
    const body = (await (await fetch(`${engine.url}/monitor/statistics`)).json()) as unknown[];
    times.push(performance.now() - started);
    entries = body.length;
  }
  console.log(
    `GET /monitor/statistics, ${entries} tasks from their cgroups: median ${percentile(times, 0.5).toFixed(1)} ms, ` +
      `p95 ${percentile(times, 0.95).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms (${REQUESTS} requests)`,
  );
  const [one] = await driver.list({ [RUN_LABEL]: run });
  if (one) {
    const started = performance.now();
    await new Promise<void>((resolve, reject) =>
      get({ socketPath: '/var/run/docker.sock', path: `/containers/${one.id}/stats?stream=false` }, (res) =>
        res.resume().on('end', resolve).on('error', reject),
      ).on('error', reject),
    );
    console.log(`one Docker stats API sample of one container: ${(performance.now() - started).toFixed(0)} ms`);
  }
} finally {
  await client.deleteApp('/bench/sleepers', { force: true });
  await until('tasks gone', async () => engine.engine.scheduler.tasks.size === 0).catch((err: unknown) =>
    console.error('tasks still there:', String(err)),
  );
  await engine.stop();
  for (const c of await driver.list({ [RUN_LABEL]: run })) {
    await driver.stop(c.id, 0);
    await driver.remove(c.id);
  }
  rmSync(dataDir, { recursive: true, force: true });
}
