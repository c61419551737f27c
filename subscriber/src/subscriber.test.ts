/** Subscriber against real etcd and a Marathon marathon speaking real SSE: events, health, ordering, reconcile. */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createEtcdClient, EtcdLayout, encodeEndpointRecord, type MesosTaskState } from '@theseus/services';
import type { InProcessEngine } from '@theseus/cluster/testing';
import {
  clearPrefix,
  startMarathon,
  ETCD_ENDPOINTS,
  etcdView,
  makeSubscriber,
  marathonView,
  randomPrefix,
  theseusApp,
  until,
  untilInSync,
} from './testing/harness.js';
import type { Subscriber } from './subscriber.js';

const prefixes: string[] = [];
const subscribers: Subscriber[] = [];
const engines: InProcessEngine[] = [];
after(async () => {
  for (const s of subscribers) await s.stop();
  for (const d of engines) await d.close();
  for (const p of prefixes) await clearPrefix(p);
});

async function setup(options: Parameters<typeof makeSubscriber>[2] = {}) {
  const marathon = await startMarathon(200);
  engines.push(marathon);
  const prefix = randomPrefix();
  prefixes.push(prefix);
  const sub = makeSubscriber(marathon, prefix, options);
  subscribers.push(sub);
  sub.start();
  await until(() => sub.isLeader && marathon.faults.streamCount === 1, 'leader with an attached stream');
  await sub.reconcileNow('test start');
  return { marathon, prefix, sub };
}

const web = { namespace: 'default', service: 'web', labels: [] };

test('TASK_RUNNING registers; every leaving state removes; staging and starting never register', async () => {
  const { marathon, prefix, sub } = await setup();
  await marathon.putApp(theseusApp(web));
  const leaving: MesosTaskState[] = [
    'TASK_KILLING',
    'TASK_KILLED',
    'TASK_FINISHED',
    'TASK_FAILED',
    'TASK_LOST',
    'TASK_ERROR',
    'TASK_GONE',
    'TASK_DROPPED',
    'TASK_UNREACHABLE',
    'TASK_GONE_BY_OPERATOR',
    'TASK_UNKNOWN',
  ];
  const layout = new EtcdLayout(prefix);
  for (const state of leaving) {
    const task = await marathon.startTask('/theseus/default/web');
    const key = layout.endpoint('default', 'web', task.id);
    await until(async () => (await etcdView(prefix)).has(key), `registration before ${state}`);
    const view = (await etcdView(prefix)).get(key)!;
    assert.deepEqual(view.ports, { http: task.ports![0], admin: task.ports![1] });
    await marathon.setTaskState(task.id, state);
    await until(async () => !(await etcdView(prefix)).has(key), `removal on ${state}`);
  }
  const staging = await marathon.startTask('/theseus/default/web', { state: 'TASK_STAGING' });
  const starting = await marathon.startTask('/theseus/default/web', { state: 'TASK_STARTING' });
  const running = await marathon.startTask('/theseus/default/web');
  await untilInSync(marathon, prefix);
  const keys = [...(await etcdView(prefix)).keys()];
  assert.deepEqual(keys, [layout.endpoint('default', 'web', running.id)]);
  assert.ok(!keys.some((k) => k.endsWith(staging.id) || k.endsWith(starting.id)));
  const result = await sub.reconcileNow('check');
  assert.deepEqual([result.added, result.fixed, result.removed], [0, 0, 0], 'events alone left etcd exact');
});

test('a burst of events larger than the flow-control window all reach etcd over the one attached stream', async () => {
  // the engine launching 3,000 tasks shares this process: neither the stream nor the lease is
  // abandoned, they are only starved of CPU for a while
  const { marathon, prefix, sub } = await setup({ streamIdleTimeoutMs: 30_000, leaderTtlSeconds: 30 });
  await marathon.putApp(theseusApp(web));
  const before = (await sub.status()).lastReconcile?.at;
  await marathon.startTasks('/theseus/default/web', 3_000);
  await untilInSync(marathon, prefix);
  assert.equal((await etcdView(prefix)).size, 3_000);
  assert.equal(marathon.faults.streamCount, 1);
  assert.equal((await sub.status()).lastReconcile?.at, before, 'no reattach (and its reconcile) was needed');
  const result = await sub.reconcileNow('check');
  assert.deepEqual([result.added, result.fixed, result.removed], [0, 0, 0], 'events alone left etcd exact');
});

test('health-gated registration: registered once healthy, removed when unhealthy; without the gate, registered with its health', async () => {
  const { marathon, prefix } = await setup();
  const app = theseusApp(
    { namespace: 'default', service: 'api', labels: ['blue'] },
    { healthChecks: [{ protocol: 'MESOS_HTTP', path: '/health', portIndex: 0 }] },
  );
  await marathon.putApp(app);
  const task = await marathon.startTask(app.id);
  const key = new EtcdLayout(prefix).endpoint('default', 'api', task.id);
  await untilInSync(marathon, prefix);
  assert.equal((await etcdView(prefix)).has(key), false, 'running but not yet healthy: not registered');
  await marathon.setHealth(task.id, true);
  await until(async () => (await etcdView(prefix)).get(key)?.healthy === true, 'registration once healthy');
  await marathon.setHealth(task.id, false);
  await until(async () => !(await etcdView(prefix)).has(key), 'removal once unhealthy');

  const open = await setup({ requireHealthy: false });
  await open.marathon.putApp(app);
  const t2 = await open.marathon.startTask(app.id);
  const key2 = new EtcdLayout(open.prefix).endpoint('default', 'api', t2.id);
  await until(async () => (await etcdView(open.prefix)).get(key2)?.healthy === false, 'registered, not yet healthy');
  await open.marathon.setHealth(t2.id, true);
  await until(async () => (await etcdView(open.prefix)).get(key2)?.healthy === true, 'healthy flag follows');
  await untilInSync(open.marathon, open.prefix, { requireHealthy: false });
});

test('ordering: a stale event never overwrites newer knowledge', async () => {
  const { marathon, prefix } = await setup();
  const app = await marathon.putApp(theseusApp(web));
  // Markers are tasks of another app: a change of this one (a scale) makes the subscriber re-read it.
  const markers = await marathon.putApp(theseusApp({ namespace: 'default', service: 'marker', labels: [] }));
  const task = await marathon.startTask(app.id);
  const key = new EtcdLayout(prefix).endpoint('default', 'web', task.id);
  await until(async () => (await etcdView(prefix)).has(key), 'registration');
  const running = (host: string, timestamp: string) => ({
    slaveId: 'agent-1-S0',
    taskId: task.id,
    taskStatus: 'TASK_RUNNING',
    message: '',
    appId: app.id,
    host,
    ipAddresses: [],
    ports: task.ports,
    version: app.version,
    eventType: 'status_update_event',
    timestamp,
  });
  // Newer news of the task (it is reported on another host), then an older report arrives late.
  marathon.faults.publishRaw('status_update_event', running('10.0.0.2', new Date(Date.now() + 1).toISOString()));
  await until(async () => (await etcdView(prefix)).get(key)?.host === '10.0.0.2', 'newer event applied');
  marathon.faults.publishRaw('status_update_event', running('10.0.0.1', new Date(Date.now() - 60_000).toISOString()));
  // A later marker event proves the late one was processed before it.
  const marker = await marathon.startTask(markers.id);
  await until(
    async () => (await etcdView(prefix)).has(new EtcdLayout(prefix).endpoint('default', 'marker', marker.id)),
    'marker',
  );
  assert.equal((await etcdView(prefix)).get(key)?.host, '10.0.0.2');

  // A task that ended stays gone when an older "running" for it arrives after the end.
  const killedAt = new Date().toISOString();
  await marathon.setTaskState(task.id, 'TASK_KILLED');
  marathon.faults.publishRaw(
    'status_update_event',
    running('10.0.0.3', new Date(Date.parse(killedAt) - 5).toISOString()),
  );
  const marker2 = await marathon.startTask(markers.id);
  await until(
    async () => (await etcdView(prefix)).has(new EtcdLayout(prefix).endpoint('default', 'marker', marker2.id)),
    'second marker',
  );
  assert.equal((await etcdView(prefix)).has(key), false);
  await untilInSync(marathon, prefix);
});

test('reconcile adds what is missing, fixes what differs, removes what is stale, leaves other clusters alone', async () => {
  const { marathon, prefix, sub } = await setup();
  const layout = new EtcdLayout(prefix);
  const app = await marathon.putApp(theseusApp(web));
  const kept = await marathon.startTask(app.id);
  const fixedTask = await marathon.startTask(app.id);
  const doomed = await marathon.startTask(app.id);
  await untilInSync(marathon, prefix);

  // Drift behind the subscriber's back: missed events in Marathon, a damaged and an invented record in etcd.
  const missed1 = await marathon.startTask(app.id, { silent: true });
  const missed2 = await marathon.startTask(app.id, { silent: true });
  await marathon.setTaskState(doomed.id, 'TASK_KILLED', { silent: true });
  const client = createEtcdClient({ endpoints: ETCD_ENDPOINTS });
  const fixedKey = layout.endpoint('default', 'web', fixedTask.id);
  const damaged = JSON.parse((await client.get(fixedKey).string())!);
  await client.put(fixedKey).value(
    JSON.stringify({
      ...damaged,
      host: 'wrong-host',
      ports: { http: { host: 1, container: null, protocol: 'tcp' } },
    }),
  );
  const invented = { ...damaged, taskId: 'theseus_default_web.instance-gone._app.1' };
  await client.put(layout.endpoint('default', 'web', invented.taskId)).value(encodeEndpointRecord(invented));
  const foreign = { ...damaged, cluster: 'other', taskId: 'theseus_default_web.instance-theirs._app.1' };
  const foreignKey = layout.endpoint('default', 'web', foreign.taskId);
  await client.put(foreignKey).value(encodeEndpointRecord(foreign));
  const outside = `${prefix}-other/v1/endpoints/default/web/x.1`;
  await client.put(outside).value('not ours');
  prefixes.push(`${prefix}-other`);

  const result = await sub.reconcileNow('test');
  assert.equal(result.added, 2);
  assert.equal(result.fixed, 1);
  assert.equal(result.removed, 2);
  assert.equal(result.foreign, 1);
  const view = await etcdView(prefix);
  view.delete(foreignKey);
  assert.deepEqual([...view].sort(), [...marathonView(marathon, prefix)].sort());
  assert.ok(
    view.has(layout.endpoint('default', 'web', missed1.id)) && view.has(layout.endpoint('default', 'web', missed2.id)),
  );
  assert.ok(view.has(layout.endpoint('default', 'web', kept.id)));
  assert.equal((await etcdView(prefix)).get(foreignKey)?.cluster, 'other');
  assert.equal(await client.get(outside).string(), 'not ours');
  client.close();

  const again = await sub.reconcileNow('test again');
  assert.deepEqual([again.added, again.fixed, again.removed], [0, 0, 0]);
});

test('a record whose task Marathon still lists is not removed on one snapshot alone', async () => {
  const { marathon, prefix, sub } = await setup();
  const layout = new EtcdLayout(prefix);
  // The app lost its THESEUS_MANAGED label (so it is not in the snapshot), but its task still runs.
  const app = await marathon.putApp(theseusApp(web));
  const task = await marathon.startTask(app.id);
  await untilInSync(marathon, prefix);
  await marathon.putApp({ ...theseusApp(web), labels: { ...app.labels, THESEUS_MANAGED: 'maybe' } }, { silent: true });
  const result = await sub.reconcileNow('test');
  assert.equal(result.removed, 0);
  assert.equal(result.deferred, 1);
  assert.ok((await etcdView(prefix)).has(layout.endpoint('default', 'web', task.id)));
  assert.ok(
    marathon.calls.some((c) => c.method === 'GET' && c.path === '/v2/tasks'),
    'confirmed against Marathon',
  );
  // Once Marathon no longer lists the task, the next reconcile removes it.
  await marathon.setTaskState(task.id, 'TASK_KILLED', { silent: true });
  const later = await sub.reconcileNow('test');
  assert.equal(later.removed, 1);
  assert.equal((await etcdView(prefix)).size, 0);
});

test('app removal removes all of its tasks; bridge and container ports are named from portMappings', async () => {
  const { marathon, prefix } = await setup();
  const app = await marathon.putApp(
    theseusApp(
      { namespace: 'shop', service: 'cart', labels: ['prod'] },
      {
        portDefinitions: undefined,
        networks: [{ mode: 'container/bridge' }],
        container: {
          type: 'DOCKER',
          docker: { image: 'theseus/busybox:local' },
          portMappings: [
            { containerPort: 8080, hostPort: 0, name: 'http' },
            { containerPort: 9000, hostPort: 0 },
          ],
        },
      },
    ),
  );
  const a = await marathon.startTask(app.id);
  await marathon.startTask(app.id);
  await untilInSync(marathon, prefix);
  const client = createEtcdClient({ endpoints: ETCD_ENDPOINTS });
  const stored = JSON.parse((await client.get(new EtcdLayout(prefix).endpoint('shop', 'cart', a.id)).string())!);
  client.close();
  assert.deepEqual(stored.ports, {
    http: { host: a.ports![0], container: 8080, protocol: 'tcp' },
    port1: { host: a.ports![1], container: 9000, protocol: 'tcp' },
  });
  assert.deepEqual(stored.labels, ['prod']);
  await marathon.removeApp(app.id);
  await until(async () => (await etcdView(prefix)).size === 0, 'all endpoints of the app removed');
});
