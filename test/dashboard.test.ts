// The dashboard in a real browser (Debian's Chromium, headless) against the real stack: the engine
// running the example services in Docker, the subscriber writing their endpoints into a private
// etcd, and the deployer process serving the page at /ui with its Redis queue. Screenshots go to
// artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { eventually } from './support/processes.js';
import { startPlatform, type Platform } from './support/platform.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const artifacts = join(root, 'artifacts');
const exampleYaml = readFileSync(join(root, 'examples/deploy.yaml'), 'utf8');

let platform: Platform;
let token: string;
let deployerUrl: string;
let marathon: Platform['marathon'];
let browser: Browser;
/** Console errors and uncaught exceptions of every page: a broken page (or a blocked resource) fails the tests. */
const pageErrors: string[] = [];

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

async function api(
  method: string,
  path: string,
  body?: string,
  type = 'application/yaml',
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${deployerUrl}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': type } : {}) },
    ...(body ? { body } : {}),
  });
  return { status: res.status, body: await res.json() };
}

async function openPage(hash: string): Promise<Page> {
  // Each context starts with empty storage: no token in sessionStorage.
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/status of 401/.test(message.text()))
      pageErrors.push(`${message.text()} (${message.location().url})`);
  });
  await page.goto(`${deployerUrl}/ui/${hash}`);
  await page.waitForSelector('body[data-ready="true"]');
  return page;
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(artifacts, `dashboard-${name}.png`), fullPage: false });
}

async function echoApp() {
  const apps = await marathon.listApps({ embed: ['apps.tasks'], label: 'THESEUS_SERVICE==echo' });
  assert.equal(apps.length, 1, 'one echo app');
  return apps[0]!;
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  const images = spawnSync('bash', [join(root, 'docker-images/build.sh'), 'example-echo', 'example-pinger'], {
    encoding: 'utf8',
  });
  assert.equal(images.status, 0, images.stderr);
  platform = await startPlatform({
    enginePortRange: '34500-34999',
    // the engine answers /master/slaves as a Mesos master would: the page shows host capacity
    deployerEnv: ({ engineUrl }) => ({
      THESEUS_OPEN_READS: 'true',
      THESEUS_DEPLOYMENT_TIMEOUT_MS: '20000',
      MESOS_MASTER_URL: engineUrl,
    }),
  });
  ({ token, deployerUrl, marathon } = platform);

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS }); // a new, empty temporary profile

  const deployed = await api('POST', '/deploy?wait=true&timeout=120', exampleYaml);
  assert.equal(deployed.body.state, 'succeeded', JSON.stringify(deployed.body));
});

after(async () => {
  await browser?.close();
  await platform?.stop();
});

test('the page lists the example services with their instances and endpoint records', async () => {
  const page = await openPage('#/services');
  const echo = page.locator('#services tr[data-service="echo"]');
  const pinger = page.locator('#services tr[data-service="pinger"]');
  await echo.waitFor();
  await pinger.waitFor();
  assert.equal(await echo.locator('.desired').textContent(), '2');
  assert.match((await echo.textContent()) ?? '', /theseus\/example-echo:local/);
  assert.match((await echo.textContent()) ?? '', /demo/);

  // both instances registered by the subscriber and agreeing with the engine's view, live
  await page.locator('#services tr[data-service="echo"] a').click();
  await eventually(
    'both echo instances agree with their endpoint records',
    async () => (await page.locator('#instances tr[data-agreement="agree"]').count()) === 2,
    60_000,
  );
  const app = await echoApp();
  for (const task of app.tasks ?? []) {
    const row = page.locator(`#instances tr[data-task="${task.id}"]`);
    assert.match((await row.textContent()) ?? '', new RegExp(`${task.host}:${task.ports![0]}`));
  }
  await shot(page, 'service-echo');

  await page.goto(`${deployerUrl}/ui/#/services`);
  await page.locator('#service-search').fill('ping');
  await eventually(
    'the search leaves only pinger',
    async () => (await page.locator('#services tbody tr').count()) === 1,
  );
  assert.equal(await page.locator('#services tbody tr').getAttribute('data-service'), 'pinger');
  await shot(page, 'services');
  await page.context().close();
});

test('an action without the token is refused, and nothing changes', async () => {
  const app = await echoApp();
  const page = await openPage(`#/service/${encodeURIComponent(app.id)}`);
  await page.locator('#scale-instances').fill('5');
  await page.locator('#action-scale').click();
  const notice = page.locator('#notice');
  await eventually('the refusal is shown', async () => /refused/.test((await notice.textContent()) ?? ''));
  assert.match((await notice.textContent()) ?? '', /needs a token|token/);
  await shot(page, 'refused');
  assert.equal((await echoApp()).instances, app.instances, 'the app was not scaled');
  await page.context().close();
});

test('a scale-up through the page shows live, without reloading', async () => {
  const app = await echoApp();
  const page = await openPage(`#/service/${encodeURIComponent(app.id)}`);
  await page.evaluate(() => ((globalThis as unknown as { sameDocument: boolean }).sameDocument = true));
  await page.locator('#token').fill(token);
  await page.locator('#token-form button[type="submit"]').click();
  await page.waitForSelector('#connection[data-state="live"]');
  assert.match((await page.locator('#service-instances').textContent()) ?? '', /2 running of 2 wanted/);
  await page.locator('#scale-instances').fill('3');
  await page.locator('#action-scale').click();
  await eventually('the scale is accepted', async () =>
    /accepted/.test((await page.locator('#notice').textContent()) ?? ''),
  );
  await eventually(
    'three instances show running',
    async () => /3 running of 3 wanted/.test((await page.locator('#service-instances').textContent()) ?? ''),
    60_000,
  );
  await eventually(
    'the new instance is registered',
    async () => (await page.locator('#instances tr[data-agreement="agree"]').count()) === 3,
    60_000,
  );
  assert.equal(
    await page.evaluate(() => (globalThis as unknown as { sameDocument?: boolean }).sameDocument),
    true,
    'the page was not reloaded',
  );
  assert.equal((await echoApp()).instances, 3);
  await shot(page, 'scaled');

  // the deployment that did it, finished, in the deployments view
  await page.locator('#nav a[data-view="deployments"]').click();
  await page.locator('.deployment[data-state="succeeded"]').first().waitFor();
  await page.locator('#nav a[data-view="cluster"]').click();
  const host = page.locator('#hosts tbody tr').first();
  await host.waitFor();
  const capacity = await platform.marathon.request<{ slaves: Array<{ resources: { cpus: number } }> }>(
    'GET',
    '/master/slaves',
    undefined,
    undefined,
    'agents',
  );
  assert.match(
    (await host.textContent()) ?? '',
    new RegExp(`0\\.4 of ${capacity.slaves[0]!.resources.cpus}(?![\\d.])`),
    "three echo and one pinger task at 0.1 cpus, of the engine's capacity",
  );
  await shot(page, 'cluster');
  // a host's tasks, from the same live state
  await host.locator('a').click();
  await eventually(
    'the host lists its four running tasks',
    async () => (await page.locator('#instances tbody tr').count()) === 4,
  );
  await page.context().close();
});

test("an instance's log: its tail, then new lines as the instance writes them", async () => {
  const page = await openPage('#/services');
  await page.locator('#services tr[data-service="pinger"] a').click();
  await page.locator('#instances button[data-log]').first().click();
  const log = page.locator('#instance-log-text');
  // pinger logs a JSON line per round, every 2 s
  const rounds = async () =>
    ((await log.textContent()) ?? '').split('\n').filter((l) => l.includes('"msg":"round"')).length;
  await eventually(
    'the tail of the log',
    async () => /"msg":"listening"/.test((await log.textContent()) ?? ''),
    60_000,
  );
  const before = await rounds();
  await eventually('two more rounds, live', async () => (await rounds()) >= before + 2, 60_000);
  assert.equal(await page.locator('#instance-log-status').textContent(), 'live');
  for (const line of ((await log.textContent()) ?? '').split('\n').filter(Boolean))
    assert.match(line, /^\[[0-9a-f]{8}\] \{/, "each line carries its instance and is the service's JSON");
  await shot(page, 'instance-log');
  await page.locator('#instance-log-close').click();
  await eventually('the log closed', async () => (await page.locator('#instance-log').count()) === 0);
  await page.context().close();
});

test('a failing deployment shows its error and the task failure', async () => {
  const page = await openPage('#/deployments');
  const broken = [
    'deploy:',
    '  broken:',
    '    image: 127.0.0.1:9/theseus/does-not-exist:local',
    '    labels: [demo]',
    '    ports: {http: 8000}',
    '    instances: 1',
    '    cpus: 0.1',
    '    mem: 32',
    '    deadline: 20',
    '    onFailure: keep',
  ].join('\n');
  const submitted = await api('POST', '/deploy', broken);
  assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
  const id = submitted.body.id as string;
  const panel = page.locator(`.deployment[data-deployment="${id}"]`);
  await panel.waitFor(); // appears live, queued or running
  await eventually(
    'the deployment is shown failed',
    async () => (await panel.getAttribute('data-state')) === 'failed',
    90_000,
    500,
  );
  const record = (await api('GET', `/deployments/${id}`)).body;
  assert.equal(record.state, 'failed');
  const stepError = record.steps[0].error.message as string;
  assert.ok(stepError.length > 0);
  assert.ok(
    ((await panel.locator('.step-error').textContent()) ?? '').includes(stepError),
    'the step error is on the page',
  );
  await shot(page, 'deployment-failed');

  await page.locator('#nav a[data-view="events"]').click();
  await page.locator('#events li[data-type="status_update_event"]').first().waitFor();
  await eventually(
    'the task failure is in the events',
    async () => /broken.*TASK_FAILED|TASK_FAILED.*broken/s.test((await page.locator('#events').textContent()) ?? ''),
    30_000,
  );
  await shot(page, 'events');
  await page.context().close();
});

test('with the engine gone the page says so and keeps showing the last known state', async () => {
  const page = await openPage('#/services');
  await page.locator('#services tr[data-service="echo"]').waitFor();
  assert.equal(await page.locator('#degraded').isHidden(), true);
  await platform.engine.stop();
  await eventually(
    'the page says Marathon does not answer',
    async () => /Marathon does not answer/.test((await page.locator('#degraded').textContent()) ?? ''),
    30_000,
  );
  assert.equal(
    await page.locator('#services tr[data-service="echo"] .desired').textContent(),
    '3',
    'the last known state stays on the page',
  );
  await shot(page, 'engine-gone');
  await page.context().close();
});

test('every page ran without errors, and its Content-Security-Policy blocked nothing', () => {
  assert.deepEqual(pageErrors, []);
});
