/**
 * One service's endpoint records, read once and then kept current by an etcd watch that starts at
 * the revision read + 1.
 *
 * After a disconnect the watch resumes from the last revision applied, so etcd replays every
 * change made meanwhile, and events at or below that revision are ignored, so none is applied
 * twice. When etcd cancels the watch (its start revision was compacted away, or any other reason)
 * the service is read again and the state replaced: whoever diffs states sees exactly what
 * changed. Reconnecting is ours, not etcd3's: its Watcher would resume from the revision in the
 * last response header, which can be past events not yet delivered.
 */
import { EventEmitter } from 'node:events';
import type { Etcd3, IWatchResponse, Watcher } from 'etcd3';
import type { DecodedEndpoints, EndpointRecord, EtcdLayout, InvalidEndpoint } from '@theseus/services/contract';
import type { ContractModule } from './etcd-connection.js';
import { WATCH_RETRY, retryDelay, type RetryPolicy } from './retry.js';

export interface EndpointWatchOptions {
  client: Etcd3;
  services: ContractModule;
  layout: EtcdLayout;
  namespace: string;
  service: string;
  /** Delays before reconnecting or reading again after failures in a row. @defaultValue WATCH_RETRY.etcd */
  retry?: RetryPolicy;
}

export interface EndpointWatchEvents {
  /** The records changed (or were re-read). */
  change: [];
  /** etcd accepted the watch; `resumed` is false for the first one. */
  watching: [{ fromRevision: string; resumed: boolean }];
  /** The connection to etcd was lost, or a re-read failed; the watch retries. */
  disconnected: [Error];
  /** etcd canceled the watch (e.g. its revision was compacted); the service is read again. */
  canceled: [Error];
  /** The service was read again; `current` is the state at `revision`. */
  resynced: [{ revision: string }];
  /** A stored record does not decode; it counts as absent. */
  invalid: [InvalidEndpoint];
}

export class EndpointWatch extends EventEmitter<EndpointWatchEvents> {
  readonly namespace: string;
  readonly service: string;
  private readonly records = new Map<string, EndpointRecord>();
  /** Records handed out are frozen: the handler and the cache's callers share them. */
  private readonly decoded: DecodedEndpoints;
  private readonly prefix: string;
  private readonly retryPolicy: RetryPolicy;
  private revision = 0n;
  private watcher: Watcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  private connected = false;

  constructor(private readonly options: EndpointWatchOptions) {
    super();
    this.namespace = options.namespace;
    this.service = options.service;
    this.prefix = options.layout.serviceEndpoints(options.namespace, options.service);
    this.retryPolicy = options.retry ?? WATCH_RETRY.etcd;
    this.decoded = new options.services.DecodedEndpoints();
  }

  /** The records now, by task id. Kept (stale) while etcd is unreachable. */
  get current(): ReadonlyMap<string, EndpointRecord> {
    return this.records;
  }

  /** The etcd revision `current` reflects. */
  get lastRevision(): string {
    return String(this.revision);
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Reads the service and starts watching from the revision read. Rejects when etcd cannot be read. */
  async start(): Promise<void> {
    await this.read();
    this.open(false);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.connected = false;
    clearTimeout(this.timer);
    const watcher = this.watcher;
    this.watcher = undefined;
    if (watcher) {
      // A cancel waits for etcd's answer; a dead connection must not hold the stop up.
      await Promise.race([
        Promise.allSettled([watcher.cancel()]),
        new Promise((resolve) => setTimeout(resolve, 1_000).unref()),
      ]);
    }
  }

  private async read(): Promise<void> {
    const { services, client, layout } = this.options;
    const snapshot = await services.readServiceEndpoints(client, layout, this.namespace, this.service, {
      decoded: this.decoded,
    });
    if (this.stopped) return;
    this.records.clear();
    for (const endpoint of snapshot.endpoints) this.records.set(endpoint.taskId, endpoint.record);
    for (const invalid of snapshot.invalid) this.emit('invalid', invalid);
    this.revision = BigInt(snapshot.revision);
    this.emit('change');
  }

  private open(resumed: boolean): void {
    if (this.stopped) return;
    const fromRevision = String(this.revision + 1n);
    const watcher = this.options.client.watch().prefix(this.prefix).startRevision(fromRevision).watcher();
    this.watcher = watcher;
    watcher.on('connected', () => {
      if (this.watcher !== watcher) return;
      this.failures = 0;
      this.connected = true;
      this.emit('watching', { fromRevision, resumed });
    });
    watcher.on('data', (response) => {
      if (this.watcher === watcher) this.apply(response);
    });
    watcher.on('disconnected', (err) => {
      if (this.watcher !== watcher) return;
      this.drop();
      // While disconnected this only detaches it (etcd cannot answer), so etcd3 does not reconnect it on its own.
      void Promise.allSettled([watcher.cancel()]);
      this.emit('disconnected', err);
      this.retry(() => this.open(true));
    });
    watcher.on('error', (err) => {
      if (this.watcher !== watcher) return;
      // etcd canceled it and etcd3 has already let it go: nothing to cancel.
      this.drop();
      this.emit('canceled', err);
      this.retry(() => void this.resync());
    });
  }

  private drop(): void {
    this.watcher = undefined;
    this.connected = false;
  }

  private async resync(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.read();
    } catch (err) {
      this.emit('disconnected', err as Error);
      this.retry(() => void this.resync());
      return;
    }
    this.emit('resynced', { revision: this.lastRevision });
    this.open(true);
  }

  private apply(response: IWatchResponse): void {
    const { services, layout } = this.options;
    let last = this.revision;
    let changed = false;
    for (const event of response.events) {
      const revision = BigInt(event.kv.mod_revision);
      if (revision <= this.revision) continue; // replayed after a reconnect: already applied
      if (revision > last) last = revision;
      const key = event.kv.key.toString();
      const parsed = layout.parseEndpointKey(key);
      if (!parsed) continue;
      if (event.type === 'Delete') {
        this.decoded.forget(key);
        changed = this.records.delete(parsed.taskId) || changed;
        continue;
      }
      const decoded = this.decoded.decode(layout, event.kv);
      if (services.isStoredEndpoint(decoded)) {
        this.records.set(decoded.taskId, decoded.record);
        changed = true;
      } else {
        this.emit('invalid', decoded);
        changed = this.records.delete(parsed.taskId) || changed;
      }
    }
    // A response without events is a progress notification, sent only once the watch has caught up.
    if (response.events.length === 0 && BigInt(response.header.revision) > last)
      last = BigInt(response.header.revision);
    this.revision = last;
    if (changed) this.emit('change');
  }

  private retry(action: () => void): void {
    if (this.stopped) return;
    this.timer = setTimeout(action, retryDelay(this.retryPolicy, ++this.failures));
  }
}
