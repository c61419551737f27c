/**
 * `theseus subscriber` as a real process (bin/theseus.js, built sources): SIGKILL mid-stream, then a
 * restart; the HTTP surface of a running process.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { InProcessEngine } from '@theseus/cluster/testing';
import { freePort } from '@theseus/services/testing';
import {
  clearPrefix,
  startMarathon,
  ETCD_ENDPOINTS,
  etcdView,
  marathonView,
  randomPrefix,
  theseusApp,
  until,
  untilInSync,
} from './testing/harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TOKEN = 'test-token-0123456789abcdef';
const children: ChildProcess[] = [];
let marathon: InProcessEngine;
const prefix = randomPrefix();

before(() => {
  // The CLI runs the built sources.
  execFileSync(process.execPath, [`${ROOT}node_modules/typescript/bin/tsc`, '-b', 'subscriber'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
});
after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await marathon?.close();
  await clearPrefix(prefix);
});

async function startProcess(
  port: number,
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(
    process.execPath,
    [`${ROOT}bin/theseus.js`, 'subscriber', '--port', String(port), '--host', '127.0.0.1'],
    {
      env: {
        ...process.env,
        MARATHON_URL: marathon.url,
        ETCD_ENDPOINTS: ETCD_ENDPOINTS.join(','),
        THESEUS_ETCD_PREFIX: prefix,
        THESEUS_CLUSTER: 'test',
        THESEUS_API_TOKEN: TOKEN,
        SUBSCRIBER_LEADER_TTL_S: '2',
        STREAM_IDLE_TIMEOUT_MS: '3000',
        RECONCILE_INTERVAL_MS: '0',
        LOG_FORMAT: 'json',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  await until(async () => {
    if (child.exitCode !== null) throw new Error(`subscriber exited ${child.exitCode}:\n${output}`);
    return (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok ?? false;
  }, 'subscriber process to answer');
  return { child, output: () => output };
}

async function readyz(port: number): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

test('SIGKILL mid-stream, then restart: etcd equals Marathon after the reconcile at start', async () => {
  marathon = await startMarathon(500);
  const app = await marathon.putApp(theseusApp({ namespace: 'default', service: 'web', labels: [] }));
  const port = await freePort();
  const first = await startProcess(port);
  await until(async () => (await readyz(port)).body.role === 'leader', 'process elected');

  // A steady flow of events; the process dies in the middle of it.
  let flowing = true;
  const started: string[] = [];
  const flow = (async () => {
    for (let i = 0; flowing && i < 400; i++) {
      const task = await marathon.startTask(app.id);
      started.push(task.id);
      if (i % 3 === 2) await marathon.setTaskState(started[i - 1]!, 'TASK_KILLED');
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  await until(async () => (await etcdView(prefix)).size >= 5, 'some events written');
  first.child.kill('SIGKILL');
  await once(first.child, 'exit');
  await new Promise((r) => setTimeout(r, 300)); // events keep coming with nobody listening
  flowing = false;
  await flow;
  await marathon.startTask(app.id, { silent: true });

  const second = await startProcess(port);
  await until(
    async () => {
      const r = await readyz(port);
      return r.status === 200 && r.body.role === 'leader' && r.body.lastReconcile !== undefined;
    },
    'restarted process leading and reconciled',
    30_000,
  );
  assert.deepEqual([...(await etcdView(prefix))].sort(), [...marathonView(marathon, prefix)].sort());
  assert.ok(marathonView(marathon, prefix).size > 5);

  // Events flow into the restarted process.
  await marathon.startTask(app.id);
  await untilInSync(marathon, prefix);

  // The HTTP surface of the running process.
  const base = `http://127.0.0.1:${port}`;
  assert.equal((await fetch(`${base}/cleanup`, { method: 'POST' })).status, 401);
  const cleanup = await fetch(`${base}/cleanup`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } });
  assert.equal(cleanup.status, 200);
  const counts = (await cleanup.json()) as Record<string, number>;
  assert.deepEqual([counts.added, counts.fixed, counts.removed], [0, 0, 0]);
  assert.equal(counts.tasks, marathon.tasks().length);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /theseus_subscriber_events_total\{type="status_update_event"\} \d+/);
  assert.match(metrics, /theseus_subscriber_event_to_etcd_seconds_bucket/);
  assert.match(metrics, /theseus_subscriber_reconciles_total\{outcome="ok"\} [1-9]/);
  // Events come from the stream: there is no callback route to post forged ones to.
  assert.equal(
    (
      await fetch(`${base}/callback?token=${TOKEN}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{}',
      })
    ).status,
    404,
  );

  // Marathon unreachable: not ready (stream detached), and still alive.
  await marathon.down();
  await until(async () => (await readyz(port)).status === 503, 'not ready without Marathon');
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
  await marathon.up();
  await until(async () => (await readyz(port)).status === 200, 'ready again');

  second.child.kill('SIGTERM');
  const [code] = await once(second.child, 'exit');
  assert.equal(code, 0, second.output().slice(-2000));
  assert.doesNotMatch(second.output(), /at .*\.(js|ts):\d+/, 'no stack traces in the logs');
  await untilInSync(marathon, prefix);
});

test('a heap budget it cannot run in is refused with what to set', async () => {
  marathon ??= await startMarathon(500);
  const child = spawn(process.execPath, [`${ROOT}bin/theseus.js`, 'subscriber', '--heap-mb', '20'], {
    env: {
      ...process.env,
      MARATHON_URL: marathon.url,
      ETCD_ENDPOINTS: ETCD_ENDPOINTS.join(','),
      THESEUS_ETCD_PREFIX: prefix,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const [code] = await once(child, 'exit');
  assert.notEqual(code, 0);
  assert.match(output, /--heap-mb: must be 0 or a whole number of MB from 64 up/);
  assert.doesNotMatch(output, /at .*\.(js|ts):\d+/, 'no stack trace');
});

test('discovery over HTTP: open and said so without a container user; with one, only its credentials are let through', async () => {
  marathon ??= await startMarathon(500);
  const openPort = await freePort();
  const open = await startProcess(openPort);
  assert.equal((await fetch(`http://127.0.0.1:${openPort}/v2/tasks`)).status, 200);
  assert.match(open.output(), /discovery \(GET \/v1\/endpoints, \/v2\/tasks\) answers without credentials/);

  const port = await freePort();
  const guarded = await startProcess(port, { THESEUS_CONTAINER_ETCD_USERNAME: 'theseus-container' });
  assert.equal((await fetch(`http://127.0.0.1:${port}/v2/tasks`)).status, 401);
  const basic = `Basic ${Buffer.from('theseus-deployer:whatever').toString('base64')}`;
  assert.equal((await fetch(`http://127.0.0.1:${port}/v2/tasks`, { headers: { Authorization: basic } })).status, 401);
  // This etcd has no authentication: the password cannot be checked, and nothing is answered.
  const asContainer = `Basic ${Buffer.from('theseus-container:whatever').toString('base64')}`;
  const unchecked = await fetch(`http://127.0.0.1:${port}/v1/endpoints/default/web`, {
    headers: { Authorization: asContainer },
  });
  assert.equal(unchecked.status, 503);
  assert.doesNotMatch(guarded.output(), /answers without credentials/);
  for (const { child } of [open, guarded]) {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
});
