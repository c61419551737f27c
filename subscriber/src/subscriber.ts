/**
 * The subscriber: Marathon events into etcd endpoint records, kept exact by reconciles.
 *
 * Intake is the SSE stream (or, with `callbackUrl`, Marathon's HTTP callbacks for Marathon < 1.5).
 * Only the elected leader writes. A full reconcile runs when this subscriber becomes leader, after
 * every (re)attach of the stream, when etcd answers again after an outage, every
 * `reconcileIntervalMs`, after a failed reconcile (with backoff), and on request.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Etcd3 } from 'etcd3';
import {
  Backoff,
  DEFAULT_SETTINGS,
  EtcdLayout,
  RETRY_POLICIES,
  MarathonClient,
  MarathonEventStream,
  TheseusError,
  createEtcdClient,
  describeError,
  LEAVING_TASK_STATES,
  parseMarathonEvent,
  type EtcdAccess,
  type Logger,
  type MarathonEvent,
} from '@theseus/services';
import { AppCatalog } from './app-catalog.js';
import { EndpointStore } from './endpoint-store.js';
import { EndpointEncoder } from './endpoint-encoder.js';
import { EventApplier } from './event-applier.js';
import { Leadership } from './leadership.js';
import { SubscriberMetrics } from './metrics.js';
import { reconcile, type ReconcileResult, type SyncContext } from './reconcile.js';
import { releaseHeap } from './heap-release.js';

export interface SubscriberOptions {
  marathonUrls: readonly string[];
  /** `user:password` */
  marathonCredentials?: string | undefined;
  marathonToken?: string | undefined;
  marathonTimeoutMs?: number;
  etcdEndpoints: readonly string[];
  /** etcd user and TLS (readEtcdAccess of the settings). */
  etcdAccess?: EtcdAccess | undefined;
  /** Unset values take the settings' defaults (DEFAULT_SETTINGS). */
  etcdPrefix?: string;
  /** The Marathon cluster name written into, and owning, every record. */
  cluster?: string;
  /** Tasks of apps with health checks are registered only once healthy. */
  requireHealthy?: boolean;
  reconcileIntervalMs?: number;
  streamIdleTimeoutMs?: number;
  /** Use Marathon's HTTP callbacks, posting to this URL, instead of the event stream. */
  callbackUrl?: string | undefined;
  /**
   * Required with `callbackUrl`: registered as the URL's `secret` parameter (Marathon cannot send
   * headers) and checked on every callback. Its own secret, since Marathon shows callback URLs to
   * anyone who can read `/v2/eventSubscriptions`.
   */
  callbackSecret?: string | undefined;
  /** Leader lease TTL. */
  leaderTtlSeconds?: number;
  /** This instance's id in the election. @defaultValue hostname-pid-random */
  id?: string;
  logger: Logger;
  /** Add process metrics (CPU, memory) to /metrics. @defaultValue false */
  processMetrics?: boolean;
  /** First reconnect delay of the event stream. @defaultValue RETRY_POLICIES.marathonStream */
  streamBackoffMs?: number;
}

/**
 * Flow control of the event stream: reading pauses while this many changes wait for etcd (beyond
 * the transactions under way) and resumes once they are down to STREAM_RESUME_AT, so a burst waits
 * in the connection instead of in the heap. Not while etcd is unreachable: then changes are kept
 * (one per key) and the stream is read on.
 */
const STREAM_PAUSE_AT = 480;
const STREAM_RESUME_AT = 240;

export class NotLeaderError extends TheseusError {
  constructor() {
    super('NOT_LEADER', 'this subscriber is a standby: only the leader reconciles', {
      hint: 'send the request to the leader',
      recoverable: true,
    });
  }
}

/** Event types that can change an endpoint. */
export const SUBSCRIBED_EVENT_TYPES = [
  'status_update_event',
  'health_status_changed_event',
  'instance_health_changed_event',
  'failed_health_check_event',
  'unhealthy_instance_kill_event',
  'app_terminated_event',
  'api_post_event',
] as const;

export interface SubscriberStatus {
  id: string;
  role: 'leader' | 'standby';
  /** `callbacks`: registered for Marathon's HTTP callbacks (instead of the stream). */
  stream: 'attached' | 'detached' | 'callbacks';
  etcdReachable: boolean;
  endpoints: number;
  pendingChanges: number;
  lastReconcile: (ReconcileResult & { at: string }) | undefined;
}

export class Subscriber {
  readonly id: string;
  readonly metrics: SubscriberMetrics;
  readonly etcd: Etcd3;
  readonly marathon: MarathonClient;
  private readonly cluster: string;
  private readonly logger: Logger;
  private readonly store: EndpointStore;
  private readonly applier: EventApplier;
  private readonly leadership: Leadership;
  private readonly stream: MarathonEventStream | undefined;
  private readonly ctx: SyncContext;
  private intervalTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly reconcileBackoff = new Backoff(RETRY_POLICIES.reconcile);
  private readonly callbackBackoff = new Backoff(RETRY_POLICIES.marathonCallback);
  private queued: Promise<ReconcileResult> | undefined;
  private active: Promise<unknown> = Promise.resolve();
  private lastReconcile: SubscriberStatus['lastReconcile'];
  private callbacksRegistered = false;
  private callbackTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private streamPaused = false;

  constructor(private readonly options: SubscriberOptions) {
    this.id = options.id ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.logger = options.logger;
    this.cluster = options.cluster ?? DEFAULT_SETTINGS.cluster;
    this.metrics = new SubscriberMetrics({ processMetrics: options.processMetrics ?? false });
    this.marathon = new MarathonClient({
      urls: options.marathonUrls,
      credentials: options.marathonCredentials,
      token: options.marathonToken,
      timeoutMs: options.marathonTimeoutMs ?? DEFAULT_SETTINGS.marathon.timeoutMs,
    });
    this.etcd = createEtcdClient({ endpoints: options.etcdEndpoints, access: options.etcdAccess });
    const layout = new EtcdLayout(options.etcdPrefix);
    this.store = new EndpointStore({
      client: this.etcd,
      layout,
      logger: this.logger,
      metrics: this.metrics,
      cluster: this.cluster,
    });
    this.ctx = {
      marathon: this.marathon,
      store: this.store,
      catalog: new AppCatalog(this.marathon),
      layout,
      encoder: new EndpointEncoder(layout, this.cluster),
      cluster: this.cluster,
      requireHealthy: options.requireHealthy ?? DEFAULT_SETTINGS.subscriber.requireHealthy,
      logger: this.logger,
      metrics: this.metrics,
    };
    this.applier = new EventApplier(this.ctx);
    this.leadership = new Leadership({
      client: this.etcd,
      electionKey: layout.election('subscriber'),
      id: this.id,
      ttlSeconds: options.leaderTtlSeconds ?? DEFAULT_SETTINGS.subscriber.leaderTtlSeconds,
      logger: this.logger,
    });
    if (options.callbackUrl && !options.callbackSecret) throw new Error('HTTP callbacks need a callback secret');
    if (!options.callbackUrl) {
      this.stream = new MarathonEventStream({
        connection: this.marathon.http,
        eventTypes: SUBSCRIBED_EVENT_TYPES,
        idleTimeoutMs: options.streamIdleTimeoutMs ?? DEFAULT_SETTINGS.marathon.streamIdleTimeoutMs,
        ...(options.streamBackoffMs !== undefined
          ? { backoff: { ...RETRY_POLICIES.marathonStream, initialMs: options.streamBackoffMs } }
          : {}),
      });
    }
  }

  get isLeader(): boolean {
    return this.leadership.isLeader;
  }

  start(): void {
    this.leadership.on('elected', (key) => {
      this.metrics.leader.set(1);
      this.store.lead(key);
      this.requestReconcile('became leader');
    });
    this.leadership.on('deposed', (reason) => {
      this.metrics.leader.set(0);
      this.store.lead(undefined);
      this.resumeStream();
      this.logger.warn('lost leadership', { reason });
    });
    this.store.on('recovered', () => this.requestReconcile('etcd reachable again'));
    this.store.on('deposed', () => {
      this.metrics.leader.set(0);
      this.resumeStream();
    });
    this.store.on('unreachable', () => this.resumeStream());
    this.store.on('written', () => {
      if (this.streamPaused && this.store.pendingCount <= STREAM_RESUME_AT) this.resumeStream();
    });
    if (this.stream) {
      this.stream.on('attached', ({ url }) => {
        this.metrics.attached.set(1);
        this.logger.info('event stream attached', { url });
        this.requestReconcile('event stream attached');
      });
      this.stream.on('detached', ({ url, reason }) => {
        this.metrics.attached.set(0);
        this.logger.warn('event stream detached', { url, reason });
      });
      this.stream.on('retry', ({ url, error, delayMs }) =>
        this.logger.warn('event stream unavailable', { url, error, retryInMs: delayMs }),
      );
      this.stream.on('event', (event) => this.onEvent(event));
      this.stream.on('unknown', ({ eventType }) => this.metrics.countEvent(eventType));
      this.stream.on('malformed', ({ eventType, problem, sample }) => this.onMalformed(eventType, problem, sample));
      this.stream.start();
    }
    if (this.options.callbackUrl) this.ensureCallback();
    this.leadership.start();
    const interval = this.options.reconcileIntervalMs ?? DEFAULT_SETTINGS.subscriber.reconcileIntervalMs;
    if (interval > 0) this.intervalTimer = setInterval(() => this.requestReconcile('interval'), interval);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.intervalTimer);
    clearTimeout(this.retryTimer);
    clearTimeout(this.callbackTimer);
    await this.stream?.stop();
    if (this.leadership.isLeader) {
      await Promise.race([this.store.flushed(), new Promise((r) => setTimeout(r, 2_000))]);
    }
    await this.leadership.stop();
    if (this.callbacksRegistered && this.options.callbackUrl) {
      const params = new URLSearchParams({ callbackUrl: this.registeredCallbackUrl() });
      await this.marathon
        .request('DELETE', '/v2/eventSubscriptions', params, undefined, 'unsubscribe callback')
        .catch((err: unknown) =>
          this.logger.warn('could not remove the event subscription', { error: describeError(err) }),
        );
    }
    this.etcd.close();
  }

  /**
   * Stops at once as a crashed process would: connections dropped, no resignation, nothing flushed.
   * Other subscribers take over only when the lease runs out, which needs this process's lease
   * keepalives to stop reaching etcd as well (etcd3 keeps its keepalive stream after the client is
   * closed): drills cut the connection to etcd too. (For failover drills.)
   */
  async halt(): Promise<void> {
    this.stopped = true;
    clearInterval(this.intervalTimer);
    clearTimeout(this.retryTimer);
    clearTimeout(this.callbackTimer);
    this.store.lead(undefined);
    this.leadership.abandon();
    await this.stream?.stop();
    this.etcd.close();
  }

  /** An event from the stream or a callback. Only the leader applies events. */
  onEvent(event: MarathonEvent): void {
    this.metrics.countEvent(event.eventType);
    if (!this.leadership.isLeader || this.stopped) return;
    try {
      this.applier.apply(event);
    } catch (err) {
      this.logger.error('cannot apply event', { eventType: event.eventType, error: describeError(err) });
    }
    if (!this.streamPaused && this.stream && this.store.pendingCount >= STREAM_PAUSE_AT && this.store.reachable) {
      this.streamPaused = true;
      this.stream.pause();
    }
  }

  private resumeStream(): void {
    if (!this.streamPaused) return;
    this.streamPaused = false;
    this.stream?.resume();
  }

  /** Whether Marathon's events arrive as HTTP callbacks (POST /callback) rather than the stream. */
  get callbackMode(): boolean {
    return this.options.callbackUrl !== undefined;
  }

  /** The secret every callback must carry (undefined outside callback mode). */
  get callbackSecret(): string | undefined {
    return this.options.callbackSecret;
  }

  /**
   * A callback body: parsed, then applied like a stream event, except that anything that would
   * write a record, or drop all of an app's, is first checked against Marathon (the app and its
   * tasks are read again and the records follow what Marathon reports): a callback can be forged.
   */
  onCallback(body: unknown): { accepted: boolean; problem?: string } {
    const parsed = parseMarathonEvent(body);
    if (parsed.kind === 'malformed') {
      this.onMalformed(parsed.eventType, parsed.problem, JSON.stringify(body ?? null).slice(0, 200));
      return { accepted: false, problem: parsed.problem };
    }
    if (parsed.kind === 'unknown') {
      this.metrics.countEvent(parsed.eventType);
      return { accepted: true };
    }
    const event = parsed.event;
    const confirm =
      (event.eventType === 'status_update_event' && !LEAVING_TASK_STATES.has(event.taskStatus)) ||
      event.eventType === 'app_terminated_event';
    if (!confirm) this.onEvent(event);
    else {
      this.metrics.countEvent(event.eventType);
      if (this.leadership.isLeader && !this.stopped) this.applier.refresh(event.appId);
    }
    return { accepted: true };
  }

  private onMalformed(eventType: string | undefined, problem: string, sample: string): void {
    this.metrics.malformed.inc();
    this.logger.warn('malformed Marathon event ignored', { eventType, problem, sample });
  }

  /** Runs a full reconcile (after the one running, if any; concurrent requests share one run). */
  reconcileNow(reason: string): Promise<ReconcileResult> {
    if (!this.leadership.isLeader) return Promise.reject(new NotLeaderError());
    if (this.queued) return this.queued;
    const next = () => {
      this.queued = undefined;
      return this.runReconcile(reason);
    };
    // after the running one ends, however it ends (its caller has its outcome)
    const run = this.active.then(next, next);
    this.queued = run;
    this.active = run;
    return run;
  }

  private requestReconcile(reason: string): void {
    if (!this.leadership.isLeader || this.stopped) return;
    // a failed reconcile logs itself and schedules its retry
    this.reconcileNow(reason).catch((err: unknown) =>
      this.logger.debug('requested reconcile did not run', { reason, error: describeError(err) }),
    );
  }

  private async runReconcile(reason: string): Promise<ReconcileResult> {
    if (!this.leadership.isLeader) throw new NotLeaderError();
    clearTimeout(this.retryTimer);
    try {
      if (this.options.callbackUrl) await this.registerCallback();
      const result = await reconcile(this.ctx);
      await this.applier.settled();
      this.reconcileBackoff.reset();
      this.metrics.reconciles.inc({ outcome: 'ok' });
      this.lastReconcile = { ...result, at: new Date().toISOString() };
      this.logger.info('reconciled', { reason, ...result });
      const released = releaseHeap();
      if (released)
        this.logger.info('heap released after reconcile', {
          heapBeforeMb: Math.round(released.before / 2 ** 20),
          heapAfterMb: Math.round(released.after / 2 ** 20),
          pauseMs: released.ms,
        });
      return result;
    } catch (err) {
      this.metrics.reconciles.inc({ outcome: 'failed' });
      const delay = this.reconcileBackoff.next();
      this.logger.warn('reconcile failed; retrying', { reason, error: describeError(err), retryInMs: delay });
      if (!this.stopped)
        this.retryTimer = setTimeout(() => this.requestReconcile(`retry after: ${describeError(err)}`), delay);
      throw err;
    }
  }

  /** Every subscriber (standbys too) registers its callback, retrying until Marathon accepts it. */
  private ensureCallback(): void {
    if (this.stopped) return;
    this.registerCallback().then(
      () => this.callbackBackoff.reset(),
      (err: unknown) => {
        const delay = this.callbackBackoff.next();
        this.logger.warn('cannot register for Marathon HTTP callbacks; retrying', {
          error: describeError(err),
          retryInMs: delay,
        });
        this.callbackTimer = setTimeout(() => this.ensureCallback(), delay);
      },
    );
  }

  /** The callback URL with the callback secret as its `secret` parameter. */
  private registeredCallbackUrl(): string {
    const url = new URL(this.options.callbackUrl!);
    url.searchParams.set('secret', this.options.callbackSecret!);
    return url.toString();
  }

  private async registerCallback(): Promise<void> {
    const params = new URLSearchParams({ callbackUrl: this.registeredCallbackUrl() });
    await this.marathon.request('POST', '/v2/eventSubscriptions', params, undefined, 'subscribe callback');
    if (!this.callbacksRegistered)
      this.logger.info('registered for Marathon HTTP callbacks', { callbackUrl: this.options.callbackUrl });
    this.callbacksRegistered = true;
  }

  /** What /readyz reports; `etcdReachable` is checked live with a short read. */
  async status(): Promise<SubscriberStatus> {
    let etcdReachable = this.store.reachable;
    try {
      // a key its etcd role may read (the endpoint records' prefix itself)
      await this.etcd
        .get(this.ctx.layout.allEndpoints())
        .options({ deadline: Date.now() + 1_000 })
        .exec();
    } catch {
      etcdReachable = false;
    }
    return {
      id: this.id,
      role: this.leadership.isLeader ? 'leader' : 'standby',
      stream: this.stream
        ? this.stream.attached
          ? 'attached'
          : 'detached'
        : this.callbacksRegistered
          ? 'callbacks'
          : 'detached',
      etcdReachable,
      endpoints: this.store.size,
      pendingChanges: this.store.pendingCount,
      lastReconcile: this.lastReconcile,
    };
  }
}
