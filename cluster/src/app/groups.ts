/** Marathon's group tree, derived from app ids: `/a/b/c` lives in `/a/b`, which lives in `/a`, in `/`. */
import { appJson, type AppDefinition } from './definition.js';
import { invalid } from './problems.js';

export interface GroupJson {
  id: string;
  apps: object[];
  groups: GroupJson[];
  pods: unknown[];
  dependencies: string[];
  version: string;
  enforceRole: boolean;
}

function parentOf(id: string): string {
  const i = id.lastIndexOf('/');
  return i <= 0 ? '/' : id.slice(0, i);
}

/** The group `groupId` with everything under it, or undefined when no app lives under it. */
export function groupTree(
  apps: AppDefinition[],
  groupId: string,
  emptyVersion: string,
  appInfo: (app: AppDefinition) => object = appJson,
): GroupJson | undefined {
  const groups = new Map<string, GroupJson>();
  const groupOf = (id: string): GroupJson => {
    let g = groups.get(id);
    if (!g) {
      g = { id, apps: [], groups: [], pods: [], dependencies: [], version: emptyVersion, enforceRole: false };
      groups.set(id, g);
      if (id !== '/') groupOf(parentOf(id)).groups.push(g);
    }
    return g;
  };
  groupOf('/');
  for (const app of apps) {
    let g = groupOf(parentOf(app.id));
    g.apps.push(appInfo(app));
    for (;;) {
      if (g.version === emptyVersion || app.version > g.version) g.version = app.version;
      if (g.id === '/') break;
      g = groupOf(parentOf(g.id));
    }
  }
  for (const g of groups.values()) {
    g.apps.sort((a, b) => (a as { id: string }).id.localeCompare((b as { id: string }).id));
    g.groups.sort((a, b) => a.id.localeCompare(b.id));
  }
  return groups.get(groupId);
}

/** A group or app id as Marathon resolves it against the group it is given in: absolute, or relative with `.`/`..`. */
export function resolveId(id: string, base: string): string {
  const segments = id.startsWith('/') ? [] : base.split('/').filter(Boolean);
  for (const part of id.split('/').filter(Boolean)) {
    if (part === '..') segments.pop();
    else if (part !== '.') segments.push(part);
  }
  return '/' + segments.join('/');
}

/** True when `id` lies in group `groupId` (at any depth). */
export function inGroup(id: string, groupId: string): boolean {
  return groupId === '/' ? id !== '/' : id.startsWith(groupId + '/');
}

type Raw = Record<string, unknown>;

/**
 * The apps a group update (`PUT/POST /v2/groups`) leaves under `groupId`: per app id, the full
 * definition given (its id made absolute), or null to keep the current one. As Marathon applies a
 * structural update: `apps` given = the group's own apps are exactly those; `groups` given = its
 * subgroups are exactly those (each updated the same way); a key left out keeps what is there.
 */
export function groupUpdateApps(
  update: unknown,
  groupId: string,
  current: AppDefinition[],
  path = '',
): Map<string, Raw | null> {
  const body = asObject(update, path || '/');
  const result = new Map<string, Raw | null>();
  const here = current.filter((a) => inGroup(a.id, groupId));
  if (body.apps === undefined || body.apps === null) {
    for (const app of here) if (parentOf(app.id) === groupId) result.set(app.id, null);
  } else {
    asArray(body.apps, `${path}/apps`).forEach((item, i) => {
      const app = asObject(item, `${path}/apps(${i})`);
      if (typeof app.id !== 'string' || app.id.trim() === '')
        throw invalid('object', `${path}/apps(${i})/id`, 'error.path.missing');
      const id = resolveId(app.id, groupId);
      result.set(id, { ...app, id });
    });
  }
  if (body.groups === undefined || body.groups === null) {
    for (const app of here) if (parentOf(app.id) !== groupId) result.set(app.id, null);
  } else {
    asArray(body.groups, `${path}/groups`).forEach((item, i) => {
      const group = asObject(item, `${path}/groups(${i})`);
      if (typeof group.id !== 'string' || group.id.trim() === '')
        throw invalid('object', `${path}/groups(${i})/id`, 'error.path.missing');
      for (const [id, app] of groupUpdateApps(group, resolveId(group.id, groupId), current, `${path}/groups(${i})`))
        result.set(id, app);
    });
  }
  return result;
}

function asObject(value: unknown, path: string): Raw {
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw invalid('json', path, 'error.expected.jsobject');
  return value as Raw;
}

function asArray(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) throw invalid('json', path, 'error.expected.jsarray');
  return value;
}
