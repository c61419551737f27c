// The package as a user gets it: packed into a tarball, installed into a plain Node project outside
// the repository, imported there (JavaScript and TypeScript), and asked for peers in real etcd. The
// contract modules it takes from @theseus/services travel compiled into it: nothing installed
// imports another package of the repository.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { EtcdLayout } from '@theseus/services';
import { endpointRecord, putRecord } from './test-support/records.js';

const packScript = fileURLToPath(new URL('../scripts/pack.mjs', import.meta.url));
const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
const etcdUrl = (process.env.ETCD_ENDPOINTS ?? 'http://127.0.0.1:2379').split(',')[0]!;
const prefix = `/test-pack-${randomUUID().slice(0, 8)}`;
const layout = new EtcdLayout(prefix);
const client = new Etcd3({ hosts: etcdUrl });
const project = mkdtempSync(join(tmpdir(), 'guestutils-user-'));

const web1 = endpointRecord({
  service: 'web',
  host: '10.1.0.1',
  ports: { http: { host: 31080, container: 80, protocol: 'tcp' } },
  healthy: true,
});
const web2 = endpointRecord({
  service: 'web',
  host: '10.1.0.2',
  ports: { http: { host: 31081, container: 80, protocol: 'tcp' } },
  healthy: true,
});
const sick = endpointRecord({
  service: 'web',
  host: '10.1.0.3',
  ports: { http: { host: 31082, container: 80, protocol: 'tcp' } },
  healthy: false,
});
const expected = [web1, web2]
  .sort((x, y) => (x.taskId < y.taskId ? -1 : 1))
  .map((r) => `${r.host}:${r.ports.http!.host}`);

let tarball = '';

/** Runs a module of the user's project with only what a container of the service would have set. */
function runInProject(file: string, source: string, extraEnv: Record<string, string> = {}) {
  writeFileSync(join(project, file), source);
  return spawnSync(process.execPath, [file], {
    cwd: project,
    encoding: 'utf8',
    timeout: 30_000,
    env: {
      PATH: process.env.PATH ?? '',
      ETCD_ENDPOINTS: etcdUrl,
      THESEUS_ETCD_PREFIX: prefix,
      ENVIRONMENT_NAME: 'default',
      ...extraEnv,
    },
  });
}

before(async () => {
  tarball = execFileSync(process.execPath, [packScript, '--out', project], { encoding: 'utf8' }).trim();
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'user-app', version: '1.0.0', private: true, type: 'module' }),
  );
  execFileSync('npm', ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], {
    cwd: project,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (const record of [web1, web2, sick]) await putRecord(client, layout, record);
});

after(async () => {
  await client.delete().prefix(prefix + '/');
  client.close();
  rmSync(project, { recursive: true, force: true });
});

/** Every module specifier (static, dynamic, re-export) in the files under `dir`, with the file naming it. */
function importsUnder(dir: string): Array<{ file: string; specifier: string }> {
  const found: Array<{ file: string; specifier: string }> = [];
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !/\.(js|d\.ts)$/.test(entry.name)) continue;
    const file = join(entry.parentPath, entry.name);
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"]+)\1/g))
      found.push({ file, specifier: m[2]! });
  }
  return found;
}

test('the installed package holds the library with its contract compiled in, and nothing else of the repository', () => {
  const installed = join(project, 'node_modules', '@theseus');
  const pkg = join(installed, 'guestutils');
  assert.deepEqual(readdirSync(installed).sort(), ['guestutils']);
  assert.ok(!existsSync(join(pkg, 'node_modules')), 'nothing is bundled as a dependency');
  const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  assert.deepEqual(Object.keys(manifest.dependencies).sort(), ['cockatiel', 'etcd3', 'zod']);
  const ours = importsUnder(join(pkg, 'dist')).filter(
    ({ specifier }) => specifier.startsWith('@theseus/') && !specifier.startsWith('@theseus/guestutils'),
  );
  assert.deepEqual(ours, [], 'a shipped file imports another package of the repository');
  assert.ok(existsSync(join(pkg, 'dist', 'services', 'endpoints', 'record.d.ts')), 'the contract types are shipped');
  assert.ok(!existsSync(join(pkg, 'dist', 'cli.js')), 'the monorepo command is not shipped');
  assert.ok(existsSync(join(project, 'node_modules', 'etcd3', 'package.json')), 'etcd3 is installed as a dependency');
});

test('importing the installed package does not load etcd3; the first etcd question does', () => {
  const loadsEtcd3 = (source: string) => {
    const run = runInProject('loads.js', source, { NODE_DEBUG: 'module' });
    assert.equal(run.status, 0, run.stderr);
    return /node_modules\/etcd3\//.test(run.stderr);
  };
  assert.equal(loadsEtcd3("await import('@theseus/guestutils');\n"), false, 'etcd3 was loaded at import time');
  assert.equal(
    loadsEtcd3(
      "const { getNodeList, closeGuest } = await import('@theseus/guestutils');\n" +
        "await getNodeList('web');\nawait closeGuest();\n",
    ),
    true,
    'etcd3 is loaded by getNodeList',
  );
});

test('getNodeList answers from real etcd in a project outside the repository', () => {
  const run = runInProject(
    'main.js',
    "import { getNodeList, closeGuest } from '@theseus/guestutils';\n" +
      "console.log(JSON.stringify(await getNodeList('web', { ports: ['http'] })));\n" +
      'await closeGuest();\n',
  );
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), expected);
});

test('a missing service is a typed error naming it', () => {
  const run = runInProject(
    'missing.js',
    "import { getNodeList, closeGuest, NotEnoughNodesError } from '@theseus/guestutils';\n" +
      "try { await getNodeList('nope'); } catch (err) { console.log(err instanceof NotEnoughNodesError, err.message); }\n" +
      'await closeGuest();\n',
  );
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout.trim(), 'true service "nope" in environment "default" has no running instances');
});

test('the package carries its types: a TypeScript user type-checks against them', () => {
  writeFileSync(
    join(project, 'typed.ts'),
    "import { getNodeList, type EndpointDelta, type EndpointRecord } from '@theseus/guestutils';\n" +
      "const nodes: Promise<string[]> = getNodeList('web', { ports: ['http'], minimum: 1 });\n" +
      'const host = (r: EndpointRecord): string => r.host;\n' +
      'const count = (d: EndpointDelta): number => d.current.length;\n' +
      'export { nodes, host, count };\n' +
      '// @ts-expect-error ports are names, not numbers\n' +
      "getNodeList('web', { ports: [80] });\n",
  );
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: [],
      },
      files: ['typed.ts'],
    }),
  );
  const check = spawnSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8', timeout: 180_000 });
  assert.equal(check.status, 0, check.stdout + check.stderr);
});
