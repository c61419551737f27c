// Code form and the rules on errors and promises, as `npm test` enforces them: Prettier's format
// (.prettierrc.json), ESLint (eslint.config.js: no floating promise, no empty catch, no handler that
// drops an error) over every source file, and the benchmark scripts type-checked like the code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name: string) => join(root, 'node_modules', '.bin', name);
const run = promisify(execFile);

async function outcome(command: string, args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(bin(command), args, { cwd: root, maxBuffer: 64 * 2 ** 20 });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const failed = err as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? 1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

test('every source file is in Prettier form', async () => {
  const { code, output } = await outcome('prettier', ['--check', '.', '--log-level', 'warn']);
  assert.equal(code, 0, `files not in Prettier form (npx prettier --write <file>):\n${output}`);
});

test('ESLint finds no floating promise and no swallowed error', async () => {
  const { code, output } = await outcome('eslint', ['.']);
  assert.equal(code, 0, output);
});

test('the lint rules catch each way of dropping an error, and let handling through', async () => {
  const eslint = new ESLint({ cwd: root });
  const lint = async (code: string) => {
    const [result] = await eslint.lintText(code, { filePath: join(root, 'services/src/lint-probe.mjs') });
    return result!.messages.map((m) => m.ruleId);
  };
  const dropping = [
    'try { f(); } catch {}',
    'try { f(); } catch (err) {}',
    'p.catch(() => {});',
    'p.catch(() => undefined);',
    'p.catch(() => null);',
    'p.catch(() => void 0);',
    'p.catch(function () {});',
    "emitter.on('error', () => {});",
    "emitter.once('error', () => undefined);",
  ];
  for (const code of dropping) assert.notDeepEqual(await lint(code), [], `not flagged: ${code}`);
  const handling = [
    'p.catch((err) => log.warn("failed", { err }));',
    'p.catch(() => false);',
    'try { f(); } catch (err) { log.warn(err); }',
    "emitter.on('error', (err) => log.warn(err));",
  ];
  for (const code of handling) assert.deepEqual(await lint(code), [], `flagged: ${code}`);
});

test('the benchmark scripts type-check', async () => {
  for (const pkg of ['cluster', 'containerizer', 'deployer', 'guestutils', 'subscriber']) {
    const { code, output } = await outcome('tsc', ['-p', join(pkg, 'bench')]);
    assert.equal(code, 0, `${pkg}/bench:\n${output}`);
  }
});
