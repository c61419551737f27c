/**
 * Marathon's own JSON Schema of an app definition (1.7, the last release that shipped one), for
 * checking generated apps and for the in-process engine's 422 answers. The file lives in the
 * repository's conformance data.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import AjvDraft04 from 'ajv-draft-04';
import type { ErrorObject, ValidateFunction } from 'ajv';

export const APP_DEFINITION_SCHEMA_PATH = fileURLToPath(
  new URL('../../../conformance/marathon/schema/AppDefinition.json', import.meta.url),
);
/** Marathon 1.4.12's schema: the pre-1.5 networking form only. */
export const APP_DEFINITION_1_4_SCHEMA_PATH = fileURLToPath(
  new URL('../../../conformance/marathon/schema/v1.4.12/AppDefinition.json', import.meta.url),
);

const compiled = new Map<string, ValidateFunction>();

export function appDefinitionValidator(path: string = APP_DEFINITION_SCHEMA_PATH): ValidateFunction {
  let validate = compiled.get(path);
  if (!validate) {
    const schema = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    delete schema.$schema;
    // a CommonJS module: its class is `default` under NodeNext
    const Ajv = AjvDraft04.default;
    const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
    validate = ajv.compile(schema);
    compiled.set(path, validate);
  }
  return validate;
}

/** Problems of an app definition as Marathon reports them: `{path, errors[]}` with `(n)` array indices. */
export function appDefinitionProblems(
  app: unknown,
  schemaPath: string = APP_DEFINITION_SCHEMA_PATH,
): Array<{ path: string; errors: string[] }> {
  const validate = appDefinitionValidator(schemaPath);
  if (validate(app)) return [];
  const byPath = new Map<string, string[]>();
  for (const error of validate.errors as ErrorObject[]) {
    const path = (error.instancePath || '/').replace(/\/(\d+)(?=\/|$)/g, '($1)');
    byPath.set(path, [...(byPath.get(path) ?? []), error.message ?? 'invalid']);
  }
  return [...byPath].map(([path, errors]) => ({ path, errors }));
}
