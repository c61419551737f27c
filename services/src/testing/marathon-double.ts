/**
 * A Marathon 1.10 test double for tests and benchmarks where no Marathon or engine runs. It keeps apps,
 * versions, tasks and deployments in memory and answers with Marathon's real shapes:
 *  - `/ping`, `/v2/info`, `/v2/leader`; basic auth when `credentials` are set (401 otherwise);
 *  - `GET /v2/apps[?embed=apps.tasks][&label=K==V]`, `/v2/apps/{id}` (tasks embedded), `/tasks`,
 *    `/versions[/{v}]`; `GET /v2/tasks[?status=running|staging]`; `/v2/deployments` (GET, DELETE);
 *  - `POST /v2/apps` 201 (AppInfo with `deployments`) or 409 `already exists`; PUT (`?partialUpdate=false`),
 *    PATCH, DELETE and `/restart` answer `{version, deploymentId}`; a change to an app with a running
 *    deployment is 409 `App is locked ...` with `deployments` unless `?force=true` (which fails the old one);
 *  - definitions are checked against Marathon's AppDefinition JSON Schema: 422 `Object is not valid` with
 *    `details: [{path, errors}]`;
 *  - a deployment runs `deploymentMs` (never, for apps `stuck` matches), then launches or kills tasks
 *    (status updates, healthy when the app has health checks) and publishes `deployment_success`;
 *  - `/v2/events` and `/v2/eventSubscriptions` (see marathon-event-bus.ts); a standby answers `/v2/events`
 *    with 302 to its leader.
 * Tests drive it directly too: put apps, start tasks, change task states and health (each change
 * publishes the events Marathon publishes, unless `silent`: a missed event), inject faults, go down.
 * Every request is recorded in `calls`.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import type { MarathonApp, MarathonAppInfo, MarathonDeployment, MarathonTask, MesosTaskState } from '../marathon/types.js';
import { MarathonEventBus } from './marathon-event-bus.js';
import { answerRequest } from './marathon-double-routes.js';

export interface MarathonDoubleOptions {
  /** How long a deployment runs before it succeeds. @defaultValue 0 (done on the next tick) */
  deploymentMs?: number;
  /** Apps whose deployments never finish (a crash-looping app, say). @defaultValue none */
  stuck?: (appId: string) => boolean;
  /** The version `/v2/info` reports. @defaultValue '1.10.26' */
  version?: string;
  /** Event stream heartbeat period. @defaultValue 10000 (Jetty's) */
  heartbeatMs?: number;
  /** Require this `user:password` (basic auth) on every request. @defaultValue none */
  credentials?: string;
  /** Listen on this port. @defaultValue 0 (any free port) */
  port?: number;
  /** The agent host tasks report. @defaultValue 127.0.0.1 */
  host?: string;
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

/** One app as the double keeps it: the definition, its versions and when its config last changed. */
export interface AppState {
  app: MarathonApp;
  version: string;
  lastConfigChangeAt: string;
  versions: Map<string, MarathonApp>;
}

export interface DeploymentState extends MarathonDeployment {
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

/** States after which Marathon drops the task from its lists. */
const GONE_STATES = new Set<MesosTaskState>(['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_ERROR', 'TASK_DROPPED', 'TASK_GONE', 'TASK_GONE_BY_OPERATOR']);

/** The Mesos agent every task of the double runs on. */
export const DOUBLE_AGENT_ID = 'agent-1-S0';

export class MarathonDouble {
  readonly apps = new Map<string, AppState>();
  readonly tasks = new Map<string, MarathonTask>();
  readonly deployments = new Map<string, DeploymentState>();
  readonly ended: EndedDeployment[] = [];
  readonly calls: RecordedCall[] = [];
  /** `/v2/events` streams and `/v2/eventSubscriptions` callbacks. */
  readonly events: MarathonEventBus;
  readonly faults: InjectedFault[] = [];
  deploymentMs: number;
  stuck: (appId: string) => boolean;
  /** When set, this instance is a standby: `/v2/events` answers 302 there, `/v2/leader` names it. */
  leaderUrl: string | undefined;
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private port: number;
  /** Host ports cycle through 31000-64999, as an agent's range would (tasks of a double never bind them). */
  private nextHostPort = 0;
  private lastTimestamp = 0;

  private constructor(readonly options: MarathonDoubleOptions) {
    this.port = options.port ?? 0;
    this.deploymentMs = options.deploymentMs ?? 0;
    this.stuck = options.stuck ?? (() => false);
    this.events = new MarathonEventBus({ heartbeatMs: options.heartbeatMs, timestamp: () => this.timestamp() });
    this.server = http.createServer((req, res) => void answerRequest(this, req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
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
    this.events.cutStreams();
    const closed = new Promise((resolve) => this.server.close(resolve));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  async close(): Promise<void> {
    for (const d of this.deployments.values()) clearTimeout(d.timer);
    this.events.close();
    if (this.server.listening) await this.down();
  }

  /** The next `times` requests matching `fault` get its answer instead of Marathon's. */
  inject(fault: InjectedFault): void {
    this.faults.push({ times: 1, ...fault });
  }

  /** Calls that changed something (POST/PUT/PATCH/DELETE), optionally for one app. */
  mutations(appId?: string): RecordedCall[] {
    return this.calls.filter((c) => c.method !== 'GET' && c.status < 300 && (!appId || c.path.startsWith(`/v2/apps${appId}`) || (c.path === '/v2/apps' && (c.body as { id?: string })?.id === appId)));
  }

  /** A strictly increasing `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'` time (app versions, event timestamps). */
  timestamp(): string {
    this.lastTimestamp = Math.max(Date.now(), this.lastTimestamp + 1);
    return new Date(this.lastTimestamp).toISOString();
  }

  /** Creates or replaces an app, with Marathon's defaults, without a deployment; returns it as listed. */
  putApp(app: MarathonApp, options: { silent?: boolean } = {}): MarathonAppInfo {
    const state = this.save({ instances: 1, cpus: 0.1, mem: 32, ...app }, true, options);
    return this.info(state, false);
  }

  /** Stores a new version of an app (creating it), publishing `api_post_event` unless `silent`. */
  save(app: MarathonApp, configChanged: boolean, options: { silent?: boolean } = {}): AppState {
    const version = this.timestamp();
    let state = this.apps.get(app.id);
    if (!state) {
      state = { app, version, lastConfigChangeAt: version, versions: new Map() };
      this.apps.set(app.id, state);
    }
    state.app = app;
    state.version = version;
    if (configChanged) state.lastConfigChangeAt = version;
    state.versions.set(version, app);
    if (!options.silent) this.events.publish({ eventType: 'api_post_event', clientIp: '127.0.0.1', uri: `/v2/apps${app.id}`, appDefinition: { ...app, version, versionInfo: { lastScalingAt: version, lastConfigChangeAt: state.lastConfigChangeAt } }, timestamp: version });
    return state;
  }

  tasksOf(appId: string): MarathonTask[] {
    return [...this.tasks.values()].filter((t) => t.appId === appId);
  }

  /**
   * Launches a task of `appId` and takes it to `state` (default TASK_RUNNING) through STAGING and
   * STARTING, publishing a status update for each step unless `silent`.
   */
  startTask(appId: string, options: { state?: MesosTaskState; silent?: boolean; host?: string } = {}): MarathonTask {
    const state = this.apps.get(appId);
    if (!state) throw new Error(`no app ${appId}`);
    const instanceId = `${appId.slice(1).split('/').join('_')}.instance-${randomUUID()}`;
    const task: MarathonTask = {
      id: `${instanceId}._app.1`,
      appId,
      host: options.host ?? this.options.host ?? '127.0.0.1',
      slaveId: DOUBLE_AGENT_ID,
      state: 'TASK_STAGING',
      stagedAt: this.timestamp(),
      version: state.version,
      ports: hostPorts(state.app, () => 31000 + (this.nextHostPort++ % 34000)),
      servicePorts: [],
      ipAddresses: [{ ipAddress: '127.0.0.1', protocol: 'IPv4' }],
      ...(state.app.healthChecks?.length ? { healthCheckResults: [] } : {}),
      localVolumes: [],
      role: '*',
    };
    this.tasks.set(task.id, task);
    const target = options.state ?? 'TASK_RUNNING';
    const path: MesosTaskState[] = target === 'TASK_STAGING' ? ['TASK_STAGING'] : target === 'TASK_STARTING' ? ['TASK_STAGING', 'TASK_STARTING'] : ['TASK_STAGING', 'TASK_STARTING', target];
    for (const s of path) this.setTaskState(task.id, s, { silent: options.silent });
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
    this.events.publish({
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
    const app = this.apps.get(task.appId)!.app;
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
    this.events.publish({ appId: task.appId, instanceId, version: task.version, alive, eventType: 'health_status_changed_event', timestamp });
    this.events.publish({ instanceId, runSpecId: task.appId, healthy: alive, runSpecVersion: task.version, eventType: 'instance_health_changed_event', timestamp });
  }

  /** Removes an app: its tasks are killed (status updates), then app_terminated_event. */
  removeApp(appId: string, options: { silent?: boolean } = {}): void {
    for (const task of this.tasksOf(appId)) this.setTaskState(task.id, 'TASK_KILLED', options);
    this.apps.delete(appId);
    if (!options.silent) this.events.publish({ appId, eventType: 'app_terminated_event', timestamp: this.timestamp() });
  }

  /** Starts a deployment of `appIds`; it finishes after `deploymentMs` unless one of them is stuck. */
  deploy(appIds: string[], action: string, version = this.timestamp()): { deploymentId: string; version: string } {
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
    this.events.publish({ plan: { id, version, steps: deployment.steps }, currentStep: deployment.steps[0], eventType: 'deployment_info', timestamp: this.timestamp() });
    if (!appIds.some((a) => this.stuck(a))) deployment.timer = setTimeout(() => this.finish(id, true), this.deploymentMs);
    return { deploymentId: id, version };
  }

  /** Finishes every running deployment now (including stuck ones). */
  finishAll(): void {
    for (const d of [...this.deployments.values()]) this.finish(d.id, true);
  }

  /** Ends a deployment: on success its apps get their tasks; `deployment_success` or `_failed` follows. */
  finish(deploymentId: string, success: boolean, reason?: string): void {
    const d = this.deployments.get(deploymentId);
    if (!d) return;
    clearTimeout(d.timer);
    this.deployments.delete(deploymentId);
    this.ended.push({ id: d.id, affectedApps: d.affectedApps, success, startMs: d.startMs, endMs: performance.now() });
    if (success) for (const appId of d.affectedApps) this.launchTasks(appId);
    const plan = { id: d.id, version: d.version, steps: d.steps };
    const timestamp = this.timestamp();
    if (success) this.events.publish({ id: d.id, plan, eventType: 'deployment_success', timestamp });
    else this.events.publish({ id: d.id, plan, reason: reason ?? 'failed', eventType: 'deployment_failed', timestamp });
  }

  /** Brings an app to `instances` tasks of its current config: tasks launched before its last config change are replaced. */
  private launchTasks(appId: string): void {
    const state = this.apps.get(appId);
    if (!state) return;
    const wanted = state.app.instances ?? 1;
    const current = this.tasksOf(appId).filter((t) => (t.version ?? '') >= state.lastConfigChangeAt);
    const kept = current.slice(0, wanted);
    for (const task of this.tasksOf(appId)) if (!kept.includes(task)) this.setTaskState(task.id, 'TASK_KILLED');
    for (const task of kept) task.version = state.version;
    for (let n = kept.length; n < wanted; n++) {
      const task = this.startTask(appId);
      if (state.app.healthChecks?.length) this.setHealth(task.id, true);
    }
  }

  /** An app as Marathon lists it (AppInfo), with its tasks embedded when asked. */
  info(state: AppState, withTasks: boolean): MarathonAppInfo {
    const tasks = this.tasksOf(state.app.id);
    const running = tasks.filter((t) => t.state === 'TASK_RUNNING');
    return {
      ...state.app,
      version: state.version,
      versionInfo: { lastScalingAt: state.version, lastConfigChangeAt: state.lastConfigChangeAt },
      tasksStaged: tasks.filter((t) => t.state === 'TASK_STAGING' || t.state === 'TASK_STARTING').length,
      tasksRunning: running.length,
      tasksHealthy: running.filter((t) => (t.healthCheckResults ?? []).length > 0 && t.healthCheckResults!.every((r) => r.alive)).length,
      tasksUnhealthy: running.filter((t) => (t.healthCheckResults ?? []).some((r) => !r.alive)).length,
      deployments: [...this.deployments.values()].filter((d) => d.affectedApps.includes(state.app.id)).map((d) => ({ id: d.id })),
      ...(withTasks ? { tasks } : {}),
    };
  }
}

/**
 * Host ports Marathon allocates for one task of `app`: one per port definition (host networking), per
 * port mapping (bridge), or per port mapping with a `hostPort` (container networking); a fixed
 * `hostPort` is kept, 0 gets one from `allocate`.
 */
function hostPorts(app: MarathonApp, allocate: () => number): number[] {
  const mode = app.networks?.[0]?.mode ?? 'host';
  if (mode === 'host') return (app.portDefinitions ?? []).map(() => allocate());
  const mappings = app.container?.portMappings ?? [];
  return mappings.filter((m) => mode === 'container/bridge' || m.hostPort !== undefined).map((m) => m.hostPort || allocate());
}
