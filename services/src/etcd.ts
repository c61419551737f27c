/** The etcd client every part uses, configured in one place. */
import { Etcd3, isRecoverableError, type IOptions } from 'etcd3';
import { EtcdUnavailableError } from './errors.js';
import { readSecretFile, readSettingFile } from './config/secret-file.js';
import { ENV_SETTINGS } from './config/settings.js';
import { ETCD_GRPC_RECONNECT, etcdFaultHandling } from './retry.js';

/** Who a client is to etcd: a user and password (etcd's RBAC) and/or TLS with a CA and a client certificate. */
export interface EtcdAccess {
  username?: string | undefined;
  password?: string | undefined;
  /** PEM CA bundle that signs etcd's server certificate. */
  ca?: Buffer | undefined;
  /** PEM client certificate and key. */
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
}

/** The etcd settings that name credential files (see the settings schema). */
export interface EtcdAccessSettings {
  username?: string | undefined;
  passwordFile?: string | undefined;
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
}

/** A setting's variable and path, e.g. `ETCD_CA_FILE (etcd.caFile)`. */
function settingName(setting: string): string {
  const path = `etcd.${setting}`;
  const variable = Object.entries(ENV_SETTINGS).find(([, s]) => s.path === path)?.[0];
  return variable ? `${variable} (${path})` : path;
}

/**
 * Reads the credential files the settings name; an unreadable or empty file is a ConfigError
 * naming the setting (by `where`, default: its variable and path).
 */
export function readEtcdAccess(settings: EtcdAccessSettings, where: (setting: keyof EtcdAccessSettings) => string = settingName): EtcdAccess {
  const read = (setting: keyof EtcdAccessSettings) => (settings[setting] ? readSettingFile(settings[setting], where(setting)) : undefined);
  const password = settings.passwordFile ? readSecretFile(settings.passwordFile, where('passwordFile')) : undefined;
  return { username: settings.username, password, ca: read('caFile'), cert: read('certFile'), key: read('keyFile') };
}

export interface EtcdClientOptions {
  endpoints: readonly string[];
  /** Per-call deadline. */
  timeoutMs?: number;
  /** Retry, circuit-breaker and watch-reconnect policies. @defaultValue etcdFaultHandling() (the etcd retry policy) */
  faultHandling?: IOptions['faultHandling'];
  /** gRPC channel options, e.g. keepalive; reconnect backoff follows the etcd retry policy. */
  grpcOptions?: IOptions['grpcOptions'];
  access?: EtcdAccess | undefined;
}

export function createEtcdClient(options: EtcdClientOptions): Etcd3 {
  const config: IOptions = {
    hosts: [...options.endpoints],
    dialTimeout: options.timeoutMs ?? 5_000,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + (options.timeoutMs ?? 5_000) }),
    faultHandling: options.faultHandling ?? etcdFaultHandling(),
    grpcOptions: { ...ETCD_GRPC_RECONNECT, ...options.grpcOptions },
  };
  const access = options.access;
  if (access?.username && access.password !== undefined) config.auth = { username: access.username, password: access.password };
  if (access?.ca || access?.cert) {
    // Without a CA of its own, gRPC checks the server against the system's roots.
    config.credentials = { rootCertificate: access.ca as Buffer, ...(access.cert && access.key ? { certChain: access.cert, privateKey: access.key } : {}) };
  }
  return new Etcd3(config);
}

/** Maps an etcd3 error to a Theseus error: unreachable etcd becomes a recoverable EtcdUnavailableError. */
export function castEtcdError(err: unknown): unknown {
  if (err instanceof Error && (isRecoverableError(err) || /UNAVAILABLE|DEADLINE|ECONNREFUSED|connect/i.test(err.message))) {
    return new EtcdUnavailableError(`etcd is unreachable: ${err.message}`, err);
  }
  return err;
}
