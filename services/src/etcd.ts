/** The etcd client every part uses (the contract's, with the etcd retry policy), and the credential files settings name. */
import type { Etcd3 } from 'etcd3';
import {
  createEtcdClient as createContractEtcdClient,
  type EtcdAccess,
  type EtcdClientOptions,
} from './etcd-client.js';
import { readSecretFile, readSettingFile } from './config/secret-file.js';
import { ENV_SETTINGS } from './config/settings.js';
import { ETCD_GRPC_RECONNECT, etcdFaultHandling } from './retry.js';

export type { EtcdAccess, EtcdClientOptions } from './etcd-client.js';
export { castEtcdError } from './etcd-errors.js';

/** The etcd settings that name credential files (see the settings schema). */
export interface EtcdAccessSettings {
  username?: string | undefined;
  passwordFile?: string | undefined;
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  serverName?: string | undefined;
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
export function readEtcdAccess(
  settings: EtcdAccessSettings,
  where: (setting: keyof EtcdAccessSettings) => string = settingName,
): EtcdAccess {
  const read = (setting: 'caFile' | 'certFile' | 'keyFile') =>
    settings[setting] ? readSettingFile(settings[setting], where(setting)) : undefined;
  const password = settings.passwordFile ? readSecretFile(settings.passwordFile, where('passwordFile')) : undefined;
  return {
    username: settings.username,
    password,
    ca: read('caFile'),
    cert: read('certFile'),
    key: read('keyFile'),
    serverName: settings.serverName,
  };
}

/**
 * The etcd client of the services, deployer and subscriber: the contract's client (auth and TLS)
 * with the etcd retry policy (retry.ts) as its fault handling and gRPC reconnect backoff.
 */
export function createEtcdClient(options: EtcdClientOptions): Etcd3 {
  return createContractEtcdClient({
    ...options,
    faultHandling: options.faultHandling ?? etcdFaultHandling(),
    grpcOptions: { ...ETCD_GRPC_RECONNECT, ...options.grpcOptions },
  });
}
