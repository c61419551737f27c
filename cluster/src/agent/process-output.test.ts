/**
 * Host-process tasks (engine.allowHostCommands): their output reaches the sandbox's rotated
 * `stdout`/`stderr` through the detached sandbox logger, and the files API serves it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, testEngine, waitFor, type TestEngine } from '../test-support.js';

const limits = { maxFileBytes: 64 * 1024, maxFiles: 2 };

describe('host-process task output', () => {
  let e: TestEngine;
  before(async () => {
    e = await testEngine({ taskLogs: limits });
  });
  after(async () => {
    for (const app of await e.client.listApps()) await e.client.deleteApp(app.id, { force: true });
    await waitFor('tasks gone', () => e.engine.scheduler.tasks.size === 0, 30_000).catch(() => undefined);
    await e.stop();
    removeDir(e.dataDir);
  });

  it('is rotated in the sandbox by size and count, and read through the files API', async () => {
    await e.client.createApp({
      id: '/logs/process',
      instances: 1,
      cpus: 0.1,
      mem: 32,
      cmd: 'echo starting >&2; yes 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde | head -c 1048576; echo the-end; sleep 600',
    });
    const task = await waitFor(
      'running',
      () => e.engine.scheduler.tasksOf('/logs/process').find((t) => t.state === 'TASK_RUNNING'),
      30_000,
    );
    const dir = task.spec.sandbox;
    await waitFor(
      'the last line in stdout',
      () => {
        try {
          return readFileSync(join(dir, 'stdout'), 'utf8').endsWith('the-end\n');
        } catch {
          return false;
        }
      },
      30_000,
    );
    assert.deepEqual(
      readdirSync(dir)
        .filter((n) => n.startsWith('stdout'))
        .sort(),
      ['stdout', 'stdout.1', 'stdout.2'],
    );
    for (const n of ['stdout', 'stdout.1', 'stdout.2'])
      assert.ok(statSync(join(dir, n)).size <= limits.maxFileBytes, `${n}: ${statSync(join(dir, n)).size} bytes`);
    assert.equal(readFileSync(join(dir, 'stderr'), 'utf8'), 'starting\n');
    const read = (await (
      await fetch(`${e.url}/files/read?path=${encodeURIComponent(`${dir}/stderr`)}&offset=0`)
    ).json()) as unknown;
    assert.deepEqual(read, { data: 'starting\n', offset: 0 });
  });
});
