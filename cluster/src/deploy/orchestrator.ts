/**
 * Deployments and the reconcile loop. Each app converges to its definition: while a deployment runs,
 * its steps (Start/Scale/Restart/StopApplication) complete when the app has exactly `instances` tasks
 * of the new config, all running and healthy; a restart rolls per `upgradeStrategy` (never fewer
 * than ceil(N * minimumHealthCapacity) healthy tasks, never more than N * (1 + maximumOverCapacity)
 * tasks). Without a deployment, failed tasks are replaced (after the launch backoff).
 */
import type { Logger } from '@theseus/services';
import type { AppDefinition } from '../app/definition.js';
import type { AppRepository } from '../app/repository.js';
import type { EventBus } from '../events/bus.js';
import type { Scheduler } from '../tasks/scheduler.js';
import { isHealthy, type TaskRecord } from '../tasks/task.js';
import type { ReadinessMonitor } from '../health/readiness.js';
import { planJson, stepJson, type DeploymentRecord } from './deployment.js';

export class Orchestrator {
  readonly deployments = new Map<string, DeploymentRecord>();
  private readonly dirty = new Set<string>();
  private flushing = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly apps: AppRepository,
    private readonly scheduler: Scheduler,
    private readonly bus: EventBus,
    private readonly persist: () => void,
    private readonly logger: Logger,
    private readonly readiness: ReadinessMonitor,
    tickMs = 500,
  ) {
    this.timer = setInterval(() => this.tick(), tickMs);
    this.timer.unref();
  }

  private closed = false;

  private readonly wakeUps = new Set<NodeJS.Timeout>();

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    for (const t of this.wakeUps) clearTimeout(t);
    this.wakeUps.clear();
  }

  /** Looks at the app again when its launch delay ends, as Marathon's launch queue does, not at the next tick. */
  scheduleAfter(appId: string, ms: number): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.wakeUps.delete(timer);
      if (!this.closed) this.schedule(appId);
    }, ms);
    timer.unref();
    this.wakeUps.add(timer);
  }

  deploymentOf(appId: string): DeploymentRecord | undefined {
    for (const d of this.deployments.values()) if (d.appId === appId) return d;
    return undefined;
  }

  start(deployment: DeploymentRecord): void {
    this.deployments.set(deployment.id, deployment);
    this.persist();
    if (deployment.steps.length === 0) {
      setImmediate(() => this.finishDeployment(deployment));
      return;
    }
    this.bus.publish('deployment_info', { plan: planJson(deployment), currentStep: stepJson(deployment) });
    this.schedule(deployment.appId);
  }

  /** Stops a deployment where it is (force cancel, or superseded by a forced change). */
  abort(deployment: DeploymentRecord, reason: string): void {
    if (!this.deployments.delete(deployment.id)) return;
    this.bus.publish('deployment_failed', { id: deployment.id, plan: planJson(deployment), reason });
    this.persist();
    this.schedule(deployment.appId);
  }

  schedule(appId: string): void {
    if (this.closed) return;
    this.dirty.add(appId);
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => {
      this.flushing = false;
      const ids = [...this.dirty];
      this.dirty.clear();
      for (const id of ids) {
        try {
          this.reconcile(id);
        } catch (err) {
          this.logger.error('reconciling an app failed', { appId: id, error: String(err) });
        }
      }
    });
  }

  /** Periodic pass: backoff expiries, freed capacity, and apps below their instance count. */
  private tick(): void {
    for (const d of this.deployments.values()) this.schedule(d.appId);
    for (const app of this.apps.all()) {
      const count = this.scheduler.tasksOf(app.id).filter((t) => !t.killRequested).length;
      if (count !== app.instances) this.schedule(app.id);
    }
    for (const t of this.scheduler.tasks.values()) if (!this.apps.get(t.appId)) this.schedule(t.appId);
  }

  private healthChecksOf(task: TaskRecord, app: AppDefinition): number {
    return (this.apps.version(task.appId, task.version) ?? app).healthChecks.length;
  }

  reconcile(appId: string): void {
    const app = this.apps.get(appId);
    const deployment = this.deploymentOf(appId);
    const tasks = this.scheduler.tasksOf(appId);
    const step = deployment?.steps[deployment.currentStep] ?? [];
    if (!app || step.includes('StopApplication')) {
      for (const t of tasks) this.scheduler.kill(t);
      if (deployment && tasks.length === 0) {
        this.apps.delete(appId);
        this.scheduler.delays.delete(appId);
        this.bus.publish('app_terminated_event', { appId });
        this.completeStep(deployment);
      }
      return;
    }
    if (deployment && step.includes('StartApplication')) {
      this.completeStep(deployment);
      return;
    }
    const n = app.instances;
    const alive = tasks.filter((t) => !t.killRequested);
    const target = app.versionInfo.lastConfigChangeAt;
    const rolling = deployment !== undefined;
    const fresh = rolling ? alive.filter((t) => t.configVersion === target) : alive;
    let old = rolling ? alive.filter((t) => t.configVersion !== target) : [];
    const healthy = (t: TaskRecord) => isHealthy(t, this.healthChecksOf(t, app));
    // during a deployment a new task also has to pass the app's readiness checks
    if (rolling) for (const t of fresh) if (t.state === 'TASK_RUNNING') this.readiness.watch(t, app);
    const ready = (t: TaskRecord) => healthy(t) && (!rolling || this.readiness.ready(t, app));

    if (fresh.length > n) for (const t of this.killOrder(app, fresh).slice(0, fresh.length - n)) this.scheduler.kill(t);
    const freshAlive = Math.min(fresh.length, n);
    const maxTotal = Math.max(n, Math.floor(n * (1 + app.upgradeStrategy.maximumOverCapacity) + 1e-9));
    if (old.length > 0) {
      const minHealthy = Math.ceil(n * app.upgradeStrategy.minimumHealthCapacity - 1e-9);
      let spare = fresh.filter(ready).length + old.filter(healthy).length - minHealthy;
      for (const t of [...old.filter((t) => !healthy(t)), ...this.killOrder(app, old.filter(healthy))]) {
        if (!healthy(t)) this.scheduler.kill(t);
        else if (spare > 0) {
          this.scheduler.kill(t);
          spare--;
        }
      }
      old = old.filter((t) => !t.killRequested);
      const starting = fresh.some((t) => !ready(t));
      const leavingNow = tasks.filter((t) => t.killRequested && t.configVersion !== target).length;
      if (old.length > 0 && leavingNow === 0 && freshAlive + old.length >= maxTotal && freshAlive < n && !starting) {
        // neither a start nor a kill is allowed: Marathon kills one old task to make progress
        this.scheduler.kill(this.killOrder(app, old)[0]!);
        old = old.slice(1);
      }
    }
    // tasks being killed still hold their place until they are gone
    const leaving = rolling ? tasks.filter((t) => t.killRequested && t.configVersion !== target).length : 0;
    const limit = rolling ? maxTotal - old.length - leaving : n;
    const toLaunch = Math.min(n - freshAlive, limit - freshAlive);
    let waiting: string | undefined;
    for (let i = 0; i < toLaunch; i++) {
      waiting = this.scheduler.launch(app);
      if (waiting) break;
    }
    if (deployment) {
      deployment.waitingFor = waiting;
      const done =
        old.length === 0 && tasks.length === n && alive.length === n && fresh.length === n && fresh.every(ready);
      if (done) this.completeStep(deployment);
    }
  }

  /** Tasks in the order Marathon kills them: not yet running first, then per `killSelection`. */
  private killOrder(app: AppDefinition, tasks: TaskRecord[]): TaskRecord[] {
    const youngestFirst = app.killSelection !== 'OLDEST_FIRST';
    return [...tasks].sort((a, b) => {
      const ra = a.state === 'TASK_RUNNING' ? 1 : 0;
      const rb = b.state === 'TASK_RUNNING' ? 1 : 0;
      if (ra !== rb) return ra - rb;
      const cmp = a.stagedAt.localeCompare(b.stagedAt);
      return youngestFirst ? -cmp : cmp;
    });
  }

  private completeStep(deployment: DeploymentRecord): void {
    if (!this.deployments.has(deployment.id)) return;
    this.bus.publish('deployment_step_success', { plan: planJson(deployment), currentStep: stepJson(deployment) });
    deployment.currentStep++;
    if (deployment.currentStep >= deployment.steps.length) {
      this.finishDeployment(deployment);
      return;
    }
    this.bus.publish('deployment_info', { plan: planJson(deployment), currentStep: stepJson(deployment) });
    this.persist();
    this.schedule(deployment.appId);
  }

  private finishDeployment(deployment: DeploymentRecord): void {
    if (!this.deployments.delete(deployment.id)) return;
    this.bus.publish('deployment_success', { id: deployment.id, plan: planJson(deployment) });
    this.persist();
    this.schedule(deployment.appId);
  }
}
