/** The AppDefinition JSON Schema (Marathon 1.7, draft-04) as an ajv validator, for tests. */
import { readFileSync } from 'node:fs';
import AjvDraft04 from 'ajv-draft-04';
import type { ValidateFunction } from 'ajv';

export function appSchemaValidator(): ValidateFunction {
  const schema = JSON.parse(readFileSync('/work/shared/conformance/marathon/schema/AppDefinition.json', 'utf8')) as Record<string, unknown>;
  delete schema.$schema;
  const ajv = new AjvDraft04.default({ allErrors: true, strict: false });
  return ajv.compile(schema);
}

/** Fields of Marathon 1.8-1.10 that the 1.7 schema predates (see the conformance README). */
export function withoutNewerFields<T extends object>(app: T): T {
  const copy = { ...app } as Record<string, unknown>;
  for (const key of ['check', 'tty', 'role', 'resourceLimits']) delete copy[key];
  return copy as T;
}
