import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, RETRY_POLICIES, backoffDelay, redisRetryStrategy } from './retry.js';

test('a backoff doubles from the first delay up to the cap, and starts over after reset', () => {
  const backoff = new Backoff({ initialMs: 100, maxMs: 1_000, jitter: false });
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map(() => backoff.next()),
    [100, 200, 400, 800, 1_000, 1_000],
  );
  assert.equal(backoff.failures, 6);
  backoff.reset();
  assert.equal(backoff.next(), 100);
});

test('with jitter each delay lies between half and all of the exponential value', () => {
  for (let run = 0; run < 50; run++) {
    const backoff = new Backoff({ initialMs: 200, maxMs: 10_000, jitter: true });
    for (const full of [200, 400, 800, 1_600, 3_200, 6_400, 10_000, 10_000]) {
      const delay = backoff.next();
      assert.ok(delay >= full / 2 && delay <= full, `${delay} within [${full / 2}, ${full}]`);
    }
  }
});

test('a policy with attempts allows that many in all, the first included', () => {
  const backoff = new Backoff(RETRY_POLICIES.marathonStep);
  let attempts = 1;
  while (backoff.canRetry) {
    backoff.next();
    attempts++;
  }
  assert.equal(attempts, RETRY_POLICIES.marathonStep.attempts + 1);
  assert.equal(backoff.failures, RETRY_POLICIES.marathonStep.attempts);
});

test('backoffDelay and the Redis strategy follow their policy', () => {
  assert.equal(backoffDelay(RETRY_POLICIES.etcd, 1), RETRY_POLICIES.etcd.initialMs);
  assert.equal(backoffDelay(RETRY_POLICIES.etcd, 50), RETRY_POLICIES.etcd.maxMs);
  assert.equal(redisRetryStrategy(1), RETRY_POLICIES.redis.initialMs);
  assert.equal(redisRetryStrategy(1_000), RETRY_POLICIES.redis.maxMs);
});
