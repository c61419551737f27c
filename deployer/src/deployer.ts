/**
 * The deployer's domain core, free of HTTP: plan (dry run), submit a document, the per-service
 * operations (scale, restart, rollback, remove), and the read side (services, deployments). Every
 * change to Marathon goes through the deploy queue, so the per-app lock and the retry rules hold for
 * all of them.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  DEFAULT_SETTINGS,
  MARATHON_LABELS,
  NotFoundError,
  TheseusError,
  ValidationError,
  describeError,
  toAppId,
  type DeployDocument,
  type Logger,
  type MarathonApp,
  type MarathonAppInfo,
  type MarathonClient,
  type MarathonEvent,
  type MarathonTask,
} from '@theseus/services';
import { diffApps, managedApps, planDocument, type AppChange, type PlannedService } from './plan.js';
import { networkApiOf, toMarathonApp, type TranslationContext } from './translate.js';
import {
  detail,
  matchesFilter,
  summarize,
  type DetailOptions,
  type ServiceFilter,
  type ServiceGroupDetail,
  type ServiceGroupSummary,
} from './service-view.js';
import type { DeployQueue } from './deploy-queue.js';
import {
  hideEnvValues,
  type DeploymentKind,
  type DeploymentRecord,
  type DeploymentStore,
  type StepRecord,
  type StepTarget,
} from './store.js';

export interface DeployerOptions {
  marathon: MarathonClient;
  logger: Logger;
  store: DeploymentStore;
  queue: DeployQueue;
  translation: TranslationContext;
  /**
   * The networking form to write; `auto` asks Marathon's `/v2/info` once (Marathon up to 1.4 reads
   * the pre-1.5 form). @defaultValue the translation context's, else 'canonical'
   */
  networkApi?: 'canonical' | 'legacy' | 'auto';
  /** @defaultValue settings' deployer.waitTimeoutMs */
  waitTimeoutMs?: number;
  /**
   * Marathon's event stream: while it is attached, dry runs plan against a view of the managed apps
   * that is read once and read again only after an event that changes apps. Without it (or while it
   * is detached) every dry run reads Marathon, concurrent ones sharing one read.
   */
  events?: AppEventFeed | undefined;
}

/** What the app view needs of an event stream (MarathonEventStream fits). */
export interface AppEventFeed {
  readonly attached: boolean;
  on(event: 'attached' | 'detached', listener: () => void): unknown;
  on(event: 'event', listener: (event: MarathonEvent) => void): unknown;
}

/** Events after which an app definition or instance count may differ. */
const APP_CHANGING_EVENTS = new Set([
  'api_post_event',
  'app_terminated_event',
  'deployment_info',
  'deployment_success',
  'deployment_failed',
  'deployment_step_success',
  'deployment_step_failure',
  'group_change_success',
  'group_change_failed',
]);

/** Several label groups match where one was meant. */
export class AmbiguousServiceError extends TheseusError {
  readonly groups: Array<{ labels: string[]; namespace: string }>;
  constructor(service: string, groups: Array<{ labels: string[]; namespace: string }>) {
    super(
      'AMBIGUOUS_SERVICE',
      `service "${service}" has ${groups.length} label groups; say which with labels (and namespace)`,
      {
        hint: groups.map((g) => `namespace=${g.namespace} labels=${g.labels.join(',') || '(none)'}`).join('; '),
      },
    );
    this.groups = groups;
  }
}

/** An Idempotency-Key sent again with a different body. */
export class IdempotencyKeyReusedError extends TheseusError {
  constructor(deploymentId: string) {
    super(
      'IDEMPOTENCY_KEY_REUSED',
      `this Idempotency-Key was used for deployment ${deploymentId} with a different body`,
      {
        hint: 'use a new key for a new request',
      },
    );
  }
}

/** One of Marathon's versions of a service's app, with what changed from the version before it. */
export interface ServiceVersion {
  version: string;
  /** The version the app runs now. */
  current: boolean;
  /** `created`: the oldest version known; `scale`: only the instance count; `restart`: nothing in the definition; `change`: the definition. */
  kind: 'created' | 'scale' | 'restart' | 'change';
  changes: AppChange[];
}

export interface SubmitOptions {
  idempotencyKey?: string | undefined;
  /** Hash of the request body, to tell a retry from a different request under the same key. */
  bodyHash?: string | undefined;
  requestId?: string | undefined;
}

export interface Submitted {
  record: DeploymentRecord;
  /** True when an Idempotency-Key matched an earlier request. */
  replayed: boolean;
}

export class Deployer {
  private readonly options: DeployerOptions;
  /** The managed apps as last read: shared by concurrent dry runs, kept while the event stream says nothing changed. */
  private managedView: Promise<Map<string, MarathonAppInfo>> | undefined;
  private detected: Promise<TranslationContext> | undefined;

  constructor(options: DeployerOptions) {
    this.options = options;
    const events = options.events;
    if (events) {
      const forget = () => (this.managedView = undefined);
      events.on('attached', forget);
      events.on('detached', forget);
      events.on('event', (event) => {
        if (APP_CHANGING_EVENTS.has(event.eventType)) forget();
      });
    }
  }

  /** The translation context, with the networking form Marathon reads (asked once when `auto`). */
  private translation(): Promise<TranslationContext> {
    if (this.options.networkApi !== 'auto') {
      const networkApi = this.options.networkApi ?? this.options.translation.networkApi ?? 'canonical';
      return Promise.resolve({ ...this.options.translation, networkApi });
    }
    this.detected ??= this.options.marathon.info().then(
      (info) => ({ ...this.options.translation, networkApi: networkApiOf(info.version) }),
      (err: unknown) => {
        this.detected = undefined; // ask again next time
        throw err;
      },
    );
    return this.detected;
  }

  get marathon(): MarathonClient {
    return this.options.marathon;
  }

  /**
   * What applying `doc` would do, with each app's Marathon JSON and its diff against what runs.
   * Dry runs arriving together share one read of Marathon's apps, kept while the event stream is
   * attached and reports no app change.
   */
  async dryRun(doc: DeployDocument): Promise<PlannedService[]> {
    const translation = await this.translation();
    return planDocument(doc, translation, await this.managedApps());
  }

  private managedApps(): Promise<Map<string, MarathonAppInfo>> {
    if (this.managedView) return this.managedView;
    const read = this.options.marathon.listApps({ label: `${MARATHON_LABELS.managed}==true` }).then(managedApps);
    this.managedView = read;
    const keep = this.options.events?.attached === true;
    const done = () => {
      if (this.managedView === read && !keep) this.managedView = undefined;
    };
    read.then(done, () => {
      if (this.managedView === read) this.managedView = undefined;
    });
    return read;
  }

  async submit(doc: DeployDocument, options: SubmitOptions = {}): Promise<Submitted> {
    const translation = doc.deploy.length ? await this.translation() : this.options.translation;
    const steps: StepRecord[] = [
      ...doc.deploy.map((spec) => {
        const app = toMarathonApp(spec, translation);
        return newStep(spec, app.id, {
          kind: 'deploy',
          app,
          onFailure: spec.onFailure,
          deadlineSeconds: spec.deadlineSeconds,
        });
      }),
      ...doc.remove.map((spec) => newStep(spec, toAppId(spec, translation.appGroup), { kind: 'remove' })),
    ];
    return this.enqueue('deploy', steps, options);
  }

  async scale(
    filter: ServiceFilter & { service: string },
    instances: number,
    options: SubmitOptions = {},
  ): Promise<Submitted> {
    if (!Number.isInteger(instances) || instances < 0)
      throw new ValidationError('instances must be a whole number >= 0', [
        { path: '/instances', message: 'expected a whole number >= 0' },
      ]);
    const app = await this.oneGroup(filter);
    return this.enqueue('scale', [newStep(identity(app), app.id, { kind: 'scale', instances })], options);
  }

  async restart(filter: ServiceFilter & { service: string }, options: SubmitOptions = {}): Promise<Submitted> {
    const app = await this.oneGroup(filter);
    return this.enqueue('restart', [newStep(identity(app), app.id, { kind: 'restart' })], options);
  }

  async rollback(
    filter: ServiceFilter & { service: string },
    version: string | undefined,
    options: SubmitOptions = {},
  ): Promise<Submitted> {
    const app = await this.oneGroup(filter);
    if (version !== undefined) {
      const versions = await this.options.marathon.appVersions(app.id);
      if (!versions.includes(version))
        throw new NotFoundError(`version ${version} of ${app.id}`, {
          hint: `known versions: ${versions.slice(0, 5).join(', ')}`,
        });
    }
    const target: StepTarget = version === undefined ? { kind: 'rollback' } : { kind: 'rollback', version };
    return this.enqueue('rollback', [newStep(identity(app), app.id, target)], options);
  }

  /** One service group's app and its tasks (Marathon's view: host and agent of each). */
  async tasks(filter: ServiceFilter & { service: string }): Promise<{ appId: string; tasks: MarathonTask[] }> {
    const app = await this.oneGroup(filter);
    return { appId: app.id, tasks: await this.options.marathon.appTasks(app.id) };
  }

  /** Marathon's versions of one service group's app, newest first, each with its changes from the one before. */
  async versions(
    filter: ServiceFilter & { service: string },
    limit = 20,
  ): Promise<{ appId: string; versions: ServiceVersion[] }> {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_VERSIONS)
      throw new ValidationError(`limit must be a whole number from 1 to ${MAX_VERSIONS}`, [
        { path: '/limit', message: `expected 1-${MAX_VERSIONS}` },
      ]);
    const app = await this.oneGroup(filter);
    const ids = (await this.options.marathon.appVersions(app.id))
      .sort()
      .reverse()
      .slice(0, limit + 1);
    const definitions = await Promise.all(
      ids.map((v) => this.options.marathon.appVersion(app.id, v).then(definitionOf)),
    );
    const versions = ids.slice(0, limit).map((version, i): ServiceVersion => {
      const older = definitions[i + 1];
      const changes = older
        ? hideEnvValues(diffApps(older, definitions[i]).filter((c) => c.path !== SPEC_HASH_PATH))
        : [];
      const kind = !older
        ? 'created'
        : changes.length === 0
          ? 'restart'
          : changes.every((c) => c.path === '/instances')
            ? 'scale'
            : 'change';
      return { version, current: version === app.version, kind, changes };
    });
    return { appId: app.id, versions };
  }

  async remove(filter: ServiceFilter & { service: string }, options: SubmitOptions = {}): Promise<Submitted> {
    const app = await this.oneGroup(filter);
    return this.enqueue('remove', [newStep(identity(app), app.id, { kind: 'remove' })], options);
  }

  async deployment(id: string): Promise<DeploymentRecord> {
    const record = await this.options.store.get(id);
    if (!record) throw new NotFoundError(`deployment ${id}`);
    return record;
  }

  deployments(limit: number): Promise<DeploymentRecord[]> {
    return this.options.store.recent(limit);
  }

  /** Waits (up to the configured bound) for a deployment to end. */
  async wait(id: string, timeoutMs?: number): Promise<DeploymentRecord> {
    const bound = Math.min(
      timeoutMs ?? Infinity,
      this.options.waitTimeoutMs ?? DEFAULT_SETTINGS.deployer.waitTimeoutMs,
    );
    return (await this.options.queue.waitFor(id, bound)) ?? this.deployment(id);
  }

  async services(filter: ServiceFilter): Promise<ServiceGroupSummary[]> {
    const apps = await this.options.marathon.listApps({ label: `${MARATHON_LABELS.managed}==true` });
    return apps
      .filter((a) => matchesFilter(a, filter))
      .map(summarize)
      .sort(byIdentity);
  }

  async service(filter: ServiceFilter & { service: string }, view: DetailOptions = {}): Promise<ServiceGroupDetail[]> {
    const apps = await this.options.marathon.listApps({
      label: `${MARATHON_LABELS.managed}==true`,
      embed: ['apps.tasks', 'apps.lastTaskFailure'],
    });
    const groups = apps
      .filter((a) => matchesFilter(a, filter))
      .map((a) => detail(a, view))
      .sort(byIdentity);
    if (groups.length === 0)
      throw new NotFoundError(
        `service "${filter.service}"${filter.namespace ? ` in namespace ${filter.namespace}` : ''}${filter.labels?.length ? ` with labels ${filter.labels.join(',')}` : ''}`,
      );
    return groups;
  }

  /** Redis and Marathon both answer. */
  async readiness(): Promise<{ redis: string; marathon: string }> {
    const check = async (fn: () => Promise<unknown>) => {
      try {
        await withTimeout(fn(), 2000);
        return 'ok';
      } catch (err) {
        return err instanceof Error ? err.message : String(err);
      }
    };
    const [redis, marathon] = await Promise.all([
      check(() => this.options.queue.ping()),
      check(() => this.options.marathon.ping()),
    ]);
    return { redis, marathon };
  }

  private async oneGroup(filter: ServiceFilter & { service: string }): Promise<MarathonAppInfo> {
    const apps = await this.options.marathon.listApps({ label: `${MARATHON_LABELS.managed}==true` });
    const matching = apps.filter((a) => matchesFilter(a, filter));
    if (matching.length === 0) throw new NotFoundError(`service "${filter.service}"`);
    // exact label set wins over a superset match
    const exact = matching.filter((a) => summarize(a).labels.join(',') === [...(filter.labels ?? [])].sort().join(','));
    if (exact.length === 1) return exact[0]!;
    if (matching.length > 1)
      throw new AmbiguousServiceError(
        filter.service,
        matching.map((a) => ({ labels: summarize(a).labels, namespace: summarize(a).namespace })),
      );
    return matching[0]!;
  }

  private async enqueue(kind: DeploymentKind, steps: StepRecord[], options: SubmitOptions): Promise<Submitted> {
    const id = randomUUID();
    if (options.idempotencyKey) {
      const bodyHash =
        options.bodyHash ??
        createHash('sha256')
          .update(JSON.stringify(steps.map((s) => s.target)))
          .digest('hex');
      const held = await this.options.store.claimIdempotencyKey(options.idempotencyKey, id, bodyHash);
      if (held) {
        if (!held.sameBody) throw new IdempotencyKeyReusedError(held.deploymentId);
        const record = await this.options.store.get(held.deploymentId);
        if (record) return { record, replayed: true };
      }
    }
    const record: DeploymentRecord = { id, kind, state: 'queued', createdAt: new Date().toISOString(), steps };
    if (options.requestId) record.requestId = options.requestId;
    try {
      await this.options.queue.enqueue(record);
    } catch (err) {
      if (options.idempotencyKey)
        await this.options.store.releaseIdempotencyKey(options.idempotencyKey).catch((releaseErr: unknown) =>
          this.options.logger.warn('could not release an idempotency key after a failed deploy', {
            error: describeError(releaseErr),
          }),
        );
      throw err;
    }
    return { record, replayed: false };
  }
}

const MAX_VERSIONS = 100;
const SPEC_HASH_PATH = `/labels/${MARATHON_LABELS.specHash}`;

/** An app version without Marathon's bookkeeping of it. */
function definitionOf(app: MarathonApp): MarathonApp {
  const {
    version: _version,
    versionInfo: _info,
    ...definition
  } = app as MarathonApp & { version?: string; versionInfo?: unknown };
  return definition;
}

function newStep(
  ref: { service: string; namespace: string; labels: readonly string[] },
  appId: string,
  target: StepTarget,
): StepRecord {
  return {
    service: ref.service,
    namespace: ref.namespace,
    labels: [...ref.labels],
    appId,
    target,
    state: 'pending',
    attempts: 0,
  };
}

function identity(app: MarathonAppInfo) {
  const s = summarize(app);
  return { service: s.service, namespace: s.namespace, labels: s.labels };
}

function byIdentity(a: ServiceGroupSummary, b: ServiceGroupSummary): number {
  return (
    a.namespace.localeCompare(b.namespace) ||
    a.service.localeCompare(b.service) ||
    a.labels.join(',').localeCompare(b.labels.join(','))
  );
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}
