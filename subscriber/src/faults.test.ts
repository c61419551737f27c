/**
 * Faults: event stream cut or silent, Marathon down, etcd restarted, leader failover, HTTP callbacks.
 * After each, etcd equals Marathon once the next reconcile has run.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { EtcdLayout } from '@theseus/services';
import type { InProcessEngine } from '@theseus/cluster/testing';
import { EtcdProcess, TcpProxy } from '@theseus/services/testing';
import {
  ETCD_ENDPOINTS,
  clearPrefix,
  startMarathon,
  etcdView,
  makeSubscriber,
  marathonView,
  randomPrefix,
  theseusApp,
  until,
  untilInSync,
} from './testing/harness.js';
import { subscriberHttpApp } from './http.js';
import type { Subscriber } from './subscriber.js';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

const web = { namespace: 'default', service: 'web', labels: [] };

async function world(
  options: { etcd?: string[]; subscribers?: number; subscriber?: Parameters<typeof makeSubscriber>[2] } = {},
) {
  const marathon = await startMarathon(200);
  cleanups.push(() => marathon.close());
  const prefix = randomPrefix();
  if (!options.etcd) cleanups.push(() => clearPrefix(prefix));
  const subs: Subscriber[] = [];
  for (let i = 0; i < (options.subscribers ?? 1); i++) {
    const sub = makeSubscriber(marathon, prefix, {
      ...(options.etcd ? { etcdEndpoints: options.etcd } : {}),
      ...options.subscriber,
    });
    cleanups.push(() => sub.stop());
    sub.start();
    subs.push(sub);
  }
  await until(
    () => subs.some((s) => s.isLeader) && marathon.faults.streamCount === subs.length,
    'a leader and attached streams',
  );
  const app = await marathon.putApp(theseusApp(web));
  return { marathon, prefix, subs, app };
}

/** Resolves after a reconcile finished later than `since` (taken before the fault). */
async function reconciledSince(sub: Subscriber, since: string): Promise<void> {
  await until(async () => ((await sub.status()).lastReconcile?.at ?? '') > since, 'the next reconcile', 30_000);
}

async function assertInSync(marathon: InProcessEngine, prefix: string, endpoints?: string[]) {
  assert.deepEqual([...(await etcdView(prefix, endpoints))].sort(), [...marathonView(marathon, prefix)].sort());
}

test('event stream cut: changes missed while detached are healed by the reconcile after reattach', async () => {
  const { marathon, prefix, subs, app } = await world();
  const first = await marathon.startTask(app.id);
  await untilInSync(marathon, prefix);
  const since = new Date().toISOString();
  marathon.faults.cutStreams();
  // Missed while the stream is down (published to nobody).
  await marathon.setTaskState(first.id, 'TASK_KILLED');
  await marathon.startTask(app.id);
  await reconciledSince(subs[0]!, since);
  await assertInSync(marathon, prefix);
  assert.equal(marathonView(marathon, prefix).size, 1);
});

test('a silent stream (no heartbeats) is dropped after the idle timeout, reattached and reconciled', async () => {
  const { marathon, prefix, subs, app } = await world();
  await untilInSync(marathon, prefix);
  marathon.faults.silent = true;
  await marathon.startTask(app.id); // its events go nowhere
  await until(async () => (await subs[0]!.status()).stream === 'detached', 'idle stream declared dead');
  const since = new Date().toISOString();
  marathon.faults.silent = false;
  await reconciledSince(subs[0]!, since);
  await assertInSync(marathon, prefix);
  assert.equal((await etcdView(prefix)).size, 1);
});

test('Marathon down for a while: readiness drops, and on return the reconcile heals what changed meanwhile', async () => {
  const { marathon, prefix, subs, app } = await world();
  const t1 = await marathon.startTask(app.id);
  await marathon.startTask(app.id);
  await untilInSync(marathon, prefix);
  await marathon.down();
  await until(async () => (await subs[0]!.status()).stream === 'detached', 'stream detached');
  // Marathon's state moves on while nobody can see it.
  await marathon.setTaskState(t1.id, 'TASK_FAILED', { silent: true });
  await marathon.startTask(app.id, { silent: true });
  await assert.rejects(subs[0]!.reconcileNow('while Marathon is down'), /did not answer|unavailable/i);
  await new Promise((r) => setTimeout(r, 500));
  const since = new Date().toISOString();
  await marathon.up();
  await reconciledSince(subs[0]!, since);
  await assertInSync(marathon, prefix);
});

test('etcd restarted: changes are kept and retried, and a reconcile runs when it returns', async () => {
  const etcd = await EtcdProcess.start();
  cleanups.push(() => etcd.destroy());
  const endpoints = [etcd.endpoint];
  const { marathon, prefix, subs, app } = await world({ etcd: endpoints });
  const t1 = await marathon.startTask(app.id);
  await untilInSync(marathon, prefix, { endpoints });
  await etcd.stop('SIGTERM');
  // Events while etcd is down: kept by the subscriber.
  await marathon.setTaskState(t1.id, 'TASK_KILLED');
  await marathon.startTask(app.id);
  await marathon.startTask(app.id, { silent: true });
  await until(async () => !(await subs[0]!.status()).etcdReachable, 'etcd seen as unreachable');
  await new Promise((r) => setTimeout(r, 2_500)); // longer than the leader lease
  const since = new Date().toISOString();
  await etcd.restart();
  await reconciledSince(subs[0]!, since);
  await assertInSync(marathon, prefix, endpoints);
  assert.equal(marathonView(marathon, prefix).size, 2);
  // And events flow again.
  await marathon.startTask(app.id);
  await untilInSync(marathon, prefix, { endpoints });
});

test('leader failover: only the leader writes; when it dies the standby takes over and reconciles first', async () => {
  // The first subscriber reaches etcd through a proxy the test cuts when it "dies", as a crashed
  // process's lease keepalives stop; it starts alone, so it is the leader.
  const etcdUrl = new URL(ETCD_ENDPOINTS[0]!);
  const proxy = await TcpProxy.start(etcdUrl.hostname, Number(etcdUrl.port));
  cleanups.push(() => proxy.close());
  const { marathon, prefix, subs, app } = await world({ subscribers: 1, etcd: [proxy.endpoint] });
  cleanups.push(() => clearPrefix(prefix));
  const leader = subs[0]!;
  const standby = makeSubscriber(marathon, prefix);
  cleanups.push(() => standby.stop());
  standby.start();
  await until(() => marathon.faults.streamCount === 2, "the standby's stream attached");
  await marathon.startTask(app.id);
  await marathon.startTask(app.id);
  await untilInSync(marathon, prefix);
  const writes = async (s: Subscriber) => (await s.metrics.writes.get()).values.reduce((n, v) => n + v.value, 0);
  // etcd can show the writes before the leader has read its transaction's answer and counted them.
  await until(async () => (await writes(leader)) >= 2, "the leader's writes counted");
  assert.equal(await writes(standby), 0, 'a standby never writes');
  await assert.rejects(standby.reconcileNow('standby'), /standby/);

  // The leader dies without resigning: its lease must run out.
  const since = new Date().toISOString();
  proxy.cut();
  await leader.halt();
  const gone = await marathon.startTask(app.id, { silent: true }); // missed by everyone
  await until(() => standby.isLeader, 'standby elected');
  await reconciledSince(standby, since);
  await assertInSync(marathon, prefix);
  assert.ok((await etcdView(prefix)).has(new EtcdLayout(prefix).endpoint('default', 'web', gone.id)));
  await marathon.startTask(app.id);
  await untilInSync(marathon, prefix);
});

test('HTTP callbacks (Marathon < 1.5): registers its callback URL and applies posted events', async () => {
  const server = http.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(async () => {
    server.closeAllConnections();
    server.close();
  });
  const callbackUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
  const marathon = await startMarathon(200);
  cleanups.push(() => marathon.close());
  const prefix = randomPrefix();
  cleanups.push(() => clearPrefix(prefix));
  const sub = makeSubscriber(marathon, prefix, { callbackUrl, callbackSecret: 'callback-secret-0123' });
  const registered = `${callbackUrl}?secret=callback-secret-0123`;
  cleanups.push(() => sub.stop());
  server.on('request', subscriberHttpApp(sub));
  sub.start();
  await until(() => marathon.engine.callbacks.urls().includes(registered), 'callback registered');
  assert.equal(marathon.faults.streamCount, 0, 'no event stream in callback mode');
  const app = await marathon.putApp(theseusApp(web));
  const task = await marathon.startTask(app.id);
  await untilInSync(marathon, prefix);
  // An event as Marathon 1.4 writes it (no ipAddresses) reaches the callback; callback events are
  // confirmed against Marathon, so a host Marathon does not report is never written.
  const v14 = {
    slaveId: 'S6',
    taskId: task.id,
    taskStatus: 'TASK_RUNNING',
    message: '',
    appId: app.id,
    host: 'srv4.example',
    ports: task.ports,
    version: app.version,
    eventType: 'status_update_event',
    timestamp: new Date(Date.now() + 1).toISOString(),
  };
  marathon.faults.publishRaw('status_update_event', v14);
  const key = new EtcdLayout(prefix).endpoint('default', 'web', task.id);
  await untilInSync(marathon, prefix);
  assert.notEqual((await etcdView(prefix)).get(key)?.host, 'srv4.example');
  await marathon.setTaskState(task.id, 'TASK_FINISHED');
  await until(async () => (await etcdView(prefix)).size === 0, 'removal through a callback');
  await sub.stop();
  assert.equal(marathon.engine.callbacks.urls().includes(registered), false, 'unsubscribed on stop');
});

test('pointed at a standby: the event stream follows its redirect to the leader, reads are proxied there', async () => {
  const leader = await startMarathon(200);
  cleanups.push(() => leader.close());
  const standby = await startMarathon(200);
  cleanups.push(() => standby.close());
  standby.faults.leaderUrl = leader.url;
  const app = await leader.putApp(theseusApp(web));
  await leader.startTask(app.id);
  const prefix = randomPrefix();
  cleanups.push(() => clearPrefix(prefix));
  // Both are configured (redirects are followed only to configured Marathon URLs); the standby is tried first.
  const sub = makeSubscriber([standby.url, leader.url], prefix);
  cleanups.push(() => sub.stop());
  sub.start();
  await until(() => sub.isLeader && leader.faults.streamCount === 1, 'stream attached to the leader');
  assert.equal(standby.faults.streamCount, 0);
  assert.ok(
    standby.calls.some((c) => c.path === '/v2/events' && c.status === 302),
    'redirected by the standby',
  );
  await untilInSync(leader, prefix);
  await leader.startTask(app.id);
  await untilInSync(leader, prefix);
  assert.equal((await etcdView(prefix)).size, 2);
});
