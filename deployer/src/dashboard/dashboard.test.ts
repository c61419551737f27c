import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  MARATHON_LABELS,
  MarathonClient,
  readDeployDocument,
  type EndpointRecord,
  type MarathonAppInfo,
  type StoredEndpoint,
} from '@theseus/services';
import { serviceRow } from './read-model.js';
import { clusterView } from './cluster-view.js';
import { startHarness, TEST_TOKEN, type Harness } from '../testing/harness.js';
import { toMarathonApp } from '../translate.js';

const APP_ID = '/theseus/default/web--blue';

function app(tasks: MarathonAppInfo['tasks'], healthChecks = false): MarathonAppInfo {
  return {
    id: APP_ID,
    version: '2026-01-01T00:00:00.000Z',
    instances: tasks?.length ?? 0,
    cpus: 0.5,
    mem: 128,
    labels: {
      [MARATHON_LABELS.managed]: 'true',
      [MARATHON_LABELS.service]: 'web',
      [MARATHON_LABELS.namespace]: 'default',
      [MARATHON_LABELS.labels]: 'blue',
    },
    container: {
      type: 'DOCKER',
      docker: { image: 'web:1' },
      portMappings: [
        { containerPort: 80, name: 'http' },
        { containerPort: 9000, name: 'metrics' },
      ],
    },
    ...(healthChecks ? { healthChecks: [{ protocol: 'MESOS_HTTP', portIndex: 0, path: '/' }] } : {}),
    tasks,
  };
}

function task(id: string, ports: number[], state: 'TASK_RUNNING' | 'TASK_STAGING' = 'TASK_RUNNING', alive?: boolean) {
  return {
    id,
    appId: APP_ID,
    host: '10.0.0.1',
    slaveId: 'agent-1',
    state,
    startedAt: '2026-01-01T00:00:01.000Z',
    version: '2026-01-01T00:00:00.000Z',
    ports,
    ...(alive === undefined
      ? {}
      : {
          healthCheckResults: [
            { alive, consecutiveFailures: 0, firstSuccess: null, lastSuccess: null, lastFailure: null, instanceId: id },
          ],
        }),
  };
}

function stored(taskId: string, ports: Record<string, number>, host = '10.0.0.1'): StoredEndpoint {
  const record: EndpointRecord = {
    v: 1,
    cluster: 'default',
    namespace: 'default',
    service: 'web',
    labels: ['blue'],
    appId: APP_ID,
    taskId,
    appVersion: '2026-01-01T00:00:00.000Z',
    host,
    ipAddresses: [],
    ports: Object.fromEntries(
      Object.entries(ports).map(([n, p]) => [n, { host: p, container: 80, protocol: 'tcp' as const }]),
    ),
    healthy: null,
    startedAt: null,
    updatedAt: '2026-01-01T00:00:02.000Z',
  };
  return { key: `/theseus/v1/endpoints/default/web/${taskId}`, taskId, record, modRevision: '1' };
}

describe('instances: Marathon beside the endpoint records', () => {
  test('each instance is classified, and what differs is spelled out', () => {
    const row = serviceRow(
      app([
        task('t-agree', [31000, 31001]),
        task('t-missing', [31002, 31003]),
        task('t-staging', [31004, 31005], 'TASK_STAGING'),
        task('t-differs', [31006, 31007]),
      ]),
      [
        stored('t-agree', { http: 31000, metrics: 31001 }),
        stored('t-differs', { http: 31999, metrics: 31007 }, '10.0.0.2'),
        stored('t-gone', { http: 31100 }),
      ],
    );
    const by = Object.fromEntries(row.instancesView.map((i) => [i.id, i]));
    assert.equal(by['t-agree']!.agreement, 'agree');
    assert.deepEqual(by['t-agree']!.differences, []);
    assert.equal(by['t-missing']!.agreement, 'missing');
    assert.equal(by['t-staging']!.agreement, 'unregistered');
    assert.equal(by['t-differs']!.agreement, 'differs');
    assert.deepEqual(by['t-differs']!.differences, [
      'host: Marathon 10.0.0.1, record 10.0.0.2',
      'port http: Marathon 10.0.0.1:31006, record 10.0.0.2:31999',
      'port metrics: Marathon 10.0.0.1:31007, record 10.0.0.2:31007',
    ]);
    assert.equal(by['t-gone']!.agreement, 'stale');
    assert.equal(row.disagreements, 3);
    assert.equal(by['t-agree']!.ports.find((p) => p.name === 'http')!.http, true);
    assert.equal(by['t-agree']!.ports.find((p) => p.name === 'metrics')!.http, false);
  });

  test('an unhealthy task without a record is not missing; a healthy one is; unknown records blame nobody', () => {
    const row = serviceRow(
      app([task('sick', [1, 2], 'TASK_RUNNING', false), task('well', [3, 4], 'TASK_RUNNING', true)], true),
      [],
    );
    assert.deepEqual(
      row.instancesView.map((i) => [i.id, i.agreement, i.healthy]),
      [
        ['sick', 'unregistered', false],
        ['well', 'missing', true],
      ],
    );
    assert.equal(row.ports.includes('http'), true);
    const unknown = serviceRow(app([task('well', [3, 4], 'TASK_RUNNING', true)], true), [], false);
    assert.equal(unknown.instancesView[0]!.agreement, 'unregistered');
  });
});

describe('cluster view', () => {
  const apps = [app([task('a', [1, 2]), task('b', [3, 4]), { ...task('c', [5, 6]), state: 'TASK_FAILED' as never }])];

  test('without a Mesos master: used from tasks x app resources, available unknown', () => {
    const view = clusterView(apps, { name: 'marathon', version: '1.10.26', leader: 'x:8080' }, undefined);
    assert.equal(view.capacity, 'unknown');
    assert.equal(view.hosts.length, 1);
    const [host] = view.hosts;
    assert.deepEqual(host!.used, { cpus: 1, mem: 256 }, 'the failed task holds nothing');
    assert.equal(host!.total, null);
    assert.equal(host!.taskCount, 3);
  });

  test('with agents: capacity per agent, tasks placed by agent id; an agent without tasks still listed', () => {
    const agents = [
      { id: 'agent-1', hostname: 'node-1', resources: { cpus: 4, mem: 8192 }, used_resources: { cpus: 1, mem: 256 } },
      { id: 'agent-2', hostname: 'node-2', resources: { cpus: 2, mem: 4096 } },
    ];
    const view = clusterView(apps, new Error('down'), agents);
    assert.equal(view.capacity, 'mesos');
    assert.equal(view.info, null);
    assert.equal(view.infoError, 'down');
    assert.deepEqual(
      view.hosts.map((h) => [h.host, h.taskCount, h.total, h.used.cpus]),
      [
        ['node-1', 3, { cpus: 4, mem: 8192 }, 1],
        ['node-2', 0, { cpus: 2, mem: 4096 }, 0],
      ],
    );
    assert.deepEqual(view.hosts[0]!.agentUsed, { cpus: 1, mem: 256 });
  });
});

describe('the dashboard routes in the deployer', () => {
  const harnesses: Harness[] = [];
  let mesos: http.Server | undefined;
  after(async () => {
    for (const h of harnesses) await h.close();
    mesos?.close();
  });

  async function deployOne(harness: Harness, name: string): Promise<string> {
    const doc = readDeployDocument(
      `deploy:\n  ${name}:\n    image: web:1\n    ports: {http: 80}\n    instances: 2\n`,
      'yaml',
    );
    const marathonApp = toMarathonApp(doc.deploy[0]!, {
      appGroup: 'theseus',
      etcdEndpoints: ['http://127.0.0.1:2379'],
      etcdPrefix: '/x',
    });
    await new MarathonClient({ urls: [harness.marathon!.url] }).createApp(marathonApp);
    return marathonApp.id;
  }

  test('page, redirect, reads behind the token, capacity from a Mesos master', async () => {
    let agentId = '';
    mesos = http.createServer((req, res) => {
      res.writeHead(req.url === '/master/slaves' ? 200 : 404, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({
          slaves: [
            {
              id: agentId,
              hostname: 'node-a',
              resources: { cpus: 8, mem: 16384, disk: 1000, ports: '[31000-32000]' },
              used_resources: { cpus: 0, mem: 0 },
            },
          ],
        }),
      );
    });
    await new Promise<void>((r) => mesos!.listen(0, '127.0.0.1', r));
    const harness = await startHarness({
      env: {
        MESOS_MASTER_URL: `http://127.0.0.1:${(mesos.address() as AddressInfo).port}`,
        THESEUS_ETCD_PREFIX: `/test-dashboard-${Date.now()}`,
      },
    });
    harnesses.push(harness);
    agentId = harness.marathon!.engine.agentId;
    const appId = await deployOne(harness, 'web');

    const redirect = await fetch(`${harness.url}/ui?x=1`, { redirect: 'manual' });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.get('location'), '/ui/?x=1');
    const page = await fetch(`${harness.url}/ui/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<script type="module" src="app.js">/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const js = await fetch(`${harness.url}/ui/app.js`);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);

    const closed = await fetch(`${harness.url}/ui/api/snapshot`);
    assert.equal(closed.status, 401);
    assert.equal(((await closed.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED');
    const live = await fetch(`${harness.url}/ui/api/live`);
    assert.equal(live.status, 401);

    const res = await fetch(`${harness.url}/ui/api/snapshot`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` } });
    assert.equal(res.status, 200);
    const snapshot = (await res.json()) as {
      services: Array<{ appId: string; instancesView: unknown[] }>;
      cluster: { capacity: string; hosts: Array<{ host: string; total: unknown; taskCount: number }> };
    };
    assert.deepEqual(
      snapshot.services.map((s) => [s.appId, s.instancesView.length]),
      [[appId, 2]],
    );
    assert.equal(snapshot.cluster.capacity, 'mesos');
    assert.deepEqual(
      snapshot.cluster.hosts.map((h) => [h.host, h.total, h.taskCount]),
      [['node-a', { cpus: 8, mem: 16384 }, 2]],
    );
  });

  test('the live channel starts with a snapshot, then sends the changes', async () => {
    const harness = await startHarness({
      env: { THESEUS_OPEN_READS: 'true', THESEUS_ETCD_PREFIX: `/test-dashboard-${Date.now()}` },
    });
    harnesses.push(harness);
    const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
      http.get(`${harness.url}/ui/api/live`, resolve).on('error', reject),
    );
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] ?? '', /^text\/event-stream/);
    res.setEncoding('utf8');
    let buffer = '';
    let wake: (() => void) | undefined;
    res.on('data', (chunk: string) => {
      buffer += chunk;
      wake?.();
    });
    const next = async (type: string): Promise<any> => {
      for (;;) {
        const at = buffer.indexOf('\n\n');
        if (at >= 0) {
          const block = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          const event = /^event: (.+)$/m.exec(block)?.[1];
          const data = /^data: (.+)$/m.exec(block)?.[1];
          if (event === type && data) return JSON.parse(data);
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    };
    const first = await next('snapshot');
    assert.deepEqual(first.services, []);
    const appId = await deployOne(harness, 'api');
    const change = await next('services');
    assert.deepEqual(
      change.upsert.map((s: { appId: string }) => s.appId),
      [appId],
    );
    // a deployment made through the API arrives as a deployment record
    const scaled = await fetch(`${harness.url}/services/api/scale`, {
      method: 'POST',
      headers: { ...harness.auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ instances: 3 }),
    });
    assert.equal(scaled.status, 202);
    const { id } = (await scaled.json()) as { id: string };
    let record = await next('deployment');
    while (record.id !== id || record.state !== 'succeeded') record = await next('deployment');
    assert.equal(record.steps[0].service, 'api');
    res.destroy();
  });
});
