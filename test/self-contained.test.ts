// A clone of this repository is all a user has: no code, test, script or document may read or link
// a path outside it. Every tracked text file is scanned for relative references that climb out of
// the repository and for absolute paths into other checkouts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SELF = relative(root, fileURLToPath(import.meta.url)); // its own examples of what is refused
const TEXT =
  /\.(ts|mts|mjs|cjs|js|sh|md|json|yaml|yml|service|env|c|h|py|html|css|txt)$|Dockerfile$|^\.ci\/run$|^bin\//;

function trackedTextFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' });
  return out
    .split('\0')
    .filter((f) => f && TEXT.test(f) && f !== 'package-lock.json' && f !== SELF && !f.startsWith('conformance/'));
}

/** References in a file that leave the repository: module URLs, markdown links, quoted `../` paths in code. */
export function outsideReferences(file: string, text: string): string[] {
  const found: string[] = [];
  const dir = dirname(join(root, file));
  const candidates = [
    ...[...text.matchAll(/new URL\(\s*['"`]([^'"`]+)['"`]\s*,\s*import\.meta\.url/g)].map((m) => m[1]),
    ...[...text.matchAll(/\]\((\.\.\/[^)\s#]+)/g)].map((m) => m[1]),
    // in code, a quoted `../` path; prose may describe paths relative to other places
    ...(file.endsWith('.md') ? [] : [...text.matchAll(/['"`]((?:\.\.\/)+[^'"`\s]*)['"`]/g)].map((m) => m[1])),
  ];
  for (const ref of candidates) {
    if (!ref?.startsWith('.')) continue;
    const target = resolve(dir, ref);
    const rel = relative(root, target);
    if (rel === '..' || rel.startsWith(`..${sep}`)) found.push(`${ref} (resolves to ${target})`);
  }
  for (const m of text.matchAll(/(?<![\w.-])\/work\/[\w./-]+|(?<![\w/])\.\.\/shared\b[\w./-]*/g)) found.push(m[0]);
  return found;
}

test('no tracked file reads or links a path outside the repository', () => {
  const files = trackedTextFiles();
  assert.ok(files.length > 100, `expected the repository's files, found ${files.length}`);
  const offenders: string[] = [];
  for (const file of files) {
    const refs = outsideReferences(file, readFileSync(join(root, file), 'utf8'));
    for (const ref of refs) offenders.push(`${file}: ${ref}`);
  }
  assert.deepEqual(offenders, []);
});

// Built from parts, so that this file itself names no path outside the repository.
const SHARED = ['..', 'shared'].join('/');
const OTHER_CHECKOUT = ['', 'work', 'shared'].join('/');

test('the check finds references that leave the repository', () => {
  assert.equal(outsideReferences('services/src/x.ts', `new URL('../../${SHARED}/a.json', import.meta.url)`).length, 2);
  assert.equal(outsideReferences('DESIGN.md', `see [the API](${SHARED}/reference/marathon-api.md)`).length, 2);
  assert.equal(
    outsideReferences('cluster/src/app/x.ts', `readFileSync('${OTHER_CHECKOUT}/conformance/x.json')`).length,
    1,
  );
  assert.deepEqual(
    outsideReferences('cluster/src/app/x.ts', "new URL('../../../conformance/x.json', import.meta.url)"),
    [],
  );
  assert.deepEqual(outsideReferences('README.md', 'see [design](DESIGN.md) and [engine](cluster/ENGINE.md)'), []);
});
