/**
 * `theseus logs` and `GET /services/:name/logs` as a user runs them, against the deployer and the
 * engine (Docker tasks) as `theseus` processes: the deployer finds each task's agent through the
 * engine's `/master/slaves`, its sandbox through the agent's `/state`, and reads it through the
 * files API, as it would on a Mesos cluster.
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

const service = `logs-${randomBytes(3).toString('hex')}`;
const appPath = `theseus/default/${service}--it`;
// each instance counts on stdout, 5 lines a second, and says one line on stderr
const doc = `deploy:\n  ${service}: {image: theseus/busybox:local, labels: [it], cmd: "echo started >&2; i=0; while true; do i=$((i+1)); echo line $i; sleep 0.2; done", cpus: 0.1, mem: 16, instances: 3, killGracePeriod: 0}\n`;

/** Line numbers of each instance in `text` ("[abcd1234] line 7"), in the order they were printed. */
function linesByInstance(text: string): Map<string, number[]> {
  const seen = new Map<string, number[]>();
  for (const line of text.split('\n')) {
    const m = /^\[([0-9a-f]{8})\] line (\d+)$/.exec(line);
    if (!m) continue;
    seen.set(m[1]!, [...(seen.get(m[1]!) ?? []), Number(m[2])]);
  }
  return seen;
}

describe('theseus logs', () => {
  let parts: EngineAndDeployer;
  const dataDir = mkdtempSync(join(tmpdir(), 'theseus-logs-'));

  before(async () => {
    parts = await startEngineAndDeployer(dataDir, (engineUrl) => ({
      MESOS_MASTER_URL: engineUrl,
      THESEUS_LOG_POLL_MS: '200',
    }));
    const res = await fetch(`${parts.deployerUrl}/deploy?wait=true&timeout=120`, {
      method: 'POST',
      headers: { ...parts.auth, 'Content-Type': 'application/yaml' },
      body: doc,
    });
    const record = (await res.json()) as { state: string };
    assert.equal(record.state, 'succeeded', JSON.stringify(record));
  });

  after(async () => {
    await fetch(`${parts.engineUrl}/v2/apps/${appPath}?force=true`, { method: 'DELETE' }).catch(() => undefined);
    await eventually(
      'the tasks gone',
      async () =>
        ((await (await fetch(`${parts.engineUrl}/v2/tasks`)).json()) as { tasks: unknown[] }).tasks.length === 0,
      30_000,
    ).catch(() => undefined);
    await parts?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  function theseus(args: string[]) {
    const child = spawn(process.execPath, [THESEUS_BIN, ...args], {
      env: { ...process.env, THESEUS_URL: parts.deployerUrl, THESEUS_API_TOKEN: parts.token },
    });
    const output = { stdout: '', stderr: '' };
    child.stdout.on('data', (c: Buffer) => (output.stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output.stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, output, exited };
  }

  test('--follow merges the lines of all three instances while they write, in order per instance; Ctrl-C ends it', async () => {
    const run = theseus(['logs', service, '--labels', 'it', '--follow', '--tail', '2']);
    // 20 new lines of each instance arrive while following
    await eventually(
      'lines of all three instances',
      async () => {
        const seen = linesByInstance(run.output.stdout);
        return seen.size === 3 && [...seen.values()].every((n) => n.length >= 22);
      },
      60_000,
    );
    run.child.kill('SIGINT');
    assert.equal(await run.exited, 0, run.output.stderr);
    const tasks = (
      (await (await fetch(`${parts.engineUrl}/v2/apps/${appPath}/tasks`)).json()) as { tasks: Array<{ id: string }> }
    ).tasks;
    const seen = linesByInstance(run.output.stdout);
    assert.deepEqual(
      [...seen.keys()].sort(),
      tasks.map((t) => /instance-([0-9a-f]{8})/.exec(t.id)![1]!).sort(),
      'one prefix per instance',
    );
    for (const [id, numbers] of seen) {
      const first = numbers[0]!;
      assert.deepEqual(
        numbers,
        numbers.map((_, i) => first + i),
        `${id}: every line once, in order`,
      );
    }
    for (const line of run.output.stdout.split('\n').filter(Boolean))
      assert.match(line, /^\[[0-9a-f]{8}\] line \d+$/, 'whole lines, each prefixed');
  });

  test('--tail, --instance and --stderr; --since is refused with the reason', async () => {
    const tail = theseus(['logs', service, '-l', 'it', '--tail', '3']);
    assert.equal(await tail.exited, 0, tail.output.stderr);
    const seen = linesByInstance(tail.output.stdout);
    assert.equal(seen.size, 3, tail.output.stdout);
    for (const numbers of seen.values()) assert.equal(numbers.length, 3, tail.output.stdout);

    const one = [...seen.keys()][0]!;
    const only = theseus(['logs', service, '-l', 'it', '--tail', '1', '--instance', one]);
    assert.equal(await only.exited, 0, only.output.stderr);
    assert.deepEqual([...linesByInstance(only.output.stdout).keys()], [one]);

    const stderr = theseus(['logs', service, '-l', 'it', '--stderr']);
    assert.equal(await stderr.exited, 0, stderr.output.stderr);
    assert.deepEqual(
      stderr.output.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.replace(/^\[[0-9a-f]{8}\] /, '')),
      ['started', 'started', 'started'],
    );

    const since = theseus(['logs', service, '-l', 'it', '--since', '10m']);
    assert.notEqual(await since.exited, 0);
    assert.match(since.output.stderr, /timestamps/);
    assert.doesNotMatch(since.output.stderr, /\n\s+at /, 'no stack trace');

    const res = await fetch(`${parts.deployerUrl}/services/${service}/logs?labels=it&tail=-4`, { headers: parts.auth });
    assert.equal(res.status, 422);
    assert.match(
      ((await res.json()) as { error: { problems: Array<{ path: string }> } }).error.problems[0]!.path,
      /tail/,
    );
    const unknown = await fetch(`${parts.deployerUrl}/services/${service}/logs?labels=it&instance=nothing`, {
      headers: parts.auth,
    });
    assert.equal(unknown.status, 404);
  });
});
