/**
 * Dashboard page load with a large cluster: 200 service groups and 2,000 tasks in a Marathon test
 * double, 2,000 endpoint records in etcd (under a random prefix), the real deployer serving /ui,
 * and Debian's Chromium loading the page again and again in fresh contexts. Reports medians of
 * first paint, first contentful paint, and the time until the services table is drawn from the
 * live channel's snapshot (the `theseus:data-rendered` mark).
 *
 *   node --import tsx --conditions=source deployer/bench/dashboard.ts [--loads 9] [--services 200] [--per 10]
 */
import { randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';
import { MarathonClient, createEtcdClient, encodeEndpointRecord, readDeployDocument, type EndpointRecord } from '@theseus/services';
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
  const double = harness.double!;
  const marathon = new MarathonClient({ urls: [double.url] });
  const etcd = createEtcdClient({ endpoints: ['http://127.0.0.1:2379'] });
  try {
    const yaml = ['deploy:'];
    for (let i = 0; i < SERVICES; i++) {
      yaml.push(`  svc-${String(i).padStart(3, '0')}:`, `    image: registry.local:5000/team${i % 7}/svc:${i % 13}`, `    namespace: ns${i % 4}`,
        `    labels: [${i % 3 === 0 ? 'prod' : 'dev'}, zone${i % 5}]`, `    ports: {http: 8000, admin: 9000}`, `    instances: ${PER}`, '    cpus: 0.1', '    mem: 64');
    }
    const doc = readDeployDocument(yaml.join('\n'), 'yaml');
    const started = Date.now();
    for (const spec of doc.deploy) await marathon.createApp(toMarathonApp(spec, { appGroup: 'theseus', etcdEndpoints: ['http://127.0.0.1:2379'], etcdPrefix }));
    while (double.deployments.size > 0) await new Promise((r) => setTimeout(r, 20));
    const apps = await marathon.listApps({ embed: ['apps.tasks'] });
    const tasks = apps.flatMap((a) => (a.tasks ?? []).map((t) => ({ app: a, task: t })));
    // endpoint records as the subscriber writes them
    const now = new Date().toISOString();
    for (let i = 0; i < tasks.length; i += 200) {
      await Promise.all(tasks.slice(i, i + 200).map(({ app, task }) => {
        const ref = { namespace: app.labels!.THESEUS_NAMESPACE ?? 'default', service: app.labels!.THESEUS_SERVICE ?? '' };
        const labels = Object.entries(app.labels ?? {}).find(([k]) => k === 'THESEUS_LABELS')?.[1];
        const record: EndpointRecord = {
          v: 1, cluster: 'default', namespace: ref.namespace, service: ref.service, labels: labels ? labels.split(',').filter(Boolean) : [],
          appId: app.id, taskId: task.id, appVersion: task.version ?? app.version, host: task.host, ipAddresses: ['172.17.0.2'],
          ports: { http: { host: task.ports![0]!, container: 8000, protocol: 'tcp' }, admin: { host: task.ports![1]!, container: 9000, protocol: 'tcp' } },
          healthy: null, startedAt: task.startedAt ?? null, updatedAt: now,
        };
        return etcd.put(`${etcdPrefix}/v1/endpoints/${ref.namespace}/${ref.service}/${task.id}`).value(encodeEndpointRecord(record));
      }));
    }
    console.log(`seeded ${apps.length} apps, ${tasks.length} tasks and records in ${Date.now() - started} ms`);

    const snapStart = performance.now();
    const snapshot = await (await fetch(`${harness.url}/ui/api/snapshot`)).text();
    console.log(`snapshot: ${(snapshot.length / 1024).toFixed(0)} KiB, first read ${(performance.now() - snapStart).toFixed(0)} ms`);
    const parsed = JSON.parse(snapshot) as { services: Array<{ disagreements: number; instancesView: unknown[] }> };
    console.log(`snapshot services: ${parsed.services.length}, instances: ${parsed.services.reduce((n, s) => n + s.instancesView.length, 0)}, disagreeing: ${parsed.services.reduce((n, s) => n + s.disagreements, 0)}`);

    // launch() gives Chromium a new, empty temporary profile (user data dir) and removes it on close
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const results: Array<{ fp: number; fcp: number; data: number; load: number }> = [];
    try {
      for (let i = 0; i < LOADS + 1; i++) {
        const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
        const page = await context.newPage();
        await page.goto(`${harness.url}/ui/`);
        await page.waitForSelector('body[data-ready="true"] #services tbody tr');
        const timing = await page.evaluate(() => {
          const paint = Object.fromEntries(performance.getEntriesByType('paint').map((e) => [e.name, e.startTime]));
          const mark = performance.getEntriesByName('theseus:data-rendered')[0];
          const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
          return { fp: paint['first-paint'] ?? NaN, fcp: paint['first-contentful-paint'] ?? NaN, data: mark?.startTime ?? NaN, load: nav.loadEventEnd };
        });
        if (i === 0) await page.screenshot({ path: 'artifacts/dashboard-bench.png' }).catch(() => undefined);
        await context.close();
        if (i > 0) results.push(timing); // the first load warms the deployer's caches and Chromium
      }
    } finally {
      await browser.close();
    }
    const fmt = (k: keyof (typeof results)[number]) => `${median(results.map((r) => r[k])).toFixed(0)} ms (min ${Math.min(...results.map((r) => r[k])).toFixed(0)}, max ${Math.max(...results.map((r) => r[k])).toFixed(0)})`;
    console.log(`page loads: ${results.length} (${SERVICES} services, ${tasks.length} tasks)`);
    console.log(`first paint:             ${fmt('fp')}`);
    console.log(`first contentful paint:  ${fmt('fcp')}`);
    console.log(`services table drawn:    ${fmt('data')}`);
    console.log(`load event:              ${fmt('load')}`);
  } finally {
    await etcd.delete().prefix(etcdPrefix).catch(() => undefined);
    etcd.close();
    await harness.close();
  }
}

await main();
