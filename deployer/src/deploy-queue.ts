/**
 * The deploy queue: one BullMQ job per deployment (job id = deployment id), processed by any
 * deployer sharing the Redis and key prefix. The job carries only the id; the DeploymentStore holds
 * the targets and each step's progress, so a job taken over after a crash
 * (BullMQ's stalled-job check) resumes where it stopped, and finished steps are never repeated.
 */
import { Queue, QueueEvents, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { DEFAULT_SETTINGS, RETRY_POLICIES, describeError, type Logger, type MarathonClient } from '@theseus/services';
import { applyStep } from './apply.js';
import { AppLocks } from './app-locks.js';
import { openRedis } from './redis-connection.js';
import type { DeploymentFollower } from './follow.js';
import { isFinished, type DeploymentRecord, type DeploymentStore, type StepRecord } from './store.js';

export interface DeployQueueOptions {
  redisUrl: string;
  /** BullMQ key prefix; deployers sharing the queue use the same one. */
  prefix: string;
  store: DeploymentStore;
  marathon: MarathonClient;
  follower: DeploymentFollower;
  logger: Logger;
  /** Services of one deployment applied at the same time. @defaultValue settings' deployer.concurrency */
  stepConcurrency?: number;
  /**
   * Deployments one worker runs at the same time.
   * @defaultValue 4
   */
  jobConcurrency?: number;
  /**
   * How long a worker's claim on a job lasts without renewal; a killed worker's jobs are taken
   * over after about this long.
   * @defaultValue 30000
   */
  lockDurationMs?: number;
  /** @defaultValue lockDurationMs */
  stalledIntervalMs?: number;
  /** @defaultValue settings' deployer.deploymentTimeoutMs */
  deploymentTimeoutMs?: number;
  /** First retry delay of each step (tests shorten it). @defaultValue RETRY_POLICIES.marathonStep */
  backoffMs?: number;
  /** Called when a deployment ends (metrics). */
  onFinished?: (record: DeploymentRecord) => void;
}

const QUEUE_NAME = 'deploy';

export class DeployQueue {
  private readonly options: DeployQueueOptions;
  private readonly connection: Redis;
  private readonly queue: Queue;
  private readonly locks: AppLocks;
  private worker: Worker | undefined;
  private events: QueueEvents | undefined;
  /** Connections handed to BullMQ, which leaves given connections open on close. */
  private readonly ownConnections: Redis[] = [];

  constructor(options: DeployQueueOptions) {
    this.options = options;
    this.connection = openRedis(options.redisUrl, options.logger, 'deploy queue');
    this.queue = new Queue(QUEUE_NAME, { connection: this.connection, prefix: options.prefix });
    this.queue.on('error', this.connectionReported('deploy queue'));
    this.locks = new AppLocks({
      redis: options.store.redis,
      keyPrefix: options.store.key(),
      logger: options.logger,
    });
  }

  /** Saves the record, then queues its job. */
  async enqueue(record: DeploymentRecord): Promise<void> {
    await this.options.store.save(record);
    try {
      await this.queue.add(
        QUEUE_NAME,
        { deploymentId: record.id },
        {
          jobId: record.id,
          attempts: RETRY_POLICIES.deployJob.attempts,
          backoff: { type: 'exponential', delay: RETRY_POLICIES.deployJob.initialMs },
          removeOnComplete: 1000,
          removeOnFail: 1000,
        },
      );
    } catch (err) {
      record.state = 'failed';
      record.error = `could not queue the deployment: ${describeError(err)}`;
      await this.options.store.save(record).catch((saveErr: unknown) =>
        this.options.logger.error('could not record that the deployment was not queued', {
          deploymentId: record.id,
          error: describeError(saveErr),
        }),
      );
      throw err;
    }
  }

  /** Starts processing jobs in this process. */
  startWorker(): void {
    if (this.worker) return;
    const lockDuration = this.options.lockDurationMs ?? 30_000;
    this.worker = new Worker(QUEUE_NAME, (job: Job<{ deploymentId: string }>) => this.process(job.data.deploymentId), {
      connection: this.own(this.connection.duplicate()),
      prefix: this.options.prefix,
      concurrency: this.options.jobConcurrency ?? 4,
      lockDuration,
      stalledInterval: this.options.stalledIntervalMs ?? lockDuration,
      maxStalledCount: 10,
    });
    this.worker.on('error', (err) => this.options.logger.warn('deploy worker error', { error: describeError(err) }));
    this.worker.on('failed', (job, err) =>
      this.options.logger.error('deploy job failed', { deploymentId: job?.id, error: describeError(err) }),
    );
  }

  /** Runs one deployment's remaining steps. Exported for the worker; safe to call again after a crash. */
  async process(deploymentId: string): Promise<DeploymentRecord | undefined> {
    const { store, logger } = this.options;
    const record = await store.getForWork(deploymentId);
    if (!record || isFinished(record.state)) return record;
    const log = logger.child({ deploymentId, ...(record.requestId ? { requestId: record.requestId } : {}) });
    const resumed = record.state === 'running';
    record.state = 'running';
    record.startedAt ??= new Date().toISOString();
    let saving: Promise<void> = Promise.resolve();
    // one chain: saves reach Redis in the order they were made, whether awaited or not
    const save = () =>
      (saving = saving
        .then(() => store.save(record))
        .catch((err: unknown) => {
          log.warn('could not save the deployment record', { error: describeError(err) });
        }));
    void save();
    log.info(resumed ? 'deployment resumed' : 'deployment started', { kind: record.kind, steps: record.steps.length });

    await forEachLimited(record.steps, this.options.stepConcurrency ?? DEFAULT_SETTINGS.deployer.concurrency, (step) =>
      this.locks
        .withLock(
          step.appId,
          record.id,
          () =>
            applyStep(step, {
              marathon: this.options.marathon,
              follower: this.options.follower,
              save,
              ...(this.options.deploymentTimeoutMs !== undefined
                ? { deploymentTimeoutMs: this.options.deploymentTimeoutMs }
                : {}),
              ...(this.options.backoffMs !== undefined
                ? { backoff: { ...RETRY_POLICIES.marathonStep, initialMs: this.options.backoffMs } }
                : {}),
            }),
          (holder) => {
            step.message = `waiting for deployment ${holder}, which is changing ${step.appId}`;
            void save();
          },
        )
        .then((done: StepRecord) => {
          log.info('service settled', {
            appId: done.appId,
            action: done.action,
            state: done.state,
            error: done.error?.message,
          });
        }),
    );

    const failed = record.steps.filter((s) => s.state === 'failed').length;
    const rolledBack = record.steps.filter((s) => s.state === 'rolled-back').length;
    record.state = failed ? 'failed' : rolledBack ? 'rolled-back' : 'succeeded';
    const problems = [failed ? `${failed} failed` : '', rolledBack ? `${rolledBack} rolled back` : ''].filter(Boolean);
    if (problems.length) record.error = `of ${record.steps.length} service(s), ${problems.join(' and ')}`;
    record.finishedAt = new Date().toISOString();
    await saving;
    await store.save(record); // unguarded: if the outcome cannot be recorded, the job fails and is retried
    log.info('deployment finished', { state: record.state });
    this.options.onFinished?.(record);
    return record;
  }

  /** The record once the deployment has ended, or as it is after `timeoutMs`. */
  async waitFor(id: string, timeoutMs: number): Promise<DeploymentRecord | undefined> {
    const { store } = this.options;
    const deadline = Date.now() + timeoutMs;
    const events = this.queueEvents();
    for (;;) {
      // listen before reading, so an end between the read and the listening is not missed
      let finish!: () => void;
      const ended = new Promise<void>((resolve) => (finish = resolve));
      const done = (args: { jobId: string }) => {
        if (args.jobId === id) finish();
      };
      events.on('completed', done);
      events.on('failed', done);
      let timer: NodeJS.Timeout | undefined;
      try {
        const record = await store.get(id);
        if (!record || isFinished(record.state)) return record;
        const left = deadline - Date.now();
        if (left <= 0) return record;
        timer = setTimeout(finish, Math.min(left, 1000));
        await ended;
      } finally {
        clearTimeout(timer);
        events.off('completed', done);
        events.off('failed', done);
      }
    }
  }

  /** Jobs waiting, running and delayed. */
  counts(): Promise<Record<string, number>> {
    return this.queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
  }

  async ping(): Promise<void> {
    await this.connection.ping();
  }

  /**
   * Stops taking jobs. A deployment still following Marathon after `graceMs` is left to its job
   * lock: another deployer (or this one, restarted) resumes it once the lock lapses.
   */
  async close(graceMs = 5000): Promise<void> {
    if (this.worker) {
      const worker = this.worker;
      let timer: NodeJS.Timeout | undefined;
      const graceful = worker.close().then(() => true);
      const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs)));
      if (!(await Promise.race([graceful, late]))) await worker.close(true);
      clearTimeout(timer);
    }
    await this.events?.close();
    await this.queue.close();
    this.connection.disconnect();
    for (const c of this.ownConnections) c.disconnect();
  }

  private own(connection: Redis): Redis {
    this.ownConnections.push(connection);
    return connection;
  }

  /** BullMQ re-emits its connection's errors, which that connection's own listener reports once per outage. */
  private connectionReported(role: string): (err: Error) => void {
    return (err) => this.options.logger.debug('BullMQ error', { role, error: describeError(err) });
  }

  private queueEvents(): QueueEvents {
    if (!this.events) {
      const connection = this.own(openRedis(this.options.redisUrl, this.options.logger, 'deploy queue events'));
      this.events = new QueueEvents(QUEUE_NAME, { connection, prefix: this.options.prefix });
      this.events.on('error', this.connectionReported('deploy queue events'));
      this.events.setMaxListeners(0);
    }
    return this.events;
  }
}

async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(runners);
}
