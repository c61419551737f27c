/**
 * Each default lives in the settings schema only: code handed no value falls back to
 * DEFAULT_SETTINGS, never to a literal of its own. This scans the parts' sources for a fallback
 * (`name ?? value`, where `name` ends with the setting's name, e.g. `marathonTimeoutMs ?? 10_000`)
 * or a help text (`default value`) that repeats a default of the schema.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { DEFAULT_SETTINGS } from './settings.js';

const root = new URL('../../../', import.meta.url).pathname;
/** guestutils runs in containers without the settings schema: its own defaults are its own. */
const PARTS = ['services', 'deployer', 'subscriber', 'cluster'];

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name === 'testing' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.includes('test-support')) out.push(path);
  }
  return out;
}

function leaves(value: unknown, path = ''): Array<[string, unknown]> {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    return Object.entries(value).flatMap(([key, child]) => leaves(child, path ? `${path}.${key}` : key));
  }
  return [[path, value]];
}

/** How a default can be spelled in code: 600000, 600_000, 1024 * 1024, '127.0.0.1'. */
function spellings(value: unknown): string[] {
  if (typeof value === 'number') {
    const grouped = String(value).replace(/\B(?=(\d{3})+(?!\d))/g, '_');
    const forms = [String(value), grouped];
    for (let base = 2; base <= 1024; base *= 2)
      if (value % base === 0 && value / base >= 2 && Number.isInteger(Math.log2(value / base)))
        forms.push(`${base} * ${value / base}`);
    return forms;
  }
  if (typeof value === 'string') return [`'${value}'`, `"${value}"`];
  return [];
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('no part repeats a default of the settings schema', () => {
  // Small numbers and booleans say too little to be told apart from other values.
  const defaults = leaves(DEFAULT_SETTINGS).filter(
    ([, v]) => (typeof v === 'number' && v >= 100) || (typeof v === 'string' && v.length >= 4),
  );
  assert.ok(defaults.length >= 10, 'the schema has defaults to look for');
  const found: string[] = [];
  for (const part of PARTS) {
    for (const file of sources(join(root, part, 'src'))) {
      const text = readFileSync(file, 'utf8');
      for (const [path, value] of defaults) {
        for (const spelled of spellings(value)) {
          const name = path.slice(path.lastIndexOf('.') + 1);
          const fallback = `\\w*${escape(name[0]!.toUpperCase() + name.slice(1))}|${escape(name)}`;
          const pattern = new RegExp(
            `(\\b(?:${fallback})\\s*\\?\\?\\s*${escape(spelled)}(?![\\w.])|\\bdefault:?\\s+${escape(spelled.replace(/^['"]|['"]$/g, ''))}(?![\\w./:-]))`,
            'g',
          );
          for (const match of text.matchAll(pattern)) {
            const line = text.slice(0, match.index).split('\n').length;
            found.push(`${relative(root, file)}:${line}: ${match[0]} (the default of ${path})`);
          }
        }
      }
    }
  }
  assert.deepEqual(found, [], 'use DEFAULT_SETTINGS (or the resolved settings) instead');
});

test('DEFAULT_SETTINGS is the schema with nothing set, and frozen', () => {
  assert.equal(DEFAULT_SETTINGS.marathon.timeoutMs, 10_000);
  assert.equal(DEFAULT_SETTINGS.deployer.deploymentTimeoutMs, 600_000);
  assert.ok(Object.isFrozen(DEFAULT_SETTINGS.deployer));
});
