/**
 * plan: what applying a document would do to each app, given what runs now. Pure functions over
 * Marathon shapes, shared by `?dryRun=true` and the deploy worker (which plans each app again
 * right before changing it, so a resumed job never repeats what already happened).
 *
 *   create  the app does not exist
 *   update  its definition differs (spec hash) -> rolling replace per its upgradeStrategy
 *   scale   only the instance count differs
 *   noop    identical
 *   delete  listed under `remove:` and present
 *   absent  listed under `remove:` and already gone
 */
import {
  MARATHON_LABELS,
  serviceRefOfApp,
  toAppId,
  type DeployDocument,
  type MarathonApp,
  type MarathonAppInfo,
} from '@theseus/services';
import { toMarathonApp, stableJson, type TranslationContext } from './translate.js';

export type PlannedAction = 'create' | 'update' | 'scale' | 'noop' | 'delete' | 'absent';

export interface AppChange {
  /** JSON pointer into the app definition. */
  path: string;
  from: unknown;
  to: unknown;
}

export interface ServiceIdentity {
  service: string;
  namespace: string;
  labels: string[];
  appId: string;
}

export interface PlannedService extends ServiceIdentity {
  action: PlannedAction;
  /** The app definition that would be sent (deploy entries). */
  app?: MarathonApp;
  /** Field changes against the running app (update and scale; for a create, `app` is the change). */
  changes: AppChange[];
}

/** A deploy entry's target state, or removal. */
export type DesiredState = { kind: 'deploy'; app: MarathonApp } | { kind: 'remove' };

/** The action for one app. */
export function planAction(desired: DesiredState, current: MarathonAppInfo | undefined): PlannedAction {
  if (desired.kind === 'remove') return current ? 'delete' : 'absent';
  if (!current) return 'create';
  const wantedHash = desired.app.labels?.[MARATHON_LABELS.specHash];
  if (current.labels?.[MARATHON_LABELS.specHash] !== wantedHash) return 'update';
  return (current.instances ?? 1) === (desired.app.instances ?? 1) ? 'noop' : 'scale';
}

/** Field-level differences between what runs and what would be sent; absent = empty in Marathon's answers. */
export function diffApps(current: MarathonApp | undefined, desired: MarathonApp | undefined): AppChange[] {
  const changes: AppChange[] = [];
  walk(current ?? {}, desired ?? {}, '', changes);
  return changes;
}

function walk(from: unknown, to: unknown, path: string, changes: AppChange[]): void {
  if (isObject(to) && (isObject(from) || from === undefined)) {
    const source = (from ?? {}) as Record<string, unknown>;
    const keys = new Set([...Object.keys(to), ...Object.keys(source)]);
    for (const key of [...keys].sort()) {
      if (!(key in to)) {
        if (path === '' && !DEFINITION_FIELDS.has(key)) continue; // Marathon's own fields (version, tasks...)
        if (isEmpty(source[key])) continue;
      }
      walk(
        source[key],
        (to as Record<string, unknown>)[key],
        `${path}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`,
        changes,
      );
    }
    return;
  }
  if (isEmpty(from) && isEmpty(to)) return;
  if (stableJson(withoutAssignedPorts(from, to)) !== stableJson(to))
    changes.push({ path, from: from ?? null, to: to ?? null });
}

/** Marathon assigns a service port to each port (definition or mapping) not given one: not a change. */
function withoutAssignedPorts(from: unknown, to: unknown): unknown {
  if (!Array.isArray(from) || !Array.isArray(to)) return from;
  return from.map((port: unknown, i) => {
    if (!isObject(port) || !isObject(to[i]) || 'servicePort' in to[i]) return port;
    const { servicePort: _assigned, ...rest } = port;
    return rest;
  });
}

/** Fields of an app definition Theseus writes; the rest of an AppInfo is Marathon's bookkeeping. */
const DEFINITION_FIELDS = new Set([
  'id',
  'cmd',
  'args',
  'instances',
  'cpus',
  'mem',
  'disk',
  'env',
  'labels',
  'constraints',
  'container',
  'networks',
  'healthChecks',
  'upgradeStrategy',
  'fetch',
  'portDefinitions',
]);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isEmpty(value: unknown): boolean {
  return (
    value === undefined ||
    value === null ||
    (Array.isArray(value) && value.length === 0) ||
    (isObject(value) && Object.keys(value).length === 0)
  );
}

/** Plans a whole document against the managed apps Marathon has now. */
export function planDocument(
  doc: DeployDocument,
  context: TranslationContext,
  current: ReadonlyMap<string, MarathonAppInfo>,
): PlannedService[] {
  const planned: PlannedService[] = [];
  for (const spec of doc.deploy) {
    const app = toMarathonApp(spec, context);
    const running = current.get(app.id);
    const action = planAction({ kind: 'deploy', app }, running);
    planned.push({
      service: spec.service,
      namespace: spec.namespace,
      labels: spec.labels,
      appId: app.id,
      action,
      app,
      changes: action === 'update' || action === 'scale' ? diffApps(running, app) : [],
    });
  }
  for (const spec of doc.remove) {
    const appId = toAppId(spec, context.appGroup);
    const action = planAction({ kind: 'remove' }, current.get(appId));
    planned.push({ service: spec.service, namespace: spec.namespace, labels: spec.labels, appId, action, changes: [] });
  }
  return planned;
}

/** Managed apps by id; apps without THESEUS_MANAGED=true are left out (never touched). */
export function managedApps(apps: readonly MarathonAppInfo[]): Map<string, MarathonAppInfo> {
  return new Map(apps.filter((a) => serviceRefOfApp(a) !== undefined).map((a) => [a.id, a]));
}
