/**
 * `GET /v2/tasks` and `/v2/apps/{id}/tasks` as `text/plain`: one line per service port of each app,
 * `<app path with _>\t<servicePort>\t<host>:<hostPort>\t…\n` over its running tasks, as Marathon's
 * EndpointsHelper writes it; an app without service ports is one line `<id>\t \t<host>\t…\n`.
 */
import type { Request } from 'express';
import { networkMode, type AppDefinition } from '../app/definition.js';
import { servicePortsOf } from '../app/repository.js';
import type { TaskRecord } from '../tasks/task.js';

/**
 * True when the request prefers `text/plain` to JSON: the client's q values decide; on a tie JSON
 * wins, as Marathon ranks its text form low (`qs=0.1`). No Accept header means JSON.
 */
export function wantsText(req: Request): boolean {
  const ranges = (req.headers.accept ?? '').split(',').map((part) => {
    const [range = '', ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    return { range, q: q ? Number(q.slice(2)) : 1 };
  });
  return quality(ranges, 'text/plain') > quality(ranges, 'application/json');
}

/** The q of the most specific media range that matches `type` (0 when none does). */
function quality(ranges: Array<{ range: string; q: number }>, type: string): number {
  const [main] = type.split('/');
  const match =
    ranges.find((r) => r.range === type) ??
    ranges.find((r) => r.range === `${main}/*`) ??
    ranges.find((r) => r.range === '*/*');
  return match && Number.isFinite(match.q) ? match.q : 0;
}

export function tasksText(apps: AppDefinition[], tasksOf: (appId: string) => TaskRecord[]): string {
  let out = '';
  for (const app of apps) {
    const id = app.id.split('/').filter(Boolean).join('_');
    const running = tasksOf(app.id).filter((t) => t.state === 'TASK_RUNNING');
    const servicePorts = servicePortsOf(app);
    if (servicePorts.length === 0) {
      out += `${id}\t \t${running.map((t) => `${t.host}\t`).join('')}\n`;
      continue;
    }
    servicePorts.forEach((port, i) => {
      const hostPortIndex = hostPortIndexOf(app, i);
      const endpoints =
        hostPortIndex === undefined
          ? []
          : running.flatMap((t) =>
              t.ports[hostPortIndex] !== undefined ? [`${t.host}:${t.ports[hostPortIndex]}\t`] : [],
            );
      out += `${id}\t${port}\t${endpoints.join('')}\n`;
    });
  }
  return out;
}

/**
 * Which of a task's host ports belongs to service port `i`: on host networking the same index; with
 * port mappings, the count of mappings with a host port before it (none: no host endpoint).
 */
function hostPortIndexOf(app: AppDefinition, i: number): number | undefined {
  if (networkMode(app) === 'host') return i;
  const mappings = app.container?.portMappings ?? [];
  if (mappings[i]?.hostPort === undefined) return undefined;
  return mappings.slice(0, i).filter((m) => m.hostPort !== undefined).length;
}
