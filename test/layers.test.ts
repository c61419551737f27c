// The structure anyone can check: no import cycle in any package (madge), `services` imports no
// other workspace, and every workspace declares the packages its shipped code imports. Type-only
// imports are left out of the cycle check (.madgerc): they vanish at run time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WORKSPACES = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] })
  .workspaces;

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** Package names a file imports (static and dynamic), without node's own modules. */
function importedPackages(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [
    ...text.matchAll(/^\s*(?:import|export)\b[^'"]*?\bfrom\s+['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm),
  ].map((m) => m[1] ?? m[2]!);
  return specifiers
    .filter((s) => !s.startsWith('.') && !s.startsWith('node:') && !builtinModules.includes(s))
    .map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!));
}

const shipped = (file: string) => !/\.test\.ts$|\/testing\/|test-support/.test(file);

test('no package has an import cycle (madge)', () => {
  try {
    execFileSync(
      process.execPath,
      [
        join(root, 'node_modules/madge/bin/cli.js'),
        '--circular',
        '--no-spinner',
        '--no-color',
        '--extensions',
        'ts',
        ...WORKSPACES,
      ],
      {
        cwd: root,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    assert.fail(`madge found a cycle (or could not run):\n${stdout ?? ''}${stderr ?? ''}`);
  }
});

test('services imports no other workspace', () => {
  const found = sources(join(root, 'services/src')).flatMap((file) =>
    importedPackages(file)
      .filter((p) => p.startsWith('@theseus/') && p !== '@theseus/services')
      .map((p) => `${relative(root, file)}: ${p}`),
  );
  assert.deepEqual(found, []);
  const manifest = JSON.parse(readFileSync(join(root, 'services/package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  assert.deepEqual(
    Object.keys(manifest.dependencies ?? {}).filter((p) => p.startsWith('@theseus/')),
    [],
    'services/package.json depends on another workspace',
  );
});

test('the contract (@theseus/services/contract) imports only its own modules, etcd3 and zod', () => {
  const entry = join(root, 'services/src/contract.ts');
  const relativeImports = (file: string) =>
    [...readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)\b[^'"]*?\bfrom\s+['"](\.[^'"]+)['"]/gm)].map((m) =>
      resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')),
    );
  const gathered = new Set(relativeImports(entry));
  const reached = new Set<string>();
  const pending = [...gathered];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (reached.has(file)) continue;
    reached.add(file);
    pending.push(...relativeImports(file));
  }
  const outside = [...reached].filter((file) => !gathered.has(file)).map((file) => relative(root, file));
  assert.deepEqual(outside, [], 'contract modules import a module of services that contract.ts does not export');
  const packages = new Set([...reached].flatMap(importedPackages));
  assert.deepEqual([...packages].sort(), ['etcd3', 'zod']);
});

test('every workspace declares the packages its shipped code imports', () => {
  const missing: string[] = [];
  for (const workspace of WORKSPACES) {
    const manifest = JSON.parse(readFileSync(join(root, workspace, 'package.json'), 'utf8')) as {
      name: string;
      dependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
    };
    const declared = new Set([
      manifest.name,
      ...Object.keys(manifest.dependencies ?? {}),
      ...Object.keys(manifest.peerDependencies ?? {}),
    ]);
    for (const file of sources(join(root, workspace, 'src')).filter(shipped)) {
      for (const name of importedPackages(file))
        if (!name.startsWith('@types/') && !declared.has(name)) missing.push(`${relative(root, file)}: ${name}`);
    }
  }
  assert.deepEqual([...new Set(missing)], []);
});
