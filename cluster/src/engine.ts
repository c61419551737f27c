/** The engine's domain core: every method is what one Marathon REST call does; http/ only translates. */
import { randomUUID } from 'node:crypto';
import { cpus as machineCpus, totalmem } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_SETTINGS,
  type Logger,
  type MarathonAppInfo,
  type MarathonDeployment,
  type MarathonDeploymentResult,
} from '@theseus/services';
import { taskStatistics, type MonitorEntry } from './agent/monitor.js';
import { AgentFiles, type Sandbox } from './agent/files.js';
import { appJson, configOf, type AppDefinition } from './app/definition.js';
import { groupUpdateApps, inGroup } from './app/groups.js';
import { canonicalId } from './app/normalize.js';
import { parseApp, type AppDraft } from './app/parse.js';
import { AppValidationError, invalid } from './app/problems.js';
import { AppRepository } from './app/repository.js';
import { deploymentJson, newDeployment, type DeploymentAction, type DeploymentRecord } from './deploy/deployment.js';
import { appExists, appLocked, appNotFound, EngineApiError } from './deploy/errors.js';
import { Orchestrator } from './deploy/orchestrator.js';
import { EventBus } from './events/bus.js';
import { CallbackSubscribers } from './events/callbacks.js';
import { HealthMonitor } from './health/monitor.js';
import { ReadinessMonitor } from './health/readiness.js';
import type { EngineOptions } from './options.js';
import { StateFile, type PersistedState } from './state/state-file.js';
import { PortRange } from './tasks/ports.js';
import { appPrivilegeProblems, type PrivilegePolicy } from './tasks/privileges.js';
import { ProcessRunner } from './tasks/process-runner.js';
import type { RunnerKind, TaskRunner } from './tasks/runner.js';
import { Scheduler, type LaunchDelay } from './tasks/scheduler.js';
import { isHealthy, taskJson, TERMINAL_STATES, type TaskRecord } from './tasks/task.js';
import { timestamp, VersionClock } from './time.js';

export interface AppEmbed {
  tasks?: boolean;
  counts?: boolean;
  deployments?: boolean;
  lastTaskFailure?: boolean;
  /** `readinessCheckResults` of the app's tasks in a deployment. */
  readiness?: boolean;
}

export class Engine {
  readonly bus = new EventBus();
  readonly apps = new AppRepository();
  readonly scheduler: Scheduler;
  readonly orchestrator: Orchestrator;
  readonly health: HealthMonitor;
  readonly readiness: ReadinessMonitor;
  readonly callbacks: CallbackSubscribers;
  readonly engineId: string;
  readonly agentId: string;
  readonly features: ReadonlySet<string>;
  /** The address tasks are reported at. */
  readonly hostname: string;
  /** Host ports handed to tasks, inclusive. */
  readonly portRange: readonly [number, number];
  readonly capacity: { cpus: number; memMb: number };
  private readonly runners: Partial<Record<RunnerKind, TaskRunner>>;
  /** When this engine started: the version of groups that hold no app. */
  readonly startedAt = timestamp();
  /** The Mesos agent's files API over the tasks' sandboxes. */
  readonly files = new AgentFiles(() => this.sandboxes());
  private readonly clock = new VersionClock();
  private readonly state: StateFile;
  private readonly logger: Logger;
  private readonly privileges: PrivilegePolicy;

  constructor(readonly options: EngineOptions) {
    this.logger = options.logger;
    this.features = new Set(options.features ?? []);
    this.state = new StateFile(options.dataDir, () => this.snapshot());
    this.state.onError = (err) =>
      this.logger.error('could not write the engine state', { path: this.state.path, error: String(err) });
    const saved = this.state.load();
    this.engineId = saved?.engineId ?? randomUUID().slice(0, 8);
    this.agentId = `${this.engineId}-S0`;
    this.hostname = options.hostname ?? DEFAULT_SETTINGS.engine.hostname;
    this.portRange = options.portRange ?? DEFAULT_SETTINGS.engine.portRange;
    this.capacity = {
      cpus: options.cpus ?? machineCpus().length,
      memMb: options.memMb ?? Math.floor(totalmem() / 1024 / 1024),
    };
    const runners = (this.runners = {
      process: new ProcessRunner(join(options.dataDir, 'sandboxes'), options.taskLogs),
      docker: options.dockerRunner,
      scripted: options.scriptedRunner,
    });
    this.privileges = {
      allowPrivileged: options.allowPrivileged ?? false,
      allowHostNetwork: options.allowHostNetwork ?? false,
      allowUser: options.allowUser ?? false,
      allowHostVolumes: options.allowHostVolumes ?? false,
      hostVolumePaths: options.hostVolumePaths ?? [],
    };
    this.scheduler = new Scheduler(
      {
        hostname: this.hostname,
        engineId: this.engineId,
        agentId: this.agentId,
        hostPorts: new PortRange(...this.portRange),
        containerLabels: options.containerLabels ?? {},
        volumesDir: join(options.dataDir, 'volumes'),
        sandboxesDir: join(options.dataDir, 'sandboxes'),
        hostCommands: options.allowHostCommands ?? false,
        ...(options.defaultContainerImage ? { defaultContainerImage: options.defaultContainerImage } : {}),
        privileges: this.privileges,
        capacity: this.capacity,
        runners,
        logger: this.logger,
      },
      this.bus,
      this.state,
    );
    this.readiness = new ReadinessMonitor((task) => this.orchestrator.schedule(task.appId), this.logger);
    this.orchestrator = new Orchestrator(
      this.apps,
      this.scheduler,
      this.bus,
      () => this.state.changed(),
      this.logger,
      this.readiness,
    );
    this.health = new HealthMonitor({
      bus: this.bus,
      agentId: this.agentId,
      app: (appId, version) => (version ? this.apps.version(appId, version) : undefined) ?? this.apps.get(appId),
      runner: (task) => runners[task.runner],
      kill: (task) => this.scheduler.kill(task),
      changed: (task) => {
        this.state.changed();
        this.orchestrator.schedule(task.appId);
      },
      logger: this.logger,
    });
    this.scheduler.onTaskChange = (task) => {
      if (task.state === 'TASK_RUNNING') this.health.watch(task);
      if (TERMINAL_STATES.has(task.state) || task.state === 'TASK_KILLING') {
        this.health.unwatch(task.id);
        this.readiness.forget(task.id);
      }
      this.orchestrator.schedule(task.appId);
    };
    this.scheduler.onTaskFailed = (task) => {
      const app = this.apps.get(task.appId);
      if (!app) return;
      this.scheduler.recordFailure(app);
      const delay = this.scheduler.delays.get(app.id);
      if (delay) this.orchestrator.scheduleAfter(app.id, delay.delayMs);
    };
    options.scriptedRunner?.attach?.({
      status: (taskId, state, message) => this.scheduler.report(taskId, state, message),
      health: (taskId, alive, cause) => {
        const task = this.scheduler.tasks.get(taskId);
        if (task) this.health.report(task, alive, cause);
      },
    });
    options.faults?.attach(this.bus);
    this.callbacks = new CallbackSubscribers(this.bus, saved?.callbackUrls ?? [], {
      onChange: () => this.state.changed(),
      logger: this.logger,
      ...(options.maxEventSubscriptions !== undefined ? { maxSubscriptions: options.maxEventSubscriptions } : {}),
      ...(options.eventSubscriptionTimeoutMs !== undefined ? { timeoutMs: options.eventSubscriptionTimeoutMs } : {}),
    });
    if (saved) this.restore(saved);
  }

  private restore(saved: PersistedState): void {
    this.apps.load(saved.apps);
    for (const a of saved.apps) for (const v of a.versions) this.clock.observe(v.version);
    for (const d of saved.deployments) this.orchestrator.deployments.set(d.id, d);
    this.pendingAdoption = saved.tasks;
  }

  private pendingAdoption: TaskRecord[] = [];

  /** Adopts the tasks that survived a restart, then starts reconciling. */
  async start(): Promise<void> {
    const tasks = this.pendingAdoption;
    this.pendingAdoption = [];
    await this.scheduler.adopt(tasks);
    await this.options.dockerRunner
      ?.removeUnknown?.(this.engineId, new Set(this.scheduler.tasks.keys()))
      .catch((err: unknown) => this.logger.warn('could not list containers', { error: String(err) }));
    for (const t of this.scheduler.tasks.values()) if (t.state === 'TASK_RUNNING') this.health.watch(t);
    for (const app of this.apps.all()) this.orchestrator.schedule(app.id);
  }

  /** Stops the engine's own work; tasks keep running and are adopted by the next start. */
  stop(): void {
    this.orchestrator.close();
    this.health.close();
    this.readiness.close();
    this.callbacks.close();
    this.scheduler.detach();
    this.state.close();
  }

  private snapshot(): PersistedState {
    return {
      engineId: this.engineId,
      apps: this.apps.snapshot(),
      tasks: [...this.scheduler.tasks.values()],
      deployments: [...this.orchestrator.deployments.values()],
      callbackUrls: this.callbacks.urls(),
    };
  }

  // ---- apps ----

  private lockCheck(appId: string, force: boolean): void {
    const running = this.orchestrator.deploymentOf(appId);
    if (!running) return;
    if (!force) throw appLocked([running.id]);
    this.orchestrator.abort(running, `Deployment was cancelled by a forced change of ${appId}`);
  }

  private deploy(app: AppDefinition, steps: DeploymentAction[][], previous?: AppDefinition): DeploymentRecord {
    const deployment = newDeployment(app.id, app.version, steps, previous?.version);
    this.orchestrator.start(deployment);
    return deployment;
  }

  createApp(body: unknown, clientIp: string, uri: string): { app: MarathonAppInfo; deploymentId: string } {
    const draft = this.permitted(parseApp(body, { features: this.features }));
    if (this.apps.get(draft.id)) throw appExists(draft.id);
    const { app, deployment } = this.create(draft, clientIp, uri);
    return {
      app: { ...this.appInfo(app, { counts: true }), deployments: [{ id: deployment.id }] },
      deploymentId: deployment.id,
    };
  }

  /** The draft, unless it asks for what this engine does not allow (422 naming the setting). */
  private permitted(draft: AppDraft): AppDraft {
    const problems = appPrivilegeProblems(draft, this.privileges);
    if (problems.length > 0) throw new AppValidationError('object', problems);
    return draft;
  }

  private create(draft: AppDraft, clientIp: string, uri: string): { app: AppDefinition; deployment: DeploymentRecord } {
    const app = this.apps.put(draft, this.clock.next(), false);
    this.bus.publish('api_post_event', { clientIp, uri, appDefinition: appJson(app) });
    const deployment = this.deploy(
      app,
      app.instances > 0 ? [['StartApplication'], ['ScaleApplication']] : [['StartApplication']],
    );
    return { app, deployment };
  }

  /**
   * Stores `draft` as the app's next version. A change of anything but `instances` is a config change:
   * tasks get replaced and the launch delay starts over; otherwise the tasks' config version is kept.
   */
  private storeVersion(
    draft: AppDraft,
    current: AppDefinition,
    configSince?: string,
  ): { app: AppDefinition; configChanged: boolean } {
    const app = this.apps.put(draft, this.clock.next(), false);
    const configChanged = JSON.stringify(configOf(app)) !== JSON.stringify(configOf(current));
    if (!configChanged) app.versionInfo.lastConfigChangeAt = current.versionInfo.lastConfigChangeAt;
    else {
      if (configSince) app.versionInfo.lastConfigChangeAt = configSince;
      this.scheduler.delays.delete(app.id);
    }
    return { app, configChanged };
  }

  /** The definition a PUT/PATCH body asks for: a rollback (`{"version": ...}`) or a (partial) definition. */
  private draftFor(appId: string, body: unknown, current: AppDefinition | undefined, partial: boolean): AppDraft {
    const fields =
      body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
    if (current && fields && Object.keys(fields).length === 1 && typeof fields.version === 'string') {
      const old = this.apps.version(appId, fields.version);
      if (!old) throw new EngineApiError(404, { message: `Version '${fields.version}' for app '${appId}' not found` });
      return strip(old);
    }
    if (typeof fields?.id === 'string' && canonicalId(fields.id) !== appId) {
      throw invalid('object', '/id', `The id ${fields.id} in the body does not match the id ${appId} in the URL`);
    }
    return parseApp(body, {
      pathId: appId,
      features: this.features,
      ...(current && partial ? { base: strip(current) } : {}),
    });
  }

  /** PUT (partial unless `partialUpdate=false`) or PATCH. Returns `created` when the app did not exist. */
  updateApp(
    appId: string,
    body: unknown,
    opts: { force: boolean; partial: boolean; allowCreate: boolean; clientIp: string; uri: string },
  ): MarathonDeploymentResult & { created: boolean } {
    const current = this.apps.get(appId);
    if (!current && !opts.allowCreate) throw appNotFound(appId);
    const draft = this.permitted(this.draftFor(appId, body, current, opts.partial));
    this.lockCheck(appId, opts.force);
    if (!current) {
      const { app, deployment } = this.create(draft, opts.clientIp, opts.uri);
      return { deploymentId: deployment.id, version: app.version, created: true };
    }
    const { app, configChanged } = this.storeVersion(draft, current);
    this.bus.publish('api_post_event', { clientIp: opts.clientIp, uri: opts.uri, appDefinition: appJson(app) });
    const steps: DeploymentAction[][] = configChanged
      ? [['RestartApplication']]
      : app.instances !== current.instances
        ? [['ScaleApplication']]
        : [];
    const d = this.deploy(app, steps, current);
    return { deploymentId: d.id, version: app.version, created: false };
  }

  deleteApp(appId: string, force: boolean): MarathonDeploymentResult {
    const current = this.apps.get(appId);
    if (!current) throw appNotFound(appId);
    this.lockCheck(appId, force);
    const d = this.deploy(current, [['StopApplication']], current);
    d.version = this.clock.next();
    return { deploymentId: d.id, version: d.version };
  }

  restartApp(appId: string, force: boolean): MarathonDeploymentResult {
    const current = this.apps.get(appId);
    if (!current) throw appNotFound(appId);
    this.lockCheck(appId, force);
    const app = this.apps.put(strip(current), this.clock.next(), false);
    this.scheduler.delays.delete(appId);
    const d = this.deploy(app, [['RestartApplication']], current);
    return { deploymentId: d.id, version: app.version };
  }

  getApp(appId: string): AppDefinition {
    const app = this.apps.get(appId);
    if (!app) throw appNotFound(appId);
    return app;
  }

  findApp(appId: string): AppDefinition | undefined {
    return this.apps.get(appId);
  }

  listApps(): AppDefinition[] {
    return this.apps.all();
  }

  /** Every stored version of an app, oldest first; empty when the app does not exist. */
  appVersions(appId: string): AppDefinition[] {
    return this.apps.versions(appId);
  }

  appVersion(appId: string, version: string): AppDefinition | undefined {
    return this.apps.version(appId, version);
  }

  tasksOf(appId: string): TaskRecord[] {
    return this.scheduler.tasksOf(appId);
  }

  allTasks(): TaskRecord[] {
    return [...this.scheduler.tasks.values()];
  }

  /** Resource use of the running tasks, as a Mesos agent's `/monitor/statistics` reports it. */
  statistics(): Promise<MonitorEntry[]> {
    return taskStatistics(this.allTasks(), (task) => this.runners[task.runner], `${this.engineId}-0000`, this.logger);
  }

  get frameworkId(): string {
    return `${this.engineId}-0000`;
  }

  /** Each known task's sandbox; its executor is the task itself (Mesos's command executor). */
  sandboxes(): Array<Sandbox & { task: TaskRecord }> {
    const root = join(this.options.dataDir, 'sandboxes');
    return this.allTasks().map((task) => ({
      task,
      frameworkId: this.frameworkId,
      executorId: task.id,
      directory: task.spec.sandbox ?? join(root, task.id),
    }));
  }

  usedResources(): { cpus: number; memMb: number } {
    return this.scheduler.used();
  }

  /** The app's launch delay after failed tasks, if one runs. */
  launchDelay(appId: string): LaunchDelay | undefined {
    return this.scheduler.delays.get(appId);
  }

  /** What keeps the app's missing instances from launching (its deployment's wait, a delay, capacity), if anything. */
  launchBlocker(app: AppDefinition): string | undefined {
    return this.orchestrator.deploymentOf(app.id)?.waitingFor ?? this.scheduler.blocker(app);
  }

  /** Ends the app's launch delay and launches what is missing. */
  resetLaunchDelay(appId: string): void {
    this.scheduler.delays.delete(appId);
    this.orchestrator.schedule(appId);
  }

  appInfo(app: AppDefinition, embed: AppEmbed): MarathonAppInfo {
    const info: MarathonAppInfo = appJson(app);
    if (embed.counts || embed.tasks) {
      const tasks = this.scheduler.tasksOf(app.id);
      if (embed.counts) {
        const checked = tasks.filter((t) => t.healthCheckResults.length > 0);
        const healthy = checked.filter((t) =>
          isHealthy(t, (this.apps.version(app.id, t.version) ?? app).healthChecks.length),
        ).length;
        Object.assign(info, {
          tasksStaged: tasks.filter((t) => t.state === 'TASK_STAGING' || t.state === 'TASK_STARTING').length,
          tasksRunning: tasks.filter((t) => t.state === 'TASK_RUNNING').length,
          tasksHealthy: healthy,
          tasksUnhealthy: checked.length - healthy,
        });
      }
      if (embed.tasks) info.tasks = tasks.map((t) => taskJson(t, this.agentId));
    }
    if (embed.deployments) {
      const d = this.orchestrator.deploymentOf(app.id);
      info.deployments = d ? [{ id: d.id }] : [];
    }
    if (embed.readiness) Object.assign(info, { readinessCheckResults: this.readinessOf(app.id) });
    if (embed.lastTaskFailure) {
      const failure = this.scheduler.lastFailures.get(app.id);
      if (failure) info.lastTaskFailure = failure;
    }
    return info;
  }

  // ---- groups ----

  /** A group exists while an app lives in it; the root always does. */
  groupExists(groupId: string): boolean {
    return groupId === '/' || this.apps.all().some((a) => inGroup(a.id, groupId));
  }

  /**
   * PUT/POST /v2/groups: `scaleBy` scales every app in the group (instances × factor, rounded up);
   * otherwise the group's apps become those of the update (created, replaced, removed). Every app is
   * checked and every lock tested before anything changes.
   */
  updateGroup(
    groupId: string,
    update: unknown,
    opts: { force: boolean; clientIp: string; uri: string },
  ): MarathonDeploymentResult {
    const body =
      update && typeof update === 'object' && !Array.isArray(update) ? (update as Record<string, unknown>) : {};
    if (body.version !== undefined) {
      throw new EngineApiError(422, { message: `Group ${groupId} not available in version ${String(body.version)}` });
    }
    const current = this.apps.all();
    const puts = new Map<string, Record<string, unknown>>();
    const removals: string[] = [];
    if (body.scaleBy !== undefined) {
      if (typeof body.scaleBy !== 'number' || !(body.scaleBy >= 0))
        throw invalid('json', '/scaleBy', 'error.expected.jsnumber');
      for (const app of current)
        if (inGroup(app.id, groupId)) puts.set(app.id, { instances: Math.ceil(app.instances * body.scaleBy) });
    } else {
      const wanted = groupUpdateApps(update, groupId, current);
      for (const [id, app] of wanted) if (app) puts.set(id, app);
      for (const app of current) if (inGroup(app.id, groupId) && !wanted.has(app.id)) removals.push(app.id);
    }
    const partial = body.scaleBy !== undefined;
    for (const [id, app] of puts) this.draftFor(id, app, this.apps.get(id), partial);
    if (!opts.force) for (const id of [...puts.keys(), ...removals]) this.lockCheck(id, false);
    let result: MarathonDeploymentResult | undefined;
    for (const [id, app] of puts) result = this.updateApp(id, app, { ...opts, partial, allowCreate: true });
    for (const id of removals) result = this.deleteApp(id, opts.force);
    return result ? { deploymentId: result.deploymentId, version: result.version } : this.noDeployment();
  }

  /** DELETE /v2/groups/{id}: removes every app in the group. */
  deleteGroup(groupId: string, force: boolean): MarathonDeploymentResult {
    if (!this.groupExists(groupId)) throw new EngineApiError(404, { message: `Group '${groupId}' does not exist` });
    const ids = this.apps.all().flatMap((a) => (inGroup(a.id, groupId) ? [a.id] : []));
    if (!force) for (const id of ids) this.lockCheck(id, false);
    let result = this.noDeployment();
    for (const id of ids) result = this.deleteApp(id, force);
    return result;
  }

  // ---- tasks ----

  task(taskId: string): TaskRecord | undefined {
    return this.scheduler.tasks.get(taskId);
  }

  /** POST /v2/tasks/delete and DELETE /v2/apps/{id}/tasks: kills, and with `scale` lowers the instance count. */
  killTasks(tasks: TaskRecord[], scale: boolean, force: boolean): MarathonDeploymentResult | TaskRecord[] {
    if (!scale) {
      for (const t of tasks) this.scheduler.kill(t);
      return tasks;
    }
    const byApp = new Map<string, TaskRecord[]>();
    for (const t of tasks) byApp.set(t.appId, [...(byApp.get(t.appId) ?? []), t]);
    for (const appId of byApp.keys()) this.lockCheck(appId, force);
    let result = this.noDeployment();
    for (const [appId, list] of byApp) {
      const current = this.apps.get(appId);
      if (!current) continue;
      for (const t of list) this.scheduler.kill(t);
      const app = this.apps.put(
        { ...strip(current), instances: Math.max(0, current.instances - list.length) },
        this.clock.next(),
        true,
      );
      const d = this.deploy(app, [['ScaleApplication']], current);
      result = { deploymentId: d.id, version: app.version };
    }
    return result;
  }

  // ---- deployments ----

  /** `/v2/deployments`, with the readiness check results of the tasks each deployment waits for. */
  deploymentsJson(): MarathonDeployment[] {
    return [...this.orchestrator.deployments.values()].map((d) => deploymentJson(d, this.readinessOf(d.appId)));
  }

  private readinessOf(appId: string) {
    return this.readiness.resultsOf(this.scheduler.tasksOf(appId).map((t) => t.id));
  }

  /** The answer to a change that starts no deployment. */
  private noDeployment(): MarathonDeploymentResult {
    return { deploymentId: randomUUID(), version: this.clock.next() };
  }

  /** DELETE /v2/deployments/{id}: with force just stop it; else roll back with a new deployment. */
  cancelDeployment(id: string, force: boolean): MarathonDeploymentResult | undefined {
    const d = this.orchestrator.deployments.get(id);
    if (!d) throw new EngineApiError(404, { message: `DeploymentPlan ${id} does not exist` });
    this.orchestrator.abort(d, force ? 'Deployment was cancelled' : 'Deployment was rolled back');
    if (force) return undefined;
    const current = this.apps.get(d.appId);
    const previous = d.previousVersion ? this.apps.version(d.appId, d.previousVersion) : undefined;
    if (!current) return { deploymentId: d.id, version: d.version };
    if (!previous) {
      const rollback = this.deploy(current, [['StopApplication']], current);
      return { deploymentId: rollback.id, version: this.clock.next() };
    }
    // back to the previous config: its tasks (if any are left) count as up to date again
    const { app, configChanged } = this.storeVersion(strip(previous), current, previous.versionInfo.lastConfigChangeAt);
    const rollback = this.deploy(app, [[configChanged ? 'RestartApplication' : 'ScaleApplication']], current);
    return { deploymentId: rollback.id, version: app.version };
  }
}

function strip(app: AppDefinition): AppDraft {
  const { version: _v, versionInfo: _vi, ...rest } = app;
  return structuredClone(rest);
}
