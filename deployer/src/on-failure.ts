/**
 * A service's rollout that fails or passes its deadline, handled as its spec's `onFailure` says:
 *  - `rollback`: cancel the Marathon deployment (`DELETE /v2/deployments/{id}`: Marathon rolls it
 *    back, keeping the instances of the previous version), or, when it has already ended, restore
 *    the version that ran before (a new app is removed);
 *  - `stop`: cancel it with `force` (halted where it is, nothing reverted);
 *  - `keep`: leave it running in Marathon.
 * The cause is read from Marathon first, while the failing instances still exist: failing health
 * checks, task failures with their last message, and offers declined for lack of capacity.
 */
import {
  MARATHON_LABELS,
  MarathonNotFoundError,
  TheseusError,
  describeError,
  type MarathonClient,
  type MarathonTask,
  type OnFailure,
} from '@theseus/services';
import type { DeploymentFollower } from './follow.js';
import type { FailureCause, RolloutFailure, StepRecord } from './store.js';

/** The rollout ended without reaching its target; `rolledBack` when the previous version was restored. */
export class RolloutFailedError extends TheseusError {
  constructor(
    message: string,
    readonly rolledBack: boolean,
    hint?: string,
  ) {
    super(rolledBack ? 'DEPLOY_ROLLED_BACK' : 'DEPLOY_FAILED', message, hint ? { hint } : {});
  }
}

export interface OnFailureContext {
  marathon: MarathonClient;
  follower: DeploymentFollower;
  save: (step: StepRecord) => Promise<void>;
  /** Longest wait for the deployment that rolls back. */
  deploymentTimeoutMs: number;
}

/**
 * Handles a failed rollout of a deploy step and throws the outcome. `reason`: `deadline` (still
 * running), or `failed` with Marathon's reason. Returns (without a failure) only when a deployment
 * past its deadline turns out to have ended meanwhile.
 */
export async function handleRolloutFailure(
  step: StepRecord,
  failure: { reason: 'deadline' } | { reason: 'failed'; detail: string },
  ctx: OnFailureContext,
): Promise<void> {
  const target = step.target;
  if (target.kind !== 'deploy') throw new Error('only deploy steps have an onFailure policy');
  const policy: OnFailure = target.onFailure ?? 'rollback';
  const deploymentId = step.marathonDeploymentId!;
  const causes = await diagnose(ctx.marathon, step.appId, step.startedAt).catch((err: unknown) => [
    { kind: 'unknown' as const, message: `the cause could not be read: ${describeError(err)}` },
  ]);
  const headline =
    failure.reason === 'deadline'
      ? `the rollout did not finish within its deadline of ${formatSeconds(target.deadlineSeconds ?? 0)}`
      : `Marathon deployment ${deploymentId} failed: ${failure.detail}`;
  const summary = [headline, ...causes.map((c) => c.message)].join('; ');
  const record: RolloutFailure = { reason: failure.reason, summary, causes, outcome: 'kept' };
  step.failure = record;

  if (policy === 'keep') {
    await ctx.save(step);
    throw new RolloutFailedError(
      summary,
      false,
      `Marathon deployment ${deploymentId} is left as it is (onFailure: keep)`,
    );
  }
  if (policy === 'stop') {
    if (failure.reason === 'deadline' && (await cancel(ctx.marathon, deploymentId, true)) === 'ended')
      return ended(step);
    record.outcome = 'stopped';
    await ctx.save(step);
    throw new RolloutFailedError(
      summary,
      false,
      'the rollout was stopped where it was (onFailure: stop); deploy again or roll back',
    );
  }

  let rollbackId: string | undefined;
  if (failure.reason === 'deadline') {
    const cancelled = await cancel(ctx.marathon, deploymentId, false);
    if (cancelled === 'ended') return ended(step);
    rollbackId = cancelled?.deploymentId;
  } else if (await stillAtTarget(ctx.marathon, step)) {
    // the deployment ended by itself: restore what ran before
    rollbackId = step.previousVersion
      ? (await ctx.marathon.rollbackApp(step.appId, step.previousVersion, { force: true })).deploymentId
      : (await ctx.marathon.deleteApp(step.appId, { force: true })).deploymentId;
  }
  if (!rollbackId) {
    await ctx.save(step);
    throw new RolloutFailedError(
      summary,
      false,
      `${step.appId} was changed by someone else meanwhile; it is left as it is`,
    );
  }
  record.outcome = 'rolled-back';
  record.rollbackDeploymentId = rollbackId;
  await ctx.save(step);
  await followRollback(step, ctx);
}

/** Follows the rollback recorded in the step to its end (also for a step resumed after a crash), then throws the outcome. */
export async function followRollback(step: StepRecord, ctx: OnFailureContext): Promise<never> {
  const record = step.failure!;
  const id = record.rollbackDeploymentId!;
  step.message = `rolling back: following Marathon deployment ${id}`;
  void ctx.save(step);
  const outcome = await ctx.follower.waitFor(id, ctx.deploymentTimeoutMs);
  if (outcome.state === 'timeout' || outcome.state === 'failed') {
    record.outcome = 'kept';
    const how =
      outcome.state === 'timeout'
        ? `did not finish within ${formatSeconds(ctx.deploymentTimeoutMs / 1000)}`
        : `failed: ${outcome.reason}`;
    throw new RolloutFailedError(`${record.summary}; rolling back (Marathon deployment ${id}) ${how}`, false);
  }
  const where = step.previousVersion
    ? `version ${step.previousVersion}`
    : 'nothing (the service was new and is removed)';
  throw new RolloutFailedError(`rolled back to ${where}: ${record.summary}`, true);
}

/** Cancels a Marathon deployment: Marathon's answer (the rollback deployment unless forced), or `ended` when it is gone already. */
async function cancel(marathon: MarathonClient, deploymentId: string, force: boolean) {
  try {
    return await marathon.cancelDeployment(deploymentId, { force });
  } catch (err) {
    if (err instanceof MarathonNotFoundError) return 'ended' as const;
    throw err;
  }
}

function ended(step: StepRecord): void {
  delete step.failure;
}

/** The app still has the definition and instance count the step deployed, and no deployment runs on it (nobody changed it since). */
async function stillAtTarget(marathon: MarathonClient, step: StepRecord): Promise<boolean> {
  if (step.target.kind !== 'deploy') return false;
  try {
    const app = await marathon.getApp(step.appId);
    const target = step.target.app;
    if (!target) return false;
    return (
      app.labels?.[MARATHON_LABELS.specHash] === target.labels?.[MARATHON_LABELS.specHash] &&
      (app.instances ?? 1) === (target.instances ?? 1) &&
      !app.deployments?.length
    );
  } catch (err) {
    if (err instanceof MarathonNotFoundError) return false;
    throw err;
  }
}

interface TaskFailure {
  message?: string;
  state?: string;
  timestamp?: string;
  version?: string;
}

interface QueueEntry {
  count?: number;
  app?: { id?: string };
  processedOffersSummary?: { rejectSummaryLastOffers?: Array<{ reason: string; declined: number }> };
}

/** Why the app's rollout does not finish, as far as Marathon tells. */
export async function diagnose(
  marathon: MarathonClient,
  appId: string,
  since: string | undefined,
): Promise<FailureCause[]> {
  const causes: FailureCause[] = [];
  let app;
  try {
    app = await marathon.getApp(appId);
  } catch (err) {
    if (err instanceof MarathonNotFoundError) return causes;
    throw err;
  }
  const checks = app.healthChecks?.length ?? 0;
  const fresh = (app.tasks ?? []).filter((t: MarathonTask) => t.version === app.version || !t.version);
  if (checks > 0) {
    const unhealthy = fresh.filter(
      (t) =>
        t.state === 'TASK_RUNNING' &&
        !(t.healthCheckResults?.length === checks && t.healthCheckResults.every((r) => r.alive)),
    );
    if (unhealthy.length > 0) {
      const lastCauses = [
        ...new Set(
          unhealthy
            .flatMap((t) => t.healthCheckResults ?? [])
            .map((r) => r.lastFailureCause)
            .filter((c): c is string => Boolean(c)),
        ),
      ];
      causes.push({
        kind: 'health-checks',
        message: `health checks failing on ${unhealthy.length} of ${fresh.length} new instance(s)${lastCauses.length ? ` (last failure: ${lastCauses.slice(0, 3).join(', ')})` : ' (no check has passed yet)'}`,
      });
    }
  }
  const failure = (app as { lastTaskFailure?: TaskFailure }).lastTaskFailure;
  if (failure && (!since || !failure.timestamp || failure.timestamp >= since)) {
    causes.push({
      kind: 'task-failures',
      message: `task failure: ${failure.state ?? 'TASK_FAILED'}: ${failure.message || 'no message'}`,
    });
  }
  const queue = await marathon
    .request<{ queue?: QueueEntry[] }>('GET', '/v2/queue', undefined, undefined, 'read the launch queue')
    .catch(() => ({ queue: [] }));
  const waiting = (queue.queue ?? []).find((q) => q.app?.id === appId);
  const reasons = (waiting?.processedOffersSummary?.rejectSummaryLastOffers ?? [])
    .filter((r) => r.declined > 0)
    .map((r) => r.reason);
  if (waiting && (waiting.count ?? 0) > 0 && reasons.length > 0) {
    causes.push({ kind: 'capacity', message: `${waiting.count} instance(s) cannot be placed: ${reasons.join(', ')}` });
  }
  return causes;
}

function formatSeconds(seconds: number): string {
  if (seconds >= 60 && seconds % 60 === 0) return `${seconds / 60} min`;
  return `${Math.round(seconds)} s`;
}
