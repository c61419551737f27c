/**
 * A graceful stop end to end: a service deployed with `killGracePeriod` runs on the engine (Docker),
 * the subscriber registers it in etcd, and when the instance is killed its record is gone while the
 * instance is still TASK_KILLING, in its SIGTERM handler; only then does the container end.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createEtcdClient,
  createLogger,
  EtcdLayout,
  MarathonClient,
  readDeployDocument,
  type MarathonApp,
} from '@theseus/services';
import { toMarathonApp } from '@theseus/deployer';
import { Subscriber } from '@theseus/subscriber';
import { answers, eventually, freePort, startPart, type PartProcess } from './support/processes.js';

const ETCD = (process.env.ETCD_ENDPOINTS ?? 'http://127.0.0.1:2379').split(',');
const prefix = `/test-grace-${randomBytes(4).toString('hex')}`;
const service = `drain-${randomBytes(3).toString('hex')}`;

// SIGTERM starts the drain; it ends when the test opens the gate (a file in the persistent volume)
const DOCUMENT = `deploy:
  ${service}:
    image: theseus/busybox:local
    ports: {http: 8080}
    cpus: 0.1
    mem: 32
    killGracePeriod: 2m
    cmd: "trap 'until [ -f /mnt/mesos/sandbox/data/gate ]; do sleep 0.1; done; exit 0' TERM; sleep 600 & wait $!"
`;

describe('graceful stop with discovery', () => {
  let engine: PartProcess;
  let marathon: MarathonClient;
  let subscriber: Subscriber;
  let app: MarathonApp;
  const dataDir = mkdtempSync(join(tmpdir(), 'theseus-grace-'));
  const etcd = createEtcdClient({ endpoints: ETCD });

  before(async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const low = 33000 + Math.floor(Math.random() * 2000);
    engine = await startPart('engine', {
      args: ['--port', String(port), '--data-dir', dataDir],
      env: { ENGINE_PORT_RANGE: `${low}-${low + 20}` },
      ready: () => answers(`${url}/ping`),
    });
    marathon = new MarathonClient({ urls: [url] });
    subscriber = new Subscriber({
      marathonUrls: [url],
      etcdEndpoints: ETCD,
      etcdPrefix: prefix,
      cluster: 'test',
      reconcileIntervalMs: 0,
      streamIdleTimeoutMs: 5_000,
      leaderTtlSeconds: 2,
      logger: createLogger({ component: 'subscriber', silent: !process.env.TEST_LOGS, format: 'json' }),
    });
    subscriber.start();
    const [spec] = readDeployDocument(DOCUMENT, 'yaml').deploy;
    app = toMarathonApp(spec!, { appGroup: 'theseus', etcdEndpoints: ETCD, etcdPrefix: prefix });
    app.container!.volumes = [{ containerPath: 'data', mode: 'RW', persistent: { size: 1 } }];
  });

  after(async () => {
    await subscriber?.stop();
    if (app) {
      await marathon?.deleteApp(app.id, { force: true }).catch(() => {});
      await eventually(
        'the app gone',
        async () => (await marathon.listApps()).length === 0 && (await marathon.listTasks()).length === 0,
        30_000,
      ).catch(() => {});
    }
    await engine?.stop();
    await etcd
      .delete()
      .prefix(prefix + '/')
      .catch(() => {});
    etcd.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const recordedTaskIds = async () => {
    const keys = await etcd.getAll().prefix(new EtcdLayout(prefix).allEndpoints()).keys();
    return keys.map((k) => k.split('/').pop()!);
  };

  test('the record is removed at TASK_KILLING, before the instance has stopped', async () => {
    assert.equal(app.taskKillGracePeriodSeconds, 120);
    await marathon.createApp(app);
    const task = await eventually(
      'a running task',
      async () => (await marathon.appTasks(app.id)).find((t) => t.state === 'TASK_RUNNING'),
      60_000,
    );
    await eventually(
      'the record in etcd',
      async () => (await recordedTaskIds()).some((id) => id.includes(task.id)),
      20_000,
    );

    await marathon.killTasks([task.id], { scale: true });
    await eventually(
      'the record gone',
      async () => !(await recordedTaskIds()).some((id) => id.includes(task.id)),
      20_000,
    );
    const during = (await marathon.appTasks(app.id)).find((t) => t.id === task.id);
    assert.equal(during?.state, 'TASK_KILLING', 'the instance is still draining when its record is gone');

    writeFileSync(join(dataDir, 'volumes', task.id, 'data', 'gate'), '');
    await eventually(
      'the task ended',
      async () => !(await marathon.appTasks(app.id)).some((t) => t.id === task.id),
      30_000,
    );
    assert.deepEqual(await recordedTaskIds(), []);
  });
});
