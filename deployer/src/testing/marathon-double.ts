/**
 * A Marathon test double that answers with Marathon 1.10's real shapes, for tests and benchmarks
 * where no Marathon or engine runs. It keeps apps, versions, tasks and deployments in memory:
 *  - POST /v2/apps 201 (AppInfo with `deployments`), 409 `already exists` (no `deployments` key);
 *  - PUT ?partialUpdate=false / PATCH / DELETE / restart answer `{version, deploymentId}`;
 *  - a change to an app with a running deployment is 409 `App is locked ...` with `deployments`
 *    unless `?force=true` (which cancels the old one: `deployment_failed` for it);
 *  - definitions are checked against Marathon's AppDefinition JSON Schema: 422
 *    `{"message":"Object is not valid","details":[{"path","errors"}]}`;
 *  - deployments stay in /v2/deployments until done (after `deploymentMs`, or never for apps
 *    `stuck` matches), then `deployment_success` on /v2/events (SSE, `\r\n` framing);
 *  - faults can be injected per request, and every request is recorded.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { MarathonApp, MarathonAppInfo, MarathonDeployment, MarathonTask } from '@theseus/services';
import { appDefinitionProblems } from './app-definition-schema.js';

export interface MarathonDoubleOptions {
  /** How long a deployment runs before it succeeds. @defaultValue 0 (done on the next tick) */
  deploymentMs?: number;
  /** Apps whose deployments never finish (a crash-looping app, say). */
  stuck?: (appId: string) => boolean;
  /** The version `/v2/info` reports. @defaultValue '1.10.26' */
  version?: string;
}

export interface RecordedCall {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  status: number;
  /** performance.now() when the request arrived and when it was answered. */
  startMs: number;
  endMs: number;
}

export interface InjectedFault {
  method?: string;
  /** Matches the path (without query). */
  path?: RegExp;
  status: number;
  body?: unknown;
  /** How many requests get this answer. @defaultValue 1 */
  times?: number;
  /** Drop the connection instead of answering. */
  hangUp?: boolean;
}

interface AppState {
  app: MarathonApp;
  version: string;
  lastConfigChangeAt: string;
  versions: Map<string, MarathonApp>;
  tasks: MarathonTask[];
}

interface DeploymentState extends MarathonDeployment {
  timer?: NodeJS.Timeout;
  startMs: number;
}

/** A deployment that ended, with when (performance.now()). */
export interface EndedDeployment {
  id: string;
  affectedApps: string[];
  success: boolean;
  startMs: number;
  endMs: number;
}

export class MarathonDouble {
  readonly apps = new Map<string, AppState>();
  readonly deployments = new Map<string, DeploymentState>();
  readonly calls: RecordedCall[] = [];
  readonly ended: EndedDeployment[] = [];
  private readonly faults: InjectedFault[] = [];
  /** Open event streams and the event types each asked for (empty: all). */
  private readonly streams = new Map<http.ServerResponse, Set<string>>();
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly server: http.Server;
  private lastVersion = 0;
  private nextHostPort = 31000;
  deploymentMs: number;
  stuck: (appId: string) => boolean;
  readonly version: string;

  constructor(options: MarathonDoubleOptions = {}) {
    this.deploymentMs = options.deploymentMs ?? 0;
    this.version = options.version ?? '1.10.26';
    this.stuck = options.stuck ?? (() => false);
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this.url;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const d of this.deployments.values()) clearTimeout(d.timer);
    clearInterval(this.heartbeat);
    for (const s of this.streams.keys()) s.end();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  inject(fault: InjectedFault): void {
    this.faults.push({ times: 1, ...fault });
  }

  /** Calls that changed something (POST/PUT/PATCH/DELETE), optionally for one app. */
  mutations(appId?: string): RecordedCall[] {
    return this.calls.filter((c) => c.method !== 'GET' && c.status < 300 && (!appId || c.path.startsWith(`/v2/apps${appId}`) || (c.path === '/v2/apps' && (c.body as { id?: string })?.id === appId)));
  }

  /** Finishes every running deployment now (including stuck ones). */
  finishAll(): void {
    for (const d of [...this.deployments.values()]) this.finish(d.id, true);
  }

  private newVersion(): string {
    const now = Math.max(Date.now(), this.lastVersion + 1);
    this.lastVersion = now;
    return new Date(now).toISOString();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const startMs = performance.now();
    const url = new URL(req.url ?? '/', 'http://double');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const query = Object.fromEntries(url.searchParams);
    const record = (status: number, body: unknown) => this.calls.push({ method: req.method ?? 'GET', path: url.pathname, query, body, status, startMs, endMs: performance.now() });

    const fault = this.faults.find((f) => (!f.method || f.method === req.method) && (!f.path || f.path.test(url.pathname)) && (f.times ?? 1) > 0);
    if (fault) {
      fault.times = (fault.times ?? 1) - 1;
      record(fault.status, text);
      if (fault.hangUp) {
        req.socket.destroy();
        return;
      }
      return this.send(res, fault.status, fault.body ?? { message: `injected ${fault.status}` });
    }
    if (url.pathname === '/v2/events' && req.method === 'GET') return this.attachStream(req, res);

    let body: unknown;
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch (err) {
        record(400, text);
        return this.send(res, 400, { message: 'Invalid JSON', details: (err as Error).message });
      }
    }
    const [status, answer] = this.route(req.method ?? 'GET', url.pathname, url.searchParams, body);
    record(status, body);
    this.send(res, status, answer);
  }

  private send(res: http.ServerResponse, status: number, body: unknown): void {
    if (status === 202 && body === undefined) {
      res.writeHead(202).end();
      return;
    }
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': typeof body === 'string' ? 'text/plain' : 'application/json' }).end(text);
  }

  private route(method: string, path: string, params: URLSearchParams, body: unknown): [number, unknown] {
    const force = params.get('force') === 'true';
    if (path === '/ping') return [200, 'pong'];
    if (path === '/v2/info') return [200, { name: 'marathon', version: this.version, leader: this.url.replace('http://', ''), frameworkId: 'double' }];
    if (path === '/v2/leader') return [200, { leader: this.url.replace('http://', '') }];
    if (path === '/v2/deployments' && method === 'GET') return [200, [...this.deployments.values()].map(({ timer: _t, ...d }) => d)];
    const dep = /^\/v2\/deployments\/(.+)$/.exec(path);
    if (dep && method === 'DELETE') {
      const d = this.deployments.get(dep[1]!);
      if (!d) return [404, { message: `DeploymentPlan ${dep[1]} does not exist` }];
      this.finish(d.id, false, 'canceled');
      return force ? [202, undefined] : [200, this.deployFor(d.affectedApps, 'RestartApplication')];
    }
    if (path === '/v2/tasks' && method === 'GET') return [200, { tasks: [...this.apps.values()].flatMap((a) => a.tasks) }];
    if (path === '/v2/apps' && method === 'GET') {
      const label = params.get('label');
      const apps = [...this.apps.values()].filter((a) => !label || matchesLabel(a.app.labels ?? {}, label));
      const embedTasks = params.getAll('embed').includes('apps.tasks');
      return [200, { apps: apps.map((a) => this.info(a, embedTasks)) }];
    }
    if (path === '/v2/apps' && method === 'POST') return this.create(body as MarathonApp);

    const m = /^\/v2\/apps(\/.+?)(\/restart|\/tasks|\/versions(?:\/(.+))?)?$/.exec(path);
    if (!m) return [500, { message: 'URI not found' }];
    const appId = m[1]!;
    const sub = m[2];
    const state = this.apps.get(appId);
    if (sub === '/tasks' && method === 'GET') return state ? [200, { tasks: state.tasks }] : notFound(appId);
    if (sub?.startsWith('/versions') && method === 'GET') {
      if (!state) return notFound(appId);
      if (m[3]) {
        const v = state.versions.get(decodeURIComponent(m[3]));
        return v ? [200, v] : [404, { message: `App '${appId}' does not exist in version ${m[3]}` }];
      }
      return [200, { versions: [...state.versions.keys()].reverse() }];
    }
    if (!sub && method === 'GET') return state ? [200, { app: this.info(state, true) }] : notFound(appId);

    // every change below is a deployment on the app
    if (state && !force) {
      const running = [...this.deployments.values()].filter((d) => d.affectedApps.includes(appId));
      if (running.length > 0) {
        return [409, {
          message: `App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/${running[0]!.id}'.`,
          deployments: running.map((d) => ({ id: d.id })),
        }];
      }
    }
    if (force) for (const d of [...this.deployments.values()]) if (d.affectedApps.includes(appId)) this.finish(d.id, false, 'superseded by a forced deployment');

    if (sub === '/restart' && method === 'POST') {
      if (!state) return notFound(appId);
      this.setVersion(state, state.app, true);
      return [200, this.deployFor([appId], 'RestartApplication', state.version)];
    }
    if (method === 'DELETE') {
      if (!state) return notFound(appId);
      this.apps.delete(appId);
      return [200, this.deployFor([appId], 'StopApplication')];
    }
    if (method === 'PUT' || method === 'PATCH') {
      const input = (body ?? {}) as Partial<MarathonApp>;
      if (method === 'PUT' && typeof input.version === 'string' && Object.keys(input).length === 1) {
        if (!state) return notFound(appId);
        const old = state.versions.get(input.version);
        if (!old) return [404, { message: `Version ${input.version} of app ${appId} does not exist` }];
        this.setVersion(state, old, true);
        return [200, this.deployFor([appId], 'RestartApplication', state.version)];
      }
      if (method === 'PATCH' && !state) return notFound(appId);
      const partial = method === 'PATCH' || params.get('partialUpdate') !== 'false';
      const next = { ...(partial && state ? state.app : {}), ...input, id: appId } as MarathonApp;
      const problems = appDefinitionProblems(next);
      if (problems.length) return [422, { message: 'Object is not valid', details: problems }];
      if (!state) {
        const created = this.store(next);
        return [201, this.deployFor([appId], 'StartApplication', created.version)];
      }
      const configChanged = JSON.stringify({ ...state.app, instances: 0 }) !== JSON.stringify({ ...next, instances: 0 });
      this.setVersion(state, next, configChanged);
      return [200, this.deployFor([appId], configChanged ? 'RestartApplication' : 'ScaleApplication', state.version)];
    }
    return [405, { message: 'Method not allowed' }];
  }

  private create(app: MarathonApp): [number, unknown] {
    const problems = appDefinitionProblems(app);
    if (problems.length) return [422, { message: 'Object is not valid', details: problems }];
    const id = '/' + app.id.replace(/^\/+/, '');
    if (this.apps.has(id)) return [409, { message: `An app with id [${id}] already exists.` }];
    const state = this.store({ ...app, id });
    const result = this.deployFor([id], 'StartApplication', state.version);
    return [201, { ...this.info(state, false), deployments: [{ id: result.deploymentId }] }];
  }

  private store(app: MarathonApp): AppState {
    const version = this.newVersion();
    const state: AppState = { app, version, lastConfigChangeAt: version, versions: new Map([[version, app]]), tasks: [] };
    this.apps.set(app.id, state);
    return state;
  }

  private setVersion(state: AppState, app: MarathonApp, configChanged: boolean): void {
    state.version = this.newVersion();
    if (configChanged) state.lastConfigChangeAt = state.version;
    state.app = { ...app, id: state.app.id };
    state.versions.set(state.version, state.app);
  }

  private deployFor(appIds: string[], action: string, version = this.newVersion()): { deploymentId: string; version: string } {
    const id = randomUUID();
    const deployment: DeploymentState = {
      id,
      version,
      affectedApps: appIds,
      affectedPods: [],
      steps: [{ actions: appIds.map((app) => ({ action, app })) }],
      currentActions: appIds.map((app) => ({ action, app, readinessCheckResults: [] })),
      currentStep: 1,
      totalSteps: 1,
      startMs: performance.now(),
    };
    this.deployments.set(id, deployment);
    this.emit('deployment_info', { plan: { id, version, steps: deployment.steps }, currentStep: deployment.steps[0] });
    if (!appIds.some((a) => this.stuck(a))) deployment.timer = setTimeout(() => this.finish(id, true), this.deploymentMs);
    return { deploymentId: id, version };
  }

  private finish(deploymentId: string, success: boolean, reason?: string): void {
    const d = this.deployments.get(deploymentId);
    if (!d) return;
    clearTimeout(d.timer);
    this.deployments.delete(deploymentId);
    this.ended.push({ id: d.id, affectedApps: d.affectedApps, success, startMs: d.startMs, endMs: performance.now() });
    if (success) for (const appId of d.affectedApps) this.launchTasks(appId);
    const plan = { id: d.id, version: d.version, steps: d.steps };
    if (success) this.emit('deployment_success', { id: d.id, plan });
    else this.emit('deployment_failed', { id: d.id, plan, reason: reason ?? 'failed' });
  }

  private launchTasks(appId: string): void {
    const state = this.apps.get(appId);
    if (!state) return;
    const wanted = state.app.instances ?? 1;
    const mappings = state.app.container?.portMappings ?? [];
    state.tasks = state.tasks.filter((t) => t.version === state.lastConfigChangeAt || t.version === state.version).slice(0, wanted);
    while (state.tasks.length < wanted) {
      const id = `${appId.slice(1).replace(/\//g, '_')}.instance-${randomUUID()}._app.1`;
      const now = new Date().toISOString();
      const task: MarathonTask = {
        id,
        appId,
        host: '127.0.0.1',
        slaveId: 'double-agent',
        state: 'TASK_RUNNING',
        stagedAt: now,
        startedAt: now,
        version: state.version,
        ports: mappings.map((p) => (p.hostPort ? p.hostPort : this.nextHostPort++)),
        servicePorts: mappings.map(() => 0),
        ipAddresses: [{ ipAddress: '172.17.0.2', protocol: 'IPv4' }],
      };
      state.tasks.push(task);
      this.emit('status_update_event', { slaveId: task.slaveId, taskId: id, taskStatus: 'TASK_RUNNING', message: '', appId, host: task.host, ipAddresses: task.ipAddresses, ports: task.ports, version: task.version });
    }
    for (const t of state.tasks) t.version = state.version;
  }

  private info(state: AppState, withTasks: boolean): MarathonAppInfo {
    const deployments = [...this.deployments.values()].filter((d) => d.affectedApps.includes(state.app.id)).map((d) => ({ id: d.id }));
    const running = state.tasks.filter((t) => t.state === 'TASK_RUNNING').length;
    return {
      ...state.app,
      version: state.version,
      versionInfo: { lastScalingAt: state.version, lastConfigChangeAt: state.lastConfigChangeAt },
      tasksStaged: 0,
      tasksRunning: running,
      tasksHealthy: state.app.healthChecks?.length ? running : 0,
      tasksUnhealthy: 0,
      deployments,
      ...(withTasks ? { tasks: state.tasks } : {}),
    };
  }

  private attachStream(req: http.IncomingMessage, res: http.ServerResponse): void {
    const accepts = (req.headers.accept ?? '').split(',').map((s) => s.trim());
    if (!accepts.includes('text/event-stream')) {
      res.writeHead(405, { 'Content-Type': 'text/html' }).end('<html><body>HTTP method GET is not supported by this URL</body></html>');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream;charset=UTF-8', Connection: 'close' });
    const types = new URL(req.url ?? '/', 'http://double').searchParams.getAll('event_type');
    this.streams.set(res, new Set(types));
    // Jetty's heartbeat: a bare CR LF every 10 s
    this.heartbeat ??= setInterval(() => {
      for (const s of this.streams.keys()) s.write('\r\n');
    }, 10_000).unref();
    res.on('close', () => this.streams.delete(res));
    const remote = req.socket.remoteAddress ?? '127.0.0.1';
    res.write(`event: event_stream_attached\r\ndata: ${JSON.stringify({ remoteAddress: remote, eventType: 'event_stream_attached', timestamp: new Date().toISOString() })}\r\n\r\n`);
  }

  private emit(eventType: string, fields: Record<string, unknown>): void {
    const data = JSON.stringify({ ...fields, eventType, timestamp: new Date().toISOString() });
    for (const [s, types] of this.streams) if (types.size === 0 || types.has(eventType)) s.write(`event: ${eventType}\r\ndata: ${data}\r\n\r\n`);
  }
}

function notFound(appId: string): [number, unknown] {
  return [404, { message: `App '${appId}' does not exist` }];
}

/** Marathon's label selector, the forms Theseus uses: `k`, `k==v`, `k!=v`, comma = AND. */
function matchesLabel(labels: Record<string, string>, selector: string): boolean {
  return selector.split(',').every((term) => {
    const eq = /^(.+?)==(.*)$/.exec(term);
    if (eq) return labels[eq[1]!] === eq[2];
    const ne = /^(.+?)!=(.*)$/.exec(term);
    if (ne) return labels[ne[1]!] !== ne[2];
    return term in labels;
  });
}
