/** Marathon's group tree, derived from app ids: `/a/b/c` lives in `/a/b`, which lives in `/a`, in `/`. */
import { appJson, type AppDefinition } from './definition.js';

export interface GroupJson {
  id: string;
  apps: AppDefinition[];
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
export function groupTree(apps: AppDefinition[], groupId: string, emptyVersion: string): GroupJson | undefined {
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
    g.apps.push(appJson(app));
    for (;;) {
      if (g.version === emptyVersion || app.version > g.version) g.version = app.version;
      if (g.id === '/') break;
      g = groupOf(parentOf(g.id));
    }
  }
  for (const g of groups.values()) {
    g.apps.sort((a, b) => a.id.localeCompare(b.id));
    g.groups.sort((a, b) => a.id.localeCompare(b.id));
  }
  return groups.get(groupId);
}
