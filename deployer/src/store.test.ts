// Deployment records in a real Redis keep only what status needs: a deploy step's app definition
// (environment values included) is kept apart for the worker while the deployment runs, and dropped
// when it ends; changes to environment values are recorded without the values.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createLogger } from '@theseus/services';
import { DeploymentStore, HIDDEN_VALUE, type DeploymentRecord } from './store.js';

const store = new DeploymentStore({
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  prefix: `test-store-${randomUUID().slice(0, 8)}`,
  logger: createLogger({ component: 'deployer', silent: true }),
});
after(async () => {
  const keys = await store.redis.keys(`${store.key()}*`);
  if (keys.length) await store.redis.del(...keys);
  await store.close();
});

test("a deploy step's app is kept apart while the deployment runs and gone when it ends; env values never in the record", async () => {
  const app = {
    id: '/theseus/default/shop',
    instances: 2,
    env: { SHOP_SECRET: 'value-s3cret-1' },
    container: { type: 'DOCKER' as const, docker: { image: 'shop:2' } },
  };
  const record: DeploymentRecord = {
    id: randomUUID(),
    kind: 'deploy',
    state: 'queued',
    createdAt: new Date().toISOString(),
    steps: [
      {
        service: 'shop',
        namespace: 'default',
        labels: [],
        appId: app.id,
        target: { kind: 'deploy', app },
        state: 'pending',
        attempts: 0,
      },
    ],
  };
  await store.save(record);
  assert.deepEqual((await store.get(record.id))!.steps[0]!.target, { kind: 'deploy', image: 'shop:2', instances: 2 });
  assert.doesNotMatch(JSON.stringify(await store.recent(10)), /value-s3cret/);

  const work = (await store.getForWork(record.id))!;
  assert.deepEqual(work.steps[0]!.target, { kind: 'deploy', image: 'shop:2', instances: 2, app });
  work.state = 'running';
  work.steps[0]!.changes = [
    { path: '/env/SHOP_SECRET', from: 'value-s3cret-0', to: 'value-s3cret-1' },
    { path: '/instances', from: 1, to: 2 },
  ];
  await store.save(work);
  assert.deepEqual((await store.get(record.id))!.steps[0]!.changes, [
    { path: '/env/SHOP_SECRET', from: HIDDEN_VALUE, to: HIDDEN_VALUE },
    { path: '/instances', from: 1, to: 2 },
  ]);
  assert.deepEqual(
    (await store.getForWork(record.id))!.steps[0]!.target,
    { kind: 'deploy', image: 'shop:2', instances: 2, app },
    'still there for a resumed job',
  );

  work.state = 'succeeded';
  await store.save(work);
  assert.deepEqual((await store.getForWork(record.id))!.steps[0]!.target, {
    kind: 'deploy',
    image: 'shop:2',
    instances: 2,
  });
  assert.deepEqual(
    await store.redis.keys(`${store.key('deployment', record.id)}:*`),
    [],
    'the app definitions are gone',
  );
  assert.doesNotMatch(JSON.stringify(await store.redis.get(store.key('deployment', record.id))), /value-s3cret/);
});
