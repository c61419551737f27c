#!/usr/bin/env node
/**
 * Builds the single-file `theseus-containerizer` program from the compiled modules (run after
 * `tsc -b`; part of `npm run build` and of `npm ci`'s `prepare`):
 *
 *   containerizer/bundle/theseus-containerizer.cjs        the program and its dependencies
 *   containerizer/bundle/theseus-containerizer.cjs.cache  V8 code cache for it (this Node only)
 *
 * (beside dist/, not in it: dist/ holds what tsc compiles; both ship, see package.json "files")
 *
 * A slave starts a fresh process for every call (`usage` about once a second per container), so
 * start-up is most of a call's cost: resolving and compiling hundreds of small files in
 * node_modules and parsing the Mesos .proto text. The bundle is one file, the .proto definitions
 * are pre-parsed into protobufjs JSON descriptors, and the code cache spares V8 compiling it.
 * bin/theseus-containerizer.js runs it (falling back to the compiled modules when it is missing
 * or older than them).
 *
 * It then compiles the native client, `containerizer/bundle/theseus-containerizer` (native/
 * theseus-containerizer.c, with the system's C compiler), which a slave runs: it hands each call
 * to the resident service running this bundle (src/service/), so a call does not pay for starting
 * Node. Its build id is a digest of the bundle, the client's source, this Node and where the
 * package is, so a client only ever talks to a service of its own build and installation. Without
 * a C compiler the client is not built (and bin/theseus-containerizer.js remains the program to run).
 *
 * Three dockerode and docker-modem modules are not bundled but required from node_modules the
 * first time they are used (dockerode requires the first two up front; they pull in @grpc/grpc-js,
 * @grpc/proto-loader and ssh2, about 170 ms of loading, and ssh2's native addon cannot be bundled):
 *   - dockerode/lib/session.js (gRPC): only `docker.buildImage(..., { version: '2' })` opens a
 *     BuildKit session; the containerizer never builds images.
 *   - docker-modem/lib/ssh.js (ssh2): only an `ssh://` DOCKER_HOST makes docker-modem dial over
 *     SSH; the containerizer is meant to use the Engine's Unix socket on the slave's host.
 *   - dockerode/lib/buildkit.js (BuildKit progress decoding, reads .proto files beside itself):
 *     only `docker.followProgress`; the driver follows pulls with docker-modem's own.
 * If one is ever used it is required from node_modules as usual, so behaviour stays the same.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, utimesSync, writeFileSync, readFileSync } from 'node:fs';
import Module, { createRequire, isBuiltin } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import vm from 'node:vm';
import * as esbuild from 'esbuild';

const PACKAGE = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(PACKAGE, 'dist');
const OUT_DIR = join(PACKAGE, 'bundle');
export const BUNDLE = join(OUT_DIR, 'theseus-containerizer.cjs');
export const CODE_CACHE = `${BUNDLE}.cache`;
export const CLIENT = join(OUT_DIR, 'theseus-containerizer');
const CLIENT_SOURCE = join(PACKAGE, 'native', 'theseus-containerizer.c');

/** dockerode internals required from node_modules on first use (see above). */
const LOADED_WHEN_USED = ['dockerode/lib/session.js', 'docker-modem/lib/ssh.js'];
/** Already required lazily by dockerode; left to node_modules because it reads files beside itself. */
const LEFT_OUT = { 'dockerode/lib/docker.js': { './buildkit': 'dockerode/lib/buildkit.js' } };

/**
 * The bundle's entry: the program's `run`, its message codecs, and `warmUp`, which the build calls before taking the
 * code cache so that the cache holds compiled code for what a call runs: every module cli.ts loads
 * per command, the configuration's parsing, the protobufjs reflection and code generation of each
 * message the program reads or writes, and a log line.
 */
const ENTRY = `export { run } from './dist/cli.js';
/** The message codecs as bundled (for the test comparing them with the compiled modules). */
export const messages = () => import('./dist/protocol/messages.js');
export async function warmUp() {
  const [messages, config, yaml, logging, { Writable }] = await Promise.all([
    import('./dist/protocol/messages.js'), import('./dist/config.js'), import('js-yaml'), import('@theseus/services/logging'), import('node:stream'),
    import('./dist/commands/context.js'), import('./dist/commands/launch.js'), import('./dist/commands/lifecycle.js'),
    import('./dist/commands/inventory.js'), import('./dist/protocol/framing.js'), import('./dist/docker/driver.js'),
  ]);
  for (const [version, names] of Object.entries(messages.PROGRAM_MESSAGES)) {
    for (const name of names) {
      try {
        messages.decodeMessage(name, new Uint8Array(0), version);
      } catch {
        // a message with required fields: its code is generated all the same
      }
    }
  }
  config.ContainerizerConfigSchema.parse(yaml.load('stateDir: /tmp\\nlog: { level: info }\\n'));
  const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
  logging.createLogger({ component: 'containerizer', stream: discard, format: 'json' }).info('warm', { containerId: 'x' });
}
`;

function packagePath(file) {
  return file.split('node_modules/').pop();
}

/** Full names (no leading dot) of `roots` and of every type and enum they refer to, with the types enclosing them. */
function reachable(protobuf, root, roots) {
  const kept = new Set();
  const visit = (object) => {
    const name = object.fullName.slice(1);
    if (kept.has(name)) return;
    kept.add(name);
    if (object instanceof protobuf.Type)
      for (const field of object.fieldsArray) if (field.resolve().resolvedType) visit(field.resolvedType);
    if (object.parent instanceof protobuf.Type) visit(object.parent);
  };
  for (const name of roots) visit(root.lookup(name));
  return kept;
}

/** A JSON descriptor holding only the `kept` types and enums and the namespaces around them. */
function pruned(json, kept, path = '') {
  if (!json.nested) return json;
  const nested = {};
  for (const [name, child] of Object.entries(json.nested)) {
    const full = path ? `${path}.${name}` : name;
    const inner = pruned(child, kept, full);
    if (kept.has(full) || Object.keys(inner.nested ?? {}).length > 0) nested[name] = inner;
  }
  return { ...json, nested };
}

/** Checks that every kept type reads the same fields, of the same types, from the pruned descriptor. */
function checkPruned(protobuf, full, small, kept) {
  for (const name of kept) {
    const before = full.lookup(name);
    const after = small.lookup(name);
    if (!after || JSON.stringify(after.toJSON().fields) !== JSON.stringify(before.toJSON().fields))
      throw new Error(`pruned definitions differ at ${name}`);
    if (before instanceof protobuf.Type) {
      for (const field of before.fieldsArray) {
        if (after.fields[field.name].resolve().resolvedType?.fullName !== field.resolvedType?.fullName)
          throw new Error(`pruned definitions resolve ${name}.${field.name} differently`);
      }
    }
  }
}

/**
 * The shipped .proto files as protobufjs JSON descriptors, parsed now rather than at every call,
 * holding only the messages the program reads and writes and what they use (about half of
 * mesos.proto; building the reflection objects is most of the cost of a `usage` call's decoding).
 */
async function protoDescriptors() {
  const require = createRequire(join(PACKAGE, 'package.json'));
  const protobuf = require('protobufjs');
  const { loadDefinitions, PROTO_VERSIONS } = await import(pathToFileURL(join(DIST, 'protocol/definitions.js')).href);
  const { PROGRAM_MESSAGES } = await import(pathToFileURL(join(DIST, 'protocol/messages.js')).href);
  const descriptors = {};
  for (const version of PROTO_VERSIONS) {
    const full = loadDefinitions(version);
    const kept = reachable(protobuf, full, PROGRAM_MESSAGES[version]);
    const json = pruned(full.toJSON(), kept);
    checkPruned(protobuf, full, protobuf.Root.fromJSON(json), kept);
    descriptors[version] = JSON.stringify(json);
  }
  return descriptors;
}

function definitionsModule(descriptors) {
  return `// The shipped .proto definitions, parsed at build time (containerizer/scripts/bundle.mjs).
import protobuf from 'protobufjs/light.js';
const DESCRIPTORS = ${JSON.stringify(descriptors)};
export const PROTO_VERSIONS = ${JSON.stringify(Object.keys(descriptors))};
export function loadDefinitions(version) {
  const root = protobuf.Root.fromJSON(JSON.parse(DESCRIPTORS[version]));
  root.resolveAll();
  return root;
}
`;
}

function whenUsedModule(file) {
  return `// ${file}: required from node_modules on first use (see containerizer/scripts/bundle.mjs).
let loaded;
function load() {
  try {
    return (loaded ??= require(${JSON.stringify(file)}));
  } catch (err) {
    throw new Error('theseus-containerizer: cannot load ${file} from node_modules: ' + err.message, { cause: err });
  }
}
module.exports = function () {
  return load().apply(this, arguments);
};
`;
}

const programPlugin = (descriptors) => ({
  name: 'theseus-containerizer',
  setup(build) {
    build.onLoad({ filter: /[\\/]containerizer[\\/]dist[\\/]protocol[\\/]definitions\.js$/ }, () => ({
      contents: definitionsModule(descriptors),
      loader: 'js',
      resolveDir: PACKAGE,
    }));
    build.onLoad(
      { filter: /[\\/]node_modules[\\/](dockerode[\\/]lib[\\/]session|docker-modem[\\/]lib[\\/]ssh)\.js$/ },
      (args) => {
        const file = packagePath(args.path);
        if (!LOADED_WHEN_USED.includes(file)) return undefined;
        return { contents: whenUsedModule(file), loader: 'js', pluginData: { whenUsed: true } };
      },
    );
    build.onResolve({ filter: /^(dockerode|docker-modem)\/lib\/[a-z]+\.js$/ }, (args) =>
      LOADED_WHEN_USED.includes(args.path) ? { path: args.path, external: true } : undefined,
    );
    build.onResolve({ filter: /^\.\/buildkit$/ }, (args) => {
      const target = LEFT_OUT[packagePath(args.importer)]?.[args.path];
      return target ? { path: target, external: true } : undefined;
    });
  },
});

async function bundle() {
  const descriptors = await protoDescriptors();
  const result = await esbuild.build({
    stdin: {
      contents: ENTRY,
      resolveDir: PACKAGE,
      sourcefile: 'theseus-containerizer-entry.js',
      loader: 'js',
    },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // whitespace and syntax only: class and function names show in errors and logs
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    // import() of built-ins becomes require(): the bin runs the bundle as a script, where import() is not available
    supported: { 'dynamic-import': false },
    metafile: true,
    write: false,
    logLevel: 'warning',
    plugins: [programPlugin(descriptors)],
  });
  const imports = Object.values(result.metafile.outputs).flatMap((output) => output.imports);
  const dynamic = imports.find((i) => i.kind === 'dynamic-import');
  if (dynamic) throw new Error(`the bundle still imports ${dynamic.path} with import(), which a script cannot do`);
  const fromNodeModules = imports
    .filter((i) => i.external && !i.path.startsWith('node:') && !isBuiltin(i.path))
    .map((i) => i.path);
  // what esbuild left out on its own are optional requires in try blocks of packages not installed (debug's supports-color)
  const installed = (path) => {
    try {
      return Boolean(createRequire(join(PACKAGE, 'package.json')).resolve(path));
    } catch {
      return false;
    }
  };
  const unexpected = fromNodeModules.filter(
    (path) =>
      !LOADED_WHEN_USED.includes(path) &&
      !Object.values(LEFT_OUT).some((m) => Object.values(m).includes(path)) &&
      installed(path),
  );
  if (unexpected.length) throw new Error(`the bundle would require ${unexpected.join(', ')} from node_modules`);
  return result.outputFiles[0].text;
}

/**
 * Compiles the bundle as bin/theseus-containerizer.js does (the same wrapped source: V8 accepts a
 * cache only for it), evaluates every module, and returns V8's code cache, which then holds the
 * code of every function compiled so far.
 */
async function codeCache(file) {
  const script = new vm.Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file });
  const module = { exports: {} };
  script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  await module.exports.warmUp();
  return script.createCachedData();
}

function writeAtomically(path, data) {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, data);
  renameSync(temp, path);
}

async function main() {
  try {
    readFileSync(join(DIST, 'cli.js'));
  } catch {
    throw new Error(`${join(DIST, 'cli.js')} is missing: run \`tsc -b\` first`);
  }
  const started = performance.now();
  const code = await bundle();
  const size = (path) => `${(readFileSync(path).length / 1024).toFixed(0)} KiB`;
  // The bundle is the same for the same sources, the code cache is not: an unchanged bundle whose
  // cache this Node accepts is left alone, so rebuilding rewrites no file's contents.
  if (readIfPresent(BUNDLE) === code && cacheAccepted(code)) {
    // newer than the compiled modules again, or bin/theseus-containerizer.js would take it for stale
    const now = new Date();
    utimesSync(BUNDLE, now, now);
    console.error(`${BUNDLE} is up to date (${size(BUNDLE)}, code cache ${size(CODE_CACHE)})`);
  } else {
    mkdirSync(OUT_DIR, { recursive: true });
    // the cache must never outlive the bundle it was made for
    rmSync(CODE_CACHE, { force: true });
    writeAtomically(BUNDLE, code);
    writeAtomically(CODE_CACHE, await codeCache(BUNDLE));
    console.error(
      `bundled ${BUNDLE} (${size(BUNDLE)}, code cache ${size(CODE_CACHE)}) in ${(performance.now() - started).toFixed(0)} ms`,
    );
  }
  buildClient(code);
}

/** Compiles the native client; an unchanged binary is left alone. */
function buildClient(code) {
  const source = readFileSync(CLIENT_SOURCE);
  const buildId = createHash('sha256')
    .update(code)
    .update(source)
    .update(process.execPath)
    .update(process.version)
    .update(PACKAGE)
    .digest('hex')
    .slice(0, 16);
  const temp = `${CLIENT}.${process.pid}.tmp`;
  const cc = process.env.CC || 'cc';
  const compile = (flags) =>
    execFileSync(
      cc,
      [
        ...flags,
        '-O2',
        '-Wall',
        '-Wextra',
        `-DTHESEUS_BUILD_ID="${buildId}"`,
        `-DTHESEUS_NODE="${process.execPath}"`,
        '-o',
        temp,
        CLIENT_SOURCE,
      ],
      { stdio: ['ignore', 'inherit', 'pipe'] },
    );
  try {
    // static where the C library allows it, so the binary runs on a slave image with an older one
    try {
      compile(['-static']);
    } catch (err) {
      if (err.code === 'ENOENT') throw err;
      compile([]);
    }
  } catch (err) {
    rmSync(temp, { force: true });
    if (err.code === 'ENOENT') {
      console.error(
        `containerizer bundle: no C compiler (${cc}): the native client is not built; slaves run bin/theseus-containerizer.js`,
      );
      rmSync(CLIENT, { force: true });
      return;
    }
    throw new Error(`compiling ${CLIENT_SOURCE} failed: ${err.stderr?.toString() ?? err.message}`);
  }
  if (readIfPresent(CLIENT, null)?.equals(readFileSync(temp))) rmSync(temp);
  else renameSync(temp, CLIENT);
  console.error(`native client ${CLIENT} (build ${buildId})`);
}

function readIfPresent(path, encoding = 'utf8') {
  try {
    return readFileSync(path, encoding);
  } catch {
    return undefined;
  }
}

function cacheAccepted(code) {
  try {
    return !new vm.Script(Module.wrap(code), { filename: BUNDLE, cachedData: readFileSync(CODE_CACHE) })
      .cachedDataRejected;
  } catch {
    return false;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(`containerizer bundle: ${err instanceof Error ? err.message : err}`);
    process.exitCode = 1;
  });
}
