/**
 * Marathon's request rules as Jersey applies them, against a real engine running local-process
 * tasks: boolean query parameters, `embed`, 415 for non-JSON bodies, text/plain task lists, task
 * kills, leader, queue and writing groups.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { destroyTestEngine, testEngine, waitFor, type TestEngine } from '../test-support.js';

const JSON_TYPE = { 'Content-Type': 'application/json' };

describe('Marathon request rules', () => {
  let e: TestEngine;
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = JSON_TYPE) => {
    const res = await fetch(e.url + path, {
      method,
      headers,
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return {
      status: res.status,
      text,
      json: json as Record<string, unknown> & { [k: string]: any },
      type: res.headers.get('content-type') ?? '',
      headers: res.headers,
    };
  };
  const settled = (what: string) => waitFor(what, async () => (await e.client.listDeployments()).length === 0);

  before(async () => {
    e = await testEngine({ cpus: 4, memMb: 4096 });
  });
  after(() => destroyTestEngine(e));

  it('reads boolean query parameters as Java does: "true" in any case; first value; blank = the default', async () => {
    // a deployment that cannot finish (not enough cpus) keeps the app locked
    await e.client.createApp({ id: '/rules/locked', cmd: 'sleep 600', instances: 2, cpus: 3, mem: 16 });
    await waitFor('one task running', async () => (await e.client.appTasks('/rules/locked')).length === 1);
    for (const value of ['false', 'yes', '1', 'tru', 'False']) {
      const res = await call('PUT', `/v2/apps/rules/locked?force=${value}`, { instances: 1 });
      assert.equal(res.status, 409, `force=${value} is false`);
    }
    assert.equal(
      (await call('PUT', '/v2/apps/rules/locked?force=', { instances: 1 })).status,
      409,
      'blank: the default (false)',
    );
    assert.equal(
      (await call('PUT', '/v2/apps/rules/locked?force=false&force=true', { instances: 1 })).status,
      409,
      'the first value counts',
    );
    for (const value of ['True', 'TRUE', 'tRuE']) {
      const res = await call('PUT', `/v2/apps/rules/locked?force=${value}`, {
        instances: 2,
        cpus: 3,
        mem: 16 + Number(value === 'TRUE'),
      });
      assert.equal(res.status, 200, `force=${value} is true: ${res.text}`);
    }
    // DELETE defaults to force=true: a blank value keeps that default
    const deleted = await call('DELETE', '/v2/apps/rules/locked?force=');
    assert.equal(deleted.status, 200, deleted.text);
    await settled('locked app removed');
  });

  it('partialUpdate=False replaces the whole definition', async () => {
    await e.client.createApp({
      id: '/rules/partial',
      cmd: 'sleep 600',
      instances: 0,
      cpus: 0.1,
      mem: 16,
      env: { KEEP: '1' },
    });
    await settled('created');
    assert.equal(
      (
        await call('PUT', '/v2/apps/rules/partial?partialUpdate=False', {
          cmd: 'sleep 601',
          instances: 0,
          cpus: 0.1,
          mem: 16,
        })
      ).status,
      200,
    );
    assert.equal((await e.client.getApp('/rules/partial')).env?.KEEP, undefined);
    assert.equal((await call('PUT', '/v2/apps/rules/partial?partialUpdate=TRUE', { env: { KEEP: '2' } })).status, 200);
    assert.equal((await e.client.getApp('/rules/partial')).cmd, 'sleep 601');
    await settled('updated');
  });

  it("takes embed values repeated, comma-separated and with any of Marathon's prefixes", async () => {
    await e.client.createApp({
      id: '/rules/embed',
      cmd: 'sleep 600',
      instances: 1,
      cpus: 0.1,
      mem: 16,
      portDefinitions: [],
    });
    await waitFor('running', async () => (await e.client.appTasks('/rules/embed'))[0]?.state === 'TASK_RUNNING');
    const appOf = async (query: string) =>
      ((await call('GET', `/v2/apps?id=/rules/embed&${query}`)).json.apps as Array<Record<string, unknown>>)[0]!;
    assert.equal('tasks' in (await appOf('')), false);
    assert.equal(((await appOf('embed=apps.tasks')).tasks as unknown[]).length, 1);
    assert.equal(((await appOf('embed=app.tasks')).tasks as unknown[]).length, 1, 'the app. prefix');
    assert.equal(((await appOf('embed=tasks')).tasks as unknown[]).length, 1, 'no prefix');
    assert.equal(((await appOf('embed=apps.counts&embed=app.tasks')).tasks as unknown[]).length, 1, 'repeated');
    assert.equal(((await appOf('embed=apps.counts,apps.tasks')).tasks as unknown[]).length, 1, 'comma-separated');
    const failures = await appOf('embed=apps.failures');
    assert.ok(
      Array.isArray(failures.tasks) && Array.isArray(failures.deployments),
      'failures = tasks, lastTaskFailure, deployments',
    );
    assert.deepEqual((await appOf('embed=apps.readiness')).readinessCheckResults, [], 'no readiness checks running');
    assert.equal('readinessCheckResults' in (await appOf('')), false);
    assert.equal((await call('GET', '/v2/apps?embed=apps.nonsense')).status, 200, 'unknown values are ignored');
    const grouped = (await call('GET', '/v2/groups/rules?embed=group.apps&embed=group.apps.tasks')).json as {
      apps: Array<{ id: string; tasks?: unknown[] }>;
      groups: unknown[];
    };
    assert.equal(
      grouped.apps.find((a) => a.id === '/rules/embed')!.tasks!.length,
      1,
      'group.apps. embeds into group answers',
    );
    assert.deepEqual(grouped.groups, [], 'group.groups not asked for');
    const plain = (await call('GET', '/v2/groups/rules')).json as { apps: Array<{ id: string; tasks?: unknown[] }> };
    assert.equal(
      'tasks' in plain.apps.find((a) => a.id === '/rules/embed')!,
      false,
      'no embed: apps and groups, no tasks',
    );
    assert.deepEqual(
      (await call('GET', '/v2/groups/rules?embed=group.groups')).json.apps,
      [],
      'group.apps not asked for',
    );
  });

  it('GET /v2/apps/{group}/* answers the group\'s apps as {"*": [...]}, with tasks', async () => {
    const inGroup = (await call('GET', '/v2/apps/rules/*')).json['*'] as Array<{ id: string; tasks: unknown[] }>;
    assert.ok(
      inGroup.some((a) => a.id === '/rules/embed' && a.tasks.length === 1),
      JSON.stringify(inGroup),
    );
    assert.ok(inGroup.every((a) => a.id.startsWith('/rules/')));
    assert.ok(((await call('GET', '/v2/apps/*')).json['*'] as unknown[]).length >= inGroup.length);
    const missing = await call('GET', '/v2/apps/nothing/*');
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.json, { message: "Group '/nothing' does not exist" });
  });

  it('GET /v2/tasks?status= filters by running or staging, in any case', async () => {
    const running = (await call('GET', '/v2/tasks?status=RUNNING')).json.tasks as Array<{ state: string }>;
    assert.ok(running.length > 0 && running.every((t) => t.state === 'TASK_RUNNING'));
    assert.deepEqual((await call('GET', '/v2/tasks?status[]=staging')).json.tasks, []);
  });

  it('filters apps by id and cmd ignoring case', async () => {
    const ids = (await call('GET', '/v2/apps?id=RULES/EMBED')).json.apps.map((a: { id: string }) => a.id);
    assert.deepEqual(ids, ['/rules/embed']);
    assert.ok(
      (await call('GET', '/v2/apps?cmd=SLEEP%20600')).json.apps.some((a: { id: string }) => a.id === '/rules/embed'),
    );
  });

  it('refuses a body that is not JSON with 415 "Unsupported Media Type" where Marathon consumes JSON', async () => {
    const body = JSON.stringify({ id: '/rules/typed', cmd: 'sleep 600', instances: 0 });
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const res = await call('POST', '/v2/apps', body, { 'Content-Type': type });
      assert.equal(res.status, 415, type);
      assert.deepEqual(res.json, { message: 'Unsupported Media Type' });
    }
    assert.equal(
      (
        await call('POST', '/v2/apps/rules/embed/restart', undefined, {
          'Content-Type': 'application/x-www-form-urlencoded',
        })
      ).status,
      415,
    );
    assert.equal((await call('POST', '/v2/tasks/delete', { ids: [] }, { 'Content-Type': 'text/plain' })).status, 415);
    assert.equal(
      (await call('POST', '/v2/apps', body, { 'Content-Type': 'application/json; charset=utf-8' })).status,
      201,
    );
    assert.equal(
      (await call('DELETE', '/v2/apps/rules/typed', undefined, {})).status,
      200,
      'no Content-Type at all is accepted',
    );
    await settled('typed app removed');
  });

  it("lists tasks as text/plain in Marathon's form: app, service port, host:port, tab-separated", async () => {
    await e.client.createApp({
      id: '/rules/txt',
      cmd: 'sleep 600',
      instances: 2,
      cpus: 0.1,
      mem: 16,
      portDefinitions: [{ port: 0 }, { port: 0 }],
    });
    await waitFor(
      'two running',
      async () => (await e.client.appTasks('/rules/txt')).filter((t) => t.state === 'TASK_RUNNING').length === 2,
    );
    const app = await e.client.getApp('/rules/txt');
    const servicePorts = app.portDefinitions!.map((p) => p.port!);
    const tasks = await e.client.appTasks('/rules/txt');
    const expected = servicePorts
      .map((sp, i) => `rules_txt\t${sp}\t${tasks.map((t) => `${t.host}:${t.ports![i]}\t`).join('')}\n`)
      .join('');
    const own = await call('GET', '/v2/apps/rules/txt/tasks', undefined, { Accept: 'text/plain' });
    assert.match(own.type, /^text\/plain/);
    assert.equal(own.text, expected);
    const all = await call('GET', '/v2/tasks', undefined, { Accept: 'text/plain' });
    assert.ok(all.text.includes(expected), all.text);
    assert.ok(
      all.text.split('\n').includes('rules_embed\t \t127.0.0.1\t'),
      'an app without ports: id, a blank, its hosts',
    );
    assert.ok(
      Array.isArray((await call('GET', '/v2/tasks', undefined, { Accept: 'text/plain, application/json' })).json.tasks),
      'JSON wins a tie',
    );
    assert.ok(Array.isArray((await call('GET', '/v2/tasks', undefined, {})).json.tasks));
  });

  it('POST /v2/tasks/delete: a list of ids; scale lowers instances; scale with wipe is a 400', async () => {
    const tasks = await e.client.appTasks('/rules/txt');
    const both = await call('POST', '/v2/tasks/delete?scale=true&wipe=true', { ids: [tasks[0]!.id] });
    assert.equal(both.status, 400);
    assert.deepEqual(both.json, { message: 'You cannot use scale and wipe at the same time.' });
    const wiped = await call('POST', '/v2/tasks/delete?wipe=True', {
      ids: [tasks[0]!.id, 'rules_txt.instance-00000000-0000-0000-0000-000000000000._app.1'],
    });
    assert.equal(wiped.status, 200);
    assert.deepEqual(
      wiped.json.tasks.map((t: { id: string }) => t.id),
      [tasks[0]!.id],
      'unknown ids are left out',
    );
    const malformed = await call('POST', '/v2/tasks/delete', { ids: ['nonsense'] });
    assert.equal(malformed.status, 400);
    assert.match(malformed.json.message, /^Invalid task id 'nonsense'\. /);
    const scaled = await call('POST', '/v2/tasks/delete?scale=True', { ids: [tasks[1]!.id] });
    assert.equal(scaled.status, 200, scaled.text);
    assert.equal(typeof scaled.json.deploymentId, 'string');
    await settled('scaled');
    assert.equal((await e.client.getApp('/rules/txt')).instances, 1);
    assert.equal((await call('DELETE', `/v2/apps/rules/txt/tasks?scale=true&wipe=true`)).status, 400);
  });

  it('leader: GET names it, DELETE abdicates (the engine is elected again)', async () => {
    const leader = await call('GET', '/v2/leader');
    assert.match(leader.json.leader, /^127\.0\.0\.1:\d+$/);
    const abdicated = await call('DELETE', '/v2/leader');
    assert.equal(abdicated.status, 200);
    assert.deepEqual(abdicated.json, { message: 'Leadership abdicated' });
    assert.deepEqual((await call('GET', '/v2/leader')).json, leader.json);
  });

  it('queue: lastUnusedOffers only with embed=lastUnusedOffers', async () => {
    await e.client.createApp({ id: '/rules/waiting', cmd: 'sleep 600', instances: 1, cpus: 100, mem: 16 });
    const entry = async (query: string) =>
      (await call('GET', `/v2/queue${query}`)).json.queue.find(
        (q: { app: { id: string } }) => q.app.id === '/rules/waiting',
      );
    const plain = await waitFor('queued', () => entry(''));
    assert.equal('lastUnusedOffers' in plain, false);
    assert.deepEqual((await entry('?embed=lastUnusedOffers')).lastUnusedOffers, []);
    assert.equal((await call('DELETE', '/v2/queue/rules/waiting/delay')).status, 204);
    const notQueued = await call('DELETE', '/v2/queue/rules/embed/delay');
    assert.equal(notQueued.status, 404, 'an app with every instance launched is not in the queue');
    assert.deepEqual(notQueued.json, { message: 'Application /rules/embed not found in tasks queue.' });
    await e.client.deleteApp('/rules/waiting', { force: true });
    await settled('waiting app removed');
  });

  it('DELETE /v2/queue/{app}/delay relaunches a backed-off app at once', async () => {
    await e.client.createApp({
      id: '/rules/crash',
      cmd: 'exit 1',
      instances: 1,
      cpus: 0.1,
      mem: 16,
      backoffSeconds: 3600,
    });
    const failures = () =>
      e.events.filter(
        (ev) =>
          ev.eventType === 'status_update_event' && ev.appId === '/rules/crash' && ev.taskStatus === 'TASK_FAILED',
      ).length;
    await waitFor('first failure', () => failures() === 1);
    const queued = await waitFor('queued with its delay', async () =>
      (await call('GET', '/v2/queue')).json.queue.find((q: { app: { id: string } }) => q.app.id === '/rules/crash'),
    );
    assert.ok(queued.delay.timeLeftSeconds > 3000, JSON.stringify(queued.delay));
    assert.equal((await call('DELETE', '/v2/queue/rules/crash/delay')).status, 204);
    await waitFor('relaunched (and failed again) without waiting the hour', () => failures() === 2);
    await e.client.deleteApp('/rules/crash', { force: true });
    await settled('crash app removed');
  });

  it('groups: POST creates (201, 409 when it exists), PUT sets the apps (relative ids), scaleBy scales, DELETE removes', async () => {
    const app = (id: string, extra: Record<string, unknown> = {}) => ({
      id,
      cmd: 'sleep 600',
      instances: 1,
      cpus: 0.1,
      mem: 16,
      ...extra,
    });
    const created = await call('POST', '/v2/groups', {
      id: '/shop',
      apps: [app('web')],
      groups: [{ id: 'db', apps: [app('/shop/db/main')] }],
    });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.headers.get('marathon-deployment-id'), created.json.deploymentId);
    assert.equal(created.headers.get('location'), `${e.url}/shop`);
    assert.equal(typeof created.json.version, 'string');
    await settled('group created');
    const tree = (await call('GET', '/v2/groups/shop')).json as {
      apps: Array<{ id: string }>;
      groups: Array<{ id: string; apps: Array<{ id: string }> }>;
    };
    assert.deepEqual(
      tree.apps.map((a) => a.id),
      ['/shop/web'],
    );
    assert.deepEqual(
      tree.groups.map((g) => [g.id, g.apps.map((a) => a.id)]),
      [['/shop/db', ['/shop/db/main']]],
    );
    const again = await call('POST', '/v2/groups', { id: 'shop' });
    assert.equal(again.status, 409);
    assert.deepEqual(again.json, { message: 'Group /shop is already created. Use PUT to change this group.' });

    // apps given: exactly these; groups left out: kept
    const put = await call('PUT', '/v2/groups/shop', { apps: [app('web', { mem: 32 }), app('api')] });
    assert.equal(put.status, 200, put.text);
    await settled('group updated');
    const ids = (await e.client.listApps())
      .map((a) => a.id)
      .filter((id) => id.startsWith('/shop'))
      .sort();
    assert.deepEqual(ids, ['/shop/api', '/shop/db/main', '/shop/web']);
    assert.equal((await e.client.getApp('/shop/web')).mem, 32);

    const scaled = await call('PUT', '/v2/groups/shop?force=True', { scaleBy: 1.5 });
    assert.equal(scaled.status, 200, scaled.text);
    await settled('group scaled');
    assert.deepEqual(
      await Promise.all(ids.map(async (id) => (await e.client.getApp(id)).instances)),
      [2, 2, 2],
      'ceil(1 × 1.5)',
    );

    // groups given: exactly these
    assert.equal((await call('PUT', '/v2/groups/shop', { groups: [] })).status, 200);
    await settled('subgroups removed');
    assert.equal(e.engine.apps.get('/shop/db/main'), undefined);

    const invalid = await call('PUT', '/v2/groups/shop', { apps: [{ id: 'bad', cmd: 'x', instances: -1 }] });
    assert.equal(invalid.status, 422);
    assert.equal(e.engine.apps.get('/shop/web')?.mem, 32, 'nothing changed on a refusal');

    const removed = await call('DELETE', '/v2/groups/shop');
    assert.equal(removed.status, 200);
    await settled('group removed');
    assert.equal((await call('GET', '/v2/groups/shop')).status, 404);
    assert.equal((await call('DELETE', '/v2/groups/shop')).status, 404);
  });
});
