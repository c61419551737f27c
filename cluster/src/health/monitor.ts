/**
 * Marathon's health checks (MESOS_* run the same way; COMMAND where the task runs): `healthCheckResults`,
 * events when health changes, failures ignored in the grace period before the first success, and a kill
 * after `maxConsecutiveFailures`.
 */
import type { Logger } from '@theseus/services';
import type { AppDefinition, HealthCheck } from '../app/definition.js';
import type { EventBus } from '../events/bus.js';
import type { TaskRunner } from '../tasks/runner.js';
import type { HealthResult, TaskRecord } from '../tasks/task.js';
import { isHealthy } from '../tasks/task.js';
import { timestamp } from '../time.js';
import { httpProbe, tcpProbe } from './probes.js';

export interface HealthMonitorDeps {
  bus: EventBus;
  agentId: string;
  /** The app definition a task was launched with (its health checks apply). */
  app: (appId: string, version?: string) => AppDefinition | undefined;
  runner: (task: TaskRecord) => TaskRunner | undefined;
  kill: (task: TaskRecord) => void;
  changed: (task: TaskRecord) => void;
  logger: Logger;
}

export class HealthMonitor {
  private readonly timers = new Map<string, NodeJS.Timeout[]>();

  constructor(private readonly deps: HealthMonitorDeps) {}

  /** Starts checking a task that just became RUNNING (or was adopted running). */
  watch(task: TaskRecord): void {
    const app = this.deps.app(task.appId, task.version);
    if (!app || app.healthChecks.length === 0 || this.timers.has(task.id) || this.deps.runner(task)?.attach) return;
    const timers = app.healthChecks.map((check, index) => {
      const tick = () =>
        void this.probe(task, check, index).catch((err: unknown) =>
          this.deps.logger.warn('a health check could not run', { taskId: task.id, check: index, error: String(err) }),
        );
      const timer = setInterval(tick, Math.max(check.intervalSeconds, 0.05) * 1000);
      timer.unref();
      setTimeout(tick, Math.min(1000, check.intervalSeconds * 1000)).unref();
      return timer;
    });
    this.timers.set(task.id, timers);
  }

  unwatch(taskId: string): void {
    for (const t of this.timers.get(taskId) ?? []) clearInterval(t);
    this.timers.delete(taskId);
  }

  close(): void {
    for (const id of [...this.timers.keys()]) this.unwatch(id);
  }

  /** Health results its agent reported for a running task (a runner with `attach`): one for every check. */
  report(task: TaskRecord, alive: boolean, cause: string | null): void {
    if (task.state !== 'TASK_RUNNING' || task.killRequested) return;
    const checks = this.deps.app(task.appId, task.version)?.healthChecks ?? [];
    checks.forEach((check, index) => this.record(task, check, index, alive ? null : (cause ?? 'unhealthy')));
  }

  private async probe(task: TaskRecord, check: HealthCheck, index: number): Promise<void> {
    if (task.state !== 'TASK_RUNNING' || task.killRequested) return;
    const cause = await this.run(task, check).catch((err: unknown) => String(err));
    if (task.state !== 'TASK_RUNNING' || task.killRequested || !this.timers.has(task.id)) return;
    this.record(task, check, index, cause);
  }

  private record(task: TaskRecord, check: HealthCheck, index: number, cause: string | null): void {
    const app = this.deps.app(task.appId, task.version);
    const checkCount = app?.healthChecks.length ?? 0;
    const wasHealthy = isHealthy(task, checkCount);
    const hadResult = task.healthCheckResults[index] !== undefined;
    const previous: HealthResult = task.healthCheckResults[index] ?? {
      alive: false,
      consecutiveFailures: 0,
      firstSuccess: null,
      lastSuccess: null,
      lastFailure: null,
      lastFailureCause: null,
      instanceId: task.instanceId,
    };
    const now = timestamp();
    let result: HealthResult;
    if (cause === null) {
      result = {
        ...previous,
        alive: true,
        consecutiveFailures: 0,
        firstSuccess: previous.firstSuccess ?? now,
        lastSuccess: now,
      };
    } else {
      const inGrace =
        previous.firstSuccess === null &&
        Date.now() - Date.parse(task.startedAt ?? now) < check.gracePeriodSeconds * 1000;
      if (inGrace) return;
      result = {
        ...previous,
        alive: false,
        consecutiveFailures: previous.consecutiveFailures + 1,
        lastFailure: now,
        lastFailureCause: cause,
      };
      this.deps.bus.publish('failed_health_check_event', {
        appId: task.appId,
        taskId: task.instanceId,
        instanceId: task.instanceId,
        healthCheck: check,
      });
    }
    task.healthCheckResults[index] = result;
    if (!hadResult || previous.alive !== result.alive) {
      this.deps.bus.publish('health_status_changed_event', {
        appId: task.appId,
        instanceId: task.instanceId,
        version: task.version,
        alive: result.alive,
      });
    }
    const healthy = isHealthy(task, checkCount);
    if (healthy !== wasHealthy || !hadResult) {
      this.deps.bus.publish('instance_health_changed_event', {
        instanceId: task.instanceId,
        runSpecId: task.appId,
        healthy,
        runSpecVersion: task.version,
      });
    }
    this.deps.changed(task);
    if (
      cause !== null &&
      check.maxConsecutiveFailures > 0 &&
      result.consecutiveFailures >= check.maxConsecutiveFailures
    ) {
      this.deps.bus.publish('unhealthy_instance_kill_event', {
        appId: task.appId,
        taskId: task.id,
        instanceId: task.instanceId,
        version: task.version,
        reason: `${check.protocol} health check failed ${result.consecutiveFailures} times: ${cause}`,
        host: task.host,
        slaveId: this.deps.agentId,
      });
      this.unwatch(task.id);
      this.deps.kill(task);
    }
  }

  private run(task: TaskRecord, check: HealthCheck): Promise<string | null> {
    if (check.protocol === 'COMMAND') {
      const runner = this.deps.runner(task);
      if (!runner || !task.ref) return Promise.resolve('task not started');
      return runner
        .exec(task.ref, task.spec, check.command!.value, check.timeoutSeconds * 1000)
        .then((code) =>
          code === 0
            ? null
            : code === null
              ? `command did not end within ${check.timeoutSeconds} s`
              : `command exited with status ${code}`,
        );
    }
    const target = this.target(task, check);
    if (!target) return Promise.resolve('no port to check');
    if (check.protocol === 'TCP' || check.protocol === 'MESOS_TCP') return tcpProbe(check, target.host, target.port);
    return httpProbe(check, target.host, target.port, check.protocol.endsWith('HTTPS'));
  }

  private target(task: TaskRecord, check: HealthCheck): { host: string; port: number } | undefined {
    if (check.port !== undefined) return { host: task.host, port: check.port };
    const index = check.portIndex ?? 0;
    const hostPort = task.ports[index];
    if (hostPort !== undefined) return { host: task.host, port: hostPort };
    const ip = task.ipAddresses[0]?.ipAddress;
    const containerPort = task.spec.ports[index]?.containerPort;
    return ip && containerPort ? { host: ip, port: containerPort } : undefined;
  }
}
