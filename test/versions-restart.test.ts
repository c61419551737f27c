/**
 * `theseus versions`, `restart` and `rollback --to` as a user runs them, against the deployer and
 * the engine (Docker tasks) as `theseus` processes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, THESEUS_BIN } from './support/processes.js';
import { startEngineAndDeployer, type EngineAndDeployer } from './support/engine-and-deployer.js';

const service = `ver-${randomBytes(3).toString('hex')}`;
const appPath = `theseus/default/${service}--it`;

const doc = (release: string, instances: number) =>
  `deploy:\n  ${service}: {image: theseus/busybox:local, labels: [it], cmd: "exec sleep 600", cpus: 0.1, mem: 16, instances: ${instances}, environment: {RELEASE: "${release}"}, killGracePeriod: 0}\n`;

describe('versions, restart and rollback --to', () => {
  let parts: EngineAndDeployer;
  const dataDir = mkdtempSync(join(tmpdir(), 'theseus-versions-'));

  before(async () => {
    parts = await startEngineAndDeployer(dataDir);
  });

  after(async () => {
    await fetch(`${parts.engineUrl}/v2/apps/${appPath}?force=true`, { method: 'DELETE' }).catch(() => {});
    await eventually(
      'the tasks gone',
      async () =>
        ((await (await fetch(`${parts.engineUrl}/v2/tasks`)).json()) as { tasks: unknown[] }).tasks.length === 0,
      30_000,
    ).catch(() => {});
    await parts?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  function theseus(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [THESEUS_BIN, ...args], {
        env: { ...process.env, THESEUS_URL: parts.deployerUrl, THESEUS_API_TOKEN: parts.token },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
  }

  async function deploy(body: string): Promise<void> {
    const res = await fetch(`${parts.deployerUrl}/deploy?wait=true&timeout=120`, {
      method: 'POST',
      headers: { ...parts.auth, 'Content-Type': 'application/yaml' },
      body,
    });
    const record = (await res.json()) as { state: string };
    assert.equal(record.state, 'succeeded', JSON.stringify(record));
  }

  const engineApp = async () =>
    (
      (await (await fetch(`${parts.engineUrl}/v2/apps/${appPath}`)).json()) as {
        app: { env: Record<string, string>; instances: number; tasks: Array<{ id: string; state: string }> };
      }
    ).app;

  /** `theseus versions` output as [current, version, kind, change lines]. */
  async function versions() {
    const run = await theseus(['versions', service, '--labels', 'it']);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trimEnd().split('\n');
    assert.equal(lines[0], `/${appPath}`);
    const entries: Array<{ current: boolean; version: string; kind: string; changes: string[] }> = [];
    for (const line of lines.slice(1)) {
      const head = /^([* ]) (\S+)  (\S+)$/.exec(line);
      if (head) entries.push({ current: head[1] === '*', version: head[2]!, kind: head[3]!, changes: [] });
      else entries.at(-1)!.changes.push(line.trim());
    }
    return entries;
  }

  test('versions lists each change with what changed; restart replaces every instance; rollback --to returns to a listed version', async () => {
    await deploy(doc('1', 1));
    await deploy(doc('2', 1));
    await deploy(doc('2', 2));

    const listed = await versions();
    assert.deepEqual(
      listed.map((v) => [v.current, v.kind]),
      [
        [true, 'scale'],
        [false, 'change'],
        [false, 'created'],
      ],
    );
    assert.deepEqual(listed[0]!.changes, ['/instances: 1 -> 2']);
    assert.deepEqual(
      listed[1]!.changes,
      ['/env/RELEASE: "(hidden)" -> "(hidden)"'],
      'which variable changed, not its values',
    );
    const first = listed[2]!.version;

    const before = (await engineApp()).tasks.map((t) => t.id);
    assert.equal(before.length, 2);
    const restarted = await theseus(['restart', service, '--labels', 'it', '--wait']);
    assert.equal(restarted.code, 0, restarted.stdout + restarted.stderr);
    assert.match(restarted.stdout, /succeeded .*\(restart\)/);
    const after = await engineApp();
    assert.equal(after.tasks.length, 2);
    assert.ok(
      after.tasks.every((t) => !before.includes(t.id) && t.state === 'TASK_RUNNING'),
      'every instance was replaced',
    );
    assert.equal((await versions())[0]!.kind, 'restart');

    const rolled = await theseus(['rollback', service, '--labels', 'it', '--to', first, '--wait']);
    assert.equal(rolled.code, 0, rolled.stdout + rolled.stderr);
    const back = await engineApp();
    assert.equal(back.env.RELEASE, '1');
    assert.equal(back.instances, 1);
    const now = await versions();
    assert.equal(now[0]!.current, true);
    assert.deepEqual(now[0]!.changes.sort(), ['/env/RELEASE: "(hidden)" -> "(hidden)"', '/instances: 2 -> 1']);
  });

  test('a version that does not exist and a bad limit are refused with what is wrong', async () => {
    const missing = await theseus(['rollback', service, '--labels', 'it', '--to', '2001-01-01T00:00:00.000Z']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /version 2001-01-01T00:00:00.000Z of \/theseus\/default\/.* not found/);
    assert.doesNotMatch(missing.stderr, /\n\s+at /);
    const res = await fetch(`${parts.deployerUrl}/services/${service}/versions?labels=it&limit=lots`, {
      headers: parts.auth,
    });
    assert.equal(res.status, 422);
    assert.match(await res.text(), /limit must be a whole number from 1 to 100/);
  });
});
