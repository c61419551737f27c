/**
 * The etcd side of guestutils, loaded on first use: importing guestutils costs a few milliseconds
 * and opens no connection; the endpoint contract, etcd3 and gRPC load when the first question
 * needs etcd.
 * The client's fault handling is guestutils' own (retry.ts): it comes back promptly after an etcd restart.
 */
import { readFileSync } from 'node:fs';
import type { Etcd3 } from 'etcd3';
import type * as Contract from '@theseus/services/contract';
import { InvalidEnvironmentError } from './errors.js';
import type { Env } from './environment.js';
import { ETCD_GRPC_OPTIONS, etcdFaultHandling } from './retry.js';

export type ContractModule = typeof Contract;

let contractModule: Promise<ContractModule> | undefined;

/** The endpoint contract (records, layout, reader, etcd client), loaded once. */
export function loadContract(): Promise<ContractModule> {
  return (contractModule ??= import('@theseus/services/contract'));
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
 * ETCD_CA (PEM) or ETCD_CA_FILE; ETCD_CERT with ETCD_KEY (PEM), or ETCD_CERT_FILE with ETCD_KEY_FILE,
 * for a client certificate; ETCD_SERVER_NAME, the host name etcd's certificate is checked against
 * when the endpoints are IP addresses.
 */
export function etcdAccessFromEnv(env: Env): Contract.EtcdAccess {
  const value = (variable: string) => env[variable]?.trim() || undefined;
  const file = (variable: string): Buffer | undefined => {
    const path = value(variable);
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new InvalidEnvironmentError(
        variable,
        path,
        `a readable file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      );
    }
  };
  const username = value('ETCD_USERNAME');
  const password =
    env.ETCD_PASSWORD ??
    file('ETCD_PASSWORD_FILE')
      ?.toString('utf8')
      .replace(/\r?\n$/, '');
  if (username && !password)
    throw new InvalidEnvironmentError('ETCD_USERNAME', username, 'usable without ETCD_PASSWORD or ETCD_PASSWORD_FILE');
  const caText = value('ETCD_CA');
  const pem = (variable: string) => (value(variable) ? Buffer.from(value(variable)!) : file(`${variable}_FILE`));
  const cert = pem('ETCD_CERT');
  const key = pem('ETCD_KEY');
  if (Boolean(cert) !== Boolean(key))
    throw new InvalidEnvironmentError(
      cert ? 'ETCD_KEY' : 'ETCD_CERT',
      '',
      'set: a client certificate needs a certificate and a key (ETCD_CERT and ETCD_KEY, or ETCD_CERT_FILE and ETCD_KEY_FILE)',
    );
  return {
    username,
    password: username ? password : undefined,
    ca: caText ? Buffer.from(caText) : file('ETCD_CA_FILE'),
    cert,
    key,
    serverName: value('ETCD_SERVER_NAME'),
  };
}

export async function connectEtcd(options: EtcdConnectionOptions): Promise<Etcd3> {
  const [{ createEtcdClient }, faultHandling] = await Promise.all([loadContract(), etcdFaultHandling()]);
  return createEtcdClient({
    endpoints: options.endpoints,
    access: etcdAccessFromEnv(options.env ?? process.env),
    timeoutMs: options.timeoutMs ?? 5_000,
    faultHandling,
    grpcOptions: { ...ETCD_GRPC_OPTIONS },
  });
}
