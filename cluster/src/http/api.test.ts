/** The REST API against a real engine running local-process tasks: shapes, status codes, errors. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  MarathonConflictError,
  MarathonLockedError,
  MarathonNotFoundError,
  MarathonValidationError,
} from '@theseus/services';
import { appSchemaValidator, exampleApps, INVALID_EXAMPLES, withoutNewerFields } from '../app/schema.test-support.js';
import { destroyTestEngine, removeDir, testEngine, waitFor, type TestEngine } from '../test-support.js';

const RESPONSE_ONLY = [
  'tasks',
  'tasksStaged',
  'tasksRunning',
  'tasksHealthy',
  'tasksUnhealthy',
  'deployments',
  'lastTaskFailure',
];
const JSON_TYPE = { 'Content-Type': 'application/json' };
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function definitionOf(app: Record<string, unknown>): Record<string, unknown> {
  const copy = { ...app };
  for (const k of RESPONSE_ONLY) delete copy[k];
  return withoutNewerFields(copy);
}

describe('engine REST API', () => {
  let e: TestEngine;
  const validate = appSchemaValidator();
  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(e.url + path, { method: 'POST', body, headers: { 'Content-Type': 'application/json', ...headers } });

  before(async () => {
    e = await testEngine({ cpus: 4, memMb: 4096 });
  });
  after(() => destroyTestEngine(e));

  it('creates an app: 201, Location, Marathon-Deployment-Id, counts and deployments; 409 for a duplicate', async () => {
    const res = await post(
      '/v2/apps',
      JSON.stringify({
        id: 'api/one',
        cmd: 'sleep 600',
        instances: 1,
        cpus: 0.1,
        mem: 16,
        labels: { team: 'a', tier: 'web' },
      }),
    );
    assert.equal(res.status, 201);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body.id, '/api/one');
    assert.deepEqual(body.deployments, [{ id: res.headers.get('marathon-deployment-id') }]);
    assert.equal(
      res.headers.get('location'),
      `${e.url}/api/one`,
      "the app id resolved against the server root, as Jersey resolves Marathon's relative location",
    );
    assert.equal(body.tasksRunning, 0);
    assert.equal(
      'env' in body || 'healthChecks' in body || 'constraints' in body,
      false,
      'empty omitEmpty fields are left out',
    );
    assert.match(String(body.version), TIMESTAMP);
    assert.ok(validate(definitionOf(body)), JSON.stringify(validate.errors));
    await assert.rejects(
      e.client.createApp({ id: '/api/one', cmd: 'sleep 1' }),
      (err: unknown) => err instanceof MarathonConflictError && /already exists/.test(err.message),
    );
    await waitFor('deployment done', async () => (await e.client.listDeployments()).length === 0);
  });

  it('lists apps with embed=apps.tasks, label selectors and id filter; every app validates against the schema', async () => {
    await e.client.createApp({
      id: '/api/two',
      cmd: 'sleep 600',
      instances: 0,
      cpus: 0.1,
      mem: 16,
      labels: { team: 'b' },
    });
    const apps = await e.client.listApps({ embed: ['apps.tasks'] });
    const one = apps.find((a) => a.id === '/api/one')!;
    assert.equal(one.tasks?.length, 1);
    const task = one.tasks![0]!;
    assert.match(task.id, /^api_one\.instance-[0-9a-f-]{36}\._app\.1$/);
    assert.equal(task.state, 'TASK_RUNNING');
    assert.match(String(task.startedAt), TIMESTAMP);
    assert.equal(task.ports?.length, 1);
    for (const app of apps) assert.ok(validate(definitionOf(app)), `${app.id}: ${JSON.stringify(validate.errors)}`);
    assert.deepEqual(
      (await e.client.listApps({ label: 'team==b' })).map((a) => a.id),
      ['/api/two'],
    );
    assert.deepEqual(
      (await e.client.listApps({ label: 'team in (a, c),tier' })).map((a) => a.id),
      ['/api/one'],
    );
    assert.deepEqual(
      (await e.client.listApps({ label: 'team!=a' })).map((a) => a.id),
      ['/api/two'],
    );
    assert.deepEqual(
      (await e.client.listApps({ id: 'two' })).map((a) => a.id),
      ['/api/two'],
    );
    const single = await e.client.getApp('/api/one');
    assert.equal(single.tasks?.length, 1, 'GET /v2/apps/{id} always embeds tasks');
  });

  it('the task sees Marathon environment variables', async () => {
    const task = (await e.client.appTasks('/api/one'))[0]!;
    const environ = (await import('node:fs'))
      .readFileSync(`/proc/${e.engine.task(task.id)!.ref}/environ`, 'utf8')
      .split('\0');
    for (const expected of [
      `MESOS_TASK_ID=${task.id}`,
      `PORT0=${task.ports![0]}`,
      `PORT_DEFAULT=${task.ports![0]}`,
      'MARATHON_APP_ID=/api/one',
      'MARATHON_APP_LABEL_TEAM=a',
      'HOST=127.0.0.1',
    ]) {
      assert.ok(environ.includes(expected), `${expected} missing`);
    }
  });

  it('PUT creates (201) or updates (200) with {version, deploymentId}; PATCH changes only given fields; versions are kept', async () => {
    const created = await fetch(`${e.url}/v2/apps/api/three`, {
      method: 'PUT',
      body: JSON.stringify({ cmd: 'sleep 600', instances: 0, cpus: 0.1, mem: 16, env: { A: '1' } }),
      headers: JSON_TYPE,
    });
    assert.equal(created.status, 201);
    const createdBody = (await created.json()) as { version: string; deploymentId: string };
    assert.equal(created.headers.get('marathon-deployment-id'), createdBody.deploymentId);
    const patched = await e.client.patchApp('/api/three', { instances: 0, mem: 32 });
    assert.match(patched.version, TIMESTAMP);
    const app = await e.client.getApp('/api/three');
    assert.equal(app.mem, 32);
    assert.deepEqual(app.env, { A: '1' });
    const versions = await e.client.appVersions('/api/three');
    assert.equal(versions.length, 2);
    assert.equal(versions[0], app.version, 'newest first');
    const first = await e.client.appVersion('/api/three', versions[1]!);
    assert.equal(first.mem, 16);
    const rolled = await e.client.rollbackApp('/api/three', versions[1]!);
    await waitFor(
      'rollback done',
      async () => !(await e.client.listDeployments()).some((d) => d.id === rolled.deploymentId),
    );
    assert.equal((await e.client.getApp('/api/three')).mem, 16);
    await assert.rejects(e.client.patchApp('/api/missing', { instances: 1 }), MarathonNotFoundError);
  });

  it('answers bad input with Marathon shapes: 400 malformed/empty, 422 with details paths, 404 unknown', async () => {
    const malformed = await post('/v2/apps', '{"id": "/x",');
    assert.equal(malformed.status, 400);
    const mBody = (await malformed.json()) as { message: string; details: unknown };
    assert.equal(mBody.message, 'Invalid JSON');
    assert.equal(typeof mBody.details, 'string');
    const empty = await post('/v2/apps', '');
    assert.equal(empty.status, 400);
    assert.equal(((await empty.json()) as { message: string }).message, 'Please specify data in JSON format');
    const typed = await post('/v2/apps', JSON.stringify({ id: 123, cmd: 'x' }));
    assert.equal(typed.status, 422);
    assert.deepEqual(await typed.json(), {
      message: 'Invalid JSON',
      details: [{ path: '/id', errors: ['error.expected.jsstring'] }],
    });
    const invalid = await post(
      '/v2/apps',
      JSON.stringify({ id: '/Bad_Id', cmd: 'x', upgradeStrategy: { minimumHealthCapacity: 2 } }),
    );
    assert.equal(invalid.status, 422);
    const iBody = (await invalid.json()) as { message: string; details: Array<{ path: string; errors: string[] }> };
    assert.equal(iBody.message, 'Object is not valid');
    assert.deepEqual(iBody.details.map((d) => d.path).sort(), ['/id', '/upgradeStrategy/minimumHealthCapacity']);
    await assert.rejects(
      e.client.createApp({
        id: '/api/bad',
        cmd: 'x',
        portDefinitions: [{ port: 80 }, { port: 'x' as unknown as number }],
      }),
      (err: unknown) => {
        assert.ok(err instanceof MarathonValidationError);
        assert.deepEqual(err.problems, [{ path: '/portDefinitions(1)/port', message: 'error.expected.jsnumber' }]);
        return true;
      },
    );
    const missing = await fetch(`${e.url}/v2/apps/nope`);
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { message: "App '/nope' does not exist" });
    const arrayBody = await post('/v2/apps', '[1,2]');
    assert.equal(arrayBody.status, 422);
    assert.equal((await fetch(`${e.url}/v2/nothing-here`)).status, 404);
  });

  it('409 "App is locked" with the deployment ids while a deployment runs; force=true overrides it', async () => {
    // 2 instances of 3 cpus each cannot fit in 4 cpus: the deployment stays, waiting for resources
    const blocked = await e.client.createApp({ id: '/api/big', cmd: 'sleep 600', instances: 2, cpus: 3, mem: 16 });
    const deploymentId = blocked.deployments![0]!.id;
    await waitFor('one task running', async () => (await e.client.appTasks('/api/big')).length === 1);
    const queue = (await (await fetch(`${e.url}/v2/queue`)).json()) as {
      queue: Array<{
        app: { id: string };
        count: number;
        processedOffersSummary: { rejectSummaryLastOffers?: Array<{ reason: string }> };
      }>;
    };
    const entry = queue.queue.find((q) => q.app.id === '/api/big')!;
    assert.equal(entry.count, 1);
    assert.match(entry.processedOffersSummary.rejectSummaryLastOffers![0]!.reason, /insufficient resources/);
    const deployments = await e.client.listDeployments();
    const d = deployments.find((x) => x.id === deploymentId)!;
    assert.deepEqual(d.affectedApps, ['/api/big']);
    assert.equal(d.currentActions[0]!.action, 'ScaleApplication');
    const locked = await fetch(`${e.url}/v2/apps/api/big`, {
      method: 'PUT',
      body: JSON.stringify({ instances: 1 }),
      headers: JSON_TYPE,
    });
    assert.equal(locked.status, 409);
    const lBody = (await locked.json()) as { message: string; deployments: Array<{ id: string }> };
    assert.match(lBody.message, /^App is locked by one or more deployments\./);
    assert.deepEqual(lBody.deployments, [{ id: deploymentId }]);
    await assert.rejects(
      e.client.patchApp('/api/big', { instances: 1 }),
      (err: unknown) => err instanceof MarathonLockedError && err.deploymentIds[0] === deploymentId,
    );
    const forced = await e.client.patchApp('/api/big', { instances: 1 }, { force: true });
    await waitFor(
      'forced deployment done',
      async () => !(await e.client.listDeployments()).some((x) => x.id === forced.deploymentId),
    );
    const failed = e.events.find((ev) => ev.eventType === 'deployment_failed' && ev.id === deploymentId);
    assert.ok(failed, 'the superseded deployment is reported failed');
  });

  it('DELETE /v2/deployments/{id} rolls back, or with force just stops', async () => {
    const created = await e.client.createApp({ id: '/api/rb', cmd: 'sleep 600', instances: 3, cpus: 3, mem: 16 });
    const id = created.deployments![0]!.id;
    await waitFor('deployment listed', async () => (await e.client.listDeployments()).some((d) => d.id === id));
    const rollback = await e.client.cancelDeployment(id);
    assert.ok(rollback?.deploymentId);
    await waitFor('app removed by rollback', async () => !(await e.client.listApps()).some((a) => a.id === '/api/rb'));
    const again = await e.client.createApp({ id: '/api/rb2', cmd: 'sleep 600', instances: 3, cpus: 3, mem: 16 });
    const res = await fetch(`${e.url}/v2/deployments/${again.deployments![0]!.id}?force=true`, { method: 'DELETE' });
    assert.equal(res.status, 202);
    assert.equal(
      (await e.client.listDeployments()).some((d) => d.id === again.deployments![0]!.id),
      false,
    );
    assert.ok(
      (await e.client.listApps()).some((a) => a.id === '/api/rb2'),
      'a forced cancel keeps the app',
    );
    await e.client.deleteApp('/api/rb2');
    const unknown = await fetch(`${e.url}/v2/deployments/nope`, { method: 'DELETE' });
    assert.equal(unknown.status, 404);
  });

  it('tasks: GET /v2/tasks with status filter, kill without and with scale', async () => {
    await e.client.patchApp('/api/two', { instances: 2 });
    await waitFor(
      'two running',
      async () => (await e.client.appTasks('/api/two')).filter((t) => t.state === 'TASK_RUNNING').length === 2,
    );
    const running = await e.client.listTasks('running');
    assert.ok(running.every((t) => t.state === 'TASK_RUNNING'));
    const [first, second] = await e.client.appTasks('/api/two');
    const killed = (await e.client.killTasks([first!.id])) as { tasks: Array<{ id: string }> };
    assert.deepEqual(
      killed.tasks.map((t) => t.id),
      [first!.id],
    );
    await waitFor('replacement launched', async () => {
      const tasks = await e.client.appTasks('/api/two');
      return (
        tasks.length === 2 && !tasks.some((t) => t.id === first!.id) && tasks.every((t) => t.state === 'TASK_RUNNING')
      );
    });
    const scaled = (await e.client.killTasks([second!.id], { scale: true })) as { deploymentId: string };
    assert.ok(scaled.deploymentId);
    await waitFor('scaled down to 1', async () => (await e.client.appTasks('/api/two')).length === 1);
    assert.equal((await e.client.getApp('/api/two')).instances, 1);
    assert.deepEqual(
      ['TASK_KILLING', 'TASK_KILLED'],
      e.events
        .filter((ev) => ev.taskId === first!.id && ev.eventType === 'status_update_event')
        .map((ev) => ev.taskStatus)
        .slice(-2),
    );
  });

  it('restart replaces every task with a new one', async () => {
    const before = (await e.client.appTasks('/api/one')).map((t) => t.id);
    const result = await e.client.restartApp('/api/one');
    await waitFor(
      'restart done',
      async () => !(await e.client.listDeployments()).some((d) => d.id === result.deploymentId),
    );
    const afterIds = (await e.client.appTasks('/api/one')).map((t) => t.id);
    assert.equal(afterIds.length, 1);
    assert.notDeepEqual(afterIds, before);
    assert.equal((await e.client.appTasks('/api/one'))[0]!.version, result.version);
  });

  it('info, leader, ping', async () => {
    const info = await e.client.info();
    assert.equal(info.name, 'marathon');
    assert.match(info.version, /^1\.10\./);
    assert.equal(await e.client.leader(), info.leader);
    await e.client.ping();
    assert.equal(await (await fetch(`${e.url}/ping`)).text(), 'pong');
  });
});

describe('engine basic auth', () => {
  it('requires the configured credentials everywhere but /ping', async () => {
    const e = await testEngine({ credentials: 'ops:s3cret' });
    try {
      const denied = await fetch(`${e.url}/v2/apps`);
      assert.equal(denied.status, 401);
      assert.match(denied.headers.get('www-authenticate') ?? '', /Basic realm="Mesosphere"/);
      assert.equal((await fetch(`${e.url}/ping`)).status, 200);
      assert.deepEqual(await e.client.listApps(), []);
    } finally {
      await e.stop();
      removeDir(e.dataDir);
    }
  });
});

describe('conformance examples through the API', () => {
  it('accepts every valid example (201, schema-valid answer) and rejects the invalid ones with 422 and the reason', async () => {
    const e = await testEngine();
    const validate = appSchemaValidator();
    try {
      for (const { name, body } of exampleApps()) {
        // instances 0: the point is what the API accepts, not pulling nginx
        const res = await fetch(`${e.url}/v2/apps`, {
          method: 'POST',
          body: JSON.stringify({ ...body, instances: 0 }),
          headers: { 'Content-Type': 'application/json' },
        });
        const answer = (await res.json()) as Record<string, unknown> & { details?: Array<{ errors: string[] }> };
        const reason = INVALID_EXAMPLES[name];
        if (reason) {
          assert.equal(res.status, 422, name);
          assert.ok(
            answer.details!.some((d) => d.errors.includes(reason)),
            `${name}: ${JSON.stringify(answer)}`,
          );
          continue;
        }
        assert.equal(res.status, 201, `${name}: ${JSON.stringify(answer)}`);
        const stored = await e.client.getApp(String(answer.id));
        assert.ok(validate(definitionOf(stored)), `${name}: ${JSON.stringify(validate.errors)}`);
        await e.client.deleteApp(String(answer.id));
        await waitFor('deleted', () => !e.engine.apps.get(String(answer.id)));
      }
    } finally {
      await e.stop();
      removeDir(e.dataDir);
    }
  });
});

describe('groups (read-only)', () => {
  it('derives the group tree from app ids, in Marathon shape; 404 for an unknown group', async () => {
    const e = await testEngine();
    const validate = appSchemaValidator();
    try {
      await e.client.createApp({ id: '/g/a/one', cmd: 'sleep 600', instances: 0, cpus: 0.1, mem: 16 });
      await e.client.createApp({ id: '/g/two', cmd: 'sleep 600', instances: 0, cpus: 0.1, mem: 16 });
      const root = (await (await fetch(`${e.url}/v2/groups`)).json()) as {
        id: string;
        apps: unknown[];
        groups: Array<{
          id: string;
          apps: Array<{ id: string }>;
          groups: Array<{ id: string; apps: Array<{ id: string; version: string }>; version: string }>;
        }>;
      };
      assert.equal(root.id, '/');
      assert.deepEqual(root.apps, []);
      const g = root.groups[0]!;
      assert.equal(g.id, '/g');
      assert.deepEqual(
        g.apps.map((a) => a.id),
        ['/g/two'],
      );
      assert.equal(g.groups[0]!.id, '/g/a');
      assert.deepEqual(
        g.groups[0]!.apps.map((a) => a.id),
        ['/g/a/one'],
      );
      assert.equal(g.groups[0]!.version, g.groups[0]!.apps[0]!.version);
      const sub = (await (await fetch(`${e.url}/v2/groups/g/a`)).json()) as {
        id: string;
        apps: Array<Record<string, unknown>>;
      };
      assert.equal(sub.id, '/g/a');
      for (const app of sub.apps) assert.ok(validate(definitionOf(app)), JSON.stringify(validate.errors));
      const missing = await fetch(`${e.url}/v2/groups/nope`);
      assert.equal(missing.status, 404);
      assert.deepEqual(await missing.json(), { message: "Group '/nope' does not exist" });
    } finally {
      await e.stop();
      removeDir(e.dataDir);
    }
  });
});
