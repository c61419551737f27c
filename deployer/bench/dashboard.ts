/**
 * Dashboard page load with a large cluster: 200 service groups and 2,000 tasks in the engine
 * (in-process, scripted tasks), 2,000 endpoint records in etcd (under a random prefix), the real deployer serving /ui,
 * and Debian's Chromium loading the page again and again in fresh contexts. Reports medians of
 * first paint, first contentful paint, and the time until the services table is drawn from the
 * live channel's snapshot (the `theseus:data-rendered` mark), next to the same page with nothing
 * deployed, measured in the same run.
 *
 *   node --import tsx --conditions=source deployer/bench/dashboard.ts [--loads 9] [--services 200] [--per 10]
 */
import { randomBytes } from 'node:crypto';
import { chromium, type Browser } from 'playwright-core';
import {
  MarathonClient,
  createEtcdClient,
  encodeEndpointRecord,
  readDeployDocument,
  type EndpointRecord,
} from '@theseus/services';
import { toMarathonApp } from '../src/translate.js';
import { startHarness } from '../src/testing/harness.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const LOADS = arg('loads', 9);
const SERVICES = arg('services', 200);
const PER = arg('per', 10);
const etcdPrefix = `/bench-dashboard-${randomBytes(4).toString('hex')}`;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main() {
  const harness = await startHarness({ env: { THESEUS_OPEN_READS: 'true', THESEUS_ETCD_PREFIX: etcdPrefix } });
  const engine = harness.marathon!;
  const marathon = new MarathonClient({ urls: [engine.url] });
  const etcd = createEtcdClient({ endpoints: ['http://127.0.0.1:2379'] });
  // launch() gives Chromium a new, empty temporary profile (user data dir) and removes it on close
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    // the same page with nothing deployed, measured in the same run: the baseline
    const empty = await measure(browser, harness.url, LOADS);
    report('empty cluster', empty);

    const yaml = ['deploy:'];
    for (let i = 0; i < SERVICES; i++) {
      yaml.push(
        `  svc-${String(i).padStart(3, '0')}:`,
        `    image: registry.local:5000/team${i % 7}/svc:${i % 13}`,
        `    namespace: ns${i % 4}`,
        `    labels: [${i % 3 === 0 ? 'prod' : 'dev'}, zone${i % 5}]`,
        `    ports: {http: 8000, admin: 9000}`,
        `    instances: ${PER}`,
        '    cpus: 0.1',
        '    mem: 64',
      );
    }
    const doc = readDeployDocument(yaml.join('\n'), 'yaml');
    const started = Date.now();
    for (const spec of doc.deploy)
      await marathon.createApp(
        toMarathonApp(spec, { appGroup: 'theseus', etcdEndpoints: ['http://127.0.0.1:2379'], etcdPrefix }),
      );
    while (engine.engine.orchestrator.deployments.size > 0) await new Promise((r) => setTimeout(r, 20));
    const apps = await marathon.listApps({ embed: ['apps.tasks'] });
    const tasks = apps.flatMap((a) => (a.tasks ?? []).map((t) => ({ app: a, task: t })));
    // endpoint records as the subscriber writes them
    const now = new Date().toISOString();
    for (let i = 0; i < tasks.length; i += 200) {
      await Promise.all(
        tasks.slice(i, i + 200).map(({ app, task }) => {
          const ref = {
            namespace: app.labels!.THESEUS_NAMESPACE ?? 'default',
            service: app.labels!.THESEUS_SERVICE ?? '',
          };
          const labels = Object.entries(app.labels ?? {}).find(([k]) => k === 'THESEUS_LABELS')?.[1];
          const record: EndpointRecord = {
            v: 1,
            cluster: 'default',
            namespace: ref.namespace,
            service: ref.service,
            labels: labels ? labels.split(',').filter(Boolean) : [],
            appId: app.id,
            taskId: task.id,
            appVersion: task.version ?? app.version,
            host: task.host,
            ipAddresses: ['172.17.0.2'],
            ports: {
              http: { host: task.ports![0]!, container: 8000, protocol: 'tcp' },
              admin: { host: task.ports![1]!, container: 9000, protocol: 'tcp' },
            },
            healthy: null,
            startedAt: task.startedAt ?? null,
            updatedAt: now,
          };
          return etcd
            .put(`${etcdPrefix}/v1/endpoints/${ref.namespace}/${ref.service}/${task.id}`)
            .value(encodeEndpointRecord(record));
        }),
      );
    }
    console.log(`seeded ${apps.length} apps, ${tasks.length} tasks and records in ${Date.now() - started} ms`);

    // the kept state catches up with the seeding (within one refresh interval)
    for (;;) {
      const snapshot = await (await fetch(`${harness.url}/ui/api/snapshot`)).text();
      const parsed = JSON.parse(snapshot) as { services: Array<{ disagreements: number; instancesView: unknown[] }> };
      const instances = parsed.services.reduce((n, s) => n + s.instancesView.length, 0);
      const disagreeing = parsed.services.reduce((n, s) => n + s.disagreements, 0);
      if (parsed.services.length === SERVICES && instances === tasks.length && disagreeing === 0) {
        console.log(
          `snapshot: ${(snapshot.length / 1024).toFixed(0)} KiB, ${parsed.services.length} services, ${instances} instances, all agreeing with their records`,
        );
        break;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    const kept = await measure(browser, harness.url, LOADS, 'artifacts/dashboard-bench.png');
    report(`${SERVICES} services, ${tasks.length} tasks, loaded again (kept state)`, kept, empty);

    // a first visitor: a deployer that has not read anything yet, so the load waits for a full read
    const cold: Timing[] = [];
    for (let i = 0; i < LOADS; i++) {
      const fresh = await startHarness({
        marathonUrl: engine.url,
        env: { THESEUS_OPEN_READS: 'true', THESEUS_ETCD_PREFIX: etcdPrefix },
      });
      try {
        cold.push(...(await measure(browser, fresh.url, 1, undefined, false)));
      } finally {
        await fresh.close();
      }
    }
    report(`${SERVICES} services, ${tasks.length} tasks, first visitor (full read)`, cold, empty);
  } finally {
    await browser.close();
    await etcd
      .delete()
      .prefix(etcdPrefix)
      .catch(() => undefined);
    etcd.close();
    await harness.close();
  }
}

type Timing = { fp: number; fcp: number; data: number; load: number };

/** `loads` page loads in fresh browser contexts (after one warm-up load unless told not to); the timings of each. */
async function measure(
  browser: Browser,
  url: string,
  loads: number,
  screenshot?: string,
  warmUp = true,
): Promise<Timing[]> {
  const results: Timing[] = [];
  const first = warmUp ? 1 : 0;
  for (let i = 0; i < loads + first; i++) {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${url}/ui/`);
    await page.waitForSelector('body[data-ready="true"]');
    const timing = await page.evaluate(() => {
      const paint = Object.fromEntries(performance.getEntriesByType('paint').map((e) => [e.name, e.startTime]));
      const mark = performance.getEntriesByName('theseus:data-rendered')[0];
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
      return {
        fp: paint['first-paint'] ?? NaN,
        fcp: paint['first-contentful-paint'] ?? NaN,
        data: mark?.startTime ?? NaN,
        load: nav.loadEventEnd,
      };
    });
    if (i === 0 && screenshot) await page.screenshot({ path: screenshot }).catch(() => undefined);
    await context.close();
    if (i >= first) results.push(timing); // a warm-up load readies the deployer and Chromium
  }
  return results;
}

function report(label: string, results: Timing[], baseline?: Timing[]): void {
  const line = (name: string, k: keyof Timing) => {
    const m = median(results.map((r) => r[k]));
    const ratio = baseline ? `  (${(m / median(baseline.map((r) => r[k]))).toFixed(2)}x the empty cluster)` : '';
    console.log(
      `  ${name.padEnd(24)} median ${m.toFixed(0)} ms, min ${Math.min(...results.map((r) => r[k])).toFixed(0)}, max ${Math.max(...results.map((r) => r[k])).toFixed(0)}${ratio}`,
    );
  };
  console.log(`${label}: ${results.length} page loads`);
  line('first paint', 'fp');
  line('first contentful paint', 'fcp');
  line('services table drawn', 'data');
  line('load event', 'load');
}

await main();
