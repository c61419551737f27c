/**
 * Graceful stops of Docker tasks against the real Docker Engine: TASK_KILLING goes out first, then
 * the container gets SIGTERM and `taskKillGracePeriodSeconds` to end before SIGKILL.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MarathonApp } from '@theseus/services';
import { DockerDriver } from '@theseus/containerizer';
import { DockerRunner } from './docker-runner.js';
import { quietLogger, removeDir, statusEvents, testEngine, waitFor, type TestEngine } from '../test-support.js';

const RUN_LABEL = 'theseus.test.run';
const run = randomUUID().slice(0, 8);
const driver = new DockerDriver();

/**
 * Traps SIGTERM: the handler takes a second to "drain", notes that it ran in the persistent volume
 * and exits 0. Without time to run it, the container ends by SIGKILL (137) and the note is missing.
 */
function drainingApp(id: string, graceSeconds: number): MarathonApp {
  return {
    id,
    instances: 1,
    cpus: 0.1,
    mem: 32,
    cmd: "trap 'sleep 1; echo drained > /mnt/mesos/sandbox/data/handled; exit 0' TERM; echo started > /mnt/mesos/sandbox/data/started; sleep 600 & wait $!",
    container: {
      type: 'DOCKER',
      docker: { image: 'theseus/busybox:local' },
      volumes: [{ containerPath: 'data', mode: 'RW', persistent: { size: 1 } }],
    },
    taskKillGracePeriodSeconds: graceSeconds,
  };
}

describe('graceful stops', () => {
  let e: TestEngine;
  before(async () => {
    e = await testEngine({
      dockerRunner: new DockerRunner(driver, quietLogger(), 'never'),
      containerLabels: { [RUN_LABEL]: run },
      cpus: 4,
      memMb: 4096,
    });
  });
  after(async () => {
    for (const app of await e.client.listApps()) await e.client.deleteApp(app.id, { force: true });
    await waitFor('tasks gone', () => e.engine.scheduler.tasks.size === 0, 30_000).catch(() => {});
    await e.stop();
    for (const c of await driver.list({ [RUN_LABEL]: run })) {
      await driver.stop(c.id, 0).catch(() => {});
      await driver.remove(c.id).catch(() => {});
    }
    removeDir(e.dataDir);
  });

  /** Starts the app, kills its task and answers the task's status updates, the TASK_KILLED message and the volume. */
  async function startAndKill(id: string, graceSeconds: number) {
    await e.client.createApp(drainingApp(id, graceSeconds));
    const task = await waitFor(
      'running',
      () => e.engine.scheduler.tasksOf(id).find((t) => t.state === 'TASK_RUNNING'),
      30_000,
    );
    const volume = join(e.dataDir, 'volumes', task.id, 'data');
    // the trap is set before the note is written
    await waitFor('the task set its trap', () => existsSync(join(volume, 'started')), 20_000);
    await e.client.killTasks([task.id], { scale: true });
    const killed = await waitFor(
      'killed',
      () => e.events.find((ev) => ev.taskId === task.id && ev.taskStatus === 'TASK_KILLED'),
      30_000,
    );
    return { statuses: statusEvents(e.events, task.id), message: String(killed.message), volume };
  }

  it('a task given 5 s of grace runs its SIGTERM handler and exits cleanly', async () => {
    const { statuses, message, volume } = await startAndKill('/grace/five', 5);
    assert.deepEqual(statuses, ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING', 'TASK_KILLED']);
    assert.equal(message, 'Container exited with status 0');
    assert.equal(readFileSync(join(volume, 'handled'), 'utf8'), 'drained\n');
  });

  it('a task given no grace is killed before its handler can finish', async () => {
    const { statuses, message, volume } = await startAndKill('/grace/none', 0);
    assert.deepEqual(statuses, ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING', 'TASK_KILLED']);
    assert.equal(message, 'Container exited with status 137');
    assert.equal(existsSync(join(volume, 'handled')), false);
  });

  it('TASK_KILLING is published while the container still runs', async () => {
    const id = '/grace/order';
    await e.client.createApp(drainingApp(id, 5));
    const task = await waitFor(
      'running',
      () => e.engine.scheduler.tasksOf(id).find((t) => t.state === 'TASK_RUNNING'),
      30_000,
    );
    await waitFor(
      'the task set its trap',
      () => existsSync(join(e.dataDir, 'volumes', task.id, 'data', 'started')),
      20_000,
    );
    const ref = task.ref!;
    let runningAtKilling: boolean | undefined;
    const seen = new Promise<void>((resolve) => {
      const unsubscribe = e.engine.bus.subscribe((ev) => {
        if (ev.eventType !== 'status_update_event' || ev.taskId !== task.id || ev.taskStatus !== 'TASK_KILLING') return;
        unsubscribe();
        void driver.inspect(ref).then((d) => {
          runningAtKilling = d?.running;
          resolve();
        });
      });
    });
    await e.client.killTasks([task.id], { scale: true });
    await seen;
    assert.equal(runningAtKilling, true, 'the container was still running when TASK_KILLING went out');
    await waitFor('killed', () => statusEvents(e.events, task.id).includes('TASK_KILLED'), 30_000);
  });
});
