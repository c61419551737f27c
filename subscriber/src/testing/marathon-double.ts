/**
 * A small Marathon 1.10 stand-in for tests, speaking Marathon's real shapes: `GET /v2/apps[?embed=apps.tasks]
 * [&label=K==V]`, `GET /v2/apps/{id}`, `GET /v2/tasks`, `GET /v2/events` (SSE exactly as Jetty frames it:
 * `event:`/`data:` lines ended by CRLF, a bare CRLF heartbeat, 405 unless `Accept: text/event-stream`,
 * `event_type` filters, `event_stream_attached` first), `/v2/eventSubscriptions` with HTTP callbacks,
 * `/ping`, `/v2/leader`, `/v2/info`, basic auth, and 302 from a standby to the leader for `/v2/events`.
 *
 * Tests drive it: put apps, start tasks, change task states and health (each change publishes the
 * events real Marathon publishes), change state silently (a missed event), cut streams, go down.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import type { MarathonApp, MarathonAppInfo, MarathonTask, MesosTaskState } from '@theseus/services';

export interface MarathonDoubleOptions {
  /** Heartbeat period. @defaultValue 10000 (Jetty's) */
  heartbeatMs?: number;
  /** Require this `user:password`. */
  credentials?: string;
  /** Listen on this port (0: any). */
  port?: number;
  /** The reported agent host of tasks. @defaultValue 127.0.0.1 */
  host?: string;
}

interface Stream {
  res: http.ServerResponse;
  types: Set<string>;
}

/** States after which Marathon drops the task from its lists. */
const GONE_STATES = new Set<MesosTaskState>(['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_ERROR', 'TASK_DROPPED', 'TASK_GONE', 'TASK_GONE_BY_OPERATOR']);

export class MarathonDouble {
  readonly apps = new Map<string, MarathonAppInfo>();
  readonly tasks = new Map<string, MarathonTask>();
  readonly callbacks = new Set<string>();
  /** Requests received, as `METHOD /path?query`. */
  readonly requests: string[] = [];
  private readonly server: http.Server;
  private readonly streams = new Set<Stream>();
  private readonly sockets = new Set<Socket>();
  private readonly heartbeat: NodeJS.Timeout;
  private port: number;
  /** Host ports cycle through 31000-64999, as an agent's range would (tasks of a double never bind them). */
  private nextHostPort = 0;
  private lastTimestamp = 0;
  private leaderUrl: string | undefined;
  /** While true, streams get neither events nor heartbeats (a hung connection). */
  muted = false;

  private constructor(private readonly options: MarathonDoubleOptions) {
    this.port = options.port ?? 0;
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.heartbeat = setInterval(() => {
      if (this.muted) return;
      for (const s of this.streams) {
        // Jetty's EventSourceServlet heartbeat: a CR and an LF, flushed separately.
        s.res.write('\r');
        s.res.write('\n');
      }
    }, options.heartbeatMs ?? 10_000);
  }

  static async start(options: MarathonDoubleOptions = {}): Promise<MarathonDouble> {
    const double = new MarathonDouble(options);
    await double.up();
    return double;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts serving (again, on the same port after `down()`). */
  async up(): Promise<void> {
    this.server.listen(this.port, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Stops answering: closes every connection and the listener (Marathon down). */
  async down(): Promise<void> {
    this.cutStreams();
    const closed = new Promise((resolve) => this.server.close(resolve));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    if (this.server.listening) await this.down();
  }

  /** Make this instance a standby: `/v2/events` answers 302 to `leaderUrl`. */
  standbyOf(leaderUrl: string | undefined): void {
    this.leaderUrl = leaderUrl;
  }

  /** Closes every event stream (a proxy or Marathon dropping the connection). */
  cutStreams(): void {
    for (const s of this.streams) s.res.destroy();
    this.streams.clear();
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /** Creates or replaces an app; returns it as Marathon would list it. */
  putApp(app: MarathonApp, options: { silent?: boolean } = {}): MarathonAppInfo {
    const version = this.timestamp();
    const info: MarathonAppInfo = {
      instances: 1,
      cpus: 0.1,
      mem: 32,
      ...app,
      version,
      versionInfo: { lastScalingAt: version, lastConfigChangeAt: version },
    };
    this.apps.set(app.id, info);
    if (!options.silent) this.publish({ eventType: 'api_post_event', clientIp: '127.0.0.1', uri: `/v2/apps${app.id}`, appDefinition: info, timestamp: version });
    return info;
  }

  /**
   * Launches a task of `appId` and takes it to `state` (default TASK_RUNNING) through STAGING and
   * STARTING, publishing a status update for each step unless `silent`.
   */
  startTask(appId: string, options: { state?: MesosTaskState; silent?: boolean; host?: string } = {}): MarathonTask {
    const app = this.apps.get(appId);
    if (!app) throw new Error(`no app ${appId}`);
    const instanceId = `${appId.slice(1).split('/').join('_')}.instance-${randomUUID()}`;
    const ports = Array.from({ length: hostPortCount(app) }, () => 31000 + (this.nextHostPort++ % 34000));
    const task: MarathonTask = {
      id: `${instanceId}._app.1`,
      appId,
      host: options.host ?? this.options.host ?? '127.0.0.1',
      slaveId: 'agent-1-S0',
      state: 'TASK_STAGING',
      stagedAt: this.timestamp(),
      version: app.version,
      ports,
      servicePorts: [],
      ipAddresses: [{ ipAddress: '127.0.0.1', protocol: 'IPv4' }],
      ...(app.healthChecks?.length ? { healthCheckResults: [] } : {}),
      localVolumes: [],
      role: '*',
    };
    this.tasks.set(task.id, task);
    const target = options.state ?? 'TASK_RUNNING';
    const path: MesosTaskState[] = target === 'TASK_STAGING' ? ['TASK_STAGING'] : target === 'TASK_STARTING' ? ['TASK_STAGING', 'TASK_STARTING'] : ['TASK_STAGING', 'TASK_STARTING', target];
    for (const state of path) this.setTaskState(task.id, state, { silent: options.silent });
    return task;
  }

  /** Moves a task to `state` as Mesos reports it; gone states drop it from the lists. */
  setTaskState(taskId: string, state: MesosTaskState, options: { silent?: boolean } = {}): void {
    const task = this.tasks.get(taskId);
    if (!task) throw new Error(`no task ${taskId}`);
    const timestamp = this.timestamp();
    task.state = state;
    if (state === 'TASK_RUNNING' && !task.startedAt) task.startedAt = timestamp;
    if (GONE_STATES.has(state)) this.tasks.delete(taskId);
    if (options.silent) return;
    this.publish({
      slaveId: task.slaveId,
      taskId,
      taskStatus: state,
      message: '',
      appId: task.appId,
      host: task.host,
      ipAddresses: task.ipAddresses,
      ports: task.ports,
      version: task.version,
      eventType: 'status_update_event',
      timestamp,
    });
  }

  /** Sets the result of every health check of a task and publishes the health events. */
  setHealth(taskId: string, alive: boolean, options: { silent?: boolean } = {}): void {
    const task = this.tasks.get(taskId);
    if (!task) throw new Error(`no task ${taskId}`);
    const app = this.apps.get(task.appId)!;
    const timestamp = this.timestamp();
    const instanceId = taskId.replace(/\._app\.\d+$/, '');
    task.healthCheckResults = (app.healthChecks ?? []).map(() => ({
      alive,
      consecutiveFailures: alive ? 0 : 1,
      firstSuccess: alive ? timestamp : null,
      lastSuccess: alive ? timestamp : null,
      lastFailure: alive ? null : timestamp,
      lastFailureCause: alive ? null : 'connection refused',
      instanceId,
    }));
    if (options.silent) return;
    this.publish({ appId: task.appId, instanceId, version: task.version, alive, eventType: 'health_status_changed_event', timestamp });
    this.publish({ instanceId, runSpecId: task.appId, healthy: alive, runSpecVersion: task.version, eventType: 'instance_health_changed_event', timestamp });
  }

  /** Removes an app: its tasks are killed (status updates), then app_terminated_event. */
  removeApp(appId: string, options: { silent?: boolean } = {}): void {
    for (const task of [...this.tasks.values()].filter((t) => t.appId === appId)) this.setTaskState(task.id, 'TASK_KILLED', options);
    this.apps.delete(appId);
    if (!options.silent) this.publish({ appId, eventType: 'app_terminated_event', timestamp: this.timestamp() });
  }

  /** Publishes an event object to every stream and callback that wants it. */
  publish(event: Record<string, unknown>): void {
    this.publishRaw(String(event.eventType), JSON.stringify(event));
    for (const url of this.callbacks) {
      const req = http.request(url, { method: 'POST', headers: { 'Content-Type': 'application/json' } }, (res) => res.resume());
      req.on('error', () => undefined);
      req.end(JSON.stringify(event));
    }
  }

  /** Writes one SSE event with the given data text, as is. */
  publishRaw(eventType: string, data: string): void {
    if (this.muted) return;
    for (const s of this.streams) {
      if (s.types.size === 0 || s.types.has(eventType)) s.res.write(`event: ${eventType}\r\ndata: ${data}\r\n\r\n`);
    }
  }

  /** A strictly increasing `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'` time. */
  timestamp(): string {
    this.lastTimestamp = Math.max(Date.now(), this.lastTimestamp + 1);
    return new Date(this.lastTimestamp).toISOString();
  }

  appInfo(app: MarathonAppInfo, withTasks: boolean): MarathonAppInfo {
    const tasks = [...this.tasks.values()].filter((t) => t.appId === app.id);
    const running = tasks.filter((t) => t.state === 'TASK_RUNNING');
    return {
      ...app,
      tasksStaged: tasks.filter((t) => t.state === 'TASK_STAGING' || t.state === 'TASK_STARTING').length,
      tasksRunning: running.length,
      tasksHealthy: running.filter((t) => (t.healthCheckResults ?? []).length > 0 && t.healthCheckResults!.every((r) => r.alive)).length,
      tasksUnhealthy: running.filter((t) => (t.healthCheckResults ?? []).some((r) => !r.alive)).length,
      deployments: [],
      ...(withTasks ? { tasks } : {}),
    };
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    this.requests.push(`${req.method} ${url.pathname}${url.search}`);
    if (this.options.credentials) {
      const expected = `Basic ${Buffer.from(this.options.credentials).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        res.writeHead(401, { 'WWW-Authenticate': 'basic realm="Mesosphere"', 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ message: 'Invalid username or password.' }));
        return;
      }
    }
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const path = url.pathname;
    if (path === '/ping') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('pong');
    } else if (path === '/v2/events' && req.method === 'GET') {
      this.events(req, res, url);
    } else if (path === '/v2/leader') {
      json(200, { leader: new URL(this.leaderUrl ?? this.url).host });
    } else if (path === '/v2/info') {
      json(200, { name: 'marathon', version: '1.10.26', leader: new URL(this.leaderUrl ?? this.url).host, frameworkId: 'double-0000' });
    } else if (path === '/v2/apps' && req.method === 'GET') {
      const embedTasks = url.searchParams.getAll('embed').includes('apps.tasks');
      const selector = url.searchParams.get('label');
      const apps = [...this.apps.values()].filter((a) => matchesSelector(a.labels ?? {}, selector));
      json(200, { apps: apps.map((a) => this.appInfo(a, embedTasks)) });
    } else if (path.startsWith('/v2/apps/') && req.method === 'GET') {
      const id = decodeURIComponent(path.slice('/v2/apps'.length));
      const app = this.apps.get(id);
      if (app) json(200, { app: this.appInfo(app, true) });
      else json(404, { message: `App '${id}' does not exist` });
    } else if (path === '/v2/tasks' && req.method === 'GET') {
      const wanted = url.searchParams.getAll('status');
      const tasks = [...this.tasks.values()].filter(
        (t) => wanted.length === 0 || wanted.some((s) => (s === 'running' ? t.state === 'TASK_RUNNING' : t.state === 'TASK_STAGING')),
      );
      json(200, { tasks });
    } else if (path === '/v2/eventSubscriptions') {
      const callbackUrl = url.searchParams.get('callbackUrl');
      if (req.method === 'GET') return json(200, { callbackUrls: [...this.callbacks] });
      if (!callbackUrl) return json(400, { message: 'callbackUrl is required' });
      if (req.method === 'POST') this.callbacks.add(callbackUrl);
      else if (req.method === 'DELETE') this.callbacks.delete(callbackUrl);
      else return json(405, { message: 'method not allowed' });
      json(200, { callbackUrl, clientIp: req.socket.remoteAddress, eventType: req.method === 'POST' ? 'subscribe_event' : 'unsubscribe_event' });
    } else {
      json(404, { message: `no route ${req.method} ${path}` });
    }
  }

  private events(req: http.IncomingMessage, res: http.ServerResponse, url: URL): void {
    if (this.leaderUrl) {
      res.writeHead(302, { Location: `${this.leaderUrl}/v2/events${url.search}` });
      res.end();
      return;
    }
    const accepts = String(req.headers.accept ?? '').split(',').map((v) => v.trim());
    if (!accepts.includes('text/event-stream')) {
      res.writeHead(405, { 'Content-Type': 'text/html;charset=iso-8859-1' });
      res.end('<html><body><h2>HTTP ERROR 405</h2></body></html>');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream;charset=UTF-8', Connection: 'close' });
    const stream: Stream = { res, types: new Set(url.searchParams.getAll('event_type')) };
    const attached = { remoteAddress: req.socket.remoteAddress, eventType: 'event_stream_attached', timestamp: this.timestamp() };
    if (stream.types.size === 0 || stream.types.has('event_stream_attached')) {
      res.write(`event: event_stream_attached\r\ndata: ${JSON.stringify(attached)}\r\n\r\n`);
    } else {
      res.flushHeaders();
    }
    this.streams.add(stream);
    res.on('close', () => this.streams.delete(stream));
  }
}

/** Host ports Marathon allocates for one task of `app` (one per port definition or host-mapped port mapping). */
export function hostPortCount(app: MarathonApp): number {
  const mode = app.networks?.[0]?.mode ?? 'host';
  if (mode === 'host') return app.portDefinitions?.length ?? 0;
  const mappings = app.container?.portMappings ?? [];
  return mode === 'container/bridge' ? mappings.length : mappings.filter((m) => m.hostPort !== undefined).length;
}

/** Marathon's label selector, the `K`, `K==V` and `K!=V` forms joined by commas. */
function matchesSelector(labels: Record<string, string>, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const ne = term.split('!=');
    if (ne.length === 2) return labels[ne[0]!.trim()] !== ne[1]!.trim();
    const eq = term.split('==');
    if (eq.length === 2) return labels[eq[0]!.trim()] === eq[1]!.trim();
    return term.trim() in labels;
  });
}
