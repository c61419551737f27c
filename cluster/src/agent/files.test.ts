/**
 * The engine as a Mesos agent, with the real Docker Engine: a task's output lands in its sandbox's
 * rotated `stdout`/`stderr`, the agent's `/state` names the sandbox, and the files API reads it but
 * nothing outside any sandbox.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { DockerDriver } from '@theseus/containerizer';
import { DockerRunner } from '../tasks/docker-runner.js';
import { quietLogger, removeDir, testEngine, waitFor, type TestEngine } from '../test-support.js';

const RUN_LABEL = 'theseus.test.run';
const run = randomUUID().slice(0, 8);
const driver = new DockerDriver();
const MiB = 1024 * 1024;
const limits = { maxFileBytes: 1 * MiB, maxFiles: 3, dockerFileBytes: 10 * MiB };
/** stdout, stdout.1 … stdout.3 */
const STDOUT_LIMIT = limits.maxFileBytes * (limits.maxFiles + 1);

interface AgentState {
  frameworks: Array<{ id: string; executors: Array<{ id: string; directory: string; tasks: Array<{ id: string }> }> }>;
}

describe('engine agent: sandboxes and files API', () => {
  let e: TestEngine;
  const get = (path: string) => fetch(`${e.url}${path}`);
  const getJson = async <T>(path: string): Promise<T> => {
    const res = await get(path);
    assert.equal(res.status, 200, `${path}: ${res.status} ${await res.clone().text()}`);
    return (await res.json()) as T;
  };
  const directoryOf = async (taskId: string) => {
    const state = await getJson<AgentState>('/state');
    return state.frameworks.flatMap((f) => f.executors).find((x) => x.tasks.some((t) => t.id === taskId))?.directory;
  };
  const sandboxBytes = (dir: string, stream: string) =>
    readdirSync(dir)
      .filter((n) => n === stream || n.startsWith(`${stream}.`))
      .reduce((sum, n) => sum + statSync(join(dir, n)).size, 0);

  before(async () => {
    e = await testEngine({
      dockerRunner: new DockerRunner(driver, quietLogger(), 'never', limits),
      containerLabels: { [RUN_LABEL]: run },
      cpus: 4,
      memMb: 4096,
    });
  });
  after(async () => {
    for (const app of await e.client.listApps()) await e.client.deleteApp(app.id, { force: true });
    await waitFor('tasks gone', () => e.engine.scheduler.tasks.size === 0, 30_000).catch(() => undefined);
    await e.stop();
    for (const c of await driver.list({ [RUN_LABEL]: run })) {
      await driver.stop(c.id, 0).catch(() => undefined);
      await driver.remove(c.id).catch(() => undefined);
    }
    removeDir(e.dataDir);
  });

  /** Starts a one-instance Docker app running `cmd`; answers its task and the sandbox the agent's /state names. */
  async function startTask(id: string, cmd: string) {
    await e.client.createApp({
      id,
      instances: 1,
      cpus: 0.2,
      mem: 64,
      cmd,
      container: { type: 'DOCKER', docker: { image: 'theseus/busybox:local' } },
    });
    const task = await waitFor(
      'running',
      () => e.engine.scheduler.tasksOf(id).find((t) => t.state === 'TASK_RUNNING'),
      30_000,
    );
    return { task, dir: await waitFor('the agent names the sandbox', () => directoryOf(task.id)) };
  }

  it('rotation keeps the sandbox under its limit while a task writes 50 MB', async () => {
    const id = '/logs/writer';
    // 50 MiB of 64-byte lines on stdout, then a last line; a line on stderr
    const { dir } = await startTask(
      id,
      'echo starting >&2; yes 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde | head -c 52428800; echo the-end; sleep 600',
    );
    let largest = 0;
    await waitFor(
      'the last line in stdout',
      async () => {
        largest = Math.max(largest, sandboxBytes(dir, 'stdout'));
        const { offset: size } = await getJson<{ offset: number }>(
          `/files/read?path=${encodeURIComponent(`${dir}/stdout`)}&offset=-1`,
        );
        const tail = await getJson<{ data: string }>(
          `/files/read?path=${encodeURIComponent(`${dir}/stdout`)}&offset=${Math.max(0, size - 200)}&length=200`,
        );
        return tail.data.endsWith('the-end\n');
      },
      120_000,
    );
    assert.ok(largest <= STDOUT_LIMIT, `stdout files reached ${largest} bytes, over ${STDOUT_LIMIT}`);
    const names = readdirSync(dir)
      .filter((n) => n.startsWith('stdout'))
      .sort();
    assert.deepEqual(names, ['stdout', 'stdout.1', 'stdout.2', 'stdout.3']);
    for (const n of ['stdout.1', 'stdout.2', 'stdout.3']) {
      const size = statSync(join(dir, n)).size;
      assert.ok(size > limits.maxFileBytes - 100 && size <= limits.maxFileBytes, `${n}: ${size} bytes`);
    }
    const stderr = await getJson<{ data: string; offset: number }>(
      `/files/read?path=${encodeURIComponent(`${dir}/stderr`)}&offset=0`,
    );
    assert.deepEqual(stderr, { data: 'starting\n', offset: 0 });
  });

  it('reads and browses a sandbox under its directory and its virtual path, and nothing outside', async () => {
    const id = '/logs/reader';
    const { task, dir } = await startTask(id, 'echo hello from the sandbox; sleep 600');
    const virtual = `/frameworks/${e.engine.frameworkId}/executors/${task.id}/runs/latest`;
    const debug = await getJson<Record<string, string>>('/files/debug');
    assert.equal(debug[virtual], dir);
    assert.equal(debug[dir], dir);

    await waitFor(
      'output copied',
      async () =>
        (await getJson<{ offset: number }>(`/files/read?path=${encodeURIComponent(`${virtual}/stdout`)}&offset=-1`))
          .offset > 0,
    );
    assert.deepEqual(await getJson(`/files/read?path=${encodeURIComponent(`${virtual}/stdout`)}&offset=-1`), {
      data: '',
      offset: 23,
    });
    assert.deepEqual(await getJson(`/files/read?path=${encodeURIComponent(`${dir}/stdout`)}&offset=6&length=4`), {
      data: 'from',
      offset: 6,
    });
    assert.deepEqual(await getJson(`/files/read?path=${encodeURIComponent(`${dir}/stdout`)}&offset=100`), {
      data: '',
      offset: 23,
    });

    const listing = await getJson<Array<Record<string, unknown>>>(`/files/browse?path=${encodeURIComponent(virtual)}`);
    const stdout = listing.find((f) => f.path === `${virtual}/stdout`);
    assert.ok(stdout, JSON.stringify(listing));
    assert.equal(stdout.size, 23);
    assert.match(String(stdout.mode), /^-rw-r--r--$/);
    for (const key of ['mtime', 'nlink', 'uid', 'gid']) assert.ok(key in stdout, key);

    // what a task could put in its sandbox: a symbolic link out of it
    symlinkSync('/etc', join(dir, 'escape'));
    symlinkSync('/etc/hostname', join(dir, 'hostname'));
    const refusals: Array<[string, number]> = [
      ['/files/read?path=/etc/hostname&offset=0', 404],
      [`/files/read?path=${encodeURIComponent(`${dir}/../../state.json`)}&offset=0`, 404],
      [`/files/read?path=${encodeURIComponent(`${virtual}/../../../../../../etc/hostname`)}&offset=0`, 404],
      [`/files/browse?path=${encodeURIComponent(`${dir}/..`)}`, 404],
      [`/files/browse?path=${encodeURIComponent(`${virtual}/escape`)}`, 403],
      [`/files/read?path=${encodeURIComponent(`${virtual}/escape/hostname`)}&offset=0`, 403],
      [`/files/read?path=${encodeURIComponent(`${dir}/hostname`)}&offset=0`, 403],
      [`/files/download?path=${encodeURIComponent(`${dir}/hostname`)}`, 403],
      [`/files/read?path=${encodeURIComponent(`${dir}/absent`)}&offset=0`, 404],
      [`/files/read?path=${encodeURIComponent(dir)}&offset=0`, 400],
      [`/files/read?path=${encodeURIComponent(`${dir}/stdout`)}&offset=x`, 400],
      ['/files/read?offset=0', 400],
    ];
    for (const [path, status] of refusals) {
      const res = await get(path);
      const body = await res.text();
      assert.equal(res.status, status, `${path}: ${res.status} ${body}`);
      assert.doesNotMatch(body, /root:|at .*\.ts/, `${path} answered ${body}`);
    }
    const download = await get(`/files/download?path=${encodeURIComponent(`${dir}/stdout`)}`);
    assert.equal(await download.text(), 'hello from the sandbox\n');
  });
});
