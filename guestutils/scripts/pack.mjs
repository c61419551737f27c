#!/usr/bin/env node
/**
 * Makes the tarball people install: `npm install ./theseus-guestutils-<version>.tgz` in any Node
 * project, no monorepo needed.
 *
 *   node guestutils/scripts/pack.mjs [--out <dir>]     (after `npm run build`; prints the tarball's path)
 *
 * The package is the library (dist/ without the tests and without cli.js, which is the monorepo's
 * `theseus guest|watch` command and needs its settings). The endpoint contract it reads,
 * @theseus/contract, is not on a registry, so it travels inside the tarball as a bundled
 * dependency; etcd3, cockatiel and zod are ordinary dependencies the installer fetches.
 * npm leaves bundled dependencies out when packing inside a workspace, so the package is staged
 * in a temporary directory and packed there.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const guestutils = resolve(here, '..');
const contract = resolve(guestutils, '..', 'contract');

function parseArgs(argv) {
  const out = { dir: process.cwd() };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out' && argv[i + 1]) out.dir = resolve(argv[++i]);
    else throw new Error(`unknown argument ${JSON.stringify(argv[i])} (usage: pack.mjs [--out <dir>])`);
  }
  return out;
}

/** Built files a user needs: no tests, no test support, no build bookkeeping, no source maps of absent sources. */
function shipped(src) {
  const name = src.split('/').pop();
  if (name === 'test-support' || name === '.tsbuildinfo') return false;
  return !/\.test\.|\.map$/.test(name);
}

/** Exports for a package without its sources: the `source` condition points at files not shipped. */
function withoutSources(exports, drop = []) {
  return Object.fromEntries(
    Object.entries(exports)
      .filter(([path]) => !drop.includes(path))
      .map(([path, conditions]) => [
        path,
        Object.fromEntries(Object.entries(conditions).filter(([c]) => c !== 'source')),
      ]),
  );
}

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

function main() {
  const { dir } = parseArgs(process.argv.slice(2));
  for (const pkg of [guestutils, contract]) {
    if (!existsSync(join(pkg, 'dist', 'index.js')))
      throw new Error(`${join(pkg, 'dist')} is not built: run npm run build first`);
  }
  const stage = mkdtempSync(join(tmpdir(), 'guestutils-pack-'));
  try {
    const own = readJson(join(guestutils, 'package.json'));
    const contractPkg = readJson(join(contract, 'package.json'));
    const manifest = {
      name: own.name,
      version: own.version,
      description: own.description,
      type: 'module',
      license: own.license,
      engines: { node: '>=20' },
      exports: withoutSources(own.exports, ['./cli']),
      files: ['dist'],
      dependencies: own.dependencies,
      bundleDependencies: [contractPkg.name],
    };
    writeFileSync(join(stage, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
    cpSync(join(guestutils, 'README.md'), join(stage, 'README.md'));
    cpSync(join(guestutils, 'dist'), join(stage, 'dist'), {
      recursive: true,
      filter: (src) => shipped(src) && !/\/cli\.(js|d\.ts)$/.test(src),
    });

    const bundled = join(stage, 'node_modules', ...contractPkg.name.split('/'));
    mkdirSync(bundled, { recursive: true });
    const { private: _private, ...contractManifest } = contractPkg;
    writeFileSync(
      join(bundled, 'package.json'),
      JSON.stringify({ ...contractManifest, exports: withoutSources(contractPkg.exports) }, null, 2) + '\n',
    );
    cpSync(join(contract, 'dist'), join(bundled, 'dist'), { recursive: true, filter: shipped });

    mkdirSync(dir, { recursive: true });
    const output = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], {
      cwd: stage,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [{ filename }] = JSON.parse(output);
    process.stdout.write(join(dir, filename) + '\n');
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

try {
  main();
} catch (err) {
  process.stderr.write(`pack.mjs: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
