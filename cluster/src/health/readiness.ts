/**
 * Marathon's readiness checks: during a deployment a new task replaces an old one only once every check
 * got one of `httpStatusCodesForReady`; a ready task is not checked again.
 */
import http from 'node:http';
import https from 'node:https';
import type { Logger } from '@theseus/services';
import { requestedPorts, type AppDefinition } from '../app/definition.js';
import type { TaskRecord } from '../tasks/task.js';

export interface ReadinessCheck {
  name: string;
  protocol: 'HTTP' | 'HTTPS';
  path: string;
  portName: string;
  intervalSeconds: number;
  timeoutSeconds: number;
  httpStatusCodesForReady: number[];
  preserveLastResponse: boolean;
}

export interface ReadinessResult {
  name: string;
  taskId: string;
  ready: boolean;
  lastResponse?: { status: number; contentType: string; body: string };
}

export function readinessChecksOf(app: AppDefinition): ReadinessCheck[] {
  const raw = Array.isArray(app.readinessChecks) ? (app.readinessChecks as Array<Record<string, unknown>>) : [];
  return raw.map((r) => ({
    name: typeof r.name === 'string' ? r.name : 'readinessCheck',
    protocol: r.protocol === 'HTTPS' ? 'HTTPS' : 'HTTP',
    path: typeof r.path === 'string' ? r.path : '/',
    portName: typeof r.portName === 'string' ? r.portName : 'http-api',
    intervalSeconds: typeof r.intervalSeconds === 'number' ? r.intervalSeconds : 30,
    timeoutSeconds: typeof r.timeoutSeconds === 'number' ? r.timeoutSeconds : 10,
    httpStatusCodesForReady: Array.isArray(r.httpStatusCodesForReady) ? (r.httpStatusCodesForReady as number[]) : [200],
    preserveLastResponse: r.preserveLastResponse === true,
  }));
}

export class ReadinessMonitor {
  private readonly results = new Map<string, ReadinessResult[]>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly changed: (task: TaskRecord) => void,
    private readonly logger: Logger,
  ) {}

  /** Whether the task passed every readiness check of `app` (true when it has none). */
  ready(task: TaskRecord, app: AppDefinition): boolean {
    const checks = readinessChecksOf(app);
    if (checks.length === 0) return true;
    const results = this.results.get(task.id);
    return Boolean(results && checks.every((c) => results.find((r) => r.name === c.name)?.ready));
  }

  resultsOf(taskIds: Iterable<string>): ReadinessResult[] {
    return [...taskIds].flatMap((id) => this.results.get(id) ?? []);
  }

  /** Starts checking a running task of a deployment (no-op when already checking or ready). */
  watch(task: TaskRecord, app: AppDefinition): void {
    const checks = readinessChecksOf(app);
    if (checks.length === 0 || this.timers.has(task.id) || this.ready(task, app)) return;
    const names = requestedPorts(app).map((p) => p.name);
    const run = async () => {
      const results = await Promise.all(checks.map((c) => this.probe(task, c, task.ports[names.indexOf(c.portName)])));
      if (!this.timers.has(task.id)) return;
      this.results.set(task.id, results);
      if (results.every((r) => r.ready)) this.forget(task.id, false);
      this.changed(task);
    };
    const interval = Math.max(0.05, Math.min(...checks.map((c) => c.intervalSeconds)));
    const runLogged = () =>
      void run().catch((err: unknown) =>
        this.logger.warn('a readiness check could not run', { taskId: task.id, error: String(err) }),
      );
    this.timers.set(task.id, setInterval(runLogged, interval * 1000));
    runLogged();
  }

  forget(taskId: string, dropResults = true): void {
    clearInterval(this.timers.get(taskId));
    this.timers.delete(taskId);
    if (dropResults) this.results.delete(taskId);
  }

  close(): void {
    for (const id of [...this.timers.keys()]) this.forget(id, false);
  }

  private probe(task: TaskRecord, check: ReadinessCheck, port: number | undefined): Promise<ReadinessResult> {
    const base = { name: check.name, taskId: task.id };
    if (port === undefined) return Promise.resolve({ ...base, ready: false });
    const client = check.protocol === 'HTTPS' ? https : http;
    return new Promise((resolve) => {
      const req = client.get(
        { host: task.host, port, path: check.path, timeout: check.timeoutSeconds * 1000, rejectUnauthorized: false },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body = (body + c).slice(0, 4096)));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            const ready = check.httpStatusCodesForReady.includes(status);
            resolve({
              ...base,
              ready,
              ...(check.preserveLastResponse || !ready
                ? {
                    lastResponse: {
                      status,
                      contentType: String(res.headers['content-type'] ?? ''),
                      body: check.preserveLastResponse ? body : '',
                    },
                  }
                : {}),
            });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve({ ...base, ready: false }));
    });
  }
}
