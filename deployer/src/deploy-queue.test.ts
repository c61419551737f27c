/**
 * The deploy queue under failure: a deployer killed mid-deployment, a Redis restarted (and
 * crashed) under a running and a queued deployment, several deployers sharing one queue. Each
 * test runs its own redis-server (append-only) so the shared one is never restarted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { InProcessEngine } from '@theseus/cluster/testing';
import { OwnRedis } from './testing/redis-server.js';
import { randomPrefix, startHarness, TEST_TOKEN, type Harness } from './testing/harness.js';

const RUN_DEPLOYER = fileURLToPath(new URL('./testing/run-deployer.ts', import.meta.url));
const auth = { Authorization: `Bearer ${TEST_TOKEN}` };

async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function creates(marathon: InProcessEngine, appId: string): number {
  return marathon.calls.filter(
    (c) =>
      c.method === 'POST' && c.path === '/v2/apps' && (c.body as { id?: string })?.id === appId && c.status === 201,
  ).length;
}

describe('deploy queue resilience', () => {
  let redis: OwnRedis;
  before(async () => {
    redis = new OwnRedis();
    await redis.start();
  });
  after(async () => {
    await redis.destroy();
  });

  test('a deployer killed mid-deployment: another one resumes the job and applies nothing twice', async () => {
    const marathon = await InProcessEngine.start();
    marathon.hold();
    const marathonUrl = marathon.url;
    const prefix = randomPrefix();
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', RUN_DEPLOYER], {
      env: {
        ...process.env,
        MARATHON_URL: marathonUrl,
        REDIS_URL: redis.url,
        THESEUS_API_TOKEN: TEST_TOKEN,
        THESEUS_QUEUE_PREFIX: prefix,
        DEPLOY_LOCK_DURATION_MS: '1000',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    let takeover: Harness | undefined;
    try {
      const url = await until('the deployer process', () => /listening (\S+)/.exec(out)?.[1]);
      const doc = 'deploy:\n  alpha: {image: a}\n  beta: {image: b}\n  gamma: {image: c, instances: 2}\n';
      const accepted = await request(url).post('/deploy').set(auth).type('application/yaml').send(doc);
      assert.equal(accepted.status, 202);
      await until('all three creates', () =>
        ['alpha', 'beta', 'gamma'].every((s) => creates(marathon, `/theseus/default/${s}`) === 1),
      );
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));

      marathon.release();
      takeover = await startHarness({ marathonUrl, redisUrl: redis.url, queuePrefix: prefix, lockDurationMs: 1000 });
      const done = await request(takeover.url).get(`/deployments/${accepted.body.id}?wait=true&timeout=30`).set(auth);
      assert.equal(
        done.body.state,
        'succeeded',
        JSON.stringify(done.body.steps.map((s: { error?: unknown }) => s.error)),
      );
      // a step killed after Marathon created its app but before the record said so plans again and finds it done
      for (const step of done.body.steps as Array<{ action: string; state: string }>) {
        assert.ok(step.action === 'create' || step.action === 'noop', step.action);
        assert.equal(step.state, 'succeeded');
      }
      for (const s of ['alpha', 'beta', 'gamma']) assert.equal(creates(marathon, `/theseus/default/${s}`), 1, s);
      assert.equal(marathon.calls.filter((c) => c.method === 'PUT' || c.method === 'PATCH').length, 0);
    } finally {
      child.kill('SIGKILL');
      await takeover?.close();
      await marathon.close();
    }
  });

  test('Redis crashes and restarts under a running deployment: it completes, each app created once', async () => {
    const h = await startHarness({
      redisUrl: redis.url,
      marathon: { script: () => ({ afterMs: 1500 }) },
      lockDurationMs: 5000,
    });
    try {
      const accepted = await request(h.url)
        .post('/deploy')
        .set(h.auth)
        .type('application/yaml')
        .send('deploy:\n  one: {image: a}\n  two: {image: b}\n');
      assert.equal(accepted.status, 202);
      await until(
        'both creates',
        () => creates(h.marathon!, '/theseus/default/one') && creates(h.marathon!, '/theseus/default/two'),
      );
      await redis.stop('SIGKILL');
      await new Promise((r) => setTimeout(r, 500));
      await redis.start();
      const done = await request(h.url).get(`/deployments/${accepted.body.id}?wait=true&timeout=30`).set(h.auth);
      assert.equal(done.body.state, 'succeeded');
      assert.equal(creates(h.marathon!, '/theseus/default/one'), 1);
      assert.equal(creates(h.marathon!, '/theseus/default/two'), 1);
    } finally {
      await h.close();
    }
  });

  test('deployments accepted before a Redis restart are not lost: a worker started after applies them', async () => {
    const marathon = await InProcessEngine.start();
    const marathonUrl = marathon.url;
    const prefix = randomPrefix();
    const front = await startHarness({ marathonUrl, redisUrl: redis.url, queuePrefix: prefix, worker: false });
    let worker: Harness | undefined;
    try {
      const ids: string[] = [];
      for (const name of ['q1', 'q2', 'q3']) {
        const res = await request(front.url)
          .post('/deploy')
          .set(front.auth)
          .type('application/yaml')
          .send(`deploy:\n  ${name}: {image: x}\n`);
        assert.equal(res.status, 202);
        ids.push(res.body.id);
      }
      assert.equal(marathon.faults.mutations().length, 0);
      await redis.stop('SIGTERM');
      await redis.start();
      const started = await startHarness({ marathonUrl, redisUrl: redis.url, queuePrefix: prefix });
      worker = started;
      for (const id of ids) {
        const done = await request(started.url).get(`/deployments/${id}?wait=true&timeout=30`).set(started.auth);
        assert.equal(done.body.state, 'succeeded');
      }
      for (const name of ['q1', 'q2', 'q3']) assert.equal(creates(marathon, `/theseus/default/${name}`), 1);
    } finally {
      await worker?.close();
      await front.close();
      await marathon.close();
    }
  });

  test('several deployers share one queue and never work on the same app at once', async () => {
    const marathon = await InProcessEngine.start({ script: () => ({ afterMs: 150 }) });
    const marathonUrl = marathon.url;
    const prefix = randomPrefix();
    const a = await startHarness({ marathonUrl, redisUrl: redis.url, queuePrefix: prefix });
    const b = await startHarness({ marathonUrl, redisUrl: redis.url, queuePrefix: prefix });
    try {
      await request(a.url)
        .post('/deploy?wait=true')
        .set(a.auth)
        .type('application/yaml')
        .send('deploy:\n  shared: {image: s, instances: 1}\n');
      const ids: string[] = [];
      for (let i = 2; i <= 7; i++) {
        const via = i % 2 ? a : b;
        const image = i % 3 ? 's' : `s:${i}`;
        const res = await request(via.url)
          .post('/deploy')
          .set(via.auth)
          .type('application/yaml')
          .send(`deploy:\n  shared: {image: "${image}", instances: ${i}}\n`);
        ids.push(res.body.id);
      }
      for (const id of ids) {
        const done = await request(b.url).get(`/deployments/${id}?wait=true&timeout=30`).set(b.auth);
        assert.equal(done.body.state, 'succeeded');
      }
      const locked = marathon.calls.filter((c) => c.status === 409);
      assert.deepEqual(locked, [], 'no change was sent while another deployment held the app');
      const changes = marathon.faults.mutations('/theseus/default/shared').length;
      assert.ok(changes >= 2, `changes: ${changes}`);
    } finally {
      await a.close();
      await b.close();
      await marathon.close();
    }
  });
});
