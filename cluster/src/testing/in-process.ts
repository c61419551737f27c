/**
 * The engine in-process for the tests and benchmarks of its clients: tasks on a scripted runner, the
 * fault layer on, apps checked against Marathon's AppDefinition schema, and state changed as an agent
 * or operator would (tasks started, moved to any state, made (un)healthy), with or without events.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createLogger,
  type MarathonApp,
  type MarathonAppInfo,
  type MarathonTask,
  type MesosTaskState,
} from '@theseus/services';
import { freePort } from '@theseus/services/testing';
import { Engine } from '../engine.js';
import { FaultLayer, type RecordedCall } from '../faults/fault-layer.js';
import { listenPlan, startEngineServer, type EngineServer } from '../http/server.js';
import type { EngineOptions } from '../options.js';
import { ScriptedRunner, type TaskScript } from '../tasks/scripted-runner.js';
import { TERMINAL_STATES, taskJson } from '../tasks/task.js';
import { appDefinitionProblems } from './app-definition-schema.js';

export interface InProcessOptions extends Partial<Omit<EngineOptions, 'scriptedRunner' | 'faults'>> {
  /** What tasks do that no `startTask` scripted [run, report healthy]. */
  script?: (appId: string) => TaskScript;
  /** The version `/v2/info` reports, to speak as another Marathon [the engine's]. */
  version?: string;
  /** Check created and replaced apps against Marathon's AppDefinition schema [true]. */
  schemaCheck?: boolean;
}

export interface TaskOptions {
  /** Where the task goes [TASK_RUNNING]; a terminal state is reached through TASK_RUNNING. */
  state?: MesosTaskState;
  /** Its events are dropped: missed by every client. */
  silent?: boolean;
  /** The health it reports once running [none]. */
  healthy?: boolean;
}

const STAGES = new Set<MesosTaskState>(['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING']);

export class InProcessEngine {
  private server: EngineServer | undefined;
  private held: (appId: string) => boolean = () => false;
  private silentChanges = 0;

  private constructor(
    readonly engine: Engine,
    readonly runner: ScriptedRunner,
    readonly faults: FaultLayer,
    readonly url: string,
  ) {}

  static async start(options: InProcessOptions = {}): Promise<InProcessEngine> {
    const { script, schemaCheck, version, ...engineOptions } = options;
    let held: (appId: string) => boolean = () => false;
    const runner = new ScriptedRunner((spec) =>
      held(spec.appId) ? { until: 'TASK_STAGING' } : (script?.(spec.appId) ?? {}),
    );
    const faults = new FaultLayer();
    if (schemaCheck ?? true) faults.check = schemaProblems;
    const port = options.port || (await freePort());
    const engine = new Engine({
      dataDir: mkdtempSync(join(tmpdir(), 'theseus-engine-')),
      listenHost: '127.0.0.1',
      portRange: [31000, 64999],
      cpus: 1_000_000,
      memMb: 1_000_000_000,
      logger: createLogger({ component: 'engine', level: 'error', format: 'json', silent: !process.env.TEST_LOGS }),
      ...engineOptions,
      port,
      scriptedRunner: runner,
      faults,
    });
    await engine.start();
    const started = new InProcessEngine(engine, runner, faults, `http://127.0.0.1:${port}`);
    held = (appId) => started.held(appId);
    if (version)
      faults.answer({
        method: 'GET',
        path: /^\/v2\/info$/,
        status: 200,
        body: { name: 'marathon', version, leader: `127.0.0.1:${port}`, frameworkId: `${engine.engineId}-0000` },
        times: Infinity,
      });
    await started.up();
    return started;
  }

  get calls(): RecordedCall[] {
    return this.faults.calls;
  }

  /** Serves again (on the same port) after `down()`. */
  async up(): Promise<void> {
    this.server ??= await startEngineServer(this.engine, await listenPlan(this.engine.options));
  }

  /** Stops answering: every connection and the listener closed (Marathon down); the engine keeps its state. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await server?.close();
  }

  async close(): Promise<void> {
    await this.down();
    this.engine.stop();
    rmSync(this.engine.options.dataDir, { recursive: true, force: true });
  }

  /** The apps as `GET /v2/apps?embed=apps.tasks` lists them. */
  apps(): MarathonAppInfo[] {
    return this.engine.apps.all().map((app) => this.app(app.id)!);
  }

  app(appId: string): MarathonAppInfo | undefined {
    const app = this.engine.apps.get(appId);
    return app && this.engine.appInfo(app, { tasks: true, counts: true, deployments: true });
  }

  tasks(): MarathonTask[] {
    return this.engine.allTasks().map((t) => taskJson(t, this.engine.agentId));
  }

  task(taskId: string): MarathonTask | undefined {
    const task = this.engine.task(taskId);
    return task && taskJson(task, this.engine.agentId);
  }

  /** Runs `change` with events dropped (when `silent`) until the last of the changes running at once is done. */
  private async quietly<T>(silent: boolean | undefined, change: () => Promise<T>): Promise<T> {
    if (!silent) return change();
    if (this.silentChanges++ === 0) this.faults.dropEvents();
    try {
      const result = await change();
      await new Promise((r) => setImmediate(r));
      return result;
    } finally {
      if (--this.silentChanges === 0) this.faults.deliverEvents();
    }
  }

  /** Creates or replaces an app (instances default to 0: tasks come from `startTask`); returns it as listed. */
  async putApp(app: MarathonApp, options: { silent?: boolean } = {}): Promise<MarathonAppInfo> {
    return this.quietly(options.silent, async () => {
      const body = { instances: this.engine.apps.get(app.id)?.instances ?? 0, ...app };
      const flags = { force: true, partial: false, allowCreate: true, clientIp: '127.0.0.1', uri: `/v2/apps${app.id}` };
      if (this.engine.apps.get(app.id)) this.engine.updateApp(app.id, body, flags);
      else this.engine.createApp(body, flags.clientIp, '/v2/apps');
      return this.app(app.id)!;
    });
  }

  /** Launches `count` more tasks of an app (a scale up) and takes each to `state`. */
  async startTasks(appId: string, count: number, options: TaskOptions = {}): Promise<MarathonTask[]> {
    return this.quietly(options.silent, async () => {
      const target = options.state ?? 'TASK_RUNNING';
      const until = STAGES.has(target) ? (target as TaskScript['until']) : 'TASK_RUNNING';
      const launched = Array.from({ length: count }, () =>
        this.runner.next({ until, healthy: options.healthy }, appId),
      );
      const instances = this.engine.getApp(appId).instances + count;
      this.engine.updateApp(
        appId,
        { instances },
        { force: true, partial: true, allowCreate: false, clientIp: '127.0.0.1', uri: `/v2/apps${appId}` },
      );
      const ids = await Promise.all(launched);
      await settled(`tasks of ${appId} in ${until}`, () => ids.every((id) => this.engine.task(id)?.state === until));
      if (!STAGES.has(target)) for (const id of ids) await this.setTaskState(id, target);
      return ids.map((id) => this.task(id) ?? ({ id, appId, state: target } as MarathonTask));
    });
  }

  async startTask(appId: string, options: TaskOptions = {}): Promise<MarathonTask> {
    return (await this.startTasks(appId, 1, options))[0]!;
  }

  /** Moves a task to `state` as its agent reports it; a terminal state ends it (and the engine replaces it). */
  async setTaskState(taskId: string, state: MesosTaskState, options: { silent?: boolean } = {}): Promise<void> {
    await this.quietly(options.silent, async () => {
      this.runner.advance(taskId, state);
      const ends = TERMINAL_STATES.has(state);
      await settled(`${taskId} in ${state}`, () =>
        ends ? !this.engine.task(taskId) : this.engine.task(taskId)?.state === state,
      );
    });
  }

  /** Reports the result of every health check of a running task. */
  async setHealth(taskId: string, alive: boolean, options: { silent?: boolean } = {}): Promise<void> {
    await this.quietly(options.silent, async () => this.runner.setHealth(taskId, alive));
  }

  /** Deletes an app (its tasks are killed, then `app_terminated_event`), waiting until it is gone. */
  async removeApp(appId: string, options: { silent?: boolean } = {}): Promise<void> {
    await this.quietly(options.silent, async () => {
      this.engine.deleteApp(appId, true);
      await settled(`${appId} removed`, () => !this.engine.apps.get(appId));
    });
  }

  /** Tasks the engine launches for apps that match stay in TASK_STAGING: their deployments never finish. */
  hold(apps: (appId: string) => boolean = () => true): void {
    this.held = apps;
  }

  /** Ends `hold()`: every held task runs (stuck deployments finish). */
  release(): void {
    this.held = () => false;
    this.runner.runAll();
  }
}

async function settled(what: string, check: () => boolean, limitMs = 20_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`engine: gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Apps created (POST) or replaced (PUT, partialUpdate=false) must satisfy Marathon's schema. */
function schemaProblems(call: RecordedCall): { status: number; body: unknown } | undefined {
  const create = call.method === 'POST' && call.path === '/v2/apps';
  const replace = call.method === 'PUT' && call.path.startsWith('/v2/apps/') && call.query.partialUpdate === 'false';
  if (!(create || replace) || !call.body || typeof call.body !== 'object') return undefined;
  const details = appDefinitionProblems(call.body);
  return details.length > 0 ? { status: 422, body: { message: 'Object is not valid', details } } : undefined;
}
