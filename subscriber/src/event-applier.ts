/**
 * Marathon events into endpoint changes, at once, without a round trip to Marathon when the app is
 * known. Per app, events are applied in arrival order (events of an app being fetched wait for it);
 * per task, the EndpointStore drops anything older than what it already knows.
 *
 *   status_update_event TASK_RUNNING          -> write the endpoint (health-checked apps: once healthy)
 *   instance health turning true              -> write the endpoint of a task seen running, at once
 *   status_update_event leaving states        -> remove it
 *   health / instance health / kill events    -> remove at once when unhealthy; re-read the app
 *   api_post_event                            -> new definition (ports, labels): re-read the app
 *   app_terminated_event                      -> remove every endpoint of the app
 */
import {
  LEAVING_TASK_STATES,
  describeError,
  taskOfInstance,
  type MarathonEvent,
  type MesosTaskState,
  type StatusUpdateEvent,
} from '@theseus/services';
import type { AppModel } from './endpoint-of-task.js';
import { refreshApp, type SyncContext } from './reconcile.js';
import { taskIdOfKey } from './endpoint-store.js';

/** Leaving states after which the same task id can still come back (partition-aware Mesos). */
const MAY_RETURN = new Set<MesosTaskState>(['TASK_LOST', 'TASK_UNREACHABLE', 'TASK_UNKNOWN']);

export class EventApplier {
  private readonly waiting = new Map<string, StatusUpdateEvent[]>();
  private readonly refreshing = new Map<string, Promise<void>>();
  private readonly refreshAgain = new Set<string>();
  /**
   * TASK_RUNNING of health-checked tasks not registered yet, by task id: written as soon as the
   * instance turns healthy, without waiting for the app to be read again. A rolling restart kills
   * the old task the moment the new one is healthy, and the old endpoint goes at once; the new one
   * must not lag behind it, or the service has no endpoint in between.
   */
  private readonly awaitingHealth = new Map<string, StatusUpdateEvent>();

  constructor(private readonly ctx: SyncContext) {}

  apply(event: MarathonEvent): void {
    switch (event.eventType) {
      case 'status_update_event':
        return this.statusUpdate(event);
      case 'health_status_changed_event':
        if (!event.alive) this.removeInstance(event.appId, event.instanceId, event.timestamp);
        return this.refresh(event.appId);
      case 'instance_health_changed_event':
        if (event.healthy === false) this.removeInstance(event.runSpecId, event.instanceId, event.timestamp);
        if (event.healthy === true) this.registerHealthy(event.runSpecId, event.instanceId);
        return this.refresh(event.runSpecId);
      case 'unhealthy_instance_kill_event':
      case 'unhealthy_task_kill_event':
        this.removeInstance(event.appId, event.instanceId ?? event.taskId, event.timestamp);
        return;
      case 'failed_health_check_event':
        return this.refresh(event.appId);
      case 'api_post_event':
        return this.refresh(event.appDefinition.id);
      case 'app_terminated_event':
        return this.appTerminated(event.appId, event.timestamp);
      default:
        return; // deployments, stream and scheduler events say nothing about endpoints
    }
  }

  /** Resolves when every app fetch and refresh started so far has finished. */
  async settled(): Promise<void> {
    while (this.refreshing.size > 0 || this.waiting.size > 0) {
      await Promise.allSettled([...this.refreshing.values()]);
      await new Promise((r) => setImmediate(r));
    }
  }

  private statusUpdate(event: StatusUpdateEvent): void {
    const queued = this.waiting.get(event.appId);
    if (queued) {
      queued.push(event);
      return;
    }
    const model = this.ctx.catalog.cached(event.appId, event.version || undefined);
    if (model !== undefined) return this.statusWithModel(event, model);
    // The app is new to us (or this task runs a newer version): fetch it, hold its events meanwhile.
    this.waiting.set(event.appId, [event]);
    this.ctx.catalog
      .fetch(event.appId)
      .catch((err: unknown) => {
        this.ctx.logger.warn('cannot read app for an event; the next reconcile covers it', {
          appId: event.appId,
          error: describeError(err),
        });
        return undefined;
      })
      .then(() => {
        const events = this.waiting.get(event.appId) ?? [];
        this.waiting.delete(event.appId);
        for (const e of events) {
          const known = this.ctx.catalog.cached(e.appId);
          if (known !== undefined) this.statusWithModel(e, known);
          else if (LEAVING_TASK_STATES.has(e.taskStatus)) this.removeTask(e); // the app is unreadable, its task left anyway
        }
      })
      .catch((err: unknown) =>
        this.ctx.logger.error('applying the events held for an app failed; the next reconcile covers them', {
          appId: event.appId,
          error: describeError(err),
        }),
      );
  }

  private statusWithModel(event: StatusUpdateEvent, model: AppModel | null): void {
    if (LEAVING_TASK_STATES.has(event.taskStatus)) return this.removeTask(event);
    if (!model?.ref || event.taskStatus !== 'TASK_RUNNING') return;
    const key = this.ctx.encoder.key(model, event.taskId);
    const known = this.ctx.store.knownAt(key);
    let healthy: boolean | null = null;
    if (model.healthCheckCount > 0) {
      if (known) healthy = known.healthy;
      else if (this.ctx.requireHealthy) {
        this.awaitingHealth.set(event.taskId, event);
        return this.refresh(model.id); // registered once its health checks pass
      } else healthy = false;
    }
    this.writeRunning(event, model, healthy);
  }

  private registerHealthy(appId: string, instanceId: string): void {
    for (const [taskId, running] of this.awaitingHealth) {
      if (running.appId !== appId || !taskOfInstance(taskId, instanceId)) continue;
      this.awaitingHealth.delete(taskId);
      const model = this.ctx.catalog.cached(appId, running.version || undefined);
      if (model?.ref) this.writeRunning(running, model, true);
    }
  }

  private writeRunning(event: StatusUpdateEvent, model: AppModel, healthy: boolean | null): void {
    const key = this.ctx.encoder.key(model, event.taskId);
    const known = this.ctx.store.knownAt(key);
    const at = Date.parse(event.timestamp);
    const startedAt = known?.startedAt ?? at;
    const ipAddresses: string[] = [];
    for (const address of event.ipAddresses) ipAddresses.push(address.ipAddress);
    const value = this.ctx.encoder.encode(
      model,
      {
        taskId: event.taskId,
        host: event.host,
        ipAddresses,
        ports: event.ports,
        version: event.version,
        startedAt: startedAt === at ? event.timestamp : new Date(startedAt).toISOString(),
        healthy,
      },
      event.timestamp,
      startedAt,
    );
    this.ctx.store.submit({ key, appId: model.id, taskId: event.taskId, at, value, eventAt: at });
  }

  private removeTask(event: StatusUpdateEvent): void {
    this.awaitingHealth.delete(event.taskId);
    const model = this.ctx.catalog.cached(event.appId);
    const key =
      this.ctx.store.keyOfTask(event.appId, event.taskId) ??
      (model?.ref ? this.ctx.encoder.key(model, event.taskId) : undefined);
    const at = Date.parse(event.timestamp);
    if (key)
      this.ctx.store.submit({
        key,
        appId: event.appId,
        taskId: event.taskId,
        at,
        final: !MAY_RETURN.has(event.taskStatus),
        eventAt: at,
      });
  }

  private removeInstance(appId: string, instanceId: string, timestamp: string): void {
    if (!this.ctx.requireHealthy) return;
    const at = Date.parse(timestamp);
    for (const key of this.ctx.store.keysOfApp(appId)) {
      const taskId = taskIdOfKey(key);
      if (taskOfInstance(taskId, instanceId)) this.ctx.store.submit({ key, appId, taskId, at, eventAt: at });
    }
  }

  private appTerminated(appId: string, timestamp: string): void {
    for (const [taskId, running] of this.awaitingHealth)
      if (running.appId === appId) this.awaitingHealth.delete(taskId);
    const at = Date.parse(timestamp);
    for (const key of this.ctx.store.keysOfApp(appId)) {
      const known = this.ctx.store.knownAt(key);
      if (known?.owned) this.ctx.store.submit({ key, appId, taskId: taskIdOfKey(key), at, final: true, eventAt: at });
    }
    this.ctx.catalog.forget(appId);
  }

  /** Re-reads one app from Marathon; calls while one runs make it run once more after. */
  refresh(appId: string): void {
    if (this.refreshing.has(appId)) {
      this.refreshAgain.add(appId);
      return;
    }
    const run = refreshApp(this.ctx, appId).finally(() => {
      this.refreshing.delete(appId);
      if (this.refreshAgain.delete(appId)) this.refresh(appId);
    });
    this.refreshing.set(appId, run);
  }
}
