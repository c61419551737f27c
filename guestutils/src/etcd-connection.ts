/**
 * The etcd side of guestutils, loaded on first use: importing guestutils costs a few milliseconds
 * and opens no connection; the endpoint contract, etcd3 and gRPC load when the first question
 * needs etcd.
 *
 * The client is tuned to come back promptly after an etcd restart. etcd3's defaults open a host's
 * circuit for 5 s after 3 failures (every call fails fast meanwhile, watch streams included) and
 * back watch reconnects off up to 30 s; a container waiting for its peers should not wait that long.
 */
import { readFileSync } from 'node:fs';
import type { Etcd3, IOptions } from 'etcd3';
import type * as Contract from '@theseus/contract';
import { InvalidEnvironmentError } from './errors.js';
import type { Env } from './environment.js';

export type ContractModule = typeof Contract;

let contractModule: Promise<ContractModule> | undefined;

/** The endpoint contract (records, layout, reader, etcd client), loaded once. */
export function loadContract(): Promise<ContractModule> {
  return (contractModule ??= import('@theseus/contract'));
}

export interface EtcdConnectionOptions {
  endpoints: readonly string[];
  /** Deadline of each etcd call. @defaultValue 5000 */
  timeoutMs?: number;
  /** Where the etcd credentials are read (see `etcdAccessFromEnv`). */
  env?: Env;
}

/**
 * etcd credentials from the environment: ETCD_USERNAME with ETCD_PASSWORD or ETCD_PASSWORD_FILE;
 * ETCD_CA (PEM) or ETCD_CA_FILE; ETCD_CERT_FILE with ETCD_KEY_FILE for a client certificate.
 */
export function etcdAccessFromEnv(env: Env): Contract.EtcdAccess {
  const value = (variable: string) => env[variable]?.trim() || undefined;
  const file = (variable: string): Buffer | undefined => {
    const path = value(variable);
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new InvalidEnvironmentError(variable, path, `a readable file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  };
  const username = value('ETCD_USERNAME');
  const password = env.ETCD_PASSWORD ?? file('ETCD_PASSWORD_FILE')?.toString('utf8').replace(/\r?\n$/, '');
  if (username && !password) throw new InvalidEnvironmentError('ETCD_USERNAME', username, 'usable without ETCD_PASSWORD or ETCD_PASSWORD_FILE');
  const caText = value('ETCD_CA');
  const cert = file('ETCD_CERT_FILE');
  const key = file('ETCD_KEY_FILE');
  if (Boolean(cert) !== Boolean(key)) throw new InvalidEnvironmentError(cert ? 'ETCD_KEY_FILE' : 'ETCD_CERT_FILE', '', 'set: a client certificate needs ETCD_CERT_FILE and ETCD_KEY_FILE');
  return { username, password: username ? password : undefined, ca: caText ? Buffer.from(caText) : file('ETCD_CA_FILE'), cert, key };
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
  const [{ createEtcdClient }, faultHandling] = await Promise.all([loadContract(), promptFaultHandling()]);
  return createEtcdClient({
    endpoints: options.endpoints,
    access: etcdAccessFromEnv(options.env ?? process.env),
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
