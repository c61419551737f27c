/**
 * How Theseus waits before trying again: one named policy per dependency and purpose, each an
 * exponential backoff (cockatiel's) that doubles from `initialMs` up to `maxMs`. With `jitter`,
 * each delay is drawn between half and all of that value, so that many clients retrying the same
 * server spread out. Every retry delay in the services, deployer and subscriber comes from here.
 */
import {
  ConsecutiveBreaker,
  ExponentialBackoff,
  circuitBreaker,
  halfJitterGenerator,
  handleWhen,
  noJitterGenerator,
  retry,
  type IBackoff,
} from 'cockatiel';
import { isRecoverableError, type IOptions } from 'etcd3';

export interface BackoffPolicy {
  /** First delay, ms. */
  readonly initialMs: number;
  /** Longest delay, ms. */
  readonly maxMs: number;
  /** Draw each delay between half and all of the exponential value. */
  readonly jitter: boolean;
  /** Attempts in all (the first included) before giving up; absent: retry for as long as the part runs. */
  readonly attempts?: number;
}

export const RETRY_POLICIES = {
  /**
   * etcd calls and watches: prompt, because etcd restarts in seconds and endpoint records must
   * follow tasks closely. Used for the client's retry and watch reconnects and for the
   * subscriber's queued writes.
   */
  etcd: { initialMs: 100, maxMs: 2_000, jitter: false },
  /**
   * The Marathon event stream: every subscriber and deployer reconnects to the same Marathon, so
   * the delays are spread; after a failure the next URL is tried.
   */
  marathonStream: { initialMs: 500, maxMs: 30_000, jitter: true },
  /** A deploy step's recoverable Marathon error (no answer, 5xx, 409 locked). */
  marathonStep: { initialMs: 200, maxMs: 10_000, jitter: true, attempts: 8 },
  /** A subscriber reconcile (a full read of Marathon) that failed. */
  reconcile: { initialMs: 500, maxMs: 10_000, jitter: false },
  /** Registering the subscriber's HTTP callback with Marathon. */
  marathonCallback: { initialMs: 1_000, maxMs: 5_000, jitter: false },
  /** Reconnects to Redis (ioredis' retryStrategy). */
  redis: { initialMs: 50, maxMs: 2_000, jitter: false },
  /** A deploy job whose outcome could not be recorded (BullMQ retries the job, doubling up to 16 s). */
  deployJob: { initialMs: 1_000, maxMs: 16_000, jitter: false, attempts: 5 },
} as const satisfies Record<string, BackoffPolicy>;

/** The delays of one sequence of failures: `next()` after each failure, `reset()` after a success. */
export class Backoff {
  private readonly factory: ExponentialBackoff<number>;
  private state: IBackoff<unknown> | undefined;
  private count = 0;

  constructor(readonly policy: BackoffPolicy) {
    this.factory = new ExponentialBackoff({
      initialDelay: policy.initialMs,
      maxDelay: policy.maxMs,
      generator: policy.jitter ? halfJitterGenerator : noJitterGenerator,
    });
  }

  /** Failures since the last reset. */
  get failures(): number {
    return this.count;
  }

  /** True while the policy allows another attempt after the failures so far. */
  get canRetry(): boolean {
    return this.policy.attempts === undefined || this.count < this.policy.attempts;
  }

  /** The delay before the next attempt, ms; counts one failure. */
  next(): number {
    this.state = this.state ? this.state.next(undefined) : this.factory.next();
    this.count++;
    return this.state.duration;
  }

  reset(): void {
    this.state = undefined;
    this.count = 0;
  }
}

/** The delay after `failures` failures in a row (1 for the first), for callers that count them. */
export function backoffDelay(policy: BackoffPolicy, failures: number): number {
  const backoff = new Backoff(policy);
  let delay = 0;
  for (let i = 0; i < Math.max(1, failures); i++) delay = backoff.next();
  return delay;
}

/** ioredis' `retryStrategy`: reconnect delays of every Redis connection. */
export function redisRetryStrategy(times: number): number {
  return backoffDelay(RETRY_POLICIES.redis, times);
}

/**
 * The etcd client's fault handling: a failed host's circuit half-opens after a short pause, calls
 * are retried once, watches reconnect with the etcd policy. etcd3's defaults keep a host's circuit
 * open for 5 s after 3 failures and back watch reconnects off up to 30 s, far longer than an etcd
 * restart takes; our own callers already retry.
 */
export function etcdFaultHandling(): NonNullable<IOptions['faultHandling']> {
  const { initialMs, maxMs } = RETRY_POLICIES.etcd;
  return {
    host: () =>
      circuitBreaker(handleWhen(isRecoverableError), {
        halfOpenAfter: initialMs * 2,
        breaker: new ConsecutiveBreaker(5),
      }),
    global: retry(handleWhen(isRecoverableError), {
      maxAttempts: 1,
      backoff: new ExponentialBackoff({ initialDelay: initialMs / 2, maxDelay: initialMs * 2 }),
    }),
    // etcd3 calls next() on it for each first delay, so its type says IBackoff where a factory is meant.
    watchBackoff: new ExponentialBackoff({ initialDelay: initialMs, maxDelay: maxMs }).next(),
  };
}

/** gRPC reconnect backoff of the etcd client, from the etcd policy. */
export const ETCD_GRPC_RECONNECT = {
  'grpc.initial_reconnect_backoff_ms': RETRY_POLICIES.etcd.initialMs,
  'grpc.max_reconnect_backoff_ms': RETRY_POLICIES.etcd.maxMs,
} as const;
