/**
 * The dashboard's live state and its one change feed. It follows Marathon's event stream (every
 * event type), re-reads apps, tasks and endpoint records after events (and every few seconds, for
 * what events do not tell: etcd writes, missed events), polls the deployment records, and hands
 * each watcher first a full snapshot, then only what changed:
 *
 *   snapshot    {services, deployments, events, cluster, status}
 *   services    {upsert: ServiceRow[], remove: appId[]}
 *   deployment  DeploymentRecord
 *   event       a Marathon event (appDefinition reduced to its id)
 *   cluster     ClusterView
 *   status      {marathonStream, etcd, marathon}
 *
 * The reads run while someone watches and for a while after the last one leaves (a reload then
 * gets the kept state at once), and for a snapshot request otherwise; the Marathon event stream
 * runs from `startStream()` (or the first use) until `close()`, so the recent-events list covers
 * that time.
 */
import {
  DecodedEndpoints,
  MARATHON_LABELS,
  EtcdLayout,
  MarathonEventStream,
  createEtcdClient,
  type EtcdAccess,
  describeError,
  readEndpointsUnder,
  type Logger,
  type MarathonAppInfo,
  type MarathonClient,
  type MarathonEvent,
  type StoredEndpoint,
} from '@theseus/services';
import type { Etcd3 } from 'etcd3';
import type { DeploymentRecord, DeploymentStore } from '../store.js';
import { clusterView, fetchMesosAgents, type ClusterView, type MesosAgent } from './cluster-view.js';
import { recordsByApp, serviceRows, type ServiceRow } from './read-model.js';
import type { InstanceUsage, UsageReader } from '../usage.js';

export interface DashboardFeedOptions {
  marathon: MarathonClient;
  /** Marathon's event stream (every event type), shared with the rest of the process; started and stopped by its owner. */
  events?: MarathonEventStream | undefined;
  store: DeploymentStore;
  logger: Logger;
  /** Where the subscriber writes endpoint records; without it, instances show Marathon's view only. */
  etcd?: { endpoints: readonly string[]; prefix: string; access?: EtcdAccess | undefined } | undefined;
  /** A Mesos master (or the engine) answering `GET /master/slaves`, for host capacity. */
  mesosMasterUrl?: string | undefined;
  /** Reads what the instances really use from their agents; without it, the page shows allocations only. */
  usage?: UsageReader | undefined;
  /** Full re-read interval while someone watches. @defaultValue 3000 */
  refreshIntervalMs?: number;
  /** Re-read this long after a Marathon event (bursts coalesce). @defaultValue 250 */
  eventDebounceMs?: number;
  /** Reads after events start at least this long after the previous read began (a busy Marathon is not read back to back). @defaultValue 1000 */
  minReadIntervalMs?: number;
  /**
   * Reads go on this long after the last watcher left, so a page loaded again soon (a reload, a new
   * tab) gets the state at once instead of waiting for a full read. @defaultValue 30000
   */
  idleKeepMs?: number;
  /** Deployment record poll interval while someone watches. @defaultValue 1000 */
  deploymentPollMs?: number;
  /** Deployments in a snapshot. @defaultValue 50 */
  deploymentLimit?: number;
  /** Marathon events kept for a snapshot. @defaultValue 300 */
  eventBuffer?: number;
}

export interface FeedStatus {
  marathonStream: 'attached' | 'detached';
  marathon: string;
  etcd: string;
}

export interface DashboardSnapshot {
  generatedAt: string;
  services: ServiceRow[];
  deployments: DeploymentRecord[];
  events: FeedEvent[];
  cluster: ClusterView;
  status: FeedStatus;
}

/** A Marathon event as the page gets it. */
export type FeedEvent = Record<string, unknown> & { eventType: string; timestamp: string };

/**
 * An event as the dashboard shows it: app definitions (which carry environment values) reduced to
 * their ids, deployment plans to their steps' actions.
 */
export function shownEvent(event: FeedEvent): FeedEvent {
  const shown: FeedEvent = { ...event };
  const idOnly = (app: unknown) => ({ id: (app as { id?: unknown } | undefined)?.id });
  const actions = (step: unknown) => ({
    actions: ((step as { actions?: unknown[] } | undefined)?.actions ?? []).map((a) => {
      const { action, app, pod } = a as { action?: unknown; app?: unknown; pod?: unknown };
      return { action, ...(typeof app === 'string' ? { app } : {}), ...(typeof pod === 'string' ? { pod } : {}) };
    }),
  });
  for (const key of Object.keys(shown)) {
    const value = shown[key];
    if (key === 'appDefinition' || key === 'app') shown[key] = typeof value === 'string' ? value : idOnly(value);
    else if (key === 'plan' && value && typeof value === 'object') {
      const plan = value as { id?: unknown; version?: unknown; steps?: unknown[] };
      shown.plan = { id: plan.id, version: plan.version, steps: (plan.steps ?? []).map(actions) };
    } else if (key === 'currentStep') shown.currentStep = actions(value);
    else if (
      key === 'env' ||
      key === 'original' ||
      key === 'target' ||
      key === 'groupDefinition' ||
      key === 'pods' ||
      key === 'apps' ||
      key === 'secrets'
    )
      delete shown[key];
  }
  return shown;
}

export type FeedMessage =
  | { type: 'snapshot'; data: DashboardSnapshot }
  | { type: 'services'; data: { upsert: ServiceRow[]; remove: string[] } }
  | { type: 'deployment'; data: DeploymentRecord }
  | { type: 'event'; data: FeedEvent }
  | { type: 'cluster'; data: ClusterView }
  | { type: 'status'; data: FeedStatus };

export type FeedListener = (message: FeedMessage) => void;

/** Marathon events after which apps and tasks are read again. */
const CHANGING_EVENTS = new Set([
  'status_update_event',
  'health_status_changed_event',
  'instance_health_changed_event',
  'deployment_info',
  'deployment_step_success',
  'deployment_step_failure',
  'deployment_success',
  'deployment_failed',
  'app_terminated_event',
  'api_post_event',
  'unhealthy_instance_kill_event',
  'unhealthy_task_kill_event',
]);

export class DashboardFeed {
  private readonly options: DashboardFeedOptions;
  /** Each watcher, with what to call when the feed closes under it. */
  private readonly listeners = new Map<FeedListener, (() => void) | undefined>();
  private readonly events: FeedEvent[] = [];
  private readonly services = new Map<string, { row: ServiceRow; json: string }>();
  private readonly deployments = new Map<string, string>();
  private deploymentList: DeploymentRecord[] = [];
  private cluster: ClusterView | undefined;
  private clusterJson = '';
  private status: FeedStatus = { marathonStream: 'detached', marathon: 'unknown', etcd: 'unknown' };
  private following = false;
  private etcd: Etcd3 | undefined;
  private readonly layout: EtcdLayout | undefined;
  private readonly decoded = new DecodedEndpoints();
  private refreshedAt = 0;
  private readStartedAt = 0;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private refreshTimer: NodeJS.Timeout | undefined;
  private debounceTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: DashboardFeedOptions) {
    this.options = options;
    this.layout = options.etcd ? new EtcdLayout(options.etcd.prefix) : undefined;
  }

  /**
   * The current state: what the running reads keep (at most one refresh interval old, and events
   * trigger earlier reads), or read afresh when they are not running.
   */
  async snapshot(): Promise<DashboardSnapshot> {
    this.startStream();
    const kept =
      this.refreshTimer !== undefined &&
      Date.now() - this.refreshedAt <= (this.options.refreshIntervalMs ?? 3000) + 1000;
    if (!kept) {
      // Marathon unreachable: the snapshot says so in `status` and shows what was last read
      await Promise.all([this.refreshInBackground(), this.pollDeployments()]);
    }
    return {
      generatedAt: new Date(this.refreshedAt || Date.now()).toISOString(),
      services: [...this.services.values()].map((s) => s.row),
      deployments: this.deploymentList,
      events: [...this.events],
      cluster: this.cluster ?? clusterView([], new Error('not read yet'), undefined),
      status: { ...this.status },
    };
  }

  /** Calls `listener` with a snapshot, then with every change, until the returned function is called. */
  async watch(listener: FeedListener, closed?: () => void): Promise<() => void> {
    this.listeners.set(listener, closed);
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.refreshTimer === undefined) this.startTimers();
    const unsubscribe = () => {
      if (!this.listeners.delete(listener) || this.listeners.size > 0 || this.closed) return;
      this.idleTimer = setTimeout(() => this.stopTimers(), this.options.idleKeepMs ?? 30_000);
      this.idleTimer.unref();
    };
    try {
      listener({ type: 'snapshot', data: await this.snapshot() });
    } catch (err) {
      unsubscribe();
      throw err;
    }
    return unsubscribe;
  }

  get watchers(): number {
    return this.listeners.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    const ends = [...this.listeners.values()];
    this.listeners.clear();
    for (const end of ends) end?.();
    this.stopTimers();
    await Promise.allSettled([this.refreshing]);
    this.options.events
      ?.off('attached', this.onAttached)
      .off('detached', this.onDetached)
      .off('event', this.onStreamEvent);
    this.etcd?.close();
  }

  private send(message: FeedMessage): void {
    for (const listener of this.listeners.keys()) {
      try {
        listener(message);
      } catch (err) {
        this.options.logger.warn('dashboard watcher failed', { error: describeError(err) });
      }
    }
  }

  private setStatus(patch: Partial<FeedStatus>): void {
    const next = { ...this.status, ...patch };
    if (JSON.stringify(next) === JSON.stringify(this.status)) return;
    for (const part of ['marathon', 'etcd'] as const) {
      const [before, now] = [this.status[part], next[part]];
      if (now === before) continue;
      if (now === 'ok' && before !== 'unknown') this.options.logger.info('dashboard source back', { part });
      else if (now !== 'ok' && (before === 'ok' || before === 'unknown'))
        this.options.logger.warn('dashboard source failing', { part, status: now });
    }
    this.status = next;
    this.send({ type: 'status', data: { ...next } });
  }

  /** Refreshes without waiting; a failure is shown (and logged once) through the status. */
  private refreshInBackground(): Promise<void> {
    return this.refresh().catch((err: unknown) => {
      this.options.logger.debug('dashboard refresh failed', { error: describeError(err) });
    });
  }

  /** Starts following Marathon's events (also done by the first snapshot or watcher). */
  startStream(): void {
    const stream = this.options.events;
    if (!stream || this.following || this.closed) return;
    this.following = true;
    if (stream.attached) this.setStatus({ marathonStream: 'attached' });
    stream.on('attached', this.onAttached);
    stream.on('detached', this.onDetached);
    stream.on('event', this.onStreamEvent);
  }

  private readonly onAttached = () => {
    this.setStatus({ marathonStream: 'attached' });
    this.scheduleRefresh(); // Marathon has no replay: what happened while detached is read back
  };

  private readonly onDetached = () => this.setStatus({ marathonStream: 'detached' });

  private readonly onStreamEvent = (event: MarathonEvent) => this.onEvent(event);

  private onEvent(event: MarathonEvent): void {
    const shown = shownEvent(event as unknown as FeedEvent);
    this.events.push(shown);
    const keep = this.options.eventBuffer ?? 300;
    if (this.events.length > keep) this.events.splice(0, this.events.length - keep);
    this.send({ type: 'event', data: shown });
    if (CHANGING_EVENTS.has(event.eventType) && this.refreshTimer !== undefined) this.scheduleRefresh();
  }

  private startTimers(): void {
    this.stopTimers();
    const every = this.options.refreshIntervalMs ?? 3000;
    this.refreshTimer = setInterval(() => void this.refreshInBackground(), every);
    this.pollTimer = setInterval(() => void this.pollDeployments(), this.options.deploymentPollMs ?? 1000);
  }

  private stopTimers(): void {
    clearTimeout(this.idleTimer);
    clearInterval(this.refreshTimer);
    clearInterval(this.pollTimer);
    clearTimeout(this.debounceTimer);
    this.refreshTimer = this.pollTimer = this.debounceTimer = this.idleTimer = undefined;
  }

  private scheduleRefresh(): void {
    if (this.debounceTimer || this.closed) return;
    const sinceRead = Date.now() - this.readStartedAt;
    const delay = Math.max(this.options.eventDebounceMs ?? 250, (this.options.minReadIntervalMs ?? 1000) - sinceRead);
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined;
      void this.refreshInBackground();
    }, delay);
  }

  /** Reads apps, tasks, records and capacity; sends what changed. One read at a time. */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = this.read().finally(() => {
      this.refreshing = undefined;
      if (this.refreshAgain && !this.closed) {
        this.refreshAgain = false;
        void this.refreshInBackground();
      }
    });
    return this.refreshing;
  }

  private async read(): Promise<void> {
    const { marathon } = this.options;
    this.readStartedAt = Date.now();
    const [apps, info, records, agents] = await Promise.all([
      marathon
        .listApps({ label: `${MARATHON_LABELS.managed}==true`, embed: ['apps.tasks', 'apps.lastTaskFailure'] })
        .catch((err: unknown) => errorOf(err)),
      marathon.info().catch((err: unknown) => errorOf(err)),
      this.readRecords(),
      this.options.mesosMasterUrl
        ? fetchMesosAgents(this.options.mesosMasterUrl).catch((err: unknown) => errorOf(err))
        : Promise.resolve(undefined),
    ]);
    if (apps instanceof Error) {
      this.setStatus({ marathon: apps.message });
      throw apps;
    }
    this.setStatus({ marathon: 'ok' });
    const usage = await this.options.usage
      ?.sample(apps, agents as MesosAgent[] | Error | undefined)
      .then((sample) => sample.instances)
      .catch((err: unknown) => {
        this.options.logger.warn('could not read the resource use of instances', { error: describeError(err) });
        return undefined;
      });
    this.applyServices(apps, records, usage);
    this.applyCluster(apps, info, agents as MesosAgent[] | Error | undefined, usage);
    this.refreshedAt = Date.now();
  }

  private async readRecords(): Promise<Map<string, StoredEndpoint[]> | undefined> {
    if (!this.options.etcd || !this.layout) return undefined;
    this.etcd ??= createEtcdClient({
      endpoints: this.options.etcd.endpoints,
      access: this.options.etcd.access,
      timeoutMs: 3000,
    });
    try {
      const snapshot = await readEndpointsUnder(this.etcd, this.layout, this.layout.allEndpoints(), {
        decoded: this.decoded,
      });
      this.setStatus({ etcd: snapshot.invalid.length ? `${snapshot.invalid.length} record(s) do not decode` : 'ok' });
      return recordsByApp(snapshot.endpoints);
    } catch (err) {
      this.setStatus({ etcd: describeError(err) });
      return undefined;
    }
  }

  private applyServices(
    apps: readonly MarathonAppInfo[],
    records: Map<string, StoredEndpoint[]> | undefined,
    usage: ReadonlyMap<string, InstanceUsage> | undefined,
  ): void {
    const upsert: ServiceRow[] = [];
    const seen = new Set<string>();
    for (const row of serviceRows(apps, records, usage)) {
      seen.add(row.key);
      const json = JSON.stringify(row);
      if (this.services.get(row.key)?.json === json) continue;
      this.services.set(row.key, { row, json });
      upsert.push(row);
    }
    const remove = [...this.services.keys()].filter((k) => !seen.has(k));
    for (const k of remove) this.services.delete(k);
    if (upsert.length || remove.length) this.send({ type: 'services', data: { upsert, remove } });
  }

  private applyCluster(
    apps: readonly MarathonAppInfo[],
    info: Awaited<ReturnType<MarathonClient['info']>> | Error,
    agents: MesosAgent[] | Error | undefined,
    usage: ReadonlyMap<string, InstanceUsage> | undefined,
  ): void {
    const view = clusterView(apps, info, agents, usage);
    const json = JSON.stringify(view);
    if (json === this.clusterJson) return;
    this.cluster = view;
    this.clusterJson = json;
    this.send({ type: 'cluster', data: view });
  }

  private async pollDeployments(): Promise<void> {
    let records: DeploymentRecord[];
    try {
      records = await this.options.store.recent(this.options.deploymentLimit ?? 50);
    } catch {
      return; // Redis away: the store reconnects; the page keeps what it has
    }
    this.deploymentList = records;
    for (const record of [...records].reverse()) {
      const json = JSON.stringify(record);
      if (this.deployments.get(record.id) === json) continue;
      this.deployments.set(record.id, json);
      this.send({ type: 'deployment', data: record });
    }
    if (this.deployments.size > 4 * (this.options.deploymentLimit ?? 50)) {
      const keep = new Set(records.map((r) => r.id));
      for (const id of this.deployments.keys()) if (!keep.has(id)) this.deployments.delete(id);
    }
  }
}

function errorOf(err: unknown): Error {
  return err instanceof Error ? err : new Error(describeError(err));
}
