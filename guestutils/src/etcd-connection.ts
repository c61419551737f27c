/**
 * The etcd side of guestutils, loaded on first use: importing guestutils costs a few milliseconds
 * and opens no connection; the service model, etcd3 and gRPC load when the first question needs
 * etcd.
 *
 * The client is tuned to come back promptly after an etcd restart. etcd3's defaults open a host's
 * circuit for 5 s after 3 failures (every call fails fast meanwhile, watch streams included) and
 * back watch reconnects off up to 30 s; a container waiting for its peers should not wait that long.
 */
import type { Etcd3, IOptions } from 'etcd3';
import type * as Services from '@theseus/services';

export type ServicesModule = typeof Services;

let servicesModule: Promise<ServicesModule> | undefined;

/** The shared service model (endpoint records, layout, etcd client), loaded once. */
export function loadServices(): Promise<ServicesModule> {
  return (servicesModule ??= import('@theseus/services'));
}

export interface EtcdConnectionOptions {
  endpoints: readonly string[];
  /** Deadline of each etcd call. @defaultValue 5000 */
  timeoutMs?: number;
}

/** Half-open a failed host's circuit after this long. */
const HALF_OPEN_AFTER_MS = 500;

async function promptFaultHandling(): Promise<NonNullable<IOptions['faultHandling']>> {
  const [cockatiel, { isRecoverableError }] = await Promise.all([import('cockatiel'), import('etcd3')]);
  const { circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen, retry } = cockatiel;
  return {
    host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: HALF_OPEN_AFTER_MS, breaker: new ConsecutiveBreaker(3) }),
    global: retry(handleWhen(isRecoverableError), { maxAttempts: 2, backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 250 }) }),
    // etcd3 calls next() on it for each first delay, so its type says IBackoff where a factory is meant.
    watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1_000 }).next(),
  };
}

export async function connectEtcd(options: EtcdConnectionOptions): Promise<Etcd3> {
  const [{ createEtcdClient }, faultHandling] = await Promise.all([loadServices(), promptFaultHandling()]);
  return createEtcdClient({
    endpoints: options.endpoints,
    timeoutMs: options.timeoutMs ?? 5_000,
    faultHandling,
    grpcOptions: {
      // Notice a dead connection within seconds (etcd allows a ping every 5 s by default).
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1_000,
    },
  });
}
