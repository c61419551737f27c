/**
 * How guestutils waits before trying again. It runs inside containers on its own, so it keeps its
 * policies here rather than sharing the services'. Delays double from `initialMs` up to `maxMs`;
 * with `jitter` each is drawn between half and all of that, so that many containers reconnecting
 * to one etcd spread out.
 */
import type { IOptions } from 'etcd3';

export interface RetryPolicy {
  initialMs: number;
  maxMs: number;
  jitter: boolean;
}

export const WATCH_RETRY = {
  /** Reconnecting to etcd and reading a service again: a container waiting for its peers should not wait long. */
  etcd: { initialMs: 100, maxMs: 1_000, jitter: true },
  /** Delivering again the changes a handler threw on. */
  handler: { initialMs: 1_000, maxMs: 30_000, jitter: false },
} as const satisfies Record<string, RetryPolicy>;

/** The delay after `failures` failures in a row (1 for the first). */
export function retryDelay(policy: RetryPolicy, failures: number): number {
  const delay = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(Math.max(0, failures - 1), 30));
  return policy.jitter ? delay / 2 + (Math.random() * delay) / 2 : delay;
}

/**
 * The etcd client's fault handling, tuned to come back promptly after an etcd restart. etcd3's
 * defaults open a host's circuit for 5 s after 3 failures (every call fails fast meanwhile, watch
 * streams included) and back watch reconnects off up to 30 s. cockatiel loads with etcd3, on first use.
 */
export async function etcdFaultHandling(): Promise<NonNullable<IOptions['faultHandling']>> {
  const [{ circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen, retry }, { isRecoverableError }] =
    await Promise.all([import('cockatiel'), import('etcd3')]);
  const { initialMs, maxMs } = WATCH_RETRY.etcd;
  return {
    host: () =>
      circuitBreaker(handleWhen(isRecoverableError), {
        halfOpenAfter: initialMs * 5,
        breaker: new ConsecutiveBreaker(3),
      }),
    global: retry(handleWhen(isRecoverableError), {
      maxAttempts: 2,
      backoff: new ExponentialBackoff({ initialDelay: initialMs / 2, maxDelay: initialMs * 2.5 }),
    }),
    // etcd3 calls next() on it for each first delay, so its type says IBackoff where a factory is meant.
    watchBackoff: new ExponentialBackoff({ initialDelay: initialMs, maxDelay: maxMs }).next(),
  };
}

/** gRPC channel options of the etcd client: notice a dead connection within seconds, reconnect promptly. */
export const ETCD_GRPC_OPTIONS = {
  // etcd allows a ping every 5 s by default.
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.initial_reconnect_backoff_ms': WATCH_RETRY.etcd.initialMs,
  'grpc.max_reconnect_backoff_ms': WATCH_RETRY.etcd.maxMs,
} as const;
