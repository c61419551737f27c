import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import {
  createLogger,
  readDeployDocument,
  type MarathonAppInfo,
  type MarathonClient,
  type MarathonEvent,
} from '@theseus/services';
import { Deployer, type AppEventFeed } from './deployer.js';
import { toMarathonApp } from './translate.js';

const translation = {
  appGroup: 'theseus',
  etcdEndpoints: ['http://10.0.0.1:2379'],
  etcdPrefix: '/theseus',
  networkApi: 'canonical' as const,
};
const doc = readDeployDocument('deploy:\n  web: {image: "nginx:1", ports: {http: 80}}\n', 'yaml');

/** Marathon's app list as a dry run reads it, counting the reads. */
function marathonWith(apps: MarathonAppInfo[]) {
  const marathon = { reads: 0, apps, listApps: async () => (marathon.reads++, marathon.apps) };
  return marathon;
}

class Feed extends EventEmitter implements AppEventFeed {
  attached = false;
  attach() {
    this.attached = true;
    this.emit('attached');
  }
  send(eventType: string) {
    this.emit('event', { eventType, timestamp: new Date().toISOString() } as MarathonEvent);
  }
}

function deployer(marathon: ReturnType<typeof marathonWith>, events?: Feed) {
  return new Deployer({
    marathon: marathon as unknown as MarathonClient,
    logger: createLogger({ component: 'deployer', silent: true }),
    store: {} as never,
    queue: {} as never,
    translation,
    networkApi: 'canonical',
    events,
  });
}

const running = () =>
  ({ ...toMarathonApp(doc.deploy[0]!, translation), version: '2026-01-01T00:00:00.000Z' }) as MarathonAppInfo;

test('with the event stream attached, dry runs plan against one read until an event changes apps', async () => {
  const marathon = marathonWith([]);
  const feed = new Feed();
  const d = deployer(marathon, feed);
  feed.attach();
  assert.equal((await d.dryRun(doc))[0]!.action, 'create');
  assert.equal((await d.dryRun(doc))[0]!.action, 'create');
  assert.equal(marathon.reads, 1);
  marathon.apps = [running()];
  feed.send('status_update_event'); // tasks only: the definitions are the same
  await d.dryRun(doc);
  assert.equal(marathon.reads, 1);
  feed.send('deployment_success');
  assert.equal((await d.dryRun(doc))[0]!.action, 'noop');
  assert.equal(marathon.reads, 2);
});

test('without an attached stream every dry run reads Marathon; concurrent ones share a read', async () => {
  const marathon = marathonWith([running()]);
  const feed = new Feed();
  const d = deployer(marathon, feed);
  await d.dryRun(doc);
  await d.dryRun(doc);
  assert.equal(marathon.reads, 2);
  await Promise.all([d.dryRun(doc), d.dryRun(doc), d.dryRun(doc)]);
  assert.equal(marathon.reads, 3);
  feed.attach();
  feed.emit('detached');
  feed.attached = false;
  await d.dryRun(doc);
  assert.equal(marathon.reads, 4);
});
