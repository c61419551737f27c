/**
 * The subscriber's only way to write endpoint records to etcd.
 *
 * It remembers, for every endpoint key, the etcd mod revision and the time (`updatedAt`) of what it
 * last read or wrote there. A change older than that knowledge is stale and dropped; a change that
 * says nothing new is skipped. Accepted changes wait in a map keyed by etcd key (a newer change for
 * the same key replaces the waiting one, so each task's changes apply in order) and are written in
 * transactions of up to `batchSize` keys. Each transaction compares every key's mod revision with
 * the remembered one, and the leader's election key with its existence: a transaction that lost a
 * race re-reads its keys and re-judges each change; a deposed leader writes nothing. While etcd is
 * unreachable the changes stay queued and are retried; `recovered` is emitted when etcd answers again.
 */
import { EventEmitter } from 'node:events';
import type { Etcd3, IRequestOp } from 'etcd3';
import {
  Backoff,
  RETRY_POLICIES,
  castEtcdError,
  decodeEndpointRecord,
  describeError,
  type EtcdLayout,
  type Logger,
} from '@theseus/services';
import { encodeRecord, type EncodedEndpoint } from './endpoint-encoder.js';
import type { SubscriberMetrics } from './metrics.js';

export interface EndpointStoreOptions {
  client: Etcd3;
  layout: EtcdLayout;
  logger: Logger;
  metrics: SubscriberMetrics;
  /** Keys per transaction (etcd's --max-txn-ops is 128 and counts the compares). @defaultValue 120 */
  batchSize?: number;
  /**
   * Transactions under way at once (on disjoint keys). Deep enough that etcd keeps working while a
   * burst of events is still being read (replies wait until the burst is read). @defaultValue 16
   */
  maxInFlight?: number;
  /** Deadline of each transaction, ms. @defaultValue 5000 */
  timeoutMs?: number;
  /** Keys per page when reading all endpoints. @defaultValue 2000 */
  pageSize?: number;
  /** Remembered deletions (so that an older "running" cannot bring an endpoint back). @defaultValue 50000 */
  maxDeletions?: number;
}

/** Transactions under way at most when a batch that is not full may leave. */
const PARTIAL_IN_FLIGHT = 2;

export interface EndpointChange {
  key: string;
  appId: string;
  taskId: string;
  /** Time of the knowledge behind this change (event timestamp or snapshot time), ms. */
  at: number;
  /** The record to store (its `updatedAt` is `at`, its cluster this store's); undefined deletes. */
  value?: EncodedEndpoint;
  /** For deletes: the task has ended for good (no later state of it can bring it back). */
  final?: boolean;
  /** Event time, for the event-to-etcd lag metric. */
  eventAt?: number;
}

/**
 * What the store knows of one key in etcd. Kept for every endpoint, so it is small: numbers, an
 * interned app id, and nothing that holds on to the stored JSON (the task id is the key's last segment).
 */
export interface KnownEndpoint {
  rev: number;
  /** Time of the knowledge behind the stored record (its updatedAt), ms. */
  at: number;
  /** Hash of the record's state (see endpoint-encoder.ts); 0 when the value is not a valid record. */
  state: number;
  /** The record's startedAt, ms. */
  startedAt: number | null;
  healthy: boolean | null;
  appId: string;
  owned: boolean;
}

export type SubmitOutcome = 'queued' | 'stale' | 'unchanged';

/** A change as queued: the submitted object itself, not a copy. */
type Pending = EndpointChange;

interface Deletion {
  at: number;
  final: boolean;
}

export class EndpointStore extends EventEmitter<{ recovered: []; unreachable: []; deposed: []; written: [number] }> {
  private readonly known = new Map<string, KnownEndpoint>();
  private readonly byApp = new Map<string, Set<string>>();
  private readonly deletions = new Map<string, Deletion>();
  private readonly finalTasks = new Map<string, number>();
  private pending = new Map<string, Pending>();
  private readonly batchSize: number;
  private readonly pageSize: number;
  private readonly maxDeletions: number;
  /** Changes being written, by key, and how many transactions are under way. */
  private readonly inFlight = new Map<string, Pending>();
  private inFlightBatches = 0;
  private pumpScheduled = false;
  private fullPumpScheduled = false;
  private readonly maxInFlight: number;
  private readonly timeoutMs: number;
  private idleWaiters: Array<() => void> = [];
  private readonly backoff = new Backoff(RETRY_POLICIES.etcd);
  private retryTimer: NodeJS.Timeout | undefined;
  /** The leader's election key; undefined while not the leader (nothing is written). */
  private guardKey: string | undefined;
  private etcdDown = false;
  private readonly cluster: string;

  constructor(private readonly options: EndpointStoreOptions & { cluster: string }) {
    super();
    this.cluster = options.cluster;
    this.batchSize = options.batchSize ?? 120;
    this.pageSize = options.pageSize ?? 2000;
    this.maxDeletions = options.maxDeletions ?? 50_000;
    this.maxInFlight = options.maxInFlight ?? 16;
    this.timeoutMs = options.timeoutMs ?? 5_000;
  }

  get reachable(): boolean {
    return !this.etcdDown;
  }

  get size(): number {
    return this.known.size;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Start writing as the leader whose election key is `guardKey`; stop with undefined. */
  lead(guardKey: string | undefined): void {
    this.guardKey = guardKey;
    if (guardKey) this.pump();
  }

  knownAt(key: string): KnownEndpoint | undefined {
    return this.known.get(key);
  }

  /** The key of a task of `appId`, if one is known. */
  keyOfTask(appId: string, taskId: string): string | undefined {
    for (const key of this.byApp.get(appId) ?? []) if (taskIdOfKey(key) === taskId) return key;
    return undefined;
  }

  keysOfApp(appId: string): string[] {
    return [...(this.byApp.get(appId) ?? [])];
  }

  /** Judges a change against what is known and queues it when it says something new. */
  submit(change: EndpointChange): SubmitOutcome {
    const outcome = this.judge(change);
    if (outcome === 'stale') this.options.metrics.stale.inc();
    if (!change.value && change.final) this.rememberFinal(change.taskId, change.at);
    if (outcome !== 'queued') return outcome;
    this.pending.delete(change.key); // re-insert at the end: the order of first sight does not matter, the newest does
    this.pending.set(change.key, change);
    this.schedulePump();
    return 'queued';
  }

  private judge(change: EndpointChange): SubmitOutcome {
    if (change.value && this.finalTasks.has(change.taskId)) return 'stale';
    const waiting = this.pending.get(change.key);
    if (waiting && waiting.at > change.at) return 'stale';
    const writing = this.inFlight.get(change.key);
    if (writing && writing.at > change.at) return 'stale';
    const known = this.known.get(change.key);
    if (known && known.at > change.at) return 'stale';
    const deleted = this.deletions.get(change.key);
    if (change.value && deleted && deleted.at > change.at) return 'stale';
    if (waiting || writing) return 'queued';
    if (change.value) {
      if (known && known.owned && known.state === change.value.state) return 'unchanged';
      return 'queued';
    }
    return known ? 'queued' : 'unchanged';
  }

  /** A promise that resolves once fewer than `limit` changes wait, or undefined when that is already so. */
  belowLimit(limit: number): Promise<void> | undefined {
    if (this.pending.size < limit || !this.guardKey) return undefined;
    return new Promise((resolve) => {
      const check = () => {
        if (this.pending.size < limit || !this.guardKey) {
          this.off('written', check);
          this.off('deposed', check);
          resolve();
        }
      };
      this.on('written', check);
      this.on('deposed', check);
    });
  }

  /** Resolves once every queued change is written (or dropped as stale). */
  flushed(): Promise<void> {
    if ((this.pending.size === 0 || !this.guardKey) && this.inFlightBatches === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Reads every endpoint under the prefix (paged, at one revision), refreshing what is known of each
   * key; records are decoded one page at a time and not kept. Returns how many keys there are and how
   * many of them hold no valid record.
   */
  async load(): Promise<{ total: number; unreadable: number }> {
    const { client, layout } = this.options;
    const prefix = layout.allEndpoints();
    const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
    const seen = new Set<string>();
    let unreadable = 0;
    let start = prefix;
    let revision: string | undefined;
    try {
      for (;;) {
        let range = client.getAll().inRange({ start, end }).limit(this.pageSize);
        if (revision) range = range.revision(revision);
        const res = await range.exec();
        revision ??= res.header.revision;
        for (const kv of res.kvs) {
          const key = kv.key.toString();
          seen.add(key);
          const stored = this.readStored(kv.value.toString(), key);
          if (!stored) unreadable++;
          // A key being written knows better than this read.
          if (!this.pending.has(key) && !this.inFlight.has(key)) this.remember(key, Number(kv.mod_revision), stored);
        }
        if (!res.more || res.kvs.length === 0) break;
        start = res.kvs[res.kvs.length - 1]!.key.toString() + '\0';
      }
    } catch (err) {
      this.options.metrics.etcdErrors.inc();
      throw castEtcdError(err);
    }
    for (const key of [...this.known.keys()])
      if (!seen.has(key) && !this.pending.has(key) && !this.inFlight.has(key)) this.forget(key);
    this.options.metrics.endpoints.set(this.known.size);
    return { total: seen.size, unreadable };
  }

  /** Every known endpoint key with what is known of it. */
  entries(): IterableIterator<[string, KnownEndpoint]> {
    return this.known.entries();
  }

  /** What is known of a stored value; undefined when it is not a valid record. */
  private readStored(json: string, key: string): Omit<KnownEndpoint, 'rev'> | undefined {
    try {
      const record = decodeEndpointRecord(json, key);
      const { state, startedAt, healthy } = encodeRecord(record);
      return {
        at: Date.parse(record.updatedAt),
        state,
        startedAt,
        healthy,
        appId: record.appId,
        owned: record.cluster === this.cluster,
      };
    } catch {
      return undefined;
    }
  }

  private remember(key: string, rev: number, stored: Omit<KnownEndpoint, 'rev'> | undefined): void {
    const old = this.known.get(key);
    const same = old !== undefined && old.appId === (stored?.appId ?? '');
    const appId = same ? old.appId : this.intern(stored?.appId ?? '');
    if (old && !same) this.forget(key);
    const entry: KnownEndpoint = stored
      ? {
          rev,
          at: stored.at,
          state: stored.state,
          startedAt: stored.startedAt,
          healthy: stored.healthy,
          appId,
          owned: stored.owned,
        }
      : { rev, at: 0, state: 0, startedAt: null, healthy: null, appId, owned: false };
    this.known.set(key, entry);
    if (same) return;
    let keys = this.byApp.get(appId);
    if (!keys) this.byApp.set(appId, (keys = new Set()));
    keys.add(key);
  }

  private intern(appId: string): string {
    const keys = this.byApp.get(appId);
    if (keys) for (const key of keys) return this.known.get(key)?.appId ?? appId;
    return appId;
  }

  private forget(key: string): void {
    const old = this.known.get(key);
    if (!old) return;
    this.known.delete(key);
    const keys = this.byApp.get(old.appId);
    keys?.delete(key);
    if (keys?.size === 0) this.byApp.delete(old.appId);
  }

  private rememberFinal(taskId: string, at: number): void {
    this.finalTasks.set(taskId, at);
    trim(this.finalTasks, this.maxDeletions);
  }

  /**
   * Pumps once the current burst of submits (e.g. one chunk of the event stream) is queued, so it
   * leaves as one batch. Full batches leave after the chunk that filled them; the rest waits for the
   * event loop's turn, which a large burst (many chunks read at once) would otherwise hold back
   * while etcd sits idle.
   */
  private schedulePump(): void {
    if (this.pending.size >= this.batchSize && !this.fullPumpScheduled) {
      this.fullPumpScheduled = true;
      queueMicrotask(() => {
        this.fullPumpScheduled = false;
        this.pump(true);
      });
    }
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Sends batches while transactions may start; with `fullOnly`, only full ones. */
  private pump(fullOnly = false): void {
    while (this.guardKey && !this.retryTimer && this.inFlightBatches < this.maxInFlight && this.pending.size > 0) {
      const batch: Pending[] = [];
      for (const entry of this.pending.values()) {
        if (this.inFlight.has(entry.key)) continue; // one write per key at a time keeps each key's order
        batch.push(entry);
        if (batch.length >= this.batchSize) break;
      }
      const partial = batch.length < this.batchSize;
      // A partial batch waits while others are under way: later changes join it, so that under a
      // steady stream each transaction (whose compares cost etcd far more than its puts) carries
      // many changes instead of one.
      if (batch.length === 0 || (partial && (fullOnly || this.inFlightBatches >= PARTIAL_IN_FLIGHT))) return;
      for (const entry of batch) {
        this.pending.delete(entry.key);
        this.inFlight.set(entry.key, entry);
      }
      this.inFlightBatches++;
      this.options.metrics.pending.set(this.pending.size);
      void this.send(batch, this.guardKey).finally(() => {
        this.inFlightBatches--;
        for (const entry of batch) if (this.inFlight.get(entry.key) === entry) this.inFlight.delete(entry.key);
        this.options.metrics.pending.set(this.pending.size);
        this.pump();
        this.settleIfIdle();
      });
    }
  }

  private settleIfIdle(): void {
    if (this.inFlightBatches > 0) return;
    if (this.pending.size === 0 || !this.guardKey) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  private async send(batch: Pending[], guardKey: string): Promise<void> {
    try {
      await this.commit(batch, guardKey);
      this.backoff.reset();
      if (this.etcdDown) {
        this.etcdDown = false;
        this.options.logger.info('etcd is reachable again');
        this.emit('recovered');
      }
    } catch (err) {
      this.requeue(batch);
      this.options.metrics.etcdErrors.inc();
      const first = !this.etcdDown;
      if (first)
        this.options.logger.warn('etcd write failed; changes kept and retried', {
          error: describeError(castEtcdError(err)),
          pending: this.pending.size,
        });
      this.etcdDown = true;
      if (first) this.emit('unreachable');
      if (!this.retryTimer) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.pump();
        }, this.backoff.next());
      }
    }
  }

  /** Puts a batch back, unless a newer change for the same key arrived meanwhile. */
  private requeue(batch: Pending[]): void {
    const newer = this.pending;
    this.pending = new Map();
    for (const entry of batch) if (!newer.has(entry.key)) this.pending.set(entry.key, entry);
    for (const [key, entry] of newer) this.pending.set(key, entry);
  }

  /**
   * One transaction: the leader's election key must exist and every key must be at the revision
   * known for it; then every put and delete (as plain request messages: no builder per key).
   */
  private async commit(batch: Pending[], guardKey: string): Promise<void> {
    const txn = this.options.client.if(guardKey, 'Create', '>', 0).options({ deadline: Date.now() + this.timeoutMs });
    const ops: IRequestOp[] = [];
    for (const entry of batch) {
      txn.and(entry.key, 'Mod', '==', this.known.get(entry.key)?.rev ?? 0);
      const key = Buffer.from(entry.key);
      ops.push(
        entry.value
          ? { request_put: { key, value: Buffer.from(entry.value.json) } }
          : { request_delete_range: { key } },
      );
    }
    const result = await txn.then(...ops).commit();
    if (result.succeeded) {
      const rev = Number(result.header.revision);
      const now = Date.now();
      let puts = 0;
      for (const entry of batch) {
        const value = entry.value;
        if (value) {
          this.remember(entry.key, rev, {
            at: entry.at,
            state: value.state,
            startedAt: value.startedAt,
            healthy: value.healthy,
            appId: entry.appId,
            owned: true,
          });
          puts++;
        } else {
          this.forget(entry.key);
          this.deletions.set(entry.key, { at: entry.at, final: entry.final ?? false });
        }
        if (entry.eventAt !== undefined) this.options.metrics.lag.observe(Math.max(0, now - entry.eventAt) / 1000);
      }
      trim(this.deletions, this.maxDeletions);
      if (puts) this.options.metrics.writes.inc({ op: 'put' }, puts);
      if (batch.length > puts) this.options.metrics.writes.inc({ op: 'delete' }, batch.length - puts);
      this.options.metrics.endpoints.set(this.known.size);
      this.emit('written', batch.length);
      return;
    }
    await this.resolveConflict(batch, guardKey);
  }

  /** A compare failed: either leadership is gone, or some key moved. Re-read and re-judge. */
  private async resolveConflict(batch: Pending[], guardKey: string): Promise<void> {
    const { client } = this.options;
    const leader = await client.get(guardKey).exec();
    if (leader.kvs.length === 0) {
      this.options.logger.warn('no longer the leader: queued changes are left to the new leader', {
        dropped: batch.length + this.pending.size,
      });
      this.guardKey = undefined;
      this.pending.clear();
      this.emit('deposed');
      return;
    }
    const fresh = await Promise.all(batch.map((entry) => client.get(entry.key).exec()));
    batch.forEach((entry, i) => {
      const kv = fresh[i]!.kvs[0];
      if (kv) this.remember(entry.key, Number(kv.mod_revision), this.readStored(kv.value.toString(), entry.key));
      else this.forget(entry.key);
      if (!this.pending.has(entry.key) && this.judge(entry) === 'queued') this.pending.set(entry.key, entry);
      else this.options.metrics.stale.inc();
    });
  }
}

/** The task id of an endpoint key (its last segment). */
export function taskIdOfKey(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

/** Drops the oldest entries of an insertion-ordered map beyond `max`. */
function trim<K, V>(map: Map<K, V>, max: number): void {
  if (map.size <= max) return;
  let excess = map.size - max;
  for (const key of map.keys()) {
    if (excess-- <= 0) break;
    map.delete(key);
  }
}
