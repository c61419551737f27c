/**
 * Prometheus metrics of the deployer (one registry per process): HTTP requests, deployments and
 * steps by outcome, and the latency of every Marathon call.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { MarathonClient, type MarathonClientOptions } from '@theseus/services';
import type { DeploymentRecord } from '../store.js';
import type { UsageSample } from '../usage.js';

const SERVICE_LABELS = ['app_id', 'namespace', 'service'] as const;

export class DeployerMetrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'theseus_deployer_http_requests_total',
    help: 'HTTP requests answered',
    labelNames: ['method', 'route', 'status'],
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'theseus_deployer_http_request_duration_seconds',
    help: 'Time to answer HTTP requests',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30],
    registers: [this.registry],
  });
  readonly deployments = new Counter({
    name: 'theseus_deployer_deployments_total',
    help: 'Deployments (deploy jobs) finished, by kind and outcome',
    labelNames: ['kind', 'outcome'],
    registers: [this.registry],
  });
  readonly steps = new Counter({
    name: 'theseus_deployer_steps_total',
    help: 'Service steps finished, by action and outcome',
    labelNames: ['action', 'outcome'],
    registers: [this.registry],
  });
  readonly marathonDuration = new Histogram({
    name: 'theseus_deployer_marathon_request_duration_seconds',
    help: 'Latency of calls to Marathon, by operation and outcome',
    labelNames: ['method', 'operation', 'outcome'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [this.registry],
  });

  readonly serviceCpuSeconds = this.serviceGauge(
    'theseus_service_cpu_seconds',
    'CPU seconds (user and system) used so far by the running instances of a service',
  );
  readonly serviceCpusAllocated = this.serviceGauge(
    'theseus_service_cpus_allocated',
    'CPUs allocated to the running instances of a service',
  );
  readonly serviceMemoryUsed = this.serviceGauge(
    'theseus_service_memory_used_bytes',
    'Resident memory of the running instances of a service',
  );
  readonly serviceMemoryLimit = this.serviceGauge(
    'theseus_service_memory_limit_bytes',
    'Memory limit of the running instances of a service',
  );
  readonly serviceNearMemoryLimit = this.serviceGauge(
    'theseus_service_instances_near_memory_limit',
    'Instances of a service using more than the warning share of their memory limit',
  );
  readonly serviceOomKills = new Counter({
    name: 'theseus_service_oom_kills_total',
    help: 'Processes of a service the kernel killed for exceeding their memory limit (seen since the deployer started)',
    labelNames: SERVICE_LABELS,
    registers: [this.registry],
  });
  /** Reads the agents before a scrape (set when the deployer knows how). */
  sampleUsage: (() => Promise<void>) | undefined;
  private readonly serviceLabels = new Map<string, { app_id: string; namespace: string; service: string }>();
  private readonly pendingOomKills = new Map<string, number>();

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'theseus_deployer_' });
  }

  private serviceGauge(name: string, help: string): Gauge<(typeof SERVICE_LABELS)[number]> {
    return new Gauge({ name, help, labelNames: SERVICE_LABELS, registers: [this.registry] });
  }

  deploymentFinished(record: DeploymentRecord): void {
    this.deployments.inc({ kind: record.kind, outcome: record.state });
    for (const step of record.steps) this.steps.inc({ action: step.action ?? 'none', outcome: step.state });
  }

  /** The service gauges become this sample's; services absent from it leave the gauges. */
  usageSampled(sample: UsageSample): void {
    for (const g of [
      this.serviceCpuSeconds,
      this.serviceCpusAllocated,
      this.serviceMemoryUsed,
      this.serviceMemoryLimit,
      this.serviceNearMemoryLimit,
    ])
      g.reset();
    for (const s of sample.services) {
      const labels = { app_id: s.appId, namespace: s.namespace, service: s.service };
      this.serviceLabels.set(s.appId, labels);
      this.serviceCpuSeconds.set(labels, s.cpuSeconds);
      this.serviceCpusAllocated.set(labels, s.cpusAllocated);
      this.serviceMemoryUsed.set(labels, s.memBytes);
      this.serviceMemoryLimit.set(labels, s.memLimitBytes);
      this.serviceNearMemoryLimit.set(labels, s.nearLimit);
      this.serviceOomKills.inc(labels, this.pendingOomKills.get(s.appId) ?? 0);
      this.pendingOomKills.delete(s.appId);
    }
    for (const [appId, n] of sample.newOomKills) this.oomKilled(appId, n);
  }

  /** OOM kills of an app's processes: seen in a sample, or a task that failed for it (counted once the app is sampled). */
  oomKilled(appId: string, count = 1): void {
    const labels = this.serviceLabels.get(appId);
    if (labels) this.serviceOomKills.inc(labels, count);
    else this.pendingOomKills.set(appId, (this.pendingOomKills.get(appId) ?? 0) + count);
  }
}

/** A MarathonClient that times each call into `metrics`. */
export class TimedMarathonClient extends MarathonClient {
  private readonly metrics: DeployerMetrics;

  constructor(options: MarathonClientOptions, metrics: DeployerMetrics) {
    super(options);
    this.metrics = metrics;
  }

  override async request<T>(
    method: Parameters<MarathonClient['request']>[0],
    path: string,
    params: URLSearchParams | undefined,
    body: unknown,
    what: string,
  ): Promise<T> {
    const end = this.metrics.marathonDuration.startTimer({
      method: String(method).toUpperCase(),
      operation: operationOf(path),
    });
    try {
      const result = await super.request<T>(method, path, params, body, what);
      end({ outcome: 'ok' });
      return result;
    } catch (err) {
      end({ outcome: (err as { code?: string }).code ?? 'error' });
      throw err;
    }
  }
}

/** `/v2/apps/theseus/default/web/restart` -> `/v2/apps/{id}/restart`: bounded label values. */
export function operationOf(path: string): string {
  const m = /^\/v2\/apps\/.+?(\/restart|\/tasks|\/versions(\/.+)?)?$/.exec(path);
  if (m) return `/v2/apps/{id}${m[1] ? m[1].replace(/\/versions\/.+/, '/versions/{version}') : ''}`;
  if (/^\/v2\/deployments\/.+/.test(path)) return '/v2/deployments/{id}';
  return path;
}
