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
};

/** What `embed` asks for, on top of what the route always embeds; unknown values are ignored, as Marathon does. */
export function appEmbed(req: Request, always: AppEmbed): AppEmbed {
  const embed: AppEmbed = { ...always };
  for (const value of list(req, 'embed')) {
    const prefix = PREFIXES.find((p) => value.startsWith(p)) ?? '';
    const name = value.slice(prefix.length);
    if (Object.hasOwn(EMBEDS, name)) Object.assign(embed, EMBEDS[name]);
  }
  return embed;
}
