import { Redis } from 'ioredis';
import { describeError, redisRetryStrategy, type Logger } from '@theseus/services';

/**
 * A Redis connection that reconnects by itself (the Redis retry policy) and reports an outage once:
 * a warning when the connection is lost, a note when it is back. ioredis emits 'error' at every
 * failed reconnect; without this, each would be an unhandled event or a line per attempt.
 */
export function openRedis(url: string, logger: Logger, role: string): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: null, retryStrategy: redisRetryStrategy });
  let lost = false;
  redis.on('error', (err) => {
    if (lost) return;
    lost = true;
    logger.warn('Redis connection lost; reconnecting', { role, error: describeError(err) });
  });
  redis.on('ready', () => {
    if (!lost) return;
    lost = false;
    logger.info('Redis connection back', { role });
  });
  return redis;
}
