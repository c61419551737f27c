/**
 * Debian's python3-marathon (a maintained Marathon client library) against `theseus engine` run as
 * a process: every call goes through the library (python_marathon.py, one call per run), the apps
 * are Docker tasks of theseus/busybox:local. What the library gets back is what a Marathon 1.10
 * user's script would get.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startEngineProcess, type EngineProcess } from '../support/engine-process.js';
import { eventually } from '../support/processes.js';

/** Debian's interpreter: python3-marathon is installed for it (scripts/test.sh installs the package). */
const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./python_marathon.py', import.meta.url));
const PREFIX = `/pyc${Math.floor(Math.random() * 1e6)}`;

type Json = any;

function dockerApp(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    cmd: 'exec httpd -f -p $PORT0',
    instances: 1,
    cpus: 0.05,
    mem: 16,
    container: { type: 'DOCKER', docker: { image: 'theseus/busybox:local' } },
    portDefinitions: [{ port: 0 }],
    ...extra,
  };
}

describe('python3-marathon against the engine', () => {
  let engine: EngineProcess;
  let url: string;

  /** One library call; resolves with what it returned, rejects with its error (or the script's output). */
  const run = (call: string, args: object = {}): Promise<{ code: number; out: Json; stderr: string }> =>
    new Promise((resolve, reject) => {
      const child = spawn(PYTHON, [SCRIPT, url, call, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        try {
          resolve({ code: code ?? -1, out: JSON.parse(stdout), stderr });
        } catch {
          reject(new Error(`${call}: exit ${code}, no JSON on stdout:\n${stdout}\n${stderr}`));
        }
      });
    });
  const py = async (call: string, args: object = {}): Promise<Json> => {
    const { code, out, stderr } = await run(call, args);
    if (code !== 0) throw new Error(`${call} failed: ${JSON.stringify(out)}\n${stderr}`);
    return out;
  };
  const pyFails = async (call: string, args: object = {}): Promise<Json> => {
    const { code, out } = await run(call, args);
    assert.equal(code, 1, `${call} was expected to fail: ${JSON.stringify(out)}`);
    return out;
  };
  const api = async (path: string): Promise<Json> => (await fetch(url + path)).json();
  const settled = () =>
    eventually('no deployment left', async () => ((await api('/v2/deployments')) as unknown[]).length === 0, 90_000);
  const running = (id: string, n: number) =>
    eventually(
      `${n} running task(s) of ${id}`,
      async () => {
        const { app } = await api(`/v2/apps${id}`);
        return (
          app.tasks.filter((t: { state: string }) => t.state === 'TASK_RUNNING').length === n &&
          app.deployments.length === 0 &&
          app.tasks.length === n &&
          app
        );
      },
      90_000,
    );

  before(async () => {
    const check = spawnSync(PYTHON, ['-c', 'import marathon']);
    if (check.status !== 0)
      throw new Error(
        `python3-marathon is not installed for ${PYTHON} (apt-get install python3-marathon; scripts/test.sh does): ${String(check.stderr ?? check.error)}`,
      );
    engine = await startEngineProcess();
    url = engine.url;
  });
  after(() => engine?.stop());

  it('ping, get_info, get_leader, delete_leader', async () => {
    assert.equal(await py('ping'), 'pong');
    const info = await py('get_info');
    assert.equal(info.name, 'marathon');
    assert.match(info.version, /^1\.10\./);
    assert.equal(info.http_port, Number(new URL(url).port));
    assert.deepEqual(await py('get_leader'), { leader: info.leader });
    assert.deepEqual(await py('delete_leader'), { message: 'Leadership abdicated' });
    assert.deepEqual(await py('get_leader'), { leader: info.leader });
  });

  const web = `${PREFIX}/web`;
  it('apps: create_app, get_app and list_apps with embedded tasks, update_app, scale_app, restart_app, update_apps', async () => {
    const created = await py('create_app', dockerApp(web));
    assert.equal(created.id, web);
    assert.equal(created.container_type, 'DOCKER');
    assert.equal(created.image, 'theseus/busybox:local');
    assert.equal(created.deployments.length, 1);
    await running(web, 1);
    const got = await py('get_app', { id: web, embed_tasks: true, embed_counts: true });
    assert.equal(got.tasks_running, 1);
    assert.equal(got.tasks.length, 1);
    assert.equal(got.tasks[0].state, 'TASK_RUNNING');
    assert.equal(got.tasks[0].app_id, web);
    assert.equal(got.tasks[0].ports.length, 1);
    const listed = await py('list_apps', { app_id: PREFIX, embed_tasks: true });
    assert.deepEqual(
      listed.map((a: Json) => [a.id, a.tasks.length]),
      [[web, 1]],
    );

    const updated = await py('update_app', { id: web, app: { mem: 24 } });
    assert.match(updated.deploymentId, /^[0-9a-f-]{36}$/);
    const afterUpdate = await running(web, 1);
    assert.equal(afterUpdate.mem, 24);
    assert.notEqual(afterUpdate.tasks[0].id, got.tasks[0].id, 'a config change replaces the task');

    await py('scale_app', { id: web, instances: 3 });
    await running(web, 3);
    await py('scale_app', { id: web, delta: -1 });
    const scaled = await running(web, 2);

    const restarted = await py('restart_app', { id: web });
    assert.equal(typeof restarted.version, 'string');
    const afterRestart = await eventually(
      'tasks replaced',
      async () => {
        const app = await running(web, 2);
        return app.tasks.every((t: { id: string }) => !scaled.tasks.some((o: { id: string }) => o.id === t.id)) && app;
      },
      90_000,
    );
    assert.ok(afterRestart.tasks.every((t: { version: string }) => t.version === restarted.version));

    const bulk = await py('update_apps', { apps: [{ id: web, mem: 20 }] });
    assert.equal(typeof bulk.deploymentId, 'string');
    assert.equal((await running(web, 2)).mem, 20, 'a bulk PUT /v2/apps is a partial update');
  });

  it('versions: list_versions, get_version, rollback_app to the first version', async () => {
    const versions: string[] = await py('list_versions', { id: web });
    assert.ok(versions.length >= 6, String(versions));
    assert.ok(versions[0]! > versions[versions.length - 1]!, 'newest first');
    const first = await py('get_version', { id: web, version: versions[versions.length - 1] });
    assert.equal(first.mem, 16);
    assert.equal(first.instances, 1);
    const rolled = await py('rollback_app', { id: web, version: versions[versions.length - 1] });
    assert.equal(typeof rolled.deploymentId, 'string');
    const app = await running(web, 1);
    assert.equal(app.mem, 16);
  });

  it('tasks: list_tasks, list_endpoints, kill_task with scale, kill_given_tasks (with and without scale), kill_tasks', async () => {
    await py('scale_app', { id: web, instances: 4 });
    await running(web, 4);
    const all = await py('list_tasks');
    const mine = await py('list_tasks', { app_id: web });
    assert.equal(mine.length, 4);
    assert.ok(mine.every((t: { id: string }) => all.some((a: { id: string }) => a.id === t.id)));
    const servicePort = (await api(`/v2/apps${web}`)).app.portDefinitions[0].port;
    const endpoints = (await py('list_endpoints')).filter((ep: Json) => ep.app_id === web);
    assert.deepEqual(
      endpoints.map((ep: Json) => [ep.task_id, ep.service_port, ep.host, ep.task_port]).sort(),
      mine.map((t: Json) => [t.id, servicePort, t.host, t.ports[0]]).sort(),
    );

    const killedOne = await py('kill_task', { app_id: web, task_id: mine[0].id, scale: true });
    assert.equal(typeof killedOne.deploymentId, 'string', 'with scale: a deployment');
    await running(web, 3);
    assert.equal((await api(`/v2/apps${web}`)).app.instances, 3);

    const rest = (await py('list_tasks', { app_id: web })).map((t: { id: string }) => t.id);
    assert.equal(await py('kill_given_tasks', { ids: [rest[0]] }), true);
    await eventually(
      'replaced',
      async () => {
        const app = await running(web, 3);
        return !app.tasks.some((t: { id: string }) => t.id === rest[0]);
      },
      90_000,
    );
    assert.equal(await py('kill_given_tasks', { ids: [rest[1], rest[2]], scale: true }), true);
    await running(web, 1);
    assert.equal((await api(`/v2/apps${web}`)).app.instances, 1);

    const left = await py('list_tasks', { app_id: web });
    const killedAll = await py('kill_tasks', { app_id: web });
    assert.deepEqual(
      killedAll.map((t: { id: string }) => t.id),
      left.map((t: { id: string }) => t.id),
    );
    await eventually(
      'restarted',
      async () => {
        const app = await running(web, 1);
        return app.tasks[0].id !== left[0].id;
      },
      90_000,
    );
  });

  it('deployments and queue: list_deployments, list_queue, reset_delay, delete_deployment (rollback and force)', async () => {
    // more cpus than the machine has: the deployment waits, the launch stays queued
    const stuck = `${PREFIX}/stuck`;
    await py('create_app', dockerApp(stuck, { cmd: 'sleep 1000', cpus: 10_000, portDefinitions: [] }));
    const deployments = await py('list_deployments');
    const mine = deployments.find((d: Json) => d.affected_apps.includes(stuck));
    assert.ok(mine, JSON.stringify(deployments));
    assert.ok(mine.current_step >= 1 && mine.total_steps >= mine.current_step);
    const queue = await py('list_queue');
    const entry = queue.find((q: Json) => q.app_id === stuck);
    assert.equal(entry.count, 1);
    assert.equal(entry.last_unused_offers, null);
    assert.deepEqual(
      (await py('list_queue', { embed_last_unused_offers: true })).find((q: Json) => q.app_id === stuck)
        .last_unused_offers,
      [],
    );
    assert.equal(await py('reset_delay', { id: stuck }), null);

    const rollback = await py('delete_deployment', { id: mine.id });
    assert.equal(typeof rollback.deploymentId, 'string', 'a rollback deployment');
    await settled();
    assert.equal((await fetch(`${url}/v2/apps${stuck}`)).status, 404, 'rolling back a new app removes it');

    await py('create_app', dockerApp(stuck, { cmd: 'sleep 1000', cpus: 10_000, portDefinitions: [] }));
    const again = (await py('list_deployments')).find((d: Json) => d.affected_apps.includes(stuck));
    assert.deepEqual(await py('delete_deployment', { id: again.id, force: true }), {});
    await eventually(
      'deployment stopped',
      async () => !(await py('list_deployments')).some((d: Json) => d.id === again.id),
    );
    assert.equal((await api(`/v2/apps${stuck}`)).app.id, stuck, 'a forced cancel leaves the app as it is');
  });

  it('delete_app: force=False is refused while a deployment runs (409), force=True goes through', async () => {
    const stuck = `${PREFIX}/stuck`;
    await py('scale_app', { id: stuck, instances: 2, force: true });
    const refused = await pyFails('delete_app', { id: stuck, force: false });
    assert.equal(refused.error, 'ConflictError');
    assert.equal(refused.status, 409);
    const deleted = await py('delete_app', { id: stuck, force: true });
    assert.equal(typeof deleted.deploymentId, 'string');
    await settled();
    assert.equal((await fetch(`${url}/v2/apps${stuck}`)).status, 404);
  });

  it('groups: create_group, get_group, update_group, scale_group, delete_group', async () => {
    const group = `${PREFIX}/shop`;
    const sleeper = (id: string) => dockerApp(id, { cmd: 'sleep 1000', portDefinitions: [] });
    const created = await py('create_group', { id: group, apps: [sleeper('cart')] });
    assert.equal(typeof created.deploymentId, 'string');
    await settled();
    const groupApps = async () =>
      (await py('list_apps', { app_id: group })).map((a: Json) => [a.id, a.instances]).sort();
    assert.deepEqual(await groupApps(), [[`${group}/cart`, 1]], 'app ids relative to the group');

    const read = await py('get_group', { id: group });
    if ('library_model_lacks' in read) assert.equal(read.library_model_lacks, 'enforce_role');
    else assert.deepEqual(read, { id: group, apps: [`${group}/cart`], groups: [] });
    const tree = await api(`/v2/groups${group}`);
    assert.deepEqual(
      tree.apps.map((a: Json) => a.id),
      [`${group}/cart`],
    );
    assert.equal(tree.enforceRole, false, 'Marathon 1.9+ writes enforceRole on every group');

    await py('update_group', { id: group, group: { id: group, apps: [sleeper('cart'), sleeper(`${group}/pay`)] } });
    await settled();
    assert.deepEqual(await groupApps(), [
      [`${group}/cart`, 1],
      [`${group}/pay`, 1],
    ]);

    await py('scale_group', { id: group, scale_by: 2 });
    await settled();
    assert.deepEqual(await groupApps(), [
      [`${group}/cart`, 2],
      [`${group}/pay`, 2],
    ]);

    const deleted = await py('delete_group', { id: group, force: true });
    assert.equal(typeof deleted.deploymentId, 'string');
    await settled();
    assert.deepEqual(await groupApps(), []);
    const gone = await pyFails('get_group', { id: group });
    assert.equal(gone.status, 404);
  });

  it('event subscriptions: create, list, delete', async () => {
    const callback = 'http://127.0.0.1:9/marathon-callback';
    const created = await py('create_event_subscription', { url: callback });
    assert.equal(created.eventType, 'subscribe_event');
    assert.equal(created.callbackUrl, callback);
    assert.deepEqual(await py('list_event_subscriptions'), [callback]);
    const deleted = await py('delete_event_subscription', { url: callback });
    assert.equal(deleted.eventType, 'unsubscribe_event');
    assert.deepEqual(await py('list_event_subscriptions'), []);
  });

  it('event_stream(): typed events and raw ones while an app deploys', async () => {
    const streamed = `${PREFIX}/streamed`;
    // python3-marathon 0.13 models deployment events with the pre-1.8 plan (original/target): Marathon 1.8+
    // writes {id, steps, version}, so the typed stream asks for the other types and the raw one reads them all
    const result = await py('event_stream_while_deploying', {
      app: dockerApp(streamed, { cmd: 'sleep 1000', portDefinitions: [] }),
      event_types: ['event_stream_attached', 'api_post_event', 'status_update_event', 'instance_changed_event'],
    });
    assert.ok(!('error' in result), JSON.stringify(result));
    const updates = result.typed.filter((e: Json) => e.type === 'status_update_event' && e.app_id === streamed);
    assert.deepEqual(
      updates.map((e: Json) => e.task_status),
      ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING'],
    );
    assert.equal(updates[0].class, 'MarathonStatusUpdateEvent');
    assert.ok(
      result.typed.some(
        (e: Json) => e.type === 'api_post_event' && e.uri === '/v2/apps' && e.class === 'MarathonApiPostEvent',
      ),
    );
    assert.ok(
      result.typed.every((e: Json) =>
        ['event_stream_attached', 'api_post_event', 'status_update_event', 'instance_changed_event'].includes(e.type),
      ),
      'the server filtered',
    );
    const planEvents = result.raw.filter((e: Json) => e.plan_id === result.deployment).map((e: Json) => e.type);
    assert.equal(planEvents[0], 'deployment_info');
    assert.equal(planEvents[planEvents.length - 1], 'deployment_success');
    assert.ok(result.raw.filter((e: Json) => e.type === 'event_stream_attached').length >= 1);
  });
});
