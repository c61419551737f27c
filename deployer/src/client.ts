/**
 * A small client of the deploy API, used by the `theseus` client commands. Error answers become
 * ApiError with the server's code, message, hint and problems.
 */
import { TheseusError, type ProblemDetail } from '@theseus/services';
import type { PlannedService } from './plan.js';
import type { DeploymentRecord } from './store.js';
import type { ServiceVersion } from './deployer.js';
import type { ServiceGroupDetail, ServiceGroupSummary } from './service-view.js';

export interface DeployerClientOptions {
  /** Base URL of the deployer, e.g. http://127.0.0.1:5000. */
  url: string;
  token?: string | undefined;
  /** @defaultValue 30000 */
  timeoutMs?: number;
}

export class ApiError extends TheseusError {
  readonly status: number;
  readonly problems: Array<ProblemDetail & { line?: number; column?: number }>;
  constructor(
    status: number,
    body: { error?: { code?: string; message?: string; hint?: string; problems?: ApiError['problems'] } } | undefined,
  ) {
    const error = body?.error ?? {};
    super(
      error.code ?? `HTTP_${status}`,
      error.message ?? `the deployer answered HTTP ${status}`,
      error.hint ? { hint: error.hint } : {},
    );
    this.status = status;
    this.problems = error.problems ?? [];
  }

  override describe(): string {
    const lines = this.problems.map(
      (p) => `  ${p.line ? `line ${p.line}, column ${p.column}: ` : ''}${p.path || '/'}: ${p.message}`,
    );
    return [super.describe(), ...lines].join('\n');
  }
}

export class DeployerUnreachableError extends TheseusError {
  constructor(url: string, cause: unknown) {
    super('DEPLOYER_UNREACHABLE', `cannot reach the deployer at ${url}: ${(cause as Error).message}`, {
      hint: 'check --url / THESEUS_URL and that `theseus deployer` is running',
      recoverable: true,
      cause,
    });
  }
}

/** `GET /services/:name/logs` parameters. */
export interface LogsQuery {
  instance?: string | undefined;
  follow?: boolean | undefined;
  /** Lines; the deployer checks the value. */
  tail?: number | string | undefined;
  since?: string | undefined;
  stream?: 'stdout' | 'stderr' | undefined;
}

export interface Accepted {
  id: string;
  state: string;
  statusUrl: string;
  replayed: boolean;
}

export interface Selector {
  namespace?: string | undefined;
  labels?: readonly string[] | undefined;
}

export class DeployerClient {
  private readonly url: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;

  constructor(options: DeployerClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  deploy(body: string, contentType: string, options: { idempotencyKey?: string } = {}): Promise<Accepted> {
    return this.call('POST', '/deploy', {
      body,
      contentType,
      headers: options.idempotencyKey ? { 'Idempotency-Key': options.idempotencyKey } : {},
    });
  }

  async dryRun(body: string, contentType: string): Promise<PlannedService[]> {
    return (await this.call<{ services: PlannedService[] }>('POST', '/deploy?dryRun=true', { body, contentType }))
      .services;
  }

  deployment(id: string): Promise<DeploymentRecord> {
    return this.call('GET', `/deployments/${encodeURIComponent(id)}`);
  }

  async services(selector: Selector = {}): Promise<ServiceGroupSummary[]> {
    return (await this.call<{ services: ServiceGroupSummary[] }>('GET', `/services${query(selector)}`)).services;
  }

  async service(name: string, selector: Selector = {}): Promise<ServiceGroupDetail[]> {
    return (
      await this.call<{ groups: ServiceGroupDetail[] }>(
        'GET',
        `/services/${encodeURIComponent(name)}${query(selector)}`,
      )
    ).groups;
  }

  scale(name: string, instances: number, selector: Selector = {}): Promise<Accepted> {
    return this.call('POST', `/services/${encodeURIComponent(name)}/scale${query(selector)}`, {
      body: JSON.stringify({ instances }),
      contentType: 'application/json',
    });
  }

  restart(name: string, selector: Selector = {}): Promise<Accepted> {
    return this.call('POST', `/services/${encodeURIComponent(name)}/restart${query(selector)}`);
  }

  versions(name: string, selector: Selector = {}): Promise<{ appId: string; versions: ServiceVersion[] }> {
    return this.call('GET', `/services/${encodeURIComponent(name)}/versions${query(selector)}`);
  }

  /**
   * Streams `GET /services/:name/logs` to `onText` until the deployer ends it (the files are read,
   * or with `follow` never) or `signal` aborts; an abort resolves.
   */
  async logs(
    name: string,
    selector: Selector,
    options: LogsQuery,
    onText: (text: string) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    const params = new URLSearchParams(query(selector).slice(1));
    for (const [key, value] of Object.entries(options))
      if (value !== undefined && value !== false) params.set(key, String(value));
    const headers: Record<string, string> = { Accept: 'text/plain' };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    let response: Response;
    try {
      response = await fetch(`${this.url}/services/${encodeURIComponent(name)}/logs?${params}`, {
        headers,
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (signal?.aborted) return;
      throw new DeployerUnreachableError(this.url, err);
    }
    if (!response.ok) {
      let body: unknown;
      try {
        body = await response.json();
      } catch {
        body = undefined; // not the deployer's JSON error: its status is reported
      }
      throw new ApiError(response.status, body as ConstructorParameters<typeof ApiError>[1]);
    }
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body ?? []) onText(decoder.decode(chunk as Uint8Array, { stream: true }));
    } catch (err) {
      if (signal?.aborted) return;
      throw new DeployerUnreachableError(this.url, err);
    }
  }

  rollback(name: string, version: string | undefined, selector: Selector = {}): Promise<Accepted> {
    return this.call('POST', `/services/${encodeURIComponent(name)}/rollback${query(selector)}`, {
      body: JSON.stringify(version ? { version } : {}),
      contentType: 'application/json',
    });
  }

  remove(name: string, selector: Selector = {}): Promise<Accepted> {
    return this.call('DELETE', `/services/${encodeURIComponent(name)}${query(selector)}`);
  }

  private async call<T>(
    method: string,
    path: string,
    options: { body?: string; contentType?: string; headers?: Record<string, string> } = {},
  ): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (options.contentType) headers['Content-Type'] = options.contentType;
    let response: Response;
    try {
      response = await fetch(this.url + path, {
        method,
        headers,
        body: options.body ?? null,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new DeployerUnreachableError(this.url, err);
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (!response.ok) throw new ApiError(response.status, body as ConstructorParameters<typeof ApiError>[1]);
    return body as T;
  }
}

function query(selector: Selector): string {
  const params = new URLSearchParams();
  if (selector.namespace) params.set('namespace', selector.namespace);
  if (selector.labels?.length) params.set('labels', selector.labels.join(','));
  return params.size ? `?${params.toString()}` : '';
}
