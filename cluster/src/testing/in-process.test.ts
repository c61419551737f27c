/** The scripted runner and the fault layer, through the engine's own HTTP API as clients see it. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { MarathonClient } from '@theseus/services';
import type { MarathonEvent } from '../events/bus.js';
import { InProcessEngine } from './in-process.js';

const engines: InProcessEngine[] = [];
after(async () => {
  for (const e of engines) await e.close();
});

async function start(options: Parameters<typeof InProcessEngine.start>[0] = {}) {
  const e = await InProcessEngine.start(options);
  engines.push(e);
  const events: MarathonEvent[] = [];
  e.engine.bus.subscribe((event) => events.push(event));
  return { e, events, client: new MarathonClient({ urls: [e.url] }) };
}

async function eventually(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const statuses = (events: MarathonEvent[], taskId: string) =>
  events.filter((ev) => ev.eventType === 'status_update_event' && ev.taskId === taskId).map((ev) => ev.taskStatus);

/** Reads an event stream's raw text for `ms`. */
async function readStream(url: string, ms: number): Promise<{ status: number; text: string }> {
  const res = await fetch(`${url}/v2/events`, {
    headers: { Accept: 'text/event-stream' },
    signal: AbortSignal.timeout(ms),
  });
  let text = '';
  try {
    for await (const chunk of res.body!) text += Buffer.from(chunk).toString();
  } catch {
    // the timeout ends the read
  }
  return { status: res.status, text };
}

test('scripted tasks: one that never starts holds its deployment; driven on, the engine reports each state', async () => {
  const { e, events, client } = await start({ script: () => ({ until: 'TASK_STAGING', healthy: undefined }) });
  const created = await client.createApp({
    id: '/held',
    cmd: 'serve',
    instances: 1,
    healthChecks: [{ protocol: 'MESOS_HTTP', path: '/h', portIndex: 0 }],
    portDefinitions: [{ port: 0 }],
  });
  await eventually('a task launched', () => e.runner.taskIds().length === 1);
  const [taskId] = e.runner.taskIds() as [string];
  assert.equal(e.runner.heldAt(taskId), 'TASK_STAGING');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal((await client.listDeployments()).length, 1, 'a task that never starts: the deployment stays');
  assert.equal(e.task(taskId)?.state, 'TASK_STAGING');

  e.runner.advance(taskId, 'TASK_RUNNING');
  await eventually('running', () => e.task(taskId)?.state === 'TASK_RUNNING');
  assert.equal((await client.listDeployments()).length, 1, 'running but not yet healthy');
  e.runner.setHealth(taskId, true);
  await eventually('deployment done', async () => (await client.listDeployments()).length === 0);
  assert.ok(
    events.some(
      (ev) => ev.eventType === 'deployment_success' && (ev.plan as { id: string }).id === created.deployments![0]!.id,
    ),
  );
  assert.deepEqual(statuses(events, taskId), ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING']);
  assert.equal((await client.getApp('/held')).tasksHealthy, 1);
  assert.ok(events.some((ev) => ev.eventType === 'instance_health_changed_event' && ev.healthy === true));

  e.runner.advance(taskId, 'TASK_UNREACHABLE');
  await eventually('unreachable', () => e.task(taskId)?.state === 'TASK_UNREACHABLE');
  e.runner.advance(taskId, 'TASK_FAILED', 'exited with 3');
  await eventually('failed', () => !e.task(taskId));
  assert.deepEqual(statuses(events, taskId).slice(3), ['TASK_UNREACHABLE', 'TASK_FAILED']);
  const withFailure = (await (await fetch(`${e.url}/v2/apps/held?embed=app.lastTaskFailure`)).json()) as {
    app: { lastTaskFailure?: { message: string } };
  };
  assert.equal(withFailure.app.lastTaskFailure?.message, 'exited with 3');
  await eventually('a replacement launched', () => e.runner.taskIds().some((id) => id !== taskId));

  // killed before it ever started
  const replacement = e.runner.taskIds().find((id) => id !== taskId)!;
  await client.deleteApp('/held', { force: true });
  await eventually('app gone', () => !e.engine.apps.get('/held'));
  assert.deepEqual(statuses(events, replacement), ['TASK_STAGING', 'TASK_KILLED']);
});

test('faults: injected answers for a while, a dropped connection, and the schema check as Marathon answers it', async () => {
  const { e, client } = await start();
  e.faults.answer({
    method: 'GET',
    path: /^\/v2\/apps$/,
    status: 503,
    body: { message: 'Could not determine the current leader' },
    times: 2,
  });
  const first = await fetch(`${e.url}/v2/apps`);
  assert.equal(first.status, 503);
  assert.deepEqual(await first.json(), { message: 'Could not determine the current leader' });
  assert.equal((await fetch(`${e.url}/v2/apps`)).status, 503);
  assert.equal((await fetch(`${e.url}/v2/apps`)).status, 200);

  e.faults.answer({
    path: /^\/v2\/apps\//,
    status: 409,
    body: { message: 'App is locked by one or more deployments.' },
    times: Infinity,
  });
  for (let i = 0; i < 3; i++) assert.equal((await fetch(`${e.url}/v2/apps/x`, { method: 'DELETE' })).status, 409);
  e.faults.clearAnswers();
  assert.equal((await fetch(`${e.url}/v2/apps/x`, { method: 'DELETE' })).status, 404);

  e.faults.answer({ path: /^\/v2\/info$/, status: 0, hangUp: true });
  await assert.rejects(fetch(`${e.url}/v2/info`));

  const invalid = await fetch(`${e.url}/v2/apps`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ id: '/bad', cmd: 'x', instances: -1 }),
  });
  assert.equal(invalid.status, 422);
  const body = (await invalid.json()) as { message: string; details: Array<{ path: string; errors: string[] }> };
  assert.equal(body.message, 'Object is not valid');
  assert.deepEqual(
    body.details.map((d) => d.path),
    ['/instances'],
  );
  await client.createApp({ id: '/good', cmd: 'x', instances: 0 });
  assert.deepEqual(
    e.faults.mutations('/good').map((c) => [c.method, c.status]),
    [['POST', 201]],
  );
});

test('faults: events dropped, then delivered late; a silent stream stays open with nothing on it', async () => {
  const { e } = await start({ eventHeartbeatMs: 50 });
  const app = await e.putApp({ id: '/quiet', cmd: 'x' });
  const stream = readStream(e.url, 600);
  await eventually('attached', () => e.faults.streamCount === 1);
  e.faults.dropEvents();
  const missed = await e.startTask(app.id);
  e.faults.deliverEvents(100);
  const seen = await e.startTask(app.id);
  const { text } = await stream;
  assert.doesNotMatch(text, new RegExp(missed.id));
  assert.match(text, new RegExp(`"taskId":"${seen.id}"`));

  e.faults.silent = true;
  const silent = await readStream(e.url, 300);
  assert.equal(silent.status, 200);
  assert.equal(silent.text, '', 'neither the attached event nor heartbeats');
  e.faults.silent = false;
  assert.match((await readStream(e.url, 200)).text, /event_stream_attached[\s\S]*\r\n\r\n\r\n/);
});

test('faults: a standby redirects event streams and proxies the rest; raw events reach streams and callbacks', async () => {
  const { e: leader } = await start();
  const { e: standby } = await start();
  standby.faults.leaderUrl = leader.url;
  await leader.putApp({ id: '/on-leader', cmd: 'x' });
  const redirect = await fetch(`${standby.url}/v2/events?event_type=status_update_event`, {
    redirect: 'manual',
    headers: { Accept: 'text/event-stream' },
  });
  assert.equal(redirect.status, 302);
  assert.equal(redirect.headers.get('location'), `${leader.url}/v2/events?event_type=status_update_event`);
  assert.deepEqual(
    (await new MarathonClient({ urls: [standby.url] }).listApps()).map((a) => a.id),
    ['/on-leader'],
  );

  const received: string[] = [];
  const callback = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push(body);
      res.end();
    });
  });
  callback.listen(0, '127.0.0.1');
  await once(callback, 'listening');
  try {
    await fetch(
      `${leader.url}/v2/eventSubscriptions?callbackUrl=http://127.0.0.1:${(callback.address() as AddressInfo).port}/cb`,
      { method: 'POST' },
    );
    const stream = readStream(leader.url, 500);
    await eventually('attached', () => leader.faults.streamCount === 1);
    const old =
      '{"slaveId":"S6","taskId":"foo.0664256e","taskStatus":"TASK_RUNNING","appId":"/foo","host":"srv4","ports":[31182],"eventType":"status_update_event","timestamp":"2015-09-30T12:47:11.286Z"}';
    leader.faults.publishRaw('status_update_event', old);
    assert.match(
      (await stream).text,
      new RegExp(`event: status_update_event\\r\\ndata: ${old.replace(/[.[\]{}]/g, '\\$&')}\\r\\n`),
    );
    await eventually('callback got it', () => received.includes(old));
  } finally {
    callback.closeAllConnections();
    callback.close();
  }
});
