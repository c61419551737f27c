/**
 * Deployment records in Redis: what was asked, each service's step and how it ended. Records are
 * written before the work and after every step change, so a worker that resumes a job after a
 * crash knows which steps finished and which Marathon deployment a running step was following.
 * Keys live under `<prefix>:deployer:`; the connection waits through Redis restarts instead of
 * failing (maxRetriesPerRequest: null), so no outcome is lost while Redis is away.
 */
import type { Redis } from 'ioredis';
import { type Logger, type MarathonApp, type OnFailure, type ProblemDetail } from '@theseus/services';
import type { AppChange, PlannedAction, ServiceIdentity } from './plan.js';
import { openRedis } from './redis-connection.js';

/** `rolled-back`: a service's rollout failed and its previous version was restored. */
export type DeploymentState = 'queued' | 'running' | 'succeeded' | 'failed' | 'rolled-back';
export type StepState = 'pending' | 'running' | 'succeeded' | 'failed' | 'rolled-back';

const FINISHED: ReadonlySet<string> = new Set(['succeeded', 'failed', 'rolled-back']);

/** A deployment or step in one of these states is over. */
export function isFinished(state: DeploymentState | StepState): boolean {
  return FINISHED.has(state);
}
export type DeploymentKind = 'deploy' | 'scale' | 'restart' | 'rollback' | 'remove';

/**
 * What a step must bring about. A deploy step's app definition (environment values included) is
 * kept apart from the record while the deployment runs and dropped when it ends: the record shows
 * only the image and instance count; a rollback takes the earlier definition from Marathon's versions.
 */
export type StepTarget =
  /** `onFailure` and `deadlineSeconds` from the spec (absent in records written before they existed). */
  | {
      kind: 'deploy';
      app?: MarathonApp;
      image?: string | undefined;
      instances?: number | undefined;
      onFailure?: OnFailure;
      deadlineSeconds?: number;
    }
  | { kind: 'remove' }
  | { kind: 'scale'; instances: number }
  | { kind: 'restart' }
  | { kind: 'rollback'; version?: string };

export interface StepRecord extends ServiceIdentity {
  target: StepTarget;
  state: StepState;
  /** What was done (or found): create, update, scale, noop, delete, absent, restart, rollback. */
  action?: PlannedAction | 'restart' | 'rollback';
  changes?: AppChange[];
  /** The Marathon deployment being followed; set before following, so a resumed step follows it. */
  marathonDeploymentId?: string;
  /** When a non-declarative call (restart, rollback) was about to be made: a resumed step checks the app changed since. */
  requestedAt?: string;
  /** The app's version before the step changed it (what a failed rollout returns to). */
  previousVersion?: string;
  /** When the rollout of a deploy step counts as failed. */
  deadlineAt?: string;
  /** Why the rollout failed and what was done about it. */
  failure?: RolloutFailure;
  attempts: number;
  message?: string;
  error?: { code: string; message: string; problems?: ProblemDetail[] };
  startedAt?: string;
  finishedAt?: string;
}

export interface FailureCause {
  kind: 'health-checks' | 'task-failures' | 'capacity' | 'unknown';
  message: string;
}

export interface RolloutFailure {
  /** `deadline`: still running when the deadline passed; `failed`: Marathon reported the deployment failed. */
  reason: 'deadline' | 'failed';
  /** The headline and every cause, in one line. */
  summary: string;
  causes: FailureCause[];
  /** What became of the rollout. */
  outcome: 'rolled-back' | 'stopped' | 'kept';
  /** The Marathon deployment that returns to the previous version. */
  rollbackDeploymentId?: string;
}

export interface DeploymentRecord {
  id: string;
  kind: DeploymentKind;
  state: DeploymentState;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** The request that asked for it. */
  requestId?: string;
  steps: StepRecord[];
  error?: string;
}

export interface DeploymentStoreOptions {
  redisUrl: string;
  logger: Logger;
  /** Key prefix shared by every deployer of one queue. */
  prefix: string;
  /**
   * Records kept in the recent-deployments list.
   * @defaultValue 1000
   */
  keepRecent?: number;
}

const IDEMPOTENCY_TTL_S = 24 * 3600;
const RECORD_TTL_S = 30 * 24 * 3600;

/** Shown instead of an environment value in a record's changes. */
export const HIDDEN_VALUE = '(hidden)';

/** The record as stored and shown: no app definitions, no environment values. */
/** Changes as readers see them: which environment variables changed, not their values. */
export function hideEnvValues(changes: AppChange[]): AppChange[] {
  return changes.map((c) =>
    c.path === '/env' || c.path.startsWith('/env/') ? { path: c.path, from: HIDDEN_VALUE, to: HIDDEN_VALUE } : c,
  );
}

export function publicRecord(record: DeploymentRecord): DeploymentRecord {
  return {
    ...record,
    steps: record.steps.map((step) => {
      const shown: StepRecord = { ...step };
      if (step.target.kind === 'deploy') {
        const { app, ...rest } = step.target;
        shown.target = {
          ...rest,
          kind: 'deploy',
          image: app?.container?.docker?.image ?? rest.image,
          instances: app?.instances ?? rest.instances,
        };
      }
      if (step.changes) shown.changes = hideEnvValues(step.changes);
      return shown;
    }),
  };
}

export class DeploymentStore {
  readonly redis: Redis;
  private readonly base: string;
  private readonly keepRecent: number;

  constructor(options: DeploymentStoreOptions) {
    this.redis = openRedis(options.redisUrl, options.logger, 'deployment store');
    this.base = `${options.prefix}:deployer`;
    this.keepRecent = options.keepRecent ?? 1000;
  }

  key(...parts: string[]): string {
    return [this.base, ...parts].join(':');
  }

  /** Saves the record; the first save of a deployment also keeps its app definitions until it ends. */
  async save(record: DeploymentRecord): Promise<void> {
    const multi = this.redis
      .multi()
      .set(this.key('deployment', record.id), JSON.stringify(publicRecord(record)), 'EX', RECORD_TTL_S)
      .zadd(this.key('deployments'), Date.parse(record.createdAt), record.id)
      .zremrangebyrank(this.key('deployments'), 0, -this.keepRecent - 1);
    const appsKey = this.key('deployment', record.id, 'apps');
    if (isFinished(record.state)) multi.del(appsKey);
    else if (record.state === 'queued') {
      const apps = record.steps.flatMap((s) =>
        s.target.kind === 'deploy' && s.target.app ? [[s.appId, JSON.stringify(s.target.app)] as const] : [],
      );
      if (apps.length) multi.hset(appsKey, Object.fromEntries(apps)).expire(appsKey, RECORD_TTL_S);
    }
    await multi.exec();
  }

  /** The record as shown to callers. */
  async get(id: string): Promise<DeploymentRecord | undefined> {
    const text = await this.redis.get(this.key('deployment', id));
    return text ? (JSON.parse(text) as DeploymentRecord) : undefined;
  }

  /** The record with each deploy step's app definition, for the worker (absent once the deployment ended). */
  async getForWork(id: string): Promise<DeploymentRecord | undefined> {
    const [record, apps] = await Promise.all([this.get(id), this.redis.hgetall(this.key('deployment', id, 'apps'))]);
    for (const step of record?.steps ?? []) {
      const app = apps[step.appId];
      if (step.target.kind === 'deploy' && app) step.target.app = JSON.parse(app) as MarathonApp;
    }
    return record;
  }

  /** The newest deployments first. */
  async recent(limit: number): Promise<DeploymentRecord[]> {
    const ids = await this.redis.zrevrange(this.key('deployments'), 0, Math.max(0, limit - 1));
    if (ids.length === 0) return [];
    const texts = await this.redis.mget(ids.map((id) => this.key('deployment', id)));
    return texts.filter((t): t is string => t !== null).map((t) => JSON.parse(t) as DeploymentRecord);
  }

  /**
   * Claims an Idempotency-Key for a new deployment. Returns the deployment that already holds it
   * (and whether the request body was the same), or undefined when the claim succeeded.
   */
  async claimIdempotencyKey(
    key: string,
    deploymentId: string,
    bodyHash: string,
  ): Promise<{ deploymentId: string; sameBody: boolean } | undefined> {
    const k = this.key('idempotency', key);
    const ok = await this.redis.set(k, `${deploymentId} ${bodyHash}`, 'EX', IDEMPOTENCY_TTL_S, 'NX');
    if (ok === 'OK') return undefined;
    const held = (await this.redis.get(k)) ?? '';
    const [id, hash] = held.split(' ');
    return { deploymentId: id ?? '', sameBody: hash === bodyHash };
  }

  async releaseIdempotencyKey(key: string): Promise<void> {
    await this.redis.del(this.key('idempotency', key));
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
