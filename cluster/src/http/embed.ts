/** Marathon's `embed` query values for apps, with any of its prefixes (`group.apps.`, `apps.`, `app.`) or none. */
import type { Request } from 'express';
import type { AppEmbed } from '../engine.js';
import { list } from './request.js';

const PREFIXES = ['group.apps.', 'apps.', 'app.'];

const EMBEDS: Record<string, AppEmbed> = {
  tasks: { tasks: true, deployments: true },
  failures: { tasks: true, lastTaskFailure: true, deployments: true },
  deployments: { deployments: true },
  lastTaskFailure: { lastTaskFailure: true },
  counts: { counts: true },
  readiness: { readiness: true },
};

/** What `embed` asks for, on top of what the route always embeds; unknown values are ignored, as Marathon does. */
export function appEmbed(req: Request, always: AppEmbed, values = list(req, 'embed')): AppEmbed {
  const embed: AppEmbed = { ...always };
  for (const value of values) {
    const prefix = PREFIXES.find((p) => value.startsWith(p)) ?? '';
    const name = value.slice(prefix.length);
    if (Object.hasOwn(EMBEDS, name)) Object.assign(embed, EMBEDS[name]);
  }
  return embed;
}

/**
 * A group answer's `embed`: `group.apps`, `group.groups` (none given: both) and, for the apps,
 * the `group.apps.*` values; every other value is ignored.
 */
export function groupEmbed(req: Request): { apps: boolean; groups: boolean; app: AppEmbed } {
  const values = list(req, 'embed');
  const given = new Set(values);
  return {
    apps: values.length === 0 || given.has('group.apps'),
    groups: values.length === 0 || given.has('group.groups'),
    app: appEmbed(
      req,
      {},
      values.filter((v) => v.startsWith('group.apps.')),
    ),
  };
}
