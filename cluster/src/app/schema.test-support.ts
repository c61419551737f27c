/** The AppDefinition JSON Schema (Marathon 1.7, draft-04) as an ajv validator, and Marathon's example apps, for tests. */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export { appDefinitionValidator as appSchemaValidator } from '../testing/app-definition-schema.js';

/** Fields of Marathon 1.8-1.10 that the 1.7 schema predates (see the conformance README). */
export function withoutNewerFields<T extends object>(app: T): T {
  const copy = { ...app } as Record<string, unknown>;
  for (const key of ['check', 'tty', 'role', 'resourceLimits']) delete copy[key];
  return copy as T;
}

const EXAMPLES = fileURLToPath(new URL('../../../conformance/marathon/examples', import.meta.url));

function appFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) appFiles(path, out);
    else if (name.endsWith('.json')) out.push(path);
  }
  return out;
}

/** Example documents that are app definitions (not lists, pods, groups or responses). */
export function exampleApps(): Array<{ name: string; body: Record<string, unknown> }> {
  const apps: Array<{ name: string; body: Record<string, unknown> }> = [];
  for (const file of appFiles(EXAMPLES)) {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    const name = relative(EXAMPLES, file);
    const isApp = (d: unknown): d is Record<string, unknown> =>
      Boolean(
        d &&
        typeof d === 'object' &&
        !Array.isArray(d) &&
        'id' in d &&
        ('cmd' in d || 'args' in d || 'container' in d || 'ipAddress' in d) &&
        !('containers' in d),
      );
    if (isApp(doc)) apps.push({ name, body: doc });
    else if (Array.isArray(doc) && name.endsWith('apps_create.json'))
      doc.filter(isApp).forEach((d, i) => apps.push({ name: `${name}[${i}]`, body: d }));
    else if (
      doc &&
      typeof doc === 'object' &&
      Array.isArray((doc as { apps?: unknown }).apps) &&
      name.includes('zdd_app')
    ) {
      (doc as { apps: unknown[] }).apps.filter(isApp).forEach((d, i) => apps.push({ name: `${name}[${i}]`, body: d }));
    }
  }
  return apps;
}

/** Examples Marathon 1.10 (default features) refuses, and why. */
export const INVALID_EXAMPLES: Record<string, string> = {
  'v1.10.26/rest-api/app.json': "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.",
  'v1.4.12/rest-api/app.json': "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.",
  'third-party/marathon-lb-9e669ec0ee/ci/backends_1.9/docker_ippc.json':
    'cannot mix deprecated and canonical network APIs',
  'third-party/marathon-lb-9e669ec0ee/ci/backends_1.9/docker_bridge.json':
    'cannot mix deprecated and canonical network APIs',
  'third-party/marathon-lb-9e669ec0ee/ci/backends_1.9/docker_host.json':
    'cannot mix deprecated and canonical network APIs',
  'v1.10.26/system-tests-apps/private-ucr-docker-app.json':
    'Feature secrets is not enabled. Enable with --enable_features secrets)',
  'v1.10.26/system-tests-apps/external-volume-mesos-app.json':
    'Feature external_volumes is not enabled. Enable with --enable_features external_volumes)',
};
