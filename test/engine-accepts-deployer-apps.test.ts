// The deployer's Marathon apps as the engine sees them: accepted as a Marathon 1.10 would, and
// answered unchanged in every field the deployer set (the deployer compares them on its next run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, MarathonClient, readDeployDocument } from '@theseus/services';
import { toMarathonApp } from '@theseus/deployer';
import { startEngine } from '@theseus/cluster';

const DOCUMENT = `deploy:
  web: {image: nginx, labels: [b, a], instances: 0}
  dns:
    image: coredns/coredns:1.11
    namespace: infra
    instances: 0
    ports:
      dns: {port: 53, protocol: udp}
      both: {port: 5353, protocol: "udp,tcp"}
      metrics: {port: 9153, hostPort: 9153}
  job: {image: busybox, cmd: "sleep 1000", instances: 0}
  worker: {image: busybox, args: ["--queue", "jobs"], instances: 0}
  echo:
    image: theseus/example-echo:local
    ports: {http: 8000}
    environment: {GREETING: hello}
    instances: 0
    cpus: 0.1
    mem: 96
    healthChecks:
      - {protocol: HTTP, port: http, path: /healthz, gracePeriodSeconds: 30, intervalSeconds: 2, timeoutSeconds: 2, maxConsecutiveFailures: 3}
`;

test('every app the deployer writes is accepted by the engine and read back as written', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'theseus-engine-deployer-'));
  const engine = await startEngine({
    dataDir,
    port: 0,
    listenHost: '127.0.0.1',
    logger: createLogger({ component: 'test', level: 'error', format: 'json' }),
  });
  try {
    const client = new MarathonClient({ urls: [engine.url] });
    const context = { appGroup: 'theseus', etcdEndpoints: ['http://127.0.0.1:2379'], etcdPrefix: '/theseus' };
    const apps = readDeployDocument(DOCUMENT, 'yaml').deploy.map((s) => toMarathonApp(s, context));
    assert.equal(apps.length, 5);
    for (const app of apps) {
      await client.replaceApp(app);
      const stored = await client.getApp(app.id);
      for (const [key, value] of Object.entries(app)) {
        if (key === 'container' || key === 'portDefinitions' || key === 'healthChecks') continue; // defaults and service ports are added
        // Marathon 1.5+ leaves empty lists and maps out of its answers (omitEmpty), as the engine does
        const empty = (v: unknown) =>
          v === undefined ||
          (Array.isArray(v) && v.length === 0) ||
          (typeof v === 'object' && v !== null && Object.keys(v).length === 0);
        if (empty(value)) assert.ok(empty(stored[key]), `${app.id}: ${key}`);
        else assert.deepEqual(stored[key], value, `${app.id}: ${key}`);
      }
      assert.equal(stored.container?.docker?.image, (app.container as { docker: { image: string } }).docker.image);
      assert.deepEqual(
        stored.container?.portMappings?.map((m) => [m.containerPort, m.name, m.protocol]),
        (app.container?.portMappings ?? []).map((m) => [m.containerPort, m.name, m.protocol ?? 'tcp']),
      );
    }
  } finally {
    await engine.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
