/**
 * apply: bring one app to its target and follow Marathon's deployment to the end.
 *
 * Each attempt re-reads the app and plans again, so the step is idempotent: after a crash or a
 * retry, a change that already reached Marathon plans as `noop` (and the running deployment is
 * followed) instead of being sent twice. Non-declarative calls (restart, rollback) record when they
 * were requested, and a resumed step that finds the app changed since takes it as done.
 * Network errors, 5xx and 409 "locked" are retried (RETRY_POLICIES.marathonStep; after a lock, once
 * the locking deployments are gone); 422 and other refusals fail at once with Marathon's message.
 */
import {
  Backoff,
  DEFAULT_SETTINGS,
  MARATHON_LABELS,
  MarathonConflictError,
  MarathonLockedError,
  MarathonNotFoundError,
  MarathonValidationError,
  RETRY_POLICIES,
  TheseusError,
  describeError,
  isRecoverable,
  serviceRefOfApp,
  type BackoffPolicy,
  type MarathonAppInfo,
  type MarathonClient,
} from '@theseus/services';
import type { DeploymentFollower } from './follow.js';
import { followRollback, handleRolloutFailure, RolloutFailedError } from './on-failure.js';
import { diffApps, planAction } from './plan.js';
import { isFinished, type StepRecord } from './store.js';

export interface ApplyOptions {
  marathon: MarathonClient;
  follower: DeploymentFollower;
  /**
   * Persists the step after each change of state. Progress saves are not awaited (the caller must
   * apply them in call order); the save of a non-declarative request and the final one are.
   */
  save: (step: StepRecord) => Promise<void>;
  /** Longest wait for one Marathon deployment. @defaultValue settings' deployer.deploymentTimeoutMs */
  deploymentTimeoutMs?: number;
  /** Retries of recoverable errors. @defaultValue RETRY_POLICIES.marathonStep */
  backoff?: BackoffPolicy;
}

/** A failure that retrying cannot fix. */
export class StepFailedError extends TheseusError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('DEPLOY_STEP_FAILED', message, options);
  }
}

export async function applyStep(step: StepRecord, options: ApplyOptions): Promise<StepRecord> {
  if (isFinished(step.state)) return step;
  const timeoutMs = options.deploymentTimeoutMs ?? DEFAULT_SETTINGS.deployer.deploymentTimeoutMs;
  const backoff = new Backoff(options.backoff ?? RETRY_POLICIES.marathonStep);
  for (let i = 1; i < step.attempts; i++) backoff.next(); // a resumed step goes on where it stopped
  step.state = 'running';
  step.startedAt ??= new Date().toISOString();
  void options.save(step);

  for (;;) {
    step.attempts++;
    try {
      await attempt(step, options);
      step.state = 'succeeded';
      delete step.error;
      break;
    } catch (err) {
      if (err instanceof MarathonLockedError) {
        step.message = `waiting for Marathon deployment(s) ${err.deploymentIds.join(', ')} that lock the app`;
        void options.save(step);
        for (const id of err.deploymentIds) await options.follower.waitFor(id, timeoutMs);
      }
      const delay = backoff.next();
      if (isRecoverable(err) && backoff.canRetry) {
        step.message = `retrying after: ${describeError(err)}`;
        void options.save(step);
        await new Promise((r) => setTimeout(r, delay));
        continue;
      }
      step.state = err instanceof RolloutFailedError && err.rolledBack ? 'rolled-back' : 'failed';
      step.error = {
        code: err instanceof TheseusError ? err.code : 'INTERNAL',
        message:
          err instanceof MarathonValidationError ? `Marathon refused the app: ${err.message}` : describeError(err),
        ...(err instanceof MarathonValidationError ? { problems: err.problems } : {}),
      };
      break;
    }
  }
  delete step.message;
  step.finishedAt = new Date().toISOString();
  await options.save(step);
  return step;
}

async function attempt(step: StepRecord, options: ApplyOptions): Promise<void> {
  const { marathon } = options;
  if (step.failure?.outcome === 'rolled-back') return followRollback(step, failureContext(options));
  if (step.marathonDeploymentId) {
    await follow(step, options);
    return;
  }
  const current = await readApp(marathon, step.appId);
  if (current && serviceRefOfApp(current) === undefined) {
    throw new StepFailedError(
      `app ${step.appId} exists but is not managed by Theseus (no ${MARATHON_LABELS.managed}=true label); it is left alone`,
    );
  }
  const target = step.target;
  let deploymentId: string | undefined;
  switch (target.kind) {
    case 'deploy': {
      const app = target.app;
      if (!app)
        throw new StepFailedError(
          `the app definition of ${step.appId} is no longer kept (its deployment ended or expired)`,
        );
      const action = planAction({ kind: 'deploy', app }, current);
      step.action = action;
      step.changes = action === 'update' || action === 'scale' ? diffApps(current, app) : [];
      if (current && (action === 'update' || action === 'scale')) step.previousVersion = current.version;
      if (action === 'create') {
        try {
          const created = await marathon.createApp(app);
          deploymentId = created.deployments?.[0]?.id;
        } catch (err) {
          // created meanwhile (by a previous attempt whose answer was lost): plan again
          if (err instanceof MarathonConflictError) throw new RetryNow(err.message);
          throw err;
        }
      } else if (action === 'update') {
        deploymentId = (await marathon.replaceApp(app)).deploymentId;
      } else if (action === 'scale') {
        deploymentId = (await marathon.patchApp(step.appId, { instances: app.instances ?? 1 })).deploymentId;
      } else {
        deploymentId = current?.deployments?.[0]?.id; // already applied: follow a rollout still running
      }
      break;
    }
    case 'remove': {
      if (!current) {
        step.action = 'absent';
        return;
      }
      step.action = 'delete';
      try {
        deploymentId = (await marathon.deleteApp(step.appId)).deploymentId;
      } catch (err) {
        if (err instanceof MarathonNotFoundError) return;
        throw err;
      }
      break;
    }
    case 'scale': {
      if (!current) throw new StepFailedError(`app ${step.appId} does not exist`);
      if ((current.instances ?? 1) === target.instances) {
        step.action = 'noop';
        deploymentId = current.deployments?.[0]?.id;
      } else {
        step.action = 'scale';
        step.changes = [{ path: '/instances', from: current.instances ?? 1, to: target.instances }];
        deploymentId = (await marathon.patchApp(step.appId, { instances: target.instances })).deploymentId;
      }
      break;
    }
    case 'restart':
    case 'rollback': {
      if (!current) throw new StepFailedError(`app ${step.appId} does not exist`);
      step.action = target.kind;
      if (step.requestedAt && current.version > step.requestedAt) {
        deploymentId = current.deployments?.[0]?.id; // requested before a crash and applied
        break;
      }
      step.requestedAt = new Date(Date.now() - 1).toISOString();
      await options.save(step);
      if (target.kind === 'restart') {
        deploymentId = (await marathon.restartApp(step.appId)).deploymentId;
      } else {
        const version = target.version ?? (await previousVersion(marathon, current));
        step.changes = [{ path: '/version', from: current.version, to: version }];
        deploymentId = (await marathon.rollbackApp(step.appId, version)).deploymentId;
      }
      break;
    }
  }
  if (deploymentId) {
    step.marathonDeploymentId = deploymentId;
    if (target.kind === 'deploy') step.deadlineAt = new Date(Date.now() + deadlineMs(step, options)).toISOString();
    void options.save(step);
    await follow(step, options);
  }
}

/** Waits for the step's Marathon deployment and checks the app got where it should. */
async function follow(step: StepRecord, options: ApplyOptions): Promise<void> {
  const id = step.marathonDeploymentId!;
  step.message = `following Marathon deployment ${id}`;
  void options.save(step);
  const target = step.target;
  if (target.kind === 'deploy') {
    const left = step.deadlineAt ? Date.parse(step.deadlineAt) - Date.now() : deadlineMs(step, options);
    const outcome = await options.follower.waitFor(id, Math.max(0, left));
    if (outcome.state === 'timeout') await handleRolloutFailure(step, { reason: 'deadline' }, failureContext(options));
    if (outcome.state === 'failed')
      await handleRolloutFailure(step, { reason: 'failed', detail: outcome.reason }, failureContext(options));
    const app = await readApp(options.marathon, step.appId);
    const wanted = target.app?.labels?.[MARATHON_LABELS.specHash];
    if (!app || app.labels?.[MARATHON_LABELS.specHash] !== wanted) {
      throw new StepFailedError(
        `Marathon deployment ${id} ended but ${step.appId} is not at the deployed definition (rolled back or replaced meanwhile)`,
      );
    }
    return;
  }
  const timeoutMs = options.deploymentTimeoutMs ?? DEFAULT_SETTINGS.deployer.deploymentTimeoutMs;
  const outcome = await options.follower.waitFor(id, timeoutMs);
  if (outcome.state === 'timeout') {
    throw new StepFailedError(`Marathon deployment ${id} did not finish within ${Math.round(timeoutMs / 1000)} s`, {
      hint: 'the app may be failing to start (see its tasks and lastTaskFailure); the deployment is still running in Marathon',
    });
  }
  if (outcome.state === 'failed') throw new StepFailedError(`Marathon deployment ${id} failed: ${outcome.reason}`);
  if (target.kind === 'remove') {
    if (await readApp(options.marathon, step.appId))
      throw new StepFailedError(`Marathon deployment ${id} ended but ${step.appId} still exists`);
  }
}

/** The rollout deadline of a deploy step: the spec's, for records without one the deployment timeout. */
function deadlineMs(step: StepRecord, options: ApplyOptions): number {
  const seconds = step.target.kind === 'deploy' ? step.target.deadlineSeconds : undefined;
  return seconds !== undefined
    ? seconds * 1000
    : (options.deploymentTimeoutMs ?? DEFAULT_SETTINGS.deployer.deploymentTimeoutMs);
}

function failureContext(options: ApplyOptions) {
  return {
    marathon: options.marathon,
    follower: options.follower,
    save: options.save,
    deploymentTimeoutMs: options.deploymentTimeoutMs ?? DEFAULT_SETTINGS.deployer.deploymentTimeoutMs,
  };
}

/**
 * The newest earlier version whose definition differs from the current one (scales and restarts
 * make versions too; rolling back to one of those would change nothing).
 */
async function previousVersion(marathon: MarathonClient, current: MarathonAppInfo): Promise<string> {
  const currentHash = current.labels?.[MARATHON_LABELS.specHash];
  const versions = (await marathon.appVersions(current.id))
    .filter((v) => v < current.version)
    .sort()
    .reverse();
  for (const version of versions.slice(0, MAX_VERSIONS_SEARCHED)) {
    const app = await marathon.appVersion(current.id, version);
    if (app.labels?.[MARATHON_LABELS.specHash] !== currentHash) return version;
  }
  throw new StepFailedError(`app ${current.id} has no earlier version with a different definition to roll back to`);
}

const MAX_VERSIONS_SEARCHED = 50;

async function readApp(marathon: MarathonClient, appId: string): Promise<MarathonAppInfo | undefined> {
  try {
    return await marathon.getApp(appId);
  } catch (err) {
    if (err instanceof MarathonNotFoundError) return undefined;
    throw err;
  }
}

/** Plan again at once (the state changed under the attempt). */
class RetryNow extends TheseusError {
  constructor(message: string) {
    super('RETRY', message, { recoverable: true });
  }
}
