/** Request body -> canonical app, or the AppValidationError Marathon would answer with. */
import { APP_SHAPE, checkShape } from './json-shape.js';
import type { AppDraft } from './definition.js';
import { normalizeApp } from './normalize.js';
import { AppValidationError, Problems } from './problems.js';
import { checkApp } from './rules.js';

export type { AppDraft };

export interface ParseOptions {
  /** The id from the URL (PUT/PATCH): used when the body has none. */
  pathId?: string;
  /** The current definition, for partial updates: the body's fields replace its fields. */
  base?: AppDraft;
  /** Marathon `--enable_features` (e.g. `secrets`, `external_volumes`). */
  features?: ReadonlySet<string>;
}

/** Fields that only appear in answers and are dropped from requests. */
const RESPONSE_ONLY = [
  'version',
  'versionInfo',
  'tasks',
  'tasksStaged',
  'tasksRunning',
  'tasksHealthy',
  'tasksUnhealthy',
  'deployments',
  'lastTaskFailure',
  'readinessCheckResults',
  'tasksStats',
  'taskStats',
];

export function parseApp(body: unknown, options: ParseOptions = {}): AppDraft {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new AppValidationError('json', [{ path: '/', errors: ['error.expected.jsobject'] }]);
  const typeProblems = new Problems();
  checkShape(body, APP_SHAPE, '', typeProblems);
  if (!typeProblems.empty) throw new AppValidationError('json', typeProblems.list());
  let raw: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  for (const key of RESPONSE_ONLY) delete raw[key];
  for (const [k, v] of Object.entries(raw)) if (v === null) delete raw[k];
  if (options.base) raw = mergeForUpdate(options.base, raw);
  if (raw.id === undefined) {
    if (options.pathId === undefined)
      throw new AppValidationError('json', [{ path: '/id', errors: ['error.path.missing'] }]);
    raw.id = options.pathId;
  }
  const problems = new Problems();
  const app = normalizeApp(raw, problems);
  checkApp(app, options.features ?? new Set(), problems);
  if (!problems.empty) throw new AppValidationError('object', problems.list());
  return app;
}

/** Partial update: body fields replace the stored ones; switching networking forms drops the old form. */
function mergeForUpdate(base: AppDraft, patch: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base, ...patch };
  const container = patch.container as { docker?: { network?: unknown; portMappings?: unknown } } | undefined;
  if (container?.docker?.network != null || container?.docker?.portMappings != null || patch.ipAddress != null) {
    if (patch.networks === undefined) delete merged.networks;
  }
  if (patch.ports !== undefined && patch.portDefinitions === undefined) delete merged.portDefinitions;
  if (patch.uris !== undefined && patch.fetch === undefined) delete merged.fetch;
  if (patch.args !== undefined && patch.cmd === undefined) delete merged.cmd;
  if (patch.cmd !== undefined && patch.args === undefined) delete merged.args;
  if (
    patch.networks !== undefined &&
    patch.portDefinitions === undefined &&
    (patch.networks as Array<{ mode?: string }>)[0]?.mode !== 'host'
  )
    delete merged.portDefinitions;
  return merged;
}
