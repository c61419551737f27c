/** The etcd client every part uses, configured in one place. */
import { Etcd3, isRecoverableError, type IOptions } from 'etcd3';
import { EtcdUnavailableError } from './errors.js';

export interface EtcdClientOptions {
  endpoints: readonly string[];
  /** Per-call deadline. */
  timeoutMs?: number;
  /**
   * Retry, circuit-breaker and watch-reconnect policies (cockatiel). etcd3's defaults open a host's
   * circuit for 5 s after 3 failures and back watch reconnects off up to 30 s.
   */
  faultHandling?: IOptions['faultHandling'];
  /** gRPC channel options, e.g. keepalive and reconnect backoff. */
  grpcOptions?: IOptions['grpcOptions'];
}

export function createEtcdClient(options: EtcdClientOptions): Etcd3 {
  const config: IOptions = {
    hosts: [...options.endpoints],
    dialTimeout: options.timeoutMs ?? 5_000,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + (options.timeoutMs ?? 5_000) }),
    ...(options.faultHandling ? { faultHandling: options.faultHandling } : {}),
    ...(options.grpcOptions ? { grpcOptions: options.grpcOptions } : {}),
  };
  return new Etcd3(config);
}

/** Maps an etcd3 error to a Theseus error: unreachable etcd becomes a recoverable EtcdUnavailableError. */
export function castEtcdError(err: unknown): unknown {
  if (err instanceof Error && (isRecoverableError(err) || /UNAVAILABLE|DEADLINE|ECONNREFUSED|connect/i.test(err.message))) {
    return new EtcdUnavailableError(`etcd is unreachable: ${err.message}`, err);
  }
  return err;
}
