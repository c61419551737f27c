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
import { MarathonDouble } from '@theseus/services/testing';
import { EtcdProcess } from '@theseus/services/testing';
import { clearPrefix, etcdView, makeSubscriber, marathonView, randomPrefix, theseusApp, until, untilInSync } from './testing/harness.js';
import { subscriberHttpApp } from './http.js';
import type { Subscriber } from './subscriber.js';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

const web = { namespace: 'default', service: 'web', labels: [] };

async function world(options: { etcd?: string[]; subscribers?: number; subscriber?: Parameters<typeof makeSubscriber>[2] } = {}) {
  const double = await MarathonDouble.start({ heartbeatMs: 200 });
  cleanups.push(() => double.close());
  const prefix = randomPrefix();
  if (!options.etcd) cleanups.push(() => clearPrefix(prefix));
  const subs: Subscriber[] = [];
  for (let i = 0; i < (options.subscribers ?? 1); i++) {
    const sub = makeSubscriber(double, prefix, { ...(options.etcd ? { etcdEndpoints: options.etcd } : {}), ...options.subscriber });
    cleanups.push(() => sub.stop());
    sub.start();
    subs.push(sub);
  }
  await until(() => subs.some((s) => s.isLeader) && double.events.streamCount === subs.length, 'a leader and attached streams');
  const app = double.putApp(theseusApp(web));
  return { double, prefix, subs, app };
}

/** Resolves after a reconcile finished later than `since` (taken before the fault). */
async function reconciledSince(sub: Subscriber, since: string): Promise<void> {
  await until(async () => ((await sub.status()).lastReconcile?.at ?? '') > since, 'the next reconcile', 30_000);
}

async function assertInSync(double: MarathonDouble, prefix: string, endpoints?: string[]) {
  assert.deepEqual([...(await etcdView(prefix, endpoints))].sort(), [...marathonView(double, prefix)].sort());
}

test('event stream cut: changes missed while detached are healed by the reconcile after reattach', async () => {
  const { double, prefix, subs, app } = await world();
  const first = double.startTask(app.id);
  await untilInSync(double, prefix);
  const since = new Date().toISOString();
  double.events.cutStreams();
  // Missed while the stream is down (published to nobody).
  double.setTaskState(first.id, 'TASK_KILLED');
  double.startTask(app.id);
  await reconciledSince(subs[0]!, since);
  await assertInSync(double, prefix);
  assert.equal(marathonView(double, prefix).size, 1);
});

test('a silent stream (no heartbeats) is dropped after the idle timeout, reattached and reconciled', async () => {
  const { double, prefix, subs, app } = await world();
  await untilInSync(double, prefix);
  double.events.muted = true;
  double.startTask(app.id); // its events go nowhere
  await until(async () => (await subs[0]!.status()).stream === 'detached', 'idle stream declared dead');
  const since = new Date().toISOString();
  double.events.muted = false;
  await reconciledSince(subs[0]!, since);
  await assertInSync(double, prefix);
  assert.equal((await etcdView(prefix)).size, 1);
});

test('Marathon down for a while: readiness drops, and on return the reconcile heals what changed meanwhile', async () => {
  const { double, prefix, subs, app } = await world();
  const t1 = double.startTask(app.id);
  double.startTask(app.id);
  await untilInSync(double, prefix);
  await double.down();
  await until(async () => (await subs[0]!.status()).stream === 'detached', 'stream detached');
  // Marathon's state moves on while nobody can see it.
  double.setTaskState(t1.id, 'TASK_FAILED', { silent: true });
  double.startTask(app.id, { silent: true });
  await assert.rejects(subs[0]!.reconcileNow('while Marathon is down'), /did not answer|unavailable/i);
  await new Promise((r) => setTimeout(r, 500));
  const since = new Date().toISOString();
  await double.up();
  await reconciledSince(subs[0]!, since);
  await assertInSync(double, prefix);
});

test('etcd restarted: changes are kept and retried, and a reconcile runs when it returns', async () => {
  const etcd = await EtcdProcess.start();
  cleanups.push(() => etcd.destroy());
  const endpoints = [etcd.endpoint];
  const { double, prefix, subs, app } = await world({ etcd: endpoints });
  const t1 = double.startTask(app.id);
  await untilInSync(double, prefix, { endpoints });
  await etcd.stop('SIGTERM');
  // Events while etcd is down: kept by the subscriber.
  double.setTaskState(t1.id, 'TASK_KILLED');
  double.startTask(app.id);
  double.startTask(app.id, { silent: true });
  await until(async () => !(await subs[0]!.status()).etcdReachable, 'etcd seen as unreachable');
  await new Promise((r) => setTimeout(r, 2_500)); // longer than the leader lease
  const since = new Date().toISOString();
  await etcd.restart();
  await reconciledSince(subs[0]!, since);
  await assertInSync(double, prefix, endpoints);
  assert.equal(marathonView(double, prefix).size, 2);
  // And events flow again.
  double.startTask(app.id);
  await untilInSync(double, prefix, { endpoints });
});

test('leader failover: only the leader writes; when it dies the standby takes over and reconciles first', async () => {
  const { double, prefix, subs, app } = await world({ subscribers: 2 });
  const leader = subs.find((s) => s.isLeader)!;
  const standby = subs.find((s) => !s.isLeader)!;
  double.startTask(app.id);
  double.startTask(app.id);
  await untilInSync(double, prefix);
  const writes = async (s: Subscriber) => (await s.metrics.writes.get()).values.reduce((n, v) => n + v.value, 0);
  // etcd can show the writes before the leader has read its transaction's answer and counted them.
  await until(async () => (await writes(leader)) >= 2, "the leader's writes counted");
  assert.equal(await writes(standby), 0, 'a standby never writes');
  await assert.rejects(standby.reconcileNow('standby'), /standby/);

  // The leader dies without resigning: its lease must run out.
  const since = new Date().toISOString();
  await leader.halt();
  const gone = double.startTask(app.id, { silent: true }); // missed by everyone
  await until(() => standby.isLeader, 'standby elected');
  await reconciledSince(standby, since);
  await assertInSync(double, prefix);
  assert.ok((await etcdView(prefix)).has(new EtcdLayout(prefix).endpoint('default', 'web', gone.id)));
  double.startTask(app.id);
  await untilInSync(double, prefix);
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
  const double = await MarathonDouble.start({ heartbeatMs: 200 });
  cleanups.push(() => double.close());
  const prefix = randomPrefix();
  cleanups.push(() => clearPrefix(prefix));
  const sub = makeSubscriber(double, prefix, { callbackUrl, callbackSecret: 'callback-secret-0123' });
  cleanups.push(() => sub.stop());
  server.on('request', subscriberHttpApp(sub));
  sub.start();
  const registered = `${callbackUrl}?secret=callback-secret-0123`;
  await until(() => double.events.callbacks.has(registered), 'callback registered');
  assert.equal(double.events.streamCount, 0, 'no event stream in callback mode');
  const app = double.putApp(theseusApp(web));
  const task = double.startTask(app.id);
  await untilInSync(double, prefix);
  double.setTaskState(task.id, 'TASK_FINISHED');
  await until(async () => (await etcdView(prefix)).size === 0, 'removal through a callback');
  await sub.stop();
  assert.equal(double.events.callbacks.has(registered), false, 'unsubscribed on stop');
});
