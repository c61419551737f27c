/**
 * Dry-run requests per second: `POST /deploy?dryRun=true` with a 5-service YAML document against a
 * deployer whose Marathon (an in-process engine) already runs 50 managed apps, 16 requests in flight over
 * keep-alive connections. Beside it, `GET /healthz` on the same server: the floor Express and
 * the loopback set. Target: over 1,000 dry runs per second on this 2-core machine.
 *
 *   node --import tsx --conditions=source deployer/bench/dry-run.ts [--seconds 5] [--concurrency 16]
 */
import http from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { randomPrefix, TEST_TOKEN } from '../src/testing/harness.js';
import { median, percentile } from './support/stats.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const SECONDS = arg('seconds', 5);
const CONCURRENCY = arg('concurrency', 16);
const MAX_REQUESTS = 200_000;

const DOC =
  [
    'deploy:',
    ...Array.from(
      { length: 5 },
      (_, i) =>
        `  web-${i}: {image: "nginx:1.${i}", ports: {http: 80}, instances: ${i + 1}, environment: {A: b}, constraints: ["hostname UNIQUE"]}`,
    ),
  ].join('\n') + '\n';

async function load(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
): Promise<{ perSecond: number; latencies: number[]; errors: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const latencies: number[] = [];
  let errors = 0;
  let sent = 0;
  const deadline = performance.now() + SECONDS * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = http.request(url, { method, agent, headers }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode !== 200) errors++;
          latencies.push(performance.now() - t0);
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(body);
    });
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline && sent < MAX_REQUESTS) {
        sent++;
        await one();
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  return { perSecond: latencies.length / elapsed, latencies, errors };
}

/** Starts a testing entry point as its own process and returns the URL it prints. */
function startProcess(script: string, env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_PROFILE && script === 'run-deployer.ts'
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`]
        : []),
      '--import',
      'tsx',
      '--conditions=source',
      fileURLToPath(new URL(`../src/testing/${script}`, import.meta.url)),
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...env },
    },
  );
  return new Promise((resolve) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening (\S+)/.exec(out);
      if (m) resolve({ url: m[1]!, child });
    });
  });
}

// Marathon (an in-process engine), the deployer and this load generator each run in their own process.
const marathon = await startProcess('run-marathon.ts', {});
const marathonUrl = marathon.url;
const deployer = await startProcess('run-deployer.ts', {
  MARATHON_URL: marathonUrl,
  THESEUS_API_TOKEN: TEST_TOKEN,
  THESEUS_QUEUE_PREFIX: randomPrefix(),
  LOG_LEVEL: 'error',
});
const h = { url: deployer.url, auth: { Authorization: `Bearer ${TEST_TOKEN}` } };
try {
  // 50 managed apps already running
  const existing =
    ['deploy:', ...Array.from({ length: 50 }, (_, i) => `  app-${i}: {image: "app:${i}", instances: 2}`)].join('\n') +
    '\n';
  const seed = await fetch(`${h.url}/deploy?dryRun=true`, {
    method: 'POST',
    headers: { ...h.auth, 'Content-Type': 'application/yaml' },
    body: existing,
  });
  const planned = (await seed.json()) as { services: Array<{ app: Record<string, unknown> }> };
  for (const s of planned.services)
    await fetch(`${marathonUrl}/v2/apps`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(s.app),
    });

  const headers = { ...h.auth, 'Content-Type': 'application/yaml' };
  await load(new URL('/deploy?dryRun=true', h.url), 'POST', headers, DOC); // warm-up
  const dry = await load(new URL('/deploy?dryRun=true', h.url), 'POST', headers, DOC);
  const health = await load(new URL('/healthz', h.url), 'GET', {}, undefined);
  const f = (x: number) => x.toFixed(0);
  console.log(
    `${CONCURRENCY} in flight, ${SECONDS} s each; Marathon (in-process engine, own process) with ${planned.services.length} managed apps`,
  );
  console.log(
    `dry run (5 services): ${f(dry.perSecond)} requests/s, latency median ${median(dry.latencies).toFixed(1)} ms, p99 ${percentile(dry.latencies, 99).toFixed(1)} ms, errors ${dry.errors} (target > 1000/s: ${dry.perSecond > 1000 ? 'met' : 'NOT met'})`,
  );
  console.log(
    `GET /healthz floor:   ${f(health.perSecond)} requests/s, latency median ${median(health.latencies).toFixed(1)} ms`,
  );
  console.log(`ratio dry run / floor: ${(dry.perSecond / health.perSecond).toFixed(2)}`);
} finally {
  deployer.child.kill('SIGTERM');
  marathon.child.kill('SIGTERM');
}
