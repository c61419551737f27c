/**
 * Per-app mutual exclusion across every deployer process sharing a Redis: two deploy jobs never
 * work on the same Marathon app at once. A lock is a Redis key holding the owning deployment's id
 * with a TTL, renewed while held; the owner may take it again at once (a job resumed after a crash
 * does not wait for its own dead lock to expire), anyone else waits until it is released or expires.
 */
import type { Redis } from 'ioredis';
import { describeError, type Logger } from '@theseus/services';

export interface AppLocksOptions {
  redis: Redis;
  logger: Logger;
  /** Key prefix (the store's). */
  keyPrefix: string;
  /**
   * Lock lifetime without renewal; a crashed holder blocks others at most this long.
   * @defaultValue 30000
   */
  ttlMs?: number;
  /**
   * Delay between attempts while another deployment holds the lock.
   * @defaultValue 100
   */
  retryMs?: number;
}

// Take the lock when free or already ours; refresh its TTL.
const ACQUIRE = `
local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

export class AppLocks {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly ttlMs: number;
  private readonly retryMs: number;
  private readonly logger: Logger;

  constructor(options: AppLocksOptions) {
    this.redis = options.redis;
    this.prefix = `${options.keyPrefix}:lock:app`;
    this.ttlMs = options.ttlMs ?? 30_000;
    this.retryMs = options.retryMs ?? 100;
    this.logger = options.logger;
  }

  /**
   * Runs `work` holding the lock of `appId` for `owner`. `onWait` is called once when another
   * deployment holds it (with that deployment's id).
   */
  async withLock<T>(
    appId: string,
    owner: string,
    work: () => Promise<T>,
    onWait?: (holder: string) => void,
  ): Promise<T> {
    const key = `${this.prefix}:${appId}`;
    let told = false;
    while ((await this.redis.eval(ACQUIRE, 1, key, owner, String(this.ttlMs))) !== 1) {
      if (!told && onWait) {
        told = true;
        onWait((await this.redis.get(key)) ?? 'unknown');
      }
      await new Promise((r) => setTimeout(r, this.retryMs));
    }
    const renew = setInterval(
      () =>
        void this.redis
          .eval(RENEW, 1, key, owner, String(this.ttlMs))
          .catch((err: unknown) =>
            this.logger.warn('could not renew an app lock', { appId, owner, error: describeError(err) }),
          ),
      Math.max(50, this.ttlMs / 3),
    );
    try {
      return await work();
    } finally {
      clearInterval(renew);
      // a lock not released expires after its time to live
      await this.redis
        .eval(RELEASE, 1, key, owner)
        .catch((err: unknown) =>
          this.logger.warn('could not release an app lock', { appId, owner, error: describeError(err) }),
        );
    }
  }

  /** The deployment holding `appId`'s lock, if any. */
  holder(appId: string): Promise<string | null> {
    return this.redis.get(`${this.prefix}:${appId}`);
  }
}
