#!/usr/bin/env node
// Runs every benchmark script (<package>/bench/*.ts; helpers live in bench/support/), one after
// another, or the ones named, and says at the end which failed.
//   npm run bench                                  all of them
//   npm run bench -- deployer                      those of one package
//   npm run bench -- deployer/bench/dry-run.ts     one script
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const packages = ['services', 'containerizer', 'guestutils', 'subscriber', 'deployer', 'cluster'];
const wanted = process.argv.slice(2);
const scriptsOf = (p) =>
  existsSync(join(root, p, 'bench'))
    ? readdirSync(join(root, p, 'bench'))
        .filter((f) => f.endsWith('.ts'))
        .sort()
        .map((f) => join(p, 'bench', f))
    : [];
const unknown = wanted.filter((w) => !packages.includes(w) && !existsSync(join(root, w)));
if (unknown.length) {
  console.error(`run-bench: no package or script named ${unknown.join(', ')} (packages: ${packages.join(', ')})`);
  process.exit(2);
}
const scripts = wanted.length
  ? wanted.flatMap((w) => (packages.includes(w) ? scriptsOf(w) : [w]))
  : packages.flatMap(scriptsOf);
if (scripts.length === 0) {
  console.error('run-bench: no benchmark scripts found');
  process.exit(1);
}
const failed = [];
for (const script of scripts) {
  console.log(`\n== ${script}`);
  const started = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=source', join(root, script)], {
    stdio: 'inherit',
    cwd: root,
  });
  const how = r.status === 0 ? 'done' : `FAILED (${r.signal ?? `exit ${r.status}`})`;
  console.log(`== ${script}: ${how} in ${Math.round((Date.now() - started) / 1000)} s`);
  if (r.status !== 0) failed.push(script);
}
if (failed.length) console.error(`\nrun-bench: ${failed.length} of ${scripts.length} failed: ${failed.join(', ')}`);
process.exit(failed.length ? 1 : 0);
