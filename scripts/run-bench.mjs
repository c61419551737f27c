#!/usr/bin/env node
// Runs every benchmark script (<package>/bench/*.ts), one after another, or the ones named.
//   npm run bench                 all of them
//   npm run bench -- deployer     those of one package
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const packages = ['services', 'containerizer', 'guestutils', 'subscriber', 'deployer', 'cluster'];
const wanted = process.argv.slice(2);
const scripts = packages
  .filter((p) => wanted.length === 0 || wanted.includes(p))
  .flatMap((p) => {
    try {
      return readdirSync(join(root, p, 'bench'))
        .filter((f) => f.endsWith('.ts'))
        .sort()
        .map((f) => join(p, 'bench', f));
    } catch {
      return [];
    }
  });
if (scripts.length === 0) {
  console.error('no benchmark scripts found');
  process.exit(1);
}
let failed = 0;
for (const script of scripts) {
  console.log(`\n== ${script}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=source', join(root, script)], {
    stdio: 'inherit',
    cwd: root,
  });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
