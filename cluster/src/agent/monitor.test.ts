/** `GET /monitor/statistics` of the engine against the real Docker Engine: busy containers and an OOM kill. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { MarathonApp } from '@theseus/services';
import { DockerDriver } from '@theseus/containerizer';
import { DockerRunner } from '../tasks/docker-runner.js';
import { destroyTestEngine, quietLogger, testEngine, waitFor, type TestEngine } from '../test-support.js';
import type { MonitorEntry } from './monitor.js';

const RUN_LABEL = 'theseus.test.run';
const run = randomUUID().slice(0, 8);
const driver = new DockerDriver();
const MB = 1024 * 1024;

function busybox(id: string, cmd: string, mem: number, extra: Partial<MarathonApp> = {}): MarathonApp {
  return {
    id,
    instances: 1,
    cpus: 0.2,
    mem,
    cmd,
    container: { type: 'DOCKER', docker: { image: 'theseus/busybox:local' } },
    taskKillGracePeriodSeconds: 0,
    ...extra,
  };
}

describe('resource statistics of Docker tasks', () => {
  let e: TestEngine;
  const statistics = async (): Promise<MonitorEntry[]> => {
    const res = await fetch(`${e.url}/monitor/statistics`);
    assert.equal(res.status, 200);
    return (await res.json()) as MonitorEntry[];
  };
  const entryOf = async (appId: string) => {
    const [task] = await e.client.appTasks(appId);
    if (!task || task.state !== 'TASK_RUNNING') return undefined;
    return (await statistics()).find((s) => s.executor_id === task.id);
  };

  before(async () => {
    e = await testEngine({
      dockerRunner: new DockerRunner(driver, quietLogger(), 'never'),
      containerLabels: { [RUN_LABEL]: run },
      cpus: 4,
      memMb: 4096,
    });
  });
  after(async () => {
    await destroyTestEngine(e);
    // the Engine may refuse to remove a container just ended by the OOM killer at first ("Dead")
    await waitFor('containers removed', async () => {
      const left = await driver.list({ [RUN_LABEL]: run });
      for (const c of left)
        await driver.remove(c.id).catch((err: unknown) => console.error('removing', c.id, String(err)));
      return left.length === 0;
    });
  });

  it('reports CPU seconds that grow for a CPU loop, with the limits the task was given', async () => {
    await e.client.createApp(busybox('/usage/cpu', 'while :; do :; done', 32, { cpus: 0.5 }));
    const first = await waitFor('a sample of the CPU loop', () => entryOf('/usage/cpu'));
    assert.equal(first.framework_id, `${e.engine.engineId}-0000`);
    assert.equal(first.source, first.executor_id);
    assert.match(first.executor_name, /^Command Executor \(Task: /);
    assert.equal(first.statistics.mem_limit_bytes, 32 * MB);
    assert.equal(first.statistics.cpus_limit, 0.5);
    const cpu = (s: MonitorEntry) => s.statistics.cpus_user_time_secs + s.statistics.cpus_system_time_secs;
    const later = await waitFor('CPU seconds to grow by half a second', async () => {
      const now = await entryOf('/usage/cpu');
      return now && cpu(now) >= cpu(first) + 0.5 ? now : undefined;
    });
    assert.ok(later.statistics.timestamp > first.statistics.timestamp);
    assert.equal(later.statistics.mem_oom_kills, 0);
  });

  it('reports the resident memory of a process holding 60 MB of its 64 MB', async () => {
    await e.client.createApp(busybox('/usage/mem', 'dd if=/dev/zero bs=60M count=1 | sleep 3600', 64));
    const entry = await waitFor('60 MB resident', async () => {
      const s = await entryOf('/usage/mem');
      return s && s.statistics.mem_rss_bytes >= 60 * MB ? s : undefined;
    });
    assert.equal(entry.statistics.mem_limit_bytes, 64 * MB);
    assert.ok(entry.statistics.mem_rss_bytes < 64 * MB);
    assert.ok((entry.statistics.mem_total_bytes ?? 0) >= entry.statistics.mem_rss_bytes);
  });

  it('counts a process of a task killed for exceeding the memory limit', async () => {
    await e.client.createApp(
      busybox('/usage/oom', 'while :; do head -c 64m /dev/zero | tail > /dev/null; sleep 1; done', 24),
    );
    const entry = await waitFor('an OOM kill', async () => {
      const s = await entryOf('/usage/oom');
      return s && (s.statistics.mem_oom_kills ?? 0) >= 1 ? s : undefined;
    });
    assert.equal(entry.statistics.mem_limit_bytes, 24 * MB);
    const [task] = await e.client.appTasks('/usage/oom');
    assert.equal(task?.state, 'TASK_RUNNING', 'the task itself survives the kill of one of its processes');
  });

  it('answers under the older .json name too, and lists no ended task', async () => {
    await e.client.deleteApp('/usage/cpu', { force: true });
    await waitFor(
      'the CPU loop gone',
      async () => (await e.client.appTasks('/usage/cpu').catch(() => [])).length === 0,
    );
    const slaves = (await (await fetch(`${e.url}/master/slaves`)).json()) as { slaves: Array<{ pid: string }> };
    assert.equal(
      slaves.slaves[0]?.pid,
      `slave(1)@${new URL(e.url).host}`,
      'the agent API answers where the master does',
    );
    const res = await fetch(`${e.url}/monitor/statistics.json`);
    const entries = (await res.json()) as MonitorEntry[];
    assert.equal(entries.length, 2);
    assert.ok(entries.every((s) => !s.executor_id.startsWith('usage_cpu.')));
  });
});

describe('resource statistics of process tasks', () => {
  let e: TestEngine;
  before(async () => {
    e = await testEngine();
  });
  after(() => destroyTestEngine(e));

  it('sums CPU seconds and resident memory over the task process group; the limit is its allocation', async () => {
    await e.client.createApp({ id: '/usage/loop', instances: 1, cpus: 0.1, mem: 16, cmd: 'while :; do :; done' });
    const entry = await waitFor('a second of CPU', async () => {
      const [task] = await e.client.appTasks('/usage/loop');
      const res = await fetch(`${e.url}/monitor/statistics`);
      const s = ((await res.json()) as MonitorEntry[]).find((x) => x.executor_id === task?.id);
      return s && s.statistics.cpus_user_time_secs + s.statistics.cpus_system_time_secs >= 1 ? s : undefined;
    });
    assert.ok(entry.statistics.mem_rss_bytes > 0);
    assert.equal(entry.statistics.mem_limit_bytes, 16 * MB);
    assert.equal(entry.statistics.cpus_limit, 0.1);
    assert.equal(entry.statistics.mem_oom_kills, undefined);
  });
});
