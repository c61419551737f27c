// `theseus guest` and `theseus watch` as a container runs them: the built bin, real processes, real etcd.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { EtcdLayout } from '@theseus/services';
import { endpointRecord, eventually, putRecord } from './test-support/records.js';

const bin = fileURLToPath(new URL('../../bin/theseus.js', import.meta.url));
const etcdUrl = (process.env.ETCD_ENDPOINTS ?? 'http://127.0.0.1:2379').split(',')[0]!;
const prefix = `/test-cli-${randomUUID().slice(0, 8)}`;
const layout = new EtcdLayout(prefix);
const client = new Etcd3({ hosts: etcdUrl });
const dir = mkdtempSync(join(tmpdir(), 'guestutils-cli-'));

const clean = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) =>
      !/^(MARATHON_|ETCD_|REDIS_|THESEUS_|LOG_|WATCH|CONTAINER_|ENVIRONMENT_NAME|SERVICE_NAME|HOST$|PORT)/.test(k),
  ),
) as Record<string, string>;
const env = {
  ...clean,
  ETCD_ENDPOINTS: etcdUrl,
  THESEUS_ETCD_PREFIX: prefix,
  ENVIRONMENT_NAME: 'default',
  LOG_FORMAT: 'json',
};

function theseus(args: string[], extra: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [bin, ...args], {
    env: { ...env, ...extra },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const a = endpointRecord({
  service: 'redis',
  host: '10.0.0.5',
  ports: {
    api: { host: 31002, container: 6379, protocol: 'tcp' },
    metrics: { host: 31003, container: 9121, protocol: 'tcp' },
  },
});
const b = endpointRecord({
  service: 'redis',
  host: '10.0.0.6',
  labels: ['prod'],
  ports: {
    api: { host: 31010, container: 6379, protocol: 'tcp' },
    metrics: { host: 31011, container: 9121, protocol: 'tcp' },
  },
});
const [first, second] = [a, b].sort((x, y) => (x.taskId < y.taskId ? -1 : 1)) as [typeof a, typeof b];

before(async () => {
  await putRecord(client, layout, a);
  await putRecord(client, layout, b);
});
after(async () => {
  await client.delete().prefix(prefix + '/');
  client.close();
  rmSync(dir, { recursive: true, force: true });
});

test('theseus guest node-list prints one host:port a line, or JSON with --json; maestro spellings work', () => {
  const plain = theseus(['guest', 'node-list', 'redis', '--ports', 'api']);
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(plain.stdout, `${first.host}:${first.ports.api!.host}\n${second.host}:${second.ports.api!.host}\n`);
  const json = theseus(['guest', 'get_node_list', 'redis', '--ports', 'api,metrics', '--labels', 'prod', '--json']);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), ['10.0.0.6:31010:31011']);
  assert.equal(theseus(['guest', 'getNodeList', 'redis']).stdout, `${first.host}\n${second.host}\n`);
});

test('theseus guest specific-port / specific-exposed-port / specific-host answer one container', () => {
  assert.deepEqual(theseus(['guest', 'specific-port', 'redis', a.taskId, 'metrics']), {
    code: 0,
    stdout: '31003\n',
    stderr: '',
  });
  assert.equal(theseus(['guest', 'specific-exposed-port', 'redis', a.taskId, 'api', '--json']).stdout, '6379\n');
  assert.equal(theseus(['guest', 'specific-host', 'redis', b.taskId]).stdout, '10.0.0.6\n');
  assert.equal(theseus(['guest', 'specific-port', 'redis', 'gone.x', 'api', '--default', '7000']).stdout, '7000\n');
});

test('theseus guest answers from the environment: port, service name, labels', () => {
  const own = { SERVICE_NAME: 'web', LABELS: 'blue,prod', CONTAINER_PORT_HTTP: '8080' };
  assert.equal(theseus(['guest', 'port', 'http'], own).stdout, '8080\n');
  assert.equal(theseus(['guest', 'get_service_name'], own).stdout, 'web\n');
  assert.equal(theseus(['guest', 'labels', '--json'], own).stdout, '["blue","prod"]\n');
  assert.equal(theseus(['guest', 'port', 'admin', '--default', '9000'], own).stdout, '9000\n');
});

test('a question without an answer exits 1 with one line naming what is missing, no stack trace', () => {
  const cases: Array<[string[], RegExp]> = [
    [
      ['guest', 'specific-host', 'redis', 'gone.x'],
      /^theseus guest: container "gone\.x" of service "redis" in environment "default" not found/,
    ],
    [
      ['guest', 'node-list', 'memcached'],
      /^theseus guest: service "memcached" in environment "default" has no running instances$/,
    ],
    [['guest', 'node-list', 'redis', '--minimum', '3'], /has 2 running instances, fewer than the 3 required$/],
    [
      ['guest', 'node-list', 'redis', '--ports', 'admin'],
      /^theseus guest: port "admin" of container ".*" of service "redis" \(it has api, metrics\) not found$/,
    ],
    [
      ['guest', 'port', 'http'],
      /^theseus guest: port "http" of this container \(CONTAINER_PORT_HTTP and PORT_HTTP are not set\) not found$/,
    ],
    [['guest', 'service-name'], /^theseus guest: service name: SERVICE_NAME is not set/],
  ];
  for (const [args, message] of cases) {
    const { code, stdout, stderr } = theseus(args);
    assert.equal(code, 1, `${args.join(' ')}: ${stderr}`);
    assert.equal(stdout, '');
    assert.equal(stderr.trim().split('\n').length, 1, stderr);
    assert.match(stderr.trim(), message);
  }
});

test('an unknown function or a wrong number of arguments exits 2', () => {
  const unknown = theseus(['guest', 'node-lists', 'redis']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^theseus guest: unknown function 'node-lists' \(one of: environment-name, .*node-list/);
  const arity = theseus(['guest', 'specific-host', 'redis']);
  assert.equal(arity.code, 2);
  assert.equal(arity.stderr, 'theseus guest: specific-host takes <service> <container>\n');
});

test('theseus watch without WATCHES, or with a handler that exports nothing usable, stops at once with a clear line', () => {
  const none = theseus(['watch']);
  assert.equal(none.code, 1);
  assert.equal(none.stderr, 'theseus watch: WATCHES: names no service to watch (set WATCHES=service1,service2)\n');
  assert.equal(theseus(['watch'], { WATCHES: ' , ' }).code, 1);
  const empty = join(dir, 'empty.mjs');
  writeFileSync(empty, 'export const x = 1;\n');
  const bad = theseus(['watch', '--handler', empty], { WATCHES: 'redis' });
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, `theseus watch: --handler: ${empty} exports no serviceChange(service, delta) function\n`);
  const missing = theseus(['watch'], { WATCHES: 'redis', WATCH_HANDLER: join(dir, 'nope.mjs') });
  assert.equal(missing.stderr, `theseus watch: WATCH_HANDLER: cannot load ${join(dir, 'nope.mjs')}: no such module\n`);
});

test('theseus watch calls the handler module with exact deltas and stops cleanly on SIGTERM', async () => {
  const out = join(dir, 'deltas.jsonl');
  const handler = join(dir, 'watch_methods.mjs');
  writeFileSync(
    handler,
    `import { appendFileSync } from 'node:fs';
export async function serviceChange(service, delta) {
  appendFileSync(${JSON.stringify(out)}, JSON.stringify({ service, added: delta.added.map((r) => r.host), removed: delta.removed.map((r) => r.host), current: delta.current.length }) + '\\n');
}
`,
  );
  const child = spawn(process.execPath, [bin, 'watch', '--handler', handler, '--coalesce-ms', '20'], {
    env: { ...env, WATCHES: 'redis,web' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const lines = () => {
    try {
      return readFileSync(out, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { service: string; added: string[]; removed: string[]; current: number });
    } catch {
      return [];
    }
  };
  await eventually(() => lines().length === 1, 'the initial delta', 20_000);
  assert.deepEqual(lines()[0], { service: 'redis', added: [first.host, second.host], removed: [], current: 2 });
  await putRecord(client, layout, endpointRecord({ service: 'web', host: '10.0.9.9' }));
  await eventually(() => lines().length === 2, 'the web delta');
  assert.deepEqual(lines()[1], { service: 'web', added: ['10.0.9.9'], removed: [], current: 1 });
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  assert.match(stderr, /"message":"stopping"/);
  assert.doesNotMatch(stderr, /"level":"error"/);
});

test('theseus watch without a handler prints each delta as a JSON line', async () => {
  const child = spawn(process.execPath, [bin, 'watch', '--no-initial'], {
    env: { ...env, WATCHES: 'redis' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await eventually(() => stderr.includes('"message":"watching"'), 'the watch to start', 20_000);
  const c = endpointRecord({ service: 'redis', host: '10.0.7.7' });
  await putRecord(client, layout, c);
  await eventually(() => stdout.includes('\n'), 'a delta line');
  const delta = JSON.parse(stdout.split('\n')[0]!) as { service: string; added: unknown[]; current: unknown[] };
  assert.equal(delta.service, 'redis');
  assert.deepEqual(delta.added, [c]);
  assert.equal(delta.current.length, 3);
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  await client.delete().key(layout.endpoint('default', 'redis', c.taskId));
});
