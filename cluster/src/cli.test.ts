/** `theseus engine` as a user runs it: the built bin, a real process, signals and exit codes. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MarathonClient } from '@theseus/services';
import { randomRange, removeDir, waitFor } from './test-support.js';

const bin = fileURLToPath(new URL('../../bin/theseus.js', import.meta.url));

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(MARATHON_|ETCD_|REDIS_|THESEUS_|LOG_|ENGINE_)/.test(k)),
  );
  return { ...clean, LOG_FORMAT: 'json', ...extra };
}

/** Starts the engine and resolves with its URL once it listens. */
function startEngineProcess(
  args: string[],
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, [bin, 'engine', ...args], {
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c) => (output += c));
  child.stderr!.on('data', (c) => (output += c));
  return waitFor(
    'engine listening',
    () => {
      const line = output.split('\n').find((l) => l.includes('engine listening'));
      return line
        ? { child, url: (JSON.parse(line) as { url: string }).url, output: () => output }
        : child.exitCode !== null
          ? Promise.reject(new Error(output))
          : undefined;
    },
    30_000,
  );
}

function stopped(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) =>
    child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code)),
  );
}

describe('theseus engine', () => {
  it('rejects a bad flag with one clear line', () => {
    const result = spawnSync(process.execPath, [bin, 'engine', '--port', 'eighty'], {
      env: cleanEnv({}),
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.notEqual(result.status, 0);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(result.stderr, /--port must be a port number/);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
  });

  it('serves on --port with --data-dir, stops on SIGTERM leaving tasks running, and adopts them when started again', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'theseus-engine-cli-'));
    const [min, max] = randomRange();
    const env = { ENGINE_PORT_RANGE: `${min}-${max}` };
    const first = await startEngineProcess(['--port', '0', '--data-dir', dataDir, '--allow-host-commands'], env);
    let second: Awaited<ReturnType<typeof startEngineProcess>> | undefined;
    try {
      const warning = first
        .output()
        .split('\n')
        .find((l) => l.includes('run as processes on this host'));
      assert.equal(
        warning && (JSON.parse(warning) as { level: string }).level,
        'warn',
        'running host commands is announced at start',
      );
      const client = new MarathonClient({ urls: [first.url] });
      await client.createApp({ id: '/cli/sleeper', cmd: 'sleep 600', instances: 1, cpus: 0.1, mem: 16 });
      const task = await waitFor('running', async () =>
        (await client.appTasks('/cli/sleeper')).find((t) => t.state === 'TASK_RUNNING'),
      );
      const port = Number(new URL(first.url).port);
      const busy = spawnSync(
        process.execPath,
        [bin, 'engine', '--port', String(port), '--data-dir', mkdtempSync(join(tmpdir(), 'theseus-engine-cli-'))],
        { env: cleanEnv(env), encoding: 'utf8', timeout: 30_000 },
      );
      assert.equal(busy.status, 1);
      assert.match(busy.stderr, /port is already in use/);
      first.child.kill('SIGTERM');
      assert.equal(await stopped(first.child), 0);
      const state = JSON.parse(readFileSync(join(dataDir, 'state.json'), 'utf8')) as {
        tasks: Array<{ id: string; ref: string }>;
      };
      const pid = Number(state.tasks.find((t) => t.id === task.id)!.ref);
      assert.doesNotThrow(() => process.kill(pid, 0), 'the task outlives the engine');
      second = await startEngineProcess(['--port', '0', '--data-dir', dataDir, '--allow-host-commands'], env);
      const again = new MarathonClient({ urls: [second.url] });
      const tasks = await again.appTasks('/cli/sleeper');
      assert.deepEqual(
        tasks.map((t) => [t.id, t.state]),
        [[task.id, 'TASK_RUNNING']],
      );
      await again.deleteApp('/cli/sleeper');
      await waitFor('task gone', async () => (await again.listApps()).length === 0);
    } finally {
      first.child.kill('SIGTERM');
      if (second) {
        second.child.kill('SIGTERM');
        await stopped(second.child);
      }
      removeDir(dataDir);
    }
  });
});

describe('theseus engine with a damaged data directory', () => {
  it('refuses to start with one line naming the state file', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'theseus-engine-cli-'));
    try {
      writeFileSync(join(dataDir, 'state.json'), '{"engineId": "x", "apps": [');
      const result = spawnSync(process.execPath, [bin, 'engine', '--port', '0', '--data-dir', dataDir], {
        env: cleanEnv({}),
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(result.status, 1);
      assert.match(result.stderr, /the engine state .*state\.json cannot be read: not valid JSON/);
      assert.doesNotMatch(result.stderr, /\n\s+at /);
    } finally {
      removeDir(dataDir);
    }
  });
});
