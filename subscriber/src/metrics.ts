/** The subscriber's Prometheus metrics, on a registry of its own (several subscribers can share a process). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class SubscriberMetrics {
  readonly registry = new Registry();
  /** Events by type since the last scrape; the counter takes them in when scraped. */
  private readonly eventCounts = new Map<string, number>();
  readonly events = new Counter({
    name: 'theseus_subscriber_events_total',
    help: 'Marathon events received, by type',
    labelNames: ['type'],
    registers: [this.registry],
    collect: () => this.takeEventCounts(),
  });
  readonly malformed = new Counter({
    name: 'theseus_subscriber_events_malformed_total',
    help: 'Events that could not be parsed',
    registers: [this.registry],
  });
  readonly stale = new Counter({
    name: 'theseus_subscriber_changes_stale_total',
    help: 'Changes dropped because etcd already had newer knowledge',
    registers: [this.registry],
  });
  readonly lag = new Histogram({
    name: 'theseus_subscriber_event_to_etcd_seconds',
    help: 'Time from a Marathon event (its timestamp) to the etcd write that reflects it',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly writes = new Counter({
    name: 'theseus_subscriber_etcd_writes_total',
    help: 'Endpoint puts and deletes committed',
    labelNames: ['op'],
    registers: [this.registry],
  });
  readonly etcdErrors = new Counter({
    name: 'theseus_subscriber_etcd_errors_total',
    help: 'Failed etcd transactions and reads',
    registers: [this.registry],
  });
  readonly reconciles = new Counter({
    name: 'theseus_subscriber_reconciles_total',
    help: 'Reconciles run, by outcome',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly reconcileChanges = new Counter({
    name: 'theseus_subscriber_reconcile_changes_total',
    help: 'Endpoints changed by reconciles, by action (added, fixed, removed, deferred)',
    labelNames: ['action'],
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: 'theseus_subscriber_reconcile_duration_seconds',
    help: 'Duration of full reconciles',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: 'theseus_subscriber_leader',
    help: '1 while this subscriber is the leader',
    registers: [this.registry],
  });
  readonly attached = new Gauge({
    name: 'theseus_subscriber_stream_attached',
    help: '1 while the event stream is attached',
    registers: [this.registry],
  });
  readonly endpoints = new Gauge({
    name: 'theseus_subscriber_endpoints',
    help: 'Endpoint records known in etcd',
    registers: [this.registry],
  });
  readonly pending = new Gauge({
    name: 'theseus_subscriber_pending_changes',
    help: 'Changes waiting to be written to etcd',
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  countEvent(type: string): void {
    this.eventCounts.set(type, (this.eventCounts.get(type) ?? 0) + 1);
  }

  private takeEventCounts(): void {
    for (const [type, n] of this.eventCounts) this.events.inc({ type }, n);
    this.eventCounts.clear();
  }
}
