#!/usr/bin/env node
// Runs the test files with node's built-in runner, TypeScript sources loaded through tsx.
//   node scripts/run-tests.mjs                 every test (package unit + integration, then test/)
//   node scripts/run-tests.mjs --unit          package tests only (*.test.ts under */src)
//   node scripts/run-tests.mjs path/to/x.test.ts ...   just these files
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const packages = ['services', 'containerizer', 'guestutils', 'subscriber', 'deployer', 'cluster'];

function find(dir, out = []) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) find(path, out);
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const explicit = args.filter((a) => !a.startsWith('--'));
let files = explicit.length
  ? explicit
  : [
      ...packages.flatMap((p) => find(join(root, p, 'src')).sort()),
      ...(unitOnly ? [] : find(join(root, 'test')).sort()),
    ];
// A fresh clone's `npm run up` and `npm run down` (test/fresh-clone/) is the slowest: always last.
const last = (f) => f.includes(`${join('test', 'fresh-clone')}/`);
files = [...files.filter((f) => !last(f)), ...files.filter(last)].map((f) => relative(process.cwd(), f));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}

const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--conditions=source',
    '--test',
    '--test-concurrency=1',
    `--test-timeout=${process.env.TEST_TIMEOUT_MS ?? 1_200_000}`,
    ...(process.env.TEST_REPORTER ? [`--test-reporter=${process.env.TEST_REPORTER}`] : []),
    ...files,
  ],
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);
process.exit(result.status ?? 1);
