/** Task states and events, backoff, health-check kills, rolling upgrades and restart adoption, with local-process tasks. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  destroyTestEngine,
  removeDir,
  replayRollout,
  statusEvents,
  testEngine,
  waitFor,
  type TestEngine,
} from '../test-support.js';

const small = { cpus: 0.1, mem: 16 };

describe('task lifecycle (local processes)', () => {
  let e: TestEngine;
  before(async () => {
    e = await testEngine({ cpus: 8, memMb: 8192 });
  });
  after(() => destroyTestEngine(e));

  it('STAGING -> STARTING -> RUNNING -> FINISHED, each a status_update_event and instance_changed_event with Marathon fields', async () => {
    await e.client.createApp({ id: '/life/finish', cmd: 'sleep 0.3', instances: 1, ...small, backoffSeconds: 60 });
    const finished = await waitFor('finished', () =>
      e.events.find(
        (ev) =>
          ev.eventType === 'status_update_event' && ev.appId === '/life/finish' && ev.taskStatus === 'TASK_FINISHED',
      ),
    );
    const taskId = String(finished.taskId);
    assert.deepEqual(statusEvents(e.events, taskId), [
      'TASK_STAGING',
      'TASK_STARTING',
      'TASK_RUNNING',
      'TASK_FINISHED',
    ]);
    const running = e.events.find((ev) => ev.taskId === taskId && ev.taskStatus === 'TASK_RUNNING')!;
    for (const field of [
      'slaveId',
      'taskId',
      'taskStatus',
      'message',
      'appId',
      'host',
      'ipAddresses',
      'ports',
      'version',
      'timestamp',
    ])
      assert.ok(field in running, `${field} missing`);
    assert.equal((running.ports as number[]).length, 1);
    const conditions = e.events
      .filter(
        (ev) => ev.eventType === 'instance_changed_event' && String(ev.instanceId) === taskId.replace(/\._app\.1$/, ''),
      )
      .map((ev) => ev.condition);
    assert.deepEqual(conditions, ['Staging', 'Starting', 'Running', 'Finished']);
  });

  it('a failing task is TASK_FAILED and relaunched with a growing backoff (backoffSeconds * backoffFactor^n, capped)', async () => {
    await e.client.createApp({
      id: '/life/crash',
      cmd: 'exit 3',
      instances: 1,
      ...small,
      backoffSeconds: 0.2,
      backoffFactor: 2,
      maxLaunchDelaySeconds: 0.8,
    });
    const delays: number[] = [];
    const stop = e.engine.bus.subscribe((ev) => {
      if (ev.eventType === 'status_update_event' && ev.appId === '/life/crash' && ev.taskStatus === 'TASK_FAILED') {
        queueMicrotask(() => delays.push(e.engine.scheduler.delays.get('/life/crash')!.delayMs));
      }
    });
    await waitFor('four failures', () => delays.length >= 4, 20_000);
    stop();
    assert.deepEqual(delays.slice(0, 4), [200, 400, 800, 800]);
    const failed = e.events.find((ev) => ev.appId === '/life/crash' && ev.taskStatus === 'TASK_FAILED')!;
    assert.equal(failed.message, 'Command exited with status 3');
    const app = await e.client.getApp('/life/crash');
    assert.equal((app.lastTaskFailure as { state: string }).state, 'TASK_FAILED');
    const queue = (await (await fetch(`${e.url}/v2/queue`)).json()) as {
      queue: Array<{ app: { id: string }; delay: { timeLeftSeconds: number } }>;
    };
    assert.ok(queue.queue.some((q) => q.app.id === '/life/crash'));
    const scaled = await e.client.patchApp('/life/crash', { instances: 0 }); // a scale keeps the delay
    await waitFor(
      'scaled to 0',
      async () => !(await e.client.listDeployments()).some((d) => d.id === scaled.deploymentId),
    );
    assert.equal(e.engine.scheduler.delays.has('/life/crash'), true);
    // scaled to 0 the app is not in the queue: Marathon resets only the delay of a launch it waits for
    const reset = await fetch(`${e.url}/v2/queue/life/crash/delay`, { method: 'DELETE' });
    assert.equal(reset.status, 404);
    assert.equal(e.engine.scheduler.delays.has('/life/crash'), true);
    await e.client.deleteApp('/life/crash');
  });

  it('kills a task after maxConsecutiveFailures of its health check (unhealthy_instance_kill_event) and replaces it', async () => {
    await e.client.createApp({
      id: '/life/sick',
      cmd: 'sleep 600',
      instances: 1,
      ...small,
      healthChecks: [
        {
          protocol: 'COMMAND',
          command: { value: 'test -f healthy' },
          gracePeriodSeconds: 0,
          intervalSeconds: 1,
          timeoutSeconds: 1,
          maxConsecutiveFailures: 2,
        },
      ],
    });
    const kill = await waitFor(
      'unhealthy kill',
      () => e.events.find((ev) => ev.eventType === 'unhealthy_instance_kill_event' && ev.appId === '/life/sick'),
      20_000,
    );
    const taskId = String(kill.taskId);
    await waitFor('killed', () => statusEvents(e.events, taskId).includes('TASK_KILLED'));
    assert.deepEqual(statusEvents(e.events, taskId).slice(-2), ['TASK_KILLING', 'TASK_KILLED']);
    const changes = e.events.filter(
      (ev) => ev.eventType === 'health_status_changed_event' && ev.instanceId === taskId.replace(/\._app\.1$/, ''),
    );
    assert.equal(changes[0]!.alive, false);
    assert.ok(
      e.events.filter((ev) => ev.eventType === 'failed_health_check_event' && ev.appId === '/life/sick').length >= 2,
    );
    await waitFor('replacement', () =>
      e.engine.scheduler.tasksOf('/life/sick').some((t) => t.id !== taskId && t.state === 'TASK_RUNNING'),
    );
    await e.client.deleteApp('/life/sick');
  });

  it('HTTP health checks fill healthCheckResults and tasksHealthy', async () => {
    // a one-line HTTP server on $PORT0, through node (always on this machine)
    const server = `exec node -e "require('http').createServer((q,s)=>s.end('ok')).listen(process.env.PORT0)"`;
    await e.client.createApp({
      id: '/life/web',
      cmd: server,
      instances: 1,
      ...small,
      healthChecks: [
        { protocol: 'HTTP', path: '/', portIndex: 0, gracePeriodSeconds: 10, intervalSeconds: 1, timeoutSeconds: 1 },
      ],
    });
    const app = await waitFor('healthy', async () => {
      const a = await e.client.getApp('/life/web');
      return a.tasksHealthy === 1 ? a : undefined;
    });
    const result = app.tasks![0]!.healthCheckResults![0]!;
    assert.equal(result.alive, true);
    assert.equal(result.consecutiveFailures, 0);
    assert.match(String(result.lastSuccess), /Z$/);
    assert.ok(
      e.events.some(
        (ev) => ev.eventType === 'health_status_changed_event' && ev.appId === '/life/web' && ev.alive === true,
      ),
    );
  });

  it('a deployment waits for readiness checks and shows their results in /v2/deployments', async () => {
    // ready once a file named `ready` exists in the task's sandbox (its working directory)
    const server = `exec node -e "require('http').createServer((q,s)=>{s.statusCode=require('fs').existsSync('ready')?200:503;s.end()}).listen(process.env.PORT_HTTP_API)"`;
    const created = await e.client.createApp({
      id: '/life/ready',
      cmd: server,
      instances: 1,
      ...small,
      portDefinitions: [{ port: 0, name: 'http-api' }],
      readinessChecks: [
        {
          name: 'ready',
          protocol: 'HTTP',
          path: '/',
          portName: 'http-api',
          intervalSeconds: 1,
          timeoutSeconds: 1,
          httpStatusCodesForReady: [200],
        },
      ],
    });
    const deploymentId = created.deployments![0]!.id;
    const waiting = await waitFor('a readiness result', async () => {
      const d = (await e.client.listDeployments()).find((x) => x.id === deploymentId);
      const results = (d?.currentActions[0]?.readinessCheckResults ?? []) as Array<{
        name: string;
        taskId: string;
        ready: boolean;
        lastResponse?: { status: number };
      }>;
      return results[0]?.lastResponse ? results : undefined; // (before the server listens there is no response yet)
    });
    assert.equal(waiting[0]!.ready, false);
    assert.equal(waiting[0]!.lastResponse?.status, 503);
    assert.ok(
      (await e.client.listDeployments()).some((d) => d.id === deploymentId),
      'not ready: the deployment goes on',
    );
    const embedded = (await (await fetch(`${e.url}/v2/apps/life/ready?embed=app.readiness`)).json()) as {
      app: { readinessCheckResults: Array<{ taskId: string; ready: boolean }> };
    };
    assert.deepEqual(
      embedded.app.readinessCheckResults.map((r) => [r.taskId, r.ready]),
      [[waiting[0]!.taskId, false]],
      'embed=app.readiness',
    );
    writeFileSync(join(e.dataDir, 'sandboxes', waiting[0]!.taskId, 'ready'), '');
    await waitFor(
      'deployment done once ready',
      async () => !(await e.client.listDeployments()).some((d) => d.id === deploymentId),
    );
    await e.client.deleteApp('/life/ready');
  });

  it('rolls an upgrade per upgradeStrategy, never below minimumHealthCapacity nor above maximumOverCapacity', async () => {
    const check = {
      protocol: 'COMMAND' as const,
      command: { value: 'true' },
      gracePeriodSeconds: 5,
      intervalSeconds: 1,
      timeoutSeconds: 1,
      maxConsecutiveFailures: 3,
    };
    const created = await e.client.createApp({
      id: '/life/roll',
      cmd: 'sleep 600',
      instances: 3,
      ...small,
      healthChecks: [check],
      upgradeStrategy: { minimumHealthCapacity: 0.6, maximumOverCapacity: 0.34 },
    });
    await waitFor(
      'first deployment',
      async () => !(await e.client.listDeployments()).some((d) => d.id === created.deployments![0]!.id),
      20_000,
    );
    const oldIds = new Set(e.engine.scheduler.tasksOf('/life/roll').map((t) => t.id));
    const from = e.events.length;
    const update = await e.client.patchApp('/life/roll', { cmd: 'sleep 601' });
    await waitFor(
      'upgrade done',
      () => e.events.slice(from).some((ev) => ev.eventType === 'deployment_success' && ev.id === update.deploymentId),
      30_000,
    );
    const { maxPresent, minHealthy } = replayRollout(e.events.slice(from), '/life/roll', oldIds);
    assert.ok(maxPresent <= 4, `at most 3 * 1.34 = 4 tasks, saw ${maxPresent}`);
    assert.ok(minHealthy >= 2, `at least ceil(3 * 0.6) = 2 healthy, saw ${minHealthy}`);
    const now = e.engine.scheduler.tasksOf('/life/roll');
    assert.equal(now.length, 3);
    assert.ok(now.every((t) => !oldIds.has(t.id) && t.version === update.version));
    const info = e.events.find(
      (ev) => ev.eventType === 'deployment_info' && (ev.plan as { id: string }).id === update.deploymentId,
    )!;
    assert.deepEqual((info.currentStep as { actions: unknown[] }).actions, [
      { action: 'RestartApplication', app: '/life/roll' },
    ]);
  });
});

describe('restart adoption (local processes)', () => {
  it('keeps tasks running across an engine restart and adopts them instead of duplicating', async () => {
    const first = await testEngine();
    await first.client.createApp({ id: '/adopt/p', cmd: 'sleep 600', instances: 2, ...small });
    await first.client.createApp({
      id: '/adopt/short',
      cmd: 'sleep 1; exit 4',
      instances: 1,
      ...small,
      backoffSeconds: 60,
    });
    await waitFor(
      'running',
      () => first.engine.scheduler.tasksOf('/adopt/p').filter((t) => t.state === 'TASK_RUNNING').length === 2,
    );
    const short = await waitFor('short running', () =>
      first.engine.scheduler.tasksOf('/adopt/short').find((t) => t.state === 'TASK_RUNNING'),
    );
    const before = first.engine.scheduler.tasksOf('/adopt/p').map((t) => ({ id: t.id, pid: Number(t.ref) }));
    await first.stop();
    await waitFor('short task ended while the engine was down', () => ended(Number(short.ref)));
    for (const t of before) assert.ok(existsSync(`/proc/${t.pid}`), 'the process outlives the engine');
    const second = await testEngine({}, first.dataDir);
    try {
      const tasks = await second.client.appTasks('/adopt/p');
      assert.deepEqual(tasks.map((t) => t.id).sort(), before.map((t) => t.id).sort());
      assert.ok(tasks.every((t) => t.state === 'TASK_RUNNING'));
      await new Promise((r) => setTimeout(r, 700)); // a reconcile pass: nothing may be launched twice
      assert.equal(second.engine.scheduler.tasksOf('/adopt/p').length, 2);
      assert.equal(statusEvents(second.events).filter((s) => s === 'TASK_STAGING').length, 0);
      // the task that ended meanwhile is reported with its real exit
      const failure = (await second.client.getApp('/adopt/short')).lastTaskFailure as {
        taskId: string;
        state: string;
        message: string;
      };
      assert.deepEqual(
        [failure.taskId, failure.state, failure.message],
        [short.id, 'TASK_FAILED', 'Command exited with status 4'],
      );
      await second.client.deleteApp('/adopt/short');
      // adopted tasks are still under control: a kill reaches the process
      await second.client.killTasks([before[0]!.id]);
      await waitFor('killed after adoption', () => statusEvents(second.events, before[0]!.id).includes('TASK_KILLED'));
      await waitFor('process gone', () => ended(before[0]!.pid));
      await second.client.deleteApp('/adopt/p');
      await waitFor('all gone', () => second.engine.scheduler.tasks.size === 0);
    } finally {
      await second.stop();
      removeDir(first.dataDir);
    }
  });
});

describe('restart after a crash between start and save', () => {
  it('finds a task whose handle was never saved and adopts it', async () => {
    const first = await testEngine();
    await first.client.createApp({ id: '/crash/p', cmd: 'sleep 600', instances: 1, ...small });
    const task = await waitFor('running', () =>
      first.engine.scheduler.tasksOf('/crash/p').find((t) => t.state === 'TASK_RUNNING'),
    );
    await first.stop();
    // what a crash right after the start leaves: the task saved as STAGING, without its pid
    const path = join(first.dataDir, 'state.json');
    const state = JSON.parse(readFileSync(path, 'utf8')) as { tasks: Array<Record<string, unknown>> };
    for (const t of state.tasks) {
      delete t.ref;
      t.state = 'TASK_STAGING';
    }
    writeFileSync(path, JSON.stringify(state));
    const second = await testEngine({}, first.dataDir);
    try {
      const tasks = await second.client.appTasks('/crash/p');
      assert.deepEqual(
        tasks.map((t) => [t.id, t.state]),
        [[task.id, 'TASK_RUNNING']],
      );
      assert.equal(second.engine.task(task.id)!.ref, task.ref);
      await second.client.deleteApp('/crash/p');
      await waitFor('gone', () => second.engine.scheduler.tasks.size === 0);
      await waitFor('process ended', () => ended(Number(task.ref)));
    } finally {
      await second.stop();
      removeDir(first.dataDir);
    }
  });
});

/** Whether a process is gone (or only a zombie waiting for its parent). */
function ended(pid: number): boolean {
  try {
    return /\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}
