/**
 * How a Theseus service maps to Marathon ids, and back.
 *
 *   (namespace "default", service "web", labels [])            -> /theseus/default/web
 *   (namespace "default", service "web", labels [prod, blue])  -> /theseus/default/web--blue--prod
 *
 * Every name is a DNS-style label: lower-case letters, digits and single dashes, 1-63 characters,
 * starting and ending with a letter or digit. `--` is reserved as the label separator, so a name never
 * contains it. The same service with two label sets is two apps side by side. Marathon task ids embed
 * the app id with `/` replaced by `_` followed by `.`, so a task id leads back to its app and service.
 * The authoritative service, namespace and labels of an app are its Marathon labels (see
 * `MARATHON_LABELS`); the id is only a readable, unique key derived from them.
 */
import { InvalidNameError } from './errors.js';

export const DEFAULT_NAMESPACE = 'default';
export const DEFAULT_APP_GROUP = 'theseus';
const LABEL_SEPARATOR = '--';
const NAME_PATTERN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const MAX_NAME_LENGTH = 63;
/** Marathon refuses an app id whose last segment is one of these (PathId.reservedKeywords, 1.8+). */
const MARATHON_RESERVED = new Set(['restart', 'tasks', 'versions']);

export type NameKind = 'namespace' | 'service' | 'label' | 'app group';

/** Returns the reason `value` is not a valid name, or undefined when it is valid. */
export function nameProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a string';
  if (value.length === 0) return 'must not be empty';
  if (value.length > MAX_NAME_LENGTH) return `must be at most ${MAX_NAME_LENGTH} characters`;
  if (value !== value.toLowerCase() && NAME_PATTERN.test(value.toLowerCase())) return 'must be lower-case';
  if (!NAME_PATTERN.test(value)) {
    return 'may contain only lower-case letters, digits and "-", and must start and end with a letter or digit';
  }
  if (value.includes(LABEL_SEPARATOR)) return 'must not contain "--" (it separates labels in app ids)';
  return undefined;
}

export function assertName(kind: NameKind, value: unknown): string {
  const problem = nameProblem(value);
  if (problem) throw new InvalidNameError(kind, String(value), problem);
  if (kind === 'service' && MARATHON_RESERVED.has(value as string)) {
    throw new InvalidNameError(kind, value as string, 'is reserved by Marathon');
  }
  return value as string;
}

/** Sorted, de-duplicated, validated labels: the canonical form of a label set. */
export function canonicalLabels(labels: readonly string[]): string[] {
  for (const label of labels) assertName('label', label);
  return [...new Set(labels)].sort();
}

/** True when every label in `wanted` is in `have` (an empty `wanted` matches everything). */
export function labelsMatch(have: readonly string[], wanted: readonly string[]): boolean {
  return wanted.every((label) => have.includes(label));
}

export interface ServiceRef {
  namespace: string;
  service: string;
  labels: readonly string[];
}

/** The Marathon app id of a (namespace, service, label set). */
export function toAppId(ref: ServiceRef, appGroup: string = DEFAULT_APP_GROUP): string {
  assertName('app group', appGroup);
  const namespace = assertName('namespace', ref.namespace);
  const service = assertName('service', ref.service);
  const labels = canonicalLabels(ref.labels);
  const last = [service, ...labels].join(LABEL_SEPARATOR);
  return `/${appGroup}/${namespace}/${last}`;
}

/** The (namespace, service, labels) encoded in a Theseus app id; throws for ids Theseus did not make. */
export function parseAppId(appId: string, appGroup: string = DEFAULT_APP_GROUP): ServiceRef {
  const segments = appId.replace(/^\//, '').split('/');
  if (segments.length !== 3 || segments[0] !== appGroup) {
    throw new InvalidNameError('app id', appId, `expected /${appGroup}/<namespace>/<service>[--<label>...]`);
  }
  const [, namespace, last] = segments as [string, string, string];
  const [service, ...labels] = last.split(LABEL_SEPARATOR);
  let canonical: string[];
  try {
    assertName('namespace', namespace);
    assertName('service', service);
    canonical = canonicalLabels(labels);
  } catch (err) {
    throw new InvalidNameError('app id', appId, (err as Error).message);
  }
  if (canonical.join() !== labels.join()) {
    throw new InvalidNameError('app id', appId, 'labels must be sorted and unique');
  }
  return { namespace, service: service as string, labels: canonical };
}

/** True when `appId` is a Theseus app id under `appGroup`. */
export function isTheseusAppId(appId: string, appGroup: string = DEFAULT_APP_GROUP): boolean {
  try {
    parseAppId(appId, appGroup);
    return true;
  } catch {
    return false;
  }
}

/**
 * The app id a Marathon task id belongs to. Task ids are `<app path with / as _>.<suffix>`
 * (`.<uuid>` up to 1.3, `.instance-<uuid>._app.<n>` from 1.8). Works for any app whose id segments
 * contain no `_` or `.`, which every Theseus app id satisfies.
 */
export function appIdOfTask(taskId: string): string {
  const dot = taskId.indexOf('.');
  if (dot <= 0) throw new InvalidNameError('task id', taskId, 'expected <app path>.<instance suffix>');
  return '/' + taskId.slice(0, dot).split('_').join('/');
}

/** Marathon labels carried by every app Theseus manages: the structured identity of the app. */
export const MARATHON_LABELS = {
  managed: 'THESEUS_MANAGED',
  namespace: 'THESEUS_NAMESPACE',
  service: 'THESEUS_SERVICE',
  /** Comma-separated canonical label set; empty string for none. */
  labels: 'THESEUS_LABELS',
  /** Hash of the canonical service spec that produced the app: equal hash means no change. */
  specHash: 'THESEUS_SPEC_HASH',
} as const;

/** The identity labels for an app. */
export function identityLabels(ref: ServiceRef): Record<string, string> {
  return {
    [MARATHON_LABELS.managed]: 'true',
    [MARATHON_LABELS.namespace]: ref.namespace,
    [MARATHON_LABELS.service]: ref.service,
    [MARATHON_LABELS.labels]: canonicalLabels(ref.labels).join(','),
  };
}

/** The service identity of a Marathon app from its labels, or undefined when Theseus does not manage it. */
export function serviceRefOfApp(app: { labels?: Record<string, string> | undefined }): ServiceRef | undefined {
  const labels = app.labels ?? {};
  if (labels[MARATHON_LABELS.managed] !== 'true') return undefined;
  const namespace = labels[MARATHON_LABELS.namespace];
  const service = labels[MARATHON_LABELS.service];
  if (nameProblem(namespace) || nameProblem(service)) return undefined;
  const list = (labels[MARATHON_LABELS.labels] ?? '').split(',').filter((l) => l.length > 0);
  if (list.some((l) => nameProblem(l))) return undefined;
  return { namespace: namespace as string, service: service as string, labels: [...new Set(list)].sort() };
}

/** Environment-variable form of a name: upper-case, non-alphanumerics as `_` (maestro's transliteration). */
export function envName(name: string): string {
  return name.replace(/[^A-Za-z0-9]/g, '_').toUpperCase();
}
