/**
 * Prometheus metrics of the deployer (one registry per process): HTTP requests, deployments and
 * steps by outcome, and the latency of every Marathon call.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { MarathonClient, type MarathonClientOptions } from '@theseus/services';
import type { DeploymentRecord } from '../store.js';

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

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'theseus_deployer_' });
  }

  deploymentFinished(record: DeploymentRecord): void {
    this.deployments.inc({ kind: record.kind, outcome: record.state });
    for (const step of record.steps) this.steps.inc({ action: step.action ?? 'none', outcome: step.state });
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
