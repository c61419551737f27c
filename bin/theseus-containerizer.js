#!/usr/bin/env node
// The Mesos external containerizer program: `theseus-containerizer <launch|wait|usage|...>`.
// A slave starts it for every call, so it runs the single-file build of the program that
// `npm run build` makes (containerizer/scripts/bundle.mjs) with V8's code cache for it. Without
// that build, when the compiled modules are newer than it (a bare `tsc -b` since), or with
// THESEUS_CONTAINERIZER_BUNDLE=0, it runs the compiled modules: the same program, slower to start.
import { readFileSync, statSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const dist = fileURLToPath(new URL('../containerizer/dist/', import.meta.url));
const bundle = fileURLToPath(new URL('../containerizer/bundle/theseus-containerizer.cjs', import.meta.url));
const mtime = (path) => statSync(path, { throwIfNoEntry: false })?.mtimeMs;

function bundledProgram() {
  if (process.env.THESEUS_CONTAINERIZER_BUNDLE === '0') return undefined;
  const built = mtime(bundle);
  if (built === undefined) return undefined;
  for (const buildInfo of [`${dist}.tsbuildinfo`, `${dist}../../services/dist/.tsbuildinfo`]) {
    if ((mtime(buildInfo) ?? 0) > built) return undefined;
  }
  let cachedData;
  try {
    cachedData = readFileSync(`${bundle}.cache`);
  } catch {
    // no cache: V8 compiles the bundle
  }
  // compiled exactly as containerizer/scripts/bundle.mjs compiled it for the cache
  const script = new vm.Script(Module.wrap(readFileSync(bundle, 'utf8')), { filename: bundle, cachedData });
  const module = { exports: {} };
  script
    .runInThisContext()
    .call(module.exports, module.exports, createRequire(bundle), module, bundle, dirname(bundle));
  return module.exports;
}

const { run } = bundledProgram() ?? (await import('@theseus/containerizer/cli'));
process.exitCode = await run('containerizer', process.argv.slice(2));
