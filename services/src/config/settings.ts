/**
 * The one settings schema of Theseus. Settings are read, lowest precedence first, from the
 * defaults here, a YAML file (`--config`), the environment, then command-line flags; the result is
 * validated once, at start, and frozen. A bad or missing value is a ConfigError naming the
 * variable (or file key) and what is wrong with it.
 */
import { readFileSync } from 'node:fs';
import * as yaml from 'js-yaml';
import * as z from 'zod';
import { ConfigError } from '../errors.js';
import { nameProblem } from '../naming.js';
import { DEFAULT_ETCD_PREFIX } from '../endpoints/keys.js';
import { DeployerSection, EngineSection, GuestSection, SubscriberSection, durationMs } from './sections.js';

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' });
const filePath = z.string().min(1, 'must be a file path');
const name = z.string().superRefine((v, ctx) => {
  const problem = nameProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const SettingsSchema = z.strictObject({
  marathon: z
    .strictObject({
      /** Marathon (or engine) URLs; tried in order, failing over on network errors and 5xx. */
      urls: z.array(httpUrl).min(1).optional(),
      /** Basic auth `user:password` (Marathon --http_credentials). */
      credentials: z
        .string()
        .regex(/^[^:]+:.+$/, 'must be user:password')
        .optional(),
      /** DC/OS ACS token, sent as `Authorization: token=<token>`. */
      token: z.string().min(1).optional(),
      timeoutMs: durationMs.default(10_000),
      /** An event stream silent for longer than this is dead (Marathon sends a heartbeat every 10 s). */
      streamIdleTimeoutMs: durationMs.default(30_000),
      /** Networking form written to Marathon: `legacy` up to 1.4, `canonical` 1.5+, `auto` asks `/v2/info`. */
      networkApi: z.enum(['auto', 'canonical', 'legacy']).default('auto'),
    })
    .prefault({}),
  etcd: z
    .strictObject({
      endpoints: z.array(httpUrl).min(1).default(['http://127.0.0.1:2379']),
      /** etcd as containers reach it (injected as ETCD_ENDPOINTS); default: `endpoints`. */
      containerEndpoints: z.array(httpUrl).min(1).optional(),
      prefix: z
        .string()
        .regex(/^\/[A-Za-z0-9._\-/]*[A-Za-z0-9._-]$/, 'must be an absolute path like /theseus')
        .default(DEFAULT_ETCD_PREFIX),
      /** etcd user (etcd's RBAC); its password is read from `passwordFile`. With client certificates alone, the certificate's CN is the user. */
      username: z.string().min(1).optional(),
      /** File holding the password of `username` (one line). */
      passwordFile: filePath.optional(),
      /** PEM bundle of the CAs that sign etcd's server certificate; endpoints are then https://. */
      caFile: filePath.optional(),
      /** PEM client certificate and its key, for etcd's --client-cert-auth. */
      certFile: filePath.optional(),
      keyFile: filePath.optional(),
      /**
       * The host name etcd's server certificate is checked against (and sent as TLS server name)
       * instead of each endpoint's host: for endpoints given as IP addresses, which a TLS server name
       * cannot be. Containers are handed it as ETCD_SERVER_NAME.
       */
      serverName: z
        .string()
        .regex(/^(?![0-9.]+$)[A-Za-z0-9.-]+$/, 'must be a host name (not an IP address), e.g. etcd.example')
        .optional(),
      /**
       * The read-only etcd user the deployer hands to containers (ETCD_USERNAME, ETCD_PASSWORD); the
       * subscriber's discovery API then requires this user's credentials (HTTP Basic, checked by etcd).
       */
      containerUsername: z.string().min(1).optional(),
      containerPasswordFile: filePath.optional(),
      /** The container user's client certificate and key, handed to containers when etcd asks every client for one. */
      containerCertFile: filePath.optional(),
      containerKeyFile: filePath.optional(),
    })
    .superRefine((etcd, ctx) => {
      if (etcd.passwordFile && !etcd.username)
        ctx.addIssue({ code: 'custom', path: ['username'], message: 'is required with a password file' });
      if (etcd.username && !etcd.passwordFile && !etcd.certFile)
        ctx.addIssue({ code: 'custom', path: ['passwordFile'], message: `is required for etcd user ${etcd.username}` });
      if (Boolean(etcd.certFile) !== Boolean(etcd.keyFile))
        ctx.addIssue({
          code: 'custom',
          path: [etcd.certFile ? 'keyFile' : 'certFile'],
          message: 'a client certificate needs both certFile and keyFile',
        });
      // A name alone is what the subscriber needs (etcd checks the passwords callers send it).
      if (etcd.containerPasswordFile && !etcd.containerUsername) {
        ctx.addIssue({
          code: 'custom',
          path: ['containerUsername'],
          message: 'the container user needs both a name and a password file',
        });
      }
      if (Boolean(etcd.containerCertFile) !== Boolean(etcd.containerKeyFile))
        ctx.addIssue({
          code: 'custom',
          path: [etcd.containerCertFile ? 'containerKeyFile' : 'containerCertFile'],
          message: "the container user's client certificate needs both a certificate and a key file",
        });
      if (etcd.caFile || etcd.certFile) {
        const plain = [...etcd.endpoints, ...(etcd.containerEndpoints ?? [])].find(
          (url) => !url.startsWith('https://'),
        );
        if (plain)
          ctx.addIssue({
            code: 'custom',
            path: [etcd.endpoints.includes(plain) ? 'endpoints' : 'containerEndpoints'],
            message: `${plain} must be https:// when etcd TLS is set`,
          });
      }
    })
    .prefault({}),
  redis: z
    .strictObject({
      url: z.url({ protocol: /^rediss?$/, error: 'must be a redis:// URL' }).default('redis://127.0.0.1:6379'),
    })
    .prefault({}),
  api: z.strictObject({ token: z.string().min(16, 'must be at least 16 characters').optional() }).prefault({}),
  /** Name of this Marathon cluster; endpoint records carry it and a subscriber only removes its own. */
  cluster: name.default('default'),
  /** The Marathon group every Theseus app lives in. */
  appGroup: name.default('theseus'),
  log: z
    .strictObject({
      level: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
      format: z.enum(['json', 'pretty', 'auto']).default('auto'),
    })
    .prefault({}),
  deployer: DeployerSection.prefault({}),
  subscriber: SubscriberSection.prefault({}),
  engine: EngineSection.prefault({}),
  guest: GuestSection.prefault({}),
});

export type Settings = z.infer<typeof SettingsSchema>;
export type SettingsInput = z.input<typeof SettingsSchema>;

/** Every setting at its default: what code that is handed no value falls back to. */
export const DEFAULT_SETTINGS: Readonly<Settings> = deepFreeze(SettingsSchema.parse({}));

type Parse = 'string' | 'list' | 'int' | 'number' | 'bool' | 'range';

/** Environment variables and the setting each one sets. */
export const ENV_SETTINGS: Record<string, { path: string; parse: Parse }> = {
  MARATHON_URL: { path: 'marathon.urls', parse: 'list' },
  MARATHON_CREDENTIALS: { path: 'marathon.credentials', parse: 'string' },
  MARATHON_TOKEN: { path: 'marathon.token', parse: 'string' },
  MARATHON_TIMEOUT_MS: { path: 'marathon.timeoutMs', parse: 'int' },
  MARATHON_NETWORK_API: { path: 'marathon.networkApi', parse: 'string' },
  STREAM_IDLE_TIMEOUT_MS: { path: 'marathon.streamIdleTimeoutMs', parse: 'int' },
  ETCD_ENDPOINTS: { path: 'etcd.endpoints', parse: 'list' },
  THESEUS_CONTAINER_ETCD_ENDPOINTS: { path: 'etcd.containerEndpoints', parse: 'list' },
  THESEUS_ETCD_PREFIX: { path: 'etcd.prefix', parse: 'string' },
  ETCD_USERNAME: { path: 'etcd.username', parse: 'string' },
  ETCD_PASSWORD_FILE: { path: 'etcd.passwordFile', parse: 'string' },
  ETCD_CA_FILE: { path: 'etcd.caFile', parse: 'string' },
  ETCD_CERT_FILE: { path: 'etcd.certFile', parse: 'string' },
  ETCD_KEY_FILE: { path: 'etcd.keyFile', parse: 'string' },
  ETCD_SERVER_NAME: { path: 'etcd.serverName', parse: 'string' },
  THESEUS_CONTAINER_ETCD_USERNAME: { path: 'etcd.containerUsername', parse: 'string' },
  THESEUS_CONTAINER_ETCD_PASSWORD_FILE: { path: 'etcd.containerPasswordFile', parse: 'string' },
  THESEUS_CONTAINER_ETCD_CERT_FILE: { path: 'etcd.containerCertFile', parse: 'string' },
  THESEUS_CONTAINER_ETCD_KEY_FILE: { path: 'etcd.containerKeyFile', parse: 'string' },
  REDIS_URL: { path: 'redis.url', parse: 'string' },
  THESEUS_API_TOKEN: { path: 'api.token', parse: 'string' },
  THESEUS_CLUSTER: { path: 'cluster', parse: 'string' },
  THESEUS_APP_GROUP: { path: 'appGroup', parse: 'string' },
  LOG_LEVEL: { path: 'log.level', parse: 'string' },
  LOG_FORMAT: { path: 'log.format', parse: 'string' },
  THESEUS_OPEN_READS: { path: 'deployer.openReads', parse: 'bool' },
  THESEUS_MAX_BODY_BYTES: { path: 'deployer.maxBodyBytes', parse: 'int' },
  THESEUS_HOST_VOLUME_PATHS: { path: 'deployer.hostVolumePaths', parse: 'list' },
  THESEUS_FILE_URIS: { path: 'deployer.fileUris', parse: 'bool' },
  THESEUS_QUEUE_PREFIX: { path: 'deployer.queuePrefix', parse: 'string' },
  THESEUS_DEPLOY_CONCURRENCY: { path: 'deployer.concurrency', parse: 'int' },
  THESEUS_DEPLOYMENT_TIMEOUT_MS: { path: 'deployer.deploymentTimeoutMs', parse: 'int' },
  THESEUS_WAIT_TIMEOUT_MS: { path: 'deployer.waitTimeoutMs', parse: 'int' },
  MESOS_MASTER_URL: { path: 'deployer.mesosMasterUrl', parse: 'string' },
  MESOS_AGENT_PORT: { path: 'deployer.agentPort', parse: 'int' },
  THESEUS_MEMORY_WARN_RATIO: { path: 'deployer.memoryWarnRatio', parse: 'number' },
  THESEUS_LOG_POLL_MS: { path: 'deployer.logPollMs', parse: 'int' },
  RECONCILE_INTERVAL_MS: { path: 'subscriber.reconcileIntervalMs', parse: 'int' },
  REQUIRE_HEALTHY: { path: 'subscriber.requireHealthy', parse: 'bool' },
  CALLBACK_URL: { path: 'subscriber.callbackUrl', parse: 'string' },
  SUBSCRIBER_CALLBACK_SECRET_FILE: { path: 'subscriber.callbackSecretFile', parse: 'string' },
  SUBSCRIBER_LISTEN_HOST: { path: 'subscriber.listenHost', parse: 'string' },
  DEPLOYER_LISTEN_HOST: { path: 'deployer.listenHost', parse: 'string' },
  SUBSCRIBER_LEADER_TTL_S: { path: 'subscriber.leaderTtlSeconds', parse: 'int' },
  SUBSCRIBER_HEAP_MB: { path: 'subscriber.heapMb', parse: 'int' },
  SUBSCRIBER_DISCOVERY_CREDENTIAL_CACHE_MS: { path: 'subscriber.discoveryCredentialCacheMs', parse: 'int' },
  ENGINE_DATA_DIR: { path: 'engine.dataDir', parse: 'string' },
  ENGINE_PORT_RANGE: { path: 'engine.portRange', parse: 'range' },
  ENGINE_HOSTNAME: { path: 'engine.hostname', parse: 'string' },
  ENGINE_LISTEN: { path: 'engine.listen', parse: 'list' },
  ENGINE_HOST_NAMES: { path: 'engine.hostNames', parse: 'list' },
  ENGINE_DEFAULT_CONTAINER_IMAGE: { path: 'engine.defaultContainerImage', parse: 'string' },
  ENGINE_ALLOW_HOST_COMMANDS: { path: 'engine.allowHostCommands', parse: 'bool' },
  ENGINE_ALLOW_PRIVILEGED: { path: 'engine.allowPrivileged', parse: 'bool' },
  ENGINE_ALLOW_HOST_NETWORK: { path: 'engine.allowHostNetwork', parse: 'bool' },
  ENGINE_ALLOW_USER: { path: 'engine.allowUser', parse: 'bool' },
  ENGINE_ALLOW_HOST_VOLUMES: { path: 'engine.allowHostVolumes', parse: 'bool' },
  ENGINE_HOST_VOLUME_PATHS: { path: 'engine.hostVolumePaths', parse: 'list' },
  ENGINE_MAX_EVENT_SUBSCRIPTIONS: { path: 'engine.maxEventSubscriptions', parse: 'int' },
  ENGINE_EVENT_SUBSCRIPTION_TIMEOUT_MS: { path: 'engine.eventSubscriptionTimeoutMs', parse: 'int' },
  ENGINE_TASK_LOG_MAX_BYTES: { path: 'engine.taskLogs.maxFileBytes', parse: 'int' },
  ENGINE_TASK_LOG_MAX_FILES: { path: 'engine.taskLogs.maxFiles', parse: 'int' },
  ENGINE_TASK_LOG_DOCKER_BYTES: { path: 'engine.taskLogs.dockerFileBytes', parse: 'int' },
  WATCHES: { path: 'guest.watches', parse: 'list' },
  WATCH_HANDLER: { path: 'guest.handler', parse: 'string' },
  WATCH_COALESCE_MS: { path: 'guest.coalesceMs', parse: 'int' },
};

export interface LoadSettingsOptions {
  env?: NodeJS.ProcessEnv;
  /** YAML file with the same shape as `Settings` (keys as in the schema). */
  configPath?: string;
  /** Values from command-line flags, by setting path, e.g. `{ 'deployer.port': 5000 }`. */
  flags?: Record<string, unknown>;
  /** Setting paths this program cannot run without, e.g. `['marathon.urls', 'api.token']`. */
  require?: string[];
}

export function loadSettings(options: LoadSettingsOptions = {}): Readonly<Settings> {
  const env = options.env ?? process.env;
  const sources = new Map<string, string>(); // setting path -> where it came from
  const input: Record<string, unknown> = {};

  if (options.configPath) {
    const file = readConfigFile(options.configPath);
    for (const [path, value] of flatten(file)) {
      setPath(input, path, value);
      sources.set(path, `${options.configPath}: ${path}`);
    }
  }
  for (const [variable, { path, parse }] of Object.entries(ENV_SETTINGS)) {
    const raw = env[variable];
    if (raw === undefined || raw === '') continue;
    setPath(input, path, parseEnv(variable, raw, parse));
    sources.set(path, variable);
  }
  for (const [path, value] of Object.entries(options.flags ?? {})) {
    if (value === undefined) continue;
    setPath(input, path, value);
    sources.set(path, `--${(path.split('.').pop() as string).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  }

  const parsed = SettingsSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const keys = issue.path.filter((p) => typeof p === 'string');
    if (issue.code === 'unrecognized_keys') {
      const path = [...keys, issue.keys[0]!].join('.');
      throw new ConfigError(whereSet(path, sources), 'is not a setting', 'run `theseus config` to see every setting');
    }
    throw new ConfigError(whereSet(keys.join('.'), sources), issue.message);
  }
  for (const path of options.require ?? []) {
    if (getPath(parsed.data, path) === undefined) {
      const variable = Object.entries(ENV_SETTINGS).find(([, s]) => s.path === path)?.[0];
      throw new ConfigError(
        variable ?? path,
        'is required',
        variable ? `set ${variable} or ${path} in the --config file` : undefined,
      );
    }
  }
  return deepFreeze(parsed.data);
}

function whereSet(path: string, sources: Map<string, string>): string {
  for (let p = path; p; p = p.slice(0, Math.max(0, p.lastIndexOf('.')))) {
    const source = sources.get(p);
    if (source) return source;
  }
  for (const [p, source] of sources)
    if (p.startsWith(path + '.')) return source.slice(0, source.length - (p.length - path.length));
  const variable = Object.entries(ENV_SETTINGS).find(([, s]) => s.path === path)?.[0];
  return variable ?? (path || 'settings');
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      '--config',
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  let doc: unknown;
  try {
    doc = yaml.load(text, { schema: yaml.JSON_SCHEMA });
  } catch (err) {
    throw new ConfigError('--config', `${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === undefined || doc === null) return {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new ConfigError('--config', `${path} must be a YAML mapping`);
  return doc as Record<string, unknown>;
}

function parseEnv(variable: string, raw: string, parse: Parse): unknown {
  switch (parse) {
    case 'string':
      return raw;
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
    case 'int':
    case 'number': {
      const n = Number(raw);
      if (!Number.isFinite(n) || (parse === 'int' && !Number.isInteger(n))) {
        throw new ConfigError(
          variable,
          `${JSON.stringify(raw)} is not ${parse === 'int' ? 'a whole number' : 'a number'}`,
        );
      }
      return n;
    }
    case 'bool':
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      throw new ConfigError(variable, `${JSON.stringify(raw)} is not true or false`);
    case 'range': {
      const m = /^(\d+)-(\d+)$/.exec(raw.trim());
      if (!m || Number(m[1]) > Number(m[2]))
        throw new ConfigError(variable, `${JSON.stringify(raw)} is not a range like 31000-32000`);
      return [Number(m[1]), Number(m[2])];
    }
  }
}

/** Leaf paths of a nested object; arrays are leaves. */
function* flatten(value: Record<string, unknown>, base = ''): Generator<[string, unknown]> {
  for (const [key, child] of Object.entries(value)) {
    const path = base ? `${base}.${key}` : key;
    if (child && typeof child === 'object' && !Array.isArray(child))
      yield* flatten(child as Record<string, unknown>, path);
    else yield [path, child];
  }
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (!node[key] || typeof node[key] !== 'object') node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

function getPath(source: unknown, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>(
      (node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined),
      source,
    );
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
