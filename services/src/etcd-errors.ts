/** How etcd client failures reach a Theseus caller. */
import { isRecoverableError } from 'etcd3';
import { EtcdUnavailableError } from './errors.js';

/** Maps an etcd3 error to a Theseus error: unreachable etcd becomes a recoverable EtcdUnavailableError. */
export function castEtcdError(err: unknown): unknown {
  if (
    err instanceof Error &&
    (isRecoverableError(err) || /UNAVAILABLE|DEADLINE|ECONNREFUSED|connect/i.test(err.message))
  ) {
    return new EtcdUnavailableError(`etcd is unreachable: ${err.message}`, err);
  }
  return err;
}
