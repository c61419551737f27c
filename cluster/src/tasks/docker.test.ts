/** Docker tasks through the containerizer's driver, against the real Docker Engine (local images only). */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MarathonApp } from '@theseus/services';
import { DockerDriver } from '@theseus/containerizer';
import { DockerRunner } from './docker-runner.js';
import {
  quietLogger,
  removeDir,
  replayRollout,
  statusEvents,
  testEngine,
  waitFor,
  type TestEngine,
} from '../test-support.js';

const RUN_LABEL = 'theseus.test.run';
const run = randomUUID().slice(0, 8);
const driver = new DockerDriver();
const runner = () => new DockerRunner(driver, quietLogger(), 'never');

/** busybox httpd on 8080 serving the container's environment at /env.txt. */
function webApp(id: string, extra: Partial<MarathonApp> = {}): MarathonApp {
  return {
    id,
    instances: 1,
    cpus: 0.25,
    mem: 48,
    cmd: 'mkdir -p /www && env > /www/env.txt && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www',
    env: { GREETING: 'hello' },
    labels: { TIER: 'web' },
    container: {
      type: 'DOCKER',
      docker: { image: 'theseus/busybox:local' },
      portMappings: [{ containerPort: 8080, hostPort: 0, name: 'http' }],
    },
    networks: [{ mode: 'container/bridge' }],
    healthChecks: [
      {
        protocol: 'HTTP',
        path: '/',
        portIndex: 0,
        gracePeriodSeconds: 10,
        intervalSeconds: 1,
        timeoutSeconds: 1,
        maxConsecutiveFailures: 3,
      },
    ],
    taskKillGracePeriodSeconds: 1,
    ...extra,
  };
}

async function cleanup(): Promise<void> {
  for (const c of await driver.list({ [RUN_LABEL]: run })) {
    await driver.stop(c.id, 0).catch(() => {});
    await driver.remove(c.id).catch(() => {});
  }
}

describe('Docker tasks', () => {
  let e: TestEngine;
  before(async () => {
    e = await testEngine({ dockerRunner: runner(), containerLabels: { [RUN_LABEL]: run }, cpus: 4, memMb: 4096 });
  });
  after(async () => {
    await e.stop();
    await cleanup();
    removeDir(e.dataDir);
  });

  it('runs a BRIDGE app with a host port from the range, Marathon env, limits and a passing HTTP health check', async () => {
    await e.client.createApp(webApp('/docker/web'));
    const app = await waitFor(
      'healthy',
      async () => {
        const a = await e.client.getApp('/docker/web');
        return a.tasksHealthy === 1 ? a : undefined;
      },
      30_000,
    );
    const task = app.tasks![0]!;
    const hostPort = task.ports![0]!;
    const [min, max] = e.engine.options.portRange!;
    assert.ok(hostPort >= min && hostPort <= max, `${hostPort} in ${min}-${max}`);
    assert.equal(task.ipAddresses?.length, 1);
    const env = await (await fetch(`http://127.0.0.1:${hostPort}/env.txt`)).text();
    for (const line of [
      `PORT0=${hostPort}`,
      `PORT_HTTP=${hostPort}`,
      `PORT_8080=${hostPort}`,
      `PORTS=${hostPort}`,
      `MESOS_TASK_ID=${task.id}`,
      'MARATHON_APP_ID=/docker/web',
      `MARATHON_APP_VERSION=${app.version}`,
      'GREETING=hello',
      'MARATHON_APP_LABEL_TIER=web',
      'HOST=127.0.0.1',
    ]) {
      assert.ok(env.split('\n').includes(line), `${line} missing from the container's environment`);
    }
    const details = await driver.inspect(e.engine.task(task.id)!.ref!);
    assert.equal(details?.cpuShares, 256);
    assert.equal(details?.memoryBytes, 48 * 1024 * 1024);
    assert.equal(details?.labels['theseus.engine.task-id'], task.id);
    assert.deepEqual(app.networks, [{ mode: 'container/bridge' }]);
  });

  it('kill: TASK_KILLING then TASK_KILLED, and the container is removed', async () => {
    const task = (await e.client.appTasks('/docker/web'))[0]!;
    const ref = e.engine.task(task.id)!.ref!;
    await e.client.killTasks([task.id], { scale: true });
    await waitFor('killed', () => statusEvents(e.events, task.id).includes('TASK_KILLED'), 20_000);
    assert.deepEqual(statusEvents(e.events, task.id), [
      'TASK_STAGING',
      'TASK_STARTING',
      'TASK_RUNNING',
      'TASK_KILLING',
      'TASK_KILLED',
    ]);
    await waitFor('container removed', async () => (await driver.inspect(ref)) === undefined);
  });

  it('an image that is not available: TASK_FAILED with the reason', async () => {
    await e.client.createApp({
      id: '/docker/missing',
      instances: 1,
      cpus: 0.1,
      mem: 16,
      container: { type: 'DOCKER', docker: { image: `127.0.0.1:9/theseus/not-there-${run}:local` } },
      backoffSeconds: 60,
    });
    const failed = await waitFor(
      'failed',
      () => e.events.find((ev) => ev.appId === '/docker/missing' && ev.taskStatus === 'TASK_FAILED'),
      20_000,
    );
    assert.match(String(failed.message), new RegExp(`theseus/not-there-${run}:local`));
    assert.deepEqual(statusEvents(e.events, String(failed.taskId)), ['TASK_STAGING', 'TASK_FAILED']);
    await e.client.deleteApp('/docker/missing');
  });

  it('mounts persistent volumes from the data directory and refuses host bind mounts unless allowed', async () => {
    await e.client.createApp({
      id: '/docker/volume',
      instances: 1,
      cpus: 0.1,
      mem: 16,
      cmd: 'echo kept > /mnt/mesos/sandbox/data/file && exec sleep 600',
      container: {
        type: 'DOCKER',
        docker: { image: 'theseus/busybox:local' },
        volumes: [{ containerPath: 'data', mode: 'RW', persistent: { size: 10 } }],
      },
    });
    const task = await waitFor(
      'running',
      () => e.engine.scheduler.tasksOf('/docker/volume').find((t) => t.state === 'TASK_RUNNING'),
      20_000,
    );
    const file = join(e.dataDir, 'volumes', task.id, 'data', 'file');
    await waitFor('file written through the volume', () => existsSync(file) && readFileSync(file, 'utf8') === 'kept\n');
    await e.client.createApp({
      id: '/docker/hostpath',
      instances: 1,
      cpus: 0.1,
      mem: 16,
      cmd: 'sleep 600',
      backoffSeconds: 60,
      container: {
        type: 'DOCKER',
        docker: { image: 'theseus/busybox:local' },
        volumes: [{ containerPath: '/host', hostPath: '/tmp', mode: 'RO' }],
      },
    });
    const refused = await waitFor(
      'refused',
      () => e.events.find((ev) => ev.appId === '/docker/hostpath' && ev.taskStatus === 'TASK_FAILED'),
      20_000,
    );
    assert.match(String(refused.message), /host volumes are not allowed/);
    await e.client.deleteApp('/docker/volume');
    await e.client.deleteApp('/docker/hostpath');
  });

  it('accepts the pre-1.5 form (docker.network + docker.portMappings), answers in the 1.5 form, exits -> TASK_FINISHED / TASK_FAILED', async () => {
    await e.client.createApp({
      id: '/docker/legacy',
      instances: 1,
      cpus: 0.1,
      mem: 16,
      cmd: 'exit 0',
      backoffSeconds: 60,
      container: {
        type: 'DOCKER',
        docker: {
          image: 'theseus/busybox:local',
          network: 'BRIDGE',
          portMappings: [{ containerPort: 80, hostPort: 0 }],
        },
      },
    });
    const app = await e.client.getApp('/docker/legacy');
    assert.deepEqual(app.networks, [{ mode: 'container/bridge' }]);
    assert.equal(app.container?.docker && 'network' in app.container.docker, false);
    assert.equal(app.container?.portMappings?.[0]?.containerPort, 80);
    await waitFor(
      'finished',
      () => e.events.some((ev) => ev.appId === '/docker/legacy' && ev.taskStatus === 'TASK_FINISHED'),
      20_000,
    );
    await e.client.replaceApp(
      {
        id: '/docker/legacy',
        instances: 1,
        cpus: 0.1,
        mem: 16,
        cmd: 'exit 7',
        backoffSeconds: 60,
        container: { type: 'DOCKER', docker: { image: 'theseus/busybox:local' } },
        networks: [{ mode: 'host' }],
      },
      { force: true },
    );
    const failed = await waitFor(
      'failed',
      () => e.events.find((ev) => ev.appId === '/docker/legacy' && ev.taskStatus === 'TASK_FAILED'),
      20_000,
    );
    assert.match(String(failed.message), /status 7/);
    await e.client.deleteApp('/docker/legacy');
  });
});

describe('Docker upgrades, health and backoff', () => {
  let e: TestEngine;
  before(async () => {
    e = await testEngine({ dockerRunner: runner(), containerLabels: { [RUN_LABEL]: run }, cpus: 4, memMb: 4096 });
  });
  after(async () => {
    for (const app of await e.client.listApps()) await e.client.deleteApp(app.id, { force: true });
    await waitFor('tasks gone', () => e.engine.scheduler.tasks.size === 0, 30_000);
    await e.stop();
    await cleanup();
    removeDir(e.dataDir);
  });

  it('rolls an upgrade of containers, waiting for HTTP health, within upgradeStrategy', async () => {
    const created = await e.client.createApp(
      webApp('/docker/roll', {
        instances: 2,
        upgradeStrategy: { minimumHealthCapacity: 0.5, maximumOverCapacity: 0.5 },
      }),
    );
    await waitFor(
      'first deployment',
      async () => !(await e.client.listDeployments()).some((d) => d.id === created.deployments![0]!.id),
      30_000,
    );
    const oldIds = new Set(e.engine.scheduler.tasksOf('/docker/roll').map((t) => t.id));
    const from = e.events.length;
    const update = await e.client.patchApp('/docker/roll', { env: { GREETING: 'bonjour' } });
    await waitFor(
      'upgrade done',
      () => e.events.slice(from).some((ev) => ev.eventType === 'deployment_success' && ev.id === update.deploymentId),
      60_000,
    );
    const { maxPresent, minHealthy } = replayRollout(e.events.slice(from), '/docker/roll', oldIds);
    assert.ok(maxPresent <= 3, `at most 2 * 1.5 = 3 tasks, saw ${maxPresent}`);
    assert.ok(minHealthy >= 1, `at least ceil(2 * 0.5) = 1 healthy, saw ${minHealthy}`);
    const tasks = await e.client.appTasks('/docker/roll');
    assert.equal(tasks.length, 2);
    for (const t of tasks) {
      assert.ok(!oldIds.has(t.id));
      assert.match(await (await fetch(`http://127.0.0.1:${t.ports![0]}/env.txt`)).text(), /^GREETING=bonjour$/m);
    }
  });

  it('kills a container whose HTTP health check keeps failing and launches a replacement', async () => {
    await e.client.createApp(
      webApp('/docker/sick', {
        healthChecks: [
          {
            protocol: 'HTTP',
            path: '/missing',
            portIndex: 0,
            gracePeriodSeconds: 0,
            intervalSeconds: 1,
            timeoutSeconds: 1,
            maxConsecutiveFailures: 2,
          },
        ],
      }),
    );
    const kill = await waitFor(
      'unhealthy kill',
      () => e.events.find((ev) => ev.eventType === 'unhealthy_instance_kill_event' && ev.appId === '/docker/sick'),
      30_000,
    );
    assert.match(String(kill.reason), /404/);
    await waitFor('killed', () => statusEvents(e.events, String(kill.taskId)).includes('TASK_KILLED'), 20_000);
    await waitFor(
      'replacement',
      () => e.engine.scheduler.tasksOf('/docker/sick').some((t) => t.id !== kill.taskId),
      20_000,
    );
    await e.client.deleteApp('/docker/sick');
  });

  it("runs COMMAND health checks inside the container with the task's environment: healthy once the container has the file", async () => {
    const ready = `/tmp/ready-${run}`;
    assert.equal(existsSync(ready), false, 'the file the check looks for exists only in the container');
    const check = `test -f ${ready} && test "$MARATHON_APP_ID" = /docker/command && test -n "$MESOS_TASK_ID" && test -n "$PORT0" && test "$PORT_HTTP" = "$PORT0" && test "$GREETING" = hello`;
    // the container creates the file once the test opens the gate (a file in its persistent volume)
    await e.client.createApp(
      webApp('/docker/command', {
        cmd: `until [ -f /mnt/mesos/sandbox/gate/open ]; do sleep 0.2; done; touch ${ready}; exec sleep 600`,
        container: {
          type: 'DOCKER',
          docker: { image: 'theseus/busybox:local' },
          portMappings: [{ containerPort: 8080, hostPort: 0, name: 'http' }],
          volumes: [{ containerPath: 'gate', mode: 'RW', persistent: { size: 1 } }],
        },
        healthChecks: [
          {
            protocol: 'COMMAND',
            command: { value: check },
            gracePeriodSeconds: 0,
            intervalSeconds: 1,
            timeoutSeconds: 5,
            maxConsecutiveFailures: 0,
          },
        ],
      }),
    );
    const task = await waitFor(
      'a failed check',
      () =>
        e.engine.scheduler
          .tasksOf('/docker/command')
          .find((t) => (t.healthCheckResults[0]?.consecutiveFailures ?? 0) > 0),
      30_000,
    );
    assert.equal(task.healthCheckResults[0]!.lastFailureCause, 'command exited with status 1');
    assert.equal((await e.client.getApp('/docker/command')).tasksHealthy, 0);
    writeFileSync(join(e.dataDir, 'volumes', task.id, 'gate', 'open'), '');
    const app = await waitFor(
      'healthy',
      async () => {
        const a = await e.client.getApp('/docker/command');
        return a.tasksHealthy === 1 ? a : undefined;
      },
      30_000,
    );
    assert.equal(app.tasks![0]!.id, task.id);
    assert.equal(app.tasks![0]!.healthCheckResults![0]!.alive, true);
    await e.client.deleteApp('/docker/command');
  });

  it('a COMMAND check of a file on the host but not in the container fails, and the task is killed after maxConsecutiveFailures', async () => {
    const hostOnly = join(e.dataDir, `host-only-${run}`);
    writeFileSync(hostOnly, 'on the host');
    await e.client.createApp(
      webApp('/docker/host-file', {
        healthChecks: [
          {
            protocol: 'COMMAND',
            command: { value: `test -f ${hostOnly}` },
            gracePeriodSeconds: 0,
            intervalSeconds: 1,
            timeoutSeconds: 5,
            maxConsecutiveFailures: 2,
          },
        ],
      }),
    );
    const kill = await waitFor(
      'unhealthy kill',
      () => e.events.find((ev) => ev.eventType === 'unhealthy_instance_kill_event' && ev.appId === '/docker/host-file'),
      30_000,
    );
    assert.match(String(kill.reason), /^COMMAND health check failed 2 times: command exited with status 1$/);
    assert.equal(existsSync(hostOnly), true);
    await waitFor('killed', () => statusEvents(e.events, String(kill.taskId)).includes('TASK_KILLED'), 20_000);
    await e.client.deleteApp('/docker/host-file');
  });

  it('a COMMAND check that outlasts timeoutSeconds fails as timed out', async () => {
    await e.client.createApp(
      webApp('/docker/slow-check', {
        healthChecks: [
          {
            protocol: 'COMMAND',
            command: { value: 'sleep 25' },
            gracePeriodSeconds: 0,
            intervalSeconds: 1,
            timeoutSeconds: 1,
            maxConsecutiveFailures: 1,
          },
        ],
      }),
    );
    const kill = await waitFor(
      'unhealthy kill',
      () =>
        e.events.find((ev) => ev.eventType === 'unhealthy_instance_kill_event' && ev.appId === '/docker/slow-check'),
      30_000,
    );
    assert.match(String(kill.reason), /^COMMAND health check failed 1 times: command did not end within 1 s$/);
    await e.client.deleteApp('/docker/slow-check');
  });

  it('relaunches a crashing container with backoff', async () => {
    await e.client.createApp({
      id: '/docker/crash',
      instances: 1,
      cpus: 0.1,
      mem: 16,
      cmd: 'exit 1',
      container: { type: 'DOCKER', docker: { image: 'theseus/busybox:local' } },
      portDefinitions: [],
      backoffSeconds: 0.3,
      backoffFactor: 2,
      maxLaunchDelaySeconds: 1,
    });
    const delays: number[] = [];
    const stop = e.engine.bus.subscribe((ev) => {
      if (ev.eventType === 'status_update_event' && ev.appId === '/docker/crash' && ev.taskStatus === 'TASK_FAILED')
        queueMicrotask(() => delays.push(e.engine.scheduler.delays.get('/docker/crash')!.delayMs));
    });
    await waitFor('three failures', () => delays.length >= 3, 30_000);
    stop();
    assert.deepEqual(delays.slice(0, 3), [300, 600, 1000]);
    await e.client.deleteApp('/docker/crash');
  });
});

describe('Docker restart adoption', () => {
  it('adopts the running container after a restart: same task, same container, no duplicate', async () => {
    const options = { dockerRunner: runner(), containerLabels: { [RUN_LABEL]: run } };
    const first = await testEngine(options);
    try {
      await first.client.createApp(webApp('/adopt/web', { healthChecks: [] }));
      await waitFor(
        'running',
        () => first.engine.scheduler.tasksOf('/adopt/web').some((t) => t.state === 'TASK_RUNNING'),
        30_000,
      );
    } finally {
      await first.stop();
    }
    const [task] = first.engine.scheduler.tasksOf('/adopt/web');
    const containers = await driver.list({ [RUN_LABEL]: run, 'theseus.engine.app-id': '/adopt/web' });
    assert.equal(containers.length, 1);
    assert.equal(containers[0]!.state, 'running', 'the container outlives the engine');
    const second = await testEngine(options, first.dataDir);
    try {
      const tasks = await second.client.appTasks('/adopt/web');
      assert.deepEqual(
        tasks.map((t) => t.id),
        [task!.id],
      );
      assert.equal(tasks[0]!.state, 'TASK_RUNNING');
      assert.equal(second.engine.task(task!.id)!.ref, containers[0]!.id);
      await new Promise((r) => setTimeout(r, 700));
      assert.equal(
        (await driver.list({ [RUN_LABEL]: run, 'theseus.engine.app-id': '/adopt/web' })).length,
        1,
        'nothing launched twice',
      );
      await second.client.deleteApp('/adopt/web');
      await waitFor('stopped', () => second.engine.scheduler.tasks.size === 0, 20_000);
      assert.deepEqual(statusEvents(second.events, task!.id), ['TASK_KILLING', 'TASK_KILLED']);
    } finally {
      await second.stop();
      removeDir(first.dataDir);
      await cleanup();
    }
  });
});
