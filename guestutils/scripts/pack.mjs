#!/usr/bin/env node
/**
 * Makes the tarball people install: `npm install ./theseus-guestutils-<version>.tgz` in any Node
 * project, no monorepo needed.
 *
 *   node guestutils/scripts/pack.mjs [--out <dir>]     (after `npm run build`; prints the tarball's path)
 *
 * The package is the library (dist/ without the tests and without cli.js, which is the monorepo's
 * `theseus guest|watch` command and needs its settings). The endpoint contract it reads lives in
 * @theseus/services, which is not on a registry, so the tarball carries the contract modules it uses
 * compiled in:
 *   - JavaScript: esbuild bundles the compiled modules, one output file per module of guestutils
 *     (and shared chunks), so the etcd side still loads only when first needed. Only our own code is
 *     bundled: every other package stays an import and must be one of guestutils' dependencies
 *     (etcd3, cockatiel, zod), which the installer fetches.
 *   - Types: the declarations of those contract modules are copied under dist/services/, and
 *     guestutils' declarations import them from there.
 * The manifest names no @theseus package, and packing fails if any shipped file still imports one.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const guestutils = resolve(here, '..');
const services = resolve(guestutils, '..', 'services');
const OWN_SCOPE = '@theseus/';
/** The package's own name, which its documentation comments import from. */
const OWN_NAME = readJson(join(guestutils, 'package.json')).name;
/** Module specifiers in declarations and JavaScript: `from '…'`, `import('…')`, `import '…'`. */
const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"]+)\2/g;

function parseArgs(argv) {
  const out = { dir: process.cwd() };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out' && argv[i + 1]) out.dir = resolve(argv[++i]);
    else throw new Error(`unknown argument ${JSON.stringify(argv[i])} (usage: pack.mjs [--out <dir>])`);
  }
  return out;
}

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** `etcd3/lib/x` -> `etcd3`, `@scope/pkg/x` -> `@scope/pkg`. */
function packageName(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
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

/** The library's modules: guestutils' compiled top-level modules but the command and the tests. */
function libraryModules(dist, extension) {
  return readdirSync(dist)
    .filter((name) => name.endsWith(extension) && !/\.test\./.test(name) && name !== `cli${extension}`)
    .sort();
}

/** Bundles the library's JavaScript into `outdir`; returns the packages it left as imports. */
async function bundleJavaScript(dist, outdir) {
  const external = new Set();
  await esbuild.build({
    entryPoints: libraryModules(dist, '.js').map((name) => join(dist, name)),
    outdir,
    outbase: dist,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    chunkNames: 'chunks/[name]-[hash]',
    logLevel: 'silent',
    plugins: [
      {
        name: 'own-code-only',
        setup(build) {
          build.onResolve({ filter: /^[^./]/ }, (args) => {
            if (args.path.startsWith(OWN_SCOPE)) return undefined;
            if (!isBuiltin(args.path)) external.add(packageName(args.path));
            return { path: args.path, external: true };
          });
        },
      },
    ],
  });
  return external;
}

/** The declaration file a `@theseus/services[/sub]` specifier names, relative to services/dist. */
function servicesDeclaration(specifier, exports) {
  const subpath = '.' + specifier.slice(`${OWN_SCOPE}services`.length);
  const types = exports[subpath]?.types;
  if (!types) throw new Error(`${specifier} is not exported by @theseus/services`);
  return relative(join(services, 'dist'), join(services, types));
}

/**
 * Copies guestutils' declarations into `outdir`, pointing their imports of @theseus/services at copies of
 * the services declarations they need (and those need), under `outdir/services/`. Returns the
 * packages the declarations import.
 */
function copyDeclarations(dist, outdir) {
  const servicesExports = readJson(join(services, 'package.json')).exports;
  const imported = new Set();
  const pending = [];
  const rewrite = (text, fromDir) =>
    text.replace(SPECIFIER, (whole, lead, quote, specifier) => {
      if (specifier === `${OWN_SCOPE}services` || specifier.startsWith(`${OWN_SCOPE}services/`)) {
        const declaration = servicesDeclaration(specifier, servicesExports);
        pending.push(declaration);
        let target = relative(fromDir, join(outdir, 'services', declaration)).replace(/\.d\.ts$/, '.js');
        if (!target.startsWith('.')) target = `./${target}`;
        return `${lead}${quote}${target}${quote}`;
      }
      if (!specifier.startsWith('.') && !isBuiltin(specifier) && packageName(specifier) !== OWN_NAME)
        imported.add(packageName(specifier));
      return whole;
    });
  for (const name of libraryModules(dist, '.d.ts')) {
    writeFileSync(join(outdir, name), rewrite(readFileSync(join(dist, name), 'utf8'), outdir));
  }
  const copied = new Set();
  while (pending.length > 0) {
    const declaration = pending.pop();
    if (copied.has(declaration)) continue;
    copied.add(declaration);
    const source = join(services, 'dist', declaration);
    if (!existsSync(source)) throw new Error(`${source} is missing: run npm run build first`);
    const target = join(outdir, 'services', declaration);
    const text = readFileSync(source, 'utf8');
    for (const [, , , specifier] of text.matchAll(SPECIFIER)) {
      if (specifier.startsWith('.')) pending.push(join(dirname(declaration), specifier.replace(/\.js$/, '.d.ts')));
    }
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, rewrite(text, dirname(target)));
  }
  return imported;
}

/** Files under `dir` (recursively). */
function filesUnder(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

async function main() {
  const { dir } = parseArgs(process.argv.slice(2));
  for (const built of [join(guestutils, 'dist', 'index.js'), join(services, 'dist', 'contract.js')]) {
    if (!existsSync(built)) throw new Error(`${built} is not built: run npm run build first`);
  }
  const stage = mkdtempSync(join(tmpdir(), 'guestutils-pack-'));
  try {
    const own = readJson(join(guestutils, 'package.json'));
    const dependencies = Object.fromEntries(
      Object.entries(own.dependencies).filter(([name]) => !name.startsWith(OWN_SCOPE)),
    );
    const dist = join(guestutils, 'dist');
    const stagedDist = join(stage, 'dist');
    mkdirSync(stagedDist, { recursive: true });
    const imported = new Set([...(await bundleJavaScript(dist, stagedDist)), ...copyDeclarations(dist, stagedDist)]);
    const undeclared = [...imported].filter((name) => !(name in dependencies));
    if (undeclared.length > 0) {
      throw new Error(
        `the package imports ${undeclared.join(', ')}, which guestutils/package.json does not declare as dependencies`,
      );
    }
    for (const file of filesUnder(stagedDist)) {
      for (const [, , , specifier] of readFileSync(file, 'utf8').matchAll(SPECIFIER)) {
        if (specifier.startsWith(OWN_SCOPE) && packageName(specifier) !== OWN_NAME)
          throw new Error(`${relative(stage, file)} still imports ${specifier}`);
      }
    }

    const manifest = {
      name: own.name,
      version: own.version,
      description: own.description,
      type: 'module',
      license: own.license,
      engines: { node: '>=20' },
      exports: withoutSources(own.exports, ['./cli']),
      files: ['dist'],
      dependencies,
    };
    writeFileSync(join(stage, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
    cpSync(join(guestutils, 'README.md'), join(stage, 'README.md'));

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

main().catch((err) => {
  process.stderr.write(`pack.mjs: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
