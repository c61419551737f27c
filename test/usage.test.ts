// What services really use, end to end on the real stack: busy containers run by the engine in
// Docker (a CPU loop, a process holding 60 MB of its 64 MB, one whose processes exceed their
// memory), their figures in the engine's /monitor/statistics, in the deployer's Prometheus metrics
// per service, and on the dashboard in Chromium (screenshots in artifacts/).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { eventually } from './support/processes.js';
import { startPlatform, type Platform } from './support/platform.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const artifacts = join(root, 'artifacts');
const MB = 1024 * 1024;

const SPEC = `
deploy:
  burner:
    image: theseus/busybox:local
    cmd: "while :; do :; done"
    cpus: 0.5
    mem: 32
  hog:
    image: theseus/busybox:local
    cmd: "dd if=/dev/zero bs=60M count=1 | sleep 3600"
    cpus: 0.1
    mem: 64
  greedy:
    image: theseus/busybox:local
    cmd: "while :; do head -c 64m /dev/zero | tail > /dev/null; sleep 2; done"
    cpus: 0.1
    mem: 24
`;

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let platform: Platform;
let browser: Browser;
const pageErrors: string[] = [];

async function metrics(): Promise<string> {
  const res = await fetch(`${platform.deployerUrl}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

/** The value of `name` for `service`, undefined when absent. */
function metric(text: string, name: string, service: string): number | undefined {
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}{`) && l.includes(`service="${service}"`) && l.includes('namespace="default"'));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function appIdOf(service: string): Promise<string> {
  const [app] = await platform.marathon.listApps({ label: `THESEUS_SERVICE==${service}` });
  assert.ok(app, `an app for ${service}`);
  return app.id;
}

async function openPage(hash: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1600, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(`${message.text()} (${message.location().url})`);
  });
  await page.goto(`${platform.deployerUrl}/ui/${hash}`);
  await page.waitForSelector('body[data-ready="true"]');
  return page;
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  platform = await startPlatform({
    enginePortRange: '35500-35599',
    deployerEnv: ({ engineUrl }) => ({ THESEUS_OPEN_READS: 'true', MESOS_MASTER_URL: engineUrl }),
  });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  const res = await fetch(`${platform.deployerUrl}/deploy?wait=true&timeout=120`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${platform.token}`, 'Content-Type': 'application/yaml' },
    body: SPEC,
  });
  const body = (await res.json()) as { state?: string };
  assert.equal(body.state, 'succeeded', JSON.stringify(body));
});

after(async () => {
  await browser?.close();
  await platform?.stop();
});

test("the engine's /monitor/statistics reports each busy container as a Mesos agent does", async () => {
  const hogTasks = await platform.marathon.appTasks(await appIdOf('hog'));
  const entries = await eventually('the hog holding 60 MB', async () => {
    const res = await fetch(`${platform.engineUrl}/monitor/statistics`);
    const list = (await res.json()) as Array<{ executor_id: string; statistics: Record<string, number> }>;
    const hog = list.find((e) => e.executor_id === hogTasks[0]?.id);
    return hog && hog.statistics.mem_rss_bytes! >= 60 * MB ? list : undefined;
  });
  assert.equal(entries.length, 3);
  for (const e of entries) assert.ok(e.statistics.mem_limit_bytes! > 0 && e.statistics.cpus_limit! > 0);
});

test('the deployer exposes per-service CPU seconds, memory against its limit and OOM kills', async () => {
  const first = await eventually('metrics of the burner', async () => {
    const text = await metrics();
    return (metric(text, 'theseus_service_cpu_seconds', 'burner') ?? 0) > 0 ? text : undefined;
  });
  const cpu = metric(first, 'theseus_service_cpu_seconds', 'burner')!;
  await eventually('the burner CPU seconds to grow', async () => {
    return (metric(await metrics(), 'theseus_service_cpu_seconds', 'burner') ?? 0) >= cpu + 0.5;
  });
  assert.equal(metric(first, 'theseus_service_cpus_allocated', 'burner'), 0.5);

  const text = await eventually('the hog near its memory limit', async () => {
    const t = await metrics();
    return (metric(t, 'theseus_service_memory_used_bytes', 'hog') ?? 0) >= 60 * MB ? t : undefined;
  });
  assert.equal(metric(text, 'theseus_service_memory_limit_bytes', 'hog'), 64 * MB);
  assert.equal(metric(text, 'theseus_service_instances_near_memory_limit', 'hog'), 1);
  assert.equal(metric(text, 'theseus_service_instances_near_memory_limit', 'burner'), 0);
  assert.equal(metric(text, 'theseus_service_oom_kills_total', 'hog'), 0);

  await eventually('an OOM kill of greedy counted', async () => {
    return (metric(await metrics(), 'theseus_service_oom_kills_total', 'greedy') ?? 0) >= 1;
  });

  // a task whose own process exceeds the limit ends: counted from its TASK_FAILED status
  const res = await fetch(`${platform.deployerUrl}/deploy`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${platform.token}`, 'Content-Type': 'application/yaml' },
    body: 'deploy:\n  crasher: {image: theseus/busybox:local, cmd: "head -c 64m /dev/zero | tail", cpus: 0.1, mem: 24}\n',
  });
  assert.equal(res.status, 202, await res.text());
  await eventually('the OOM kill of the crasher task counted', async () => {
    return (metric(await metrics(), 'theseus_service_oom_kills_total', 'crasher') ?? 0) >= 1;
  });
  const crasher = await platform.marathon.getApp(await appIdOf('crasher'));
  await platform.marathon.deleteApp(crasher.id, { force: true });
});

test('the dashboard shows used against allocated and flags the instance near its memory limit', async () => {
  const page = await openPage(`#/service/${encodeURIComponent(await appIdOf('hog'))}`);
  const cell = page.locator('#instances td.usage');
  await eventually(
    'the hog instance near its limit',
    async () => (await cell.getAttribute('data-near-limit')) === 'true',
  );
  assert.match((await cell.locator('.mem-use').textContent()) ?? '', /^Memory 6\d(\.\d)? of 64 MiB$/);
  assert.match((await cell.locator('.cpu-use').textContent()) ?? '', /^CPU [\d.…]+ of 0\.1/);
  assert.match((await cell.locator('.near-limit').textContent()) ?? '', /near memory limit \(9\d%\)/);
  await page.screenshot({ path: join(artifacts, 'usage-instance.png') });

  await page.goto(`${platform.deployerUrl}/ui/#/services`);
  const hogRow = page.locator('#services tr[data-service="hog"]');
  await eventually('the services list flags hog', async () =>
    /1 near memory limit/.test((await hogRow.textContent()) ?? ''),
  );
  assert.doesNotMatch((await page.locator('#services tr[data-service="burner"]').textContent()) ?? '', /near memory/);

  await page.goto(`${platform.deployerUrl}/ui/#/cluster`);
  const host = page.locator('#hosts tbody tr').first();
  await eventually('the host shows what its tasks really use', async () => {
    const cpus = (await host.locator('.actual.cpus').textContent()) ?? '';
    const mem = (await host.locator('.actual.mem').textContent()) ?? '';
    const usedCpus = Number(/use ([\d.]+)/.exec(cpus)?.[1]);
    const usedMem = Number(/use ([\d.]+) MiB/.exec(mem)?.[1]);
    // 0.7 CPUs allocated to the three tasks
    return (
      usedCpus >= 0.2 &&
      usedMem >= 60 &&
      /3 reporting/.test(cpus) &&
      /^0\.7 of \d/.test(await host.locator('td').nth(3).innerText())
    );
  });
  await page.screenshot({ path: join(artifacts, 'usage-cluster.png') });
  assert.deepEqual(pageErrors, []);
  await page.context().close();
});
