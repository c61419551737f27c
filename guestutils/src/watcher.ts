/**
 * `watchServices(services, handler)`: calls `handler(service, delta)` whenever the running
 * instances of a watched service change, with exactly what changed (see EndpointDelta).
 *
 * - The first change starts a window of `coalesceMs`; everything that changes within it reaches
 *   the handler as one delta. A delta is never empty: a change undone within the window is none.
 * - Calls for one service never overlap; changes during a call are delivered after it.
 * - A handler that throws is logged with its stack; the same changes, merged with newer ones, are
 *   delivered again after `retryFailedMs` (doubling, see WATCH_RETRY.handler). Other services go on meanwhile.
 * - etcd being down at start, restarting, or compacting is handled by EndpointWatch; the watcher
 *   keeps trying and never dies quietly.
 */
import type { Etcd3 } from 'etcd3';
import type { EndpointRecord } from '@theseus/services/contract';
import { ConfigError } from '@theseus/services/errors';
import { assertName, labelsMatch } from '@theseus/services/naming';
import { diffEndpoints, isEmptyDelta, sortedRecords, type EndpointDelta, type EndpointState } from './delta.js';
import { EndpointWatch } from './endpoint-watch.js';
import { environmentName, etcdEndpoints, etcdPrefix, type Env } from './environment.js';
import { connectEtcd, loadContract } from './etcd-connection.js';
import { WATCH_RETRY, retryDelay, type RetryPolicy } from './retry.js';

/** The default log: one JSON object a line on stderr. */
const stderrLog: WatchLog = {
  info: (message, meta) => writeLog('info', message, meta),
  warn: (message, meta) => writeLog('warn', message, meta),
  error: (message, meta) => writeLog('error', message, meta),
};

function writeLog(level: string, message: string, meta: Record<string, unknown> = {}): void {
  process.stderr.write(
    JSON.stringify({ level, message, component: 'watch', ...meta, timestamp: new Date().toISOString() }) + '\n',
  );
}

export type ServiceChangeHandler = (service: string, delta: EndpointDelta) => unknown;

/** The handler module's shape: `export function serviceChange(service, delta) {...}` (sync or async). */
export interface ServiceChangeModule {
  serviceChange: ServiceChangeHandler;
}

/** What the watcher logs through; a winston Logger fits. */
export interface WatchLog {
  info(message: string, meta?: Record<string, unknown>): unknown;
  warn(message: string, meta?: Record<string, unknown>): unknown;
  error(message: string, meta?: Record<string, unknown>): unknown;
}

export interface WatchServicesOptions {
  /** Where ENVIRONMENT_NAME, ETCD_ENDPOINTS and THESEUS_ETCD_PREFIX are read. @defaultValue process.env */
  env?: Env;
  /** @defaultValue ENVIRONMENT_NAME */
  namespace?: string;
  /** @defaultValue ETCD_ENDPOINTS, else http://127.0.0.1:2379 */
  endpoints?: readonly string[];
  /** @defaultValue THESEUS_ETCD_PREFIX, else /theseus */
  prefix?: string;
  /** Use this etcd client; `stop()` leaves it open. */
  client?: Etcd3;
  /** Changes within this window after the first one reach the handler as one delta, in ms. @defaultValue 100 */
  coalesceMs?: number;
  /** Only instances whose label set includes all of these count. @defaultValue [] (every instance) */
  labels?: readonly string[];
  /** Call the handler at start with the instances already running, as `added`. @defaultValue true */
  reportInitial?: boolean;
  /** Delay before delivering again the changes a handler threw on (doubles up to 30 s); 0: never again. @defaultValue 1000 */
  retryFailedMs?: number;
  /** First delay before reconnecting to etcd after a failure (doubles up to `maxRetryDelayMs`). @defaultValue 100 */
  retryDelayMs?: number;
  /** @defaultValue 1000 */
  maxRetryDelayMs?: number;
  /** @defaultValue JSON lines on stderr */
  logger?: WatchLog;
}

export interface WatchStatus {
  service: string;
  /** The etcd revision the watcher's view reflects. */
  revision: string;
  connected: boolean;
  instances: number;
  /** When the view last changed or was confirmed by etcd. */
  lastSyncedAt: string | undefined;
}

export interface ServiceWatcher {
  /** Resolves once every service has been read and is watched (the first read is retried until etcd answers). */
  readonly ready: Promise<void>;
  status(): WatchStatus[];
  /** Stops watching and waits for handler calls in progress. Changes not yet delivered are dropped. */
  stop(): Promise<void>;
}

/** Parses a WATCHES-style list; an empty list or a bad name is a ConfigError naming `setting`. */
export function parseWatchList(value: string | readonly string[] | undefined, setting = 'WATCHES'): string[] {
  const list = (typeof value === 'string' ? value.split(',') : [...(value ?? [])])
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (list.length === 0)
    throw new ConfigError(setting, 'names no service to watch', `set ${setting}=service1,service2`);
  for (const service of list) {
    try {
      assertName('service', service);
    } catch (err) {
      throw new ConfigError(setting, (err as Error).message);
    }
  }
  return [...new Set(list)];
}

export function watchServices(
  services: string | readonly string[],
  handler: ServiceChangeHandler | ServiceChangeModule,
  options: WatchServicesOptions = {},
): ServiceWatcher {
  const names = parseWatchList(services, 'services');
  const call: ServiceChangeHandler =
    typeof handler === 'function' ? handler : (service, delta) => handler.serviceChange(service, delta);
  const env = options.env ?? process.env;
  const namespace = options.namespace ?? environmentName(env);
  const runners: ServiceRunner[] = [];
  let stopped = false;
  let logger: WatchLog | undefined = options.logger;
  let client: Etcd3 | undefined = options.client;

  let clientClosed = false;
  function closeClient(): void {
    if (options.client || clientClosed || !client) return;
    clientClosed = true;
    client.close();
  }

  const ready = (async () => {
    const model = await loadContract();
    logger ??= stderrLog;
    const layout = new model.EtcdLayout(options.prefix ?? etcdPrefix(env));
    client ??= await connectEtcd({ endpoints: options.endpoints ?? etcdEndpoints(env), env });
    if (stopped) return closeClient();
    await Promise.all(
      names.map(async (service) => {
        const watch = new EndpointWatch({
          client: client!,
          services: model,
          layout,
          namespace,
          service,
          retry: reconnectPolicy(options),
        });
        const runner = new ServiceRunner(watch, call, model.sameEndpoint, logger!, options);
        runners.push(runner);
        await runner.start(() => stopped);
      }),
    );
  })();
  // Whoever does not wait for `ready` must not get an unhandled rejection.
  ready.catch((err: unknown) =>
    logger?.error('the watcher could not start', { error: err instanceof Error ? err.message : String(err) }),
  );

  return {
    ready,
    status: () => runners.map((r) => r.status()),
    async stop() {
      stopped = true;
      await Promise.all(runners.map((r) => r.stop()));
      closeClient();
    },
  };
}

function reconnectPolicy(options: WatchServicesOptions): RetryPolicy {
  return {
    ...WATCH_RETRY.etcd,
    initialMs: options.retryDelayMs ?? WATCH_RETRY.etcd.initialMs,
    maxMs: options.maxRetryDelayMs ?? WATCH_RETRY.etcd.maxMs,
  };
}

/** One service: its watch, the state last handed to the handler, and the one call in flight. */
class ServiceRunner {
  private reported: EndpointState = new Map();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private failures = 0;
  private stopped = false;
  private lastSyncedAt: string | undefined;
  private readonly coalesceMs: number;
  private readonly retryFailedMs: number;
  private readonly reconnectPolicy: RetryPolicy;

  constructor(
    private readonly watch: EndpointWatch,
    private readonly handler: ServiceChangeHandler,
    private readonly same: (a: EndpointRecord, b: EndpointRecord) => boolean,
    private readonly logger: WatchLog,
    private readonly options: WatchServicesOptions,
  ) {
    this.coalesceMs = options.coalesceMs ?? 100;
    this.retryFailedMs = options.retryFailedMs ?? WATCH_RETRY.handler.initialMs;
    this.reconnectPolicy = reconnectPolicy(options);
    const service = watch.service;
    watch.on('change', () => {
      this.lastSyncedAt = new Date().toISOString();
      this.changed();
    });
    watch.on('watching', ({ fromRevision, resumed }) => {
      if (resumed) logger.info('watch resumed', { service, fromRevision });
    });
    watch.on('disconnected', (err) =>
      logger.warn('etcd unreachable, retrying', { service, revision: watch.lastRevision, error: err.message }),
    );
    watch.on('canceled', (err) =>
      logger.warn('etcd canceled the watch (revision compacted?), reading the service again', {
        service,
        revision: watch.lastRevision,
        error: err.message,
      }),
    );
    watch.on('resynced', ({ revision }) => logger.info('service read again', { service, revision }));
    watch.on('invalid', ({ key, error }) =>
      logger.warn('skipping an endpoint record that does not decode', { service, key, error: error.message }),
    );
  }

  /** Reads and watches the service, retrying the first read until etcd answers or `isStopped()`. */
  async start(isStopped: () => boolean): Promise<void> {
    for (let attempt = 0; !isStopped() && !this.stopped; attempt++) {
      try {
        await this.watch.start();
        if (this.options.reportInitial === false) this.reported = this.view();
        this.logger.info('watching', {
          service: this.watch.service,
          namespace: this.watch.namespace,
          instances: this.watch.current.size,
          revision: this.watch.lastRevision,
        });
        return;
      } catch (err) {
        const delay = retryDelay(this.reconnectPolicy, attempt + 1);
        this.logger.warn('cannot read the service from etcd yet, retrying', {
          service: this.watch.service,
          error: (err as Error).message,
          retryInMs: delay,
        });
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  status(): WatchStatus {
    return {
      service: this.watch.service,
      revision: this.watch.lastRevision,
      connected: this.watch.isConnected,
      instances: this.view().size,
      lastSyncedAt: this.lastSyncedAt,
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.watch.stop();
    await this.running;
  }

  /** The watched instances now (those with the wanted labels). */
  private view(): Map<string, EndpointRecord> {
    const labels = this.options.labels ?? [];
    return new Map([...this.watch.current].filter(([, record]) => labelsMatch(record.labels, labels)));
  }

  private changed(): void {
    if (this.stopped || this.timer || this.running) return;
    this.timer = setTimeout(() => void this.flush(), this.coalesceMs);
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    if (this.stopped) return;
    const current = this.view();
    const diff = diffEndpoints(this.reported, current, this.same);
    if (isEmptyDelta(diff)) return;
    const service = this.watch.service;
    const delta: EndpointDelta = {
      namespace: this.watch.namespace,
      service,
      ...diff,
      current: sortedRecords(current),
      revision: this.watch.lastRevision,
    };
    let failed = false;
    this.running = (async () => {
      try {
        await this.handler(service, delta);
      } catch (err) {
        failed = true;
        this.logger.error('serviceChange failed', {
          service,
          revision: delta.revision,
          error: err instanceof Error ? err.message : String(err),
          stack: err instanceof Error ? err.stack : undefined,
        });
      }
    })();
    await this.running;
    this.running = undefined;
    if (failed && this.retryFailedMs > 0) {
      const delay = retryDelay({ ...WATCH_RETRY.handler, initialMs: this.retryFailedMs }, ++this.failures);
      if (!this.stopped) this.timer = setTimeout(() => void this.flush(), delay);
      return;
    }
    this.failures = 0;
    this.reported = current;
    this.changed();
  }
}
