/**
 * Reconcile: Marathon is the truth, etcd is made to match it.
 *
 * One paged read of every endpoint under the prefix against one snapshot of Marathon, read after it
 * (`GET /v2/apps?embed=apps.tasks`, Theseus apps only, streamed app by app): serving tasks missing from etcd are added, records that
 * differ are fixed, owned records of tasks that are not serving are removed. A record whose task is
 * absent from the snapshot is doubtful (the snapshot may predate it): it is removed only when a
 * second, later read of Marathon's tasks confirms the task is gone. Records of another cluster, and
 * anything outside the prefix, are never touched. Every change goes through the EndpointStore, so a
 * record updated by an event after the snapshot was taken is newer and stays.
 */
import {
  describeError,
  readMarathonList,
  type EtcdLayout,
  type Logger,
  type MarathonAppInfo,
  type MarathonClient,
  type MarathonTask,
} from '@theseus/services';
import { MARATHON_LABELS } from '@theseus/services';
import type { AppCatalog } from './app-catalog.js';
import { appModelOf, factsOfTask, isServing, type AppModel } from './endpoint-of-task.js';
import type { EncodedEndpoint, EndpointEncoder } from './endpoint-encoder.js';
import { taskIdOfKey, type EndpointStore, type SubmitOutcome } from './endpoint-store.js';
import type { SubscriberMetrics } from './metrics.js';

export interface SyncContext {
  marathon: MarathonClient;
  store: EndpointStore;
  catalog: AppCatalog;
  layout: EtcdLayout;
  /** Keys and records of this layout and cluster. */
  encoder: EndpointEncoder;
  cluster: string;
  requireHealthy: boolean;
  logger: Logger;
  metrics: SubscriberMetrics;
}

/** Reading Marathon's snapshot pauses while this many changes wait for etcd. */
const MAX_QUEUED_CHANGES = 2_000;

export interface ReconcileResult {
  added: number;
  fixed: number;
  removed: number;
  unchanged: number;
  /** Changes not made because etcd or a later event already knew better, or Marathon still lists the task. */
  deferred: number;
  /** Records of another cluster, or unreadable, left alone. */
  foreign: number;
  /** Theseus apps and tasks in Marathon's snapshot. */
  apps: number;
  tasks: number;
  durationMs: number;
}

export interface DesiredEndpoint {
  taskId: string;
  value: EncodedEndpoint;
}

/** Records that should exist for one app's tasks, by key. */
export function desiredOfApp(
  ctx: SyncContext,
  model: AppModel,
  tasks: readonly MarathonTask[],
  at: string,
): Map<string, DesiredEndpoint> {
  const desired = new Map<string, DesiredEndpoint>();
  if (!model.ref) return desired;
  for (const task of tasks) {
    const facts = factsOfTask(model, task);
    if (!isServing(model, task.state, facts.healthy, ctx.requireHealthy)) continue;
    desired.set(ctx.encoder.key(model, task.id), { taskId: task.id, value: ctx.encoder.encode(model, facts, at) });
  }
  return desired;
}

export async function reconcile(ctx: SyncContext): Promise<ReconcileResult> {
  const started = Date.now();
  const at = new Date(started).toISOString();
  await ctx.store.load();

  const result: ReconcileResult = {
    added: 0,
    fixed: 0,
    removed: 0,
    unchanged: 0,
    deferred: 0,
    foreign: 0,
    apps: 0,
    tasks: 0,
    durationMs: 0,
  };
  const count = (outcome: SubmitOutcome, action: 'added' | 'fixed' | 'removed') => {
    if (outcome === 'queued') result[action]++;
    else if (outcome === 'stale') result.deferred++;
    else result.unchanged++;
  };

  // Marathon's snapshot is read app by app as it streams in, each record compared as it is made and
  // only changes kept: memory stays flat however many tasks there are.
  const models: AppModel[] = [];
  const desired = new Set<string>();
  /** Tasks Marathon lists that are not serving (their records go without a second look). */
  const listed = new Set<string>();
  const path = `/v2/apps?embed=apps.tasks&label=${encodeURIComponent(`${MARATHON_LABELS.managed}==true`)}`;
  await readMarathonList<MarathonAppInfo>(
    ctx.marathon.http,
    path,
    'apps',
    (app) => {
      const model = appModelOf(app);
      if (!model.ref) return;
      models.push(model);
      result.apps++;
      const tasks = app.tasks ?? [];
      result.tasks += tasks.length;
      const serving = desiredOfApp(ctx, model, tasks, at);
      for (const task of tasks) if (!serving.has(ctx.encoder.key(model, task.id))) listed.add(task.id);
      for (const [key, { taskId, value }] of serving) {
        desired.add(key);
        const known = ctx.store.knownAt(key);
        if (known && !known.owned && known.state !== 0) {
          result.foreign++;
          continue;
        }
        count(ctx.store.submit({ key, appId: model.id, taskId, at: started, value }), known ? 'fixed' : 'added');
      }
    },
    { backpressure: () => ctx.store.belowLimit(MAX_QUEUED_CHANGES) },
  );
  ctx.catalog.replaceAll(models);

  const doubtful: Array<{ key: string; appId: string }> = [];
  for (const [key, known] of ctx.store.entries()) {
    if (desired.has(key)) continue;
    if (!known.owned) {
      result.foreign++;
      continue;
    }
    if (listed.has(taskIdOfKey(key)))
      count(ctx.store.submit({ key, appId: known.appId, taskId: taskIdOfKey(key), at: started }), 'removed');
    else doubtful.push({ key, appId: known.appId });
  }
  if (doubtful.length > 0) {
    const live = new Set<string>();
    await readMarathonList<MarathonTask>(ctx.marathon.http, '/v2/tasks', 'tasks', (task) => live.add(task.id));
    for (const { key, appId } of doubtful) {
      const taskId = taskIdOfKey(key);
      if (live.has(taskId)) {
        result.deferred++;
        continue;
      }
      count(ctx.store.submit({ key, appId, taskId, at: started }), 'removed');
    }
  }
  await ctx.store.flushed();
  result.durationMs = Date.now() - started;
  for (const action of ['added', 'fixed', 'removed', 'deferred'] as const)
    ctx.metrics.reconcileChanges.inc({ action }, result[action]);
  ctx.metrics.reconcileDuration.observe(result.durationMs / 1000);
  return result;
}

/**
 * The same for one app, from a fresh `GET /v2/apps/{id}` (after a health or definition change): its
 * serving tasks are written, its other known records removed. A 404 removes all of its records.
 */
export async function refreshApp(ctx: SyncContext, appId: string): Promise<void> {
  const started = Date.now();
  let fetched;
  try {
    fetched = await ctx.catalog.fetch(appId);
  } catch (err) {
    ctx.logger.warn('cannot read app from Marathon; the next reconcile covers it', {
      appId,
      error: describeError(err),
    });
    return;
  }
  const desired = fetched
    ? desiredOfApp(ctx, fetched.model, fetched.app.tasks ?? [], new Date(started).toISOString())
    : new Map<string, DesiredEndpoint>();
  for (const [key, { taskId, value }] of desired) ctx.store.submit({ key, appId, taskId, at: started, value });
  for (const key of ctx.store.keysOfApp(appId)) {
    const known = ctx.store.knownAt(key);
    if (desired.has(key) || !known?.owned) continue;
    ctx.store.submit({ key, appId, taskId: taskIdOfKey(key), at: started, final: !fetched });
  }
}
