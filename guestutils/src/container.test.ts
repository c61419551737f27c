// guestutils where it is meant to run: inside a Docker container built here from theseus/node:local,
// with the built packages mounted read-only, reaching etcd over the host network, finding a peer
// written in the subscriber's record format.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { EtcdLayout } from '@theseus/services';
import { endpointRecord, eventually, putRecord } from './test-support/records.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const etcdUrl = (process.env.ETCD_ENDPOINTS ?? 'http://127.0.0.1:2379').split(',')[0]!;
const run = randomUUID().slice(0, 8);
const prefix = `/test-container-${run}`;
const layout = new EtcdLayout(prefix);
const client = new Etcd3({ hosts: etcdUrl });
const image = `theseus/guestutils-test:${run}`;
const label = `io.theseus.test=guestutils-${run}`;
const context = mkdtempSync(join(tmpdir(), 'guestutils-image-'));

function docker(...args: string[]) {
  const result = spawnSync('docker', args, { encoding: 'utf8', timeout: 120_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

before(() => {
  // The image: the local Node base plus a handler module, as an application image would add its own.
  writeFileSync(
    join(context, 'Dockerfile'),
    'FROM theseus/node:local\nCOPY watch_methods.mjs /app/watch_methods.mjs\nWORKDIR /app\n',
  );
  writeFileSync(
    join(context, 'watch_methods.mjs'),
    `export function serviceChange(service, delta) {
  const node = (r) => r.host + ':' + r.ports.api.host;
  console.log(JSON.stringify({ service, added: delta.added.map(node), removed: delta.removed.map(node), current: delta.current.map(node) }));
}
`,
  );
  const built = docker('build', '--quiet', '--label', label, '-t', image, context);
  assert.equal(built.code, 0, built.stderr);
});

after(async () => {
  const containers = docker('ps', '-aq', '--filter', `label=${label}`).stdout.trim().split('\n').filter(Boolean);
  if (containers.length) docker('rm', '-f', ...containers);
  docker('rmi', '-f', image);
  rmSync(context, { recursive: true, force: true });
  await client.delete().prefix(prefix + '/');
  client.close();
});

test('inside a container: theseus guest finds a peer the subscriber registered, and theseus watch reports peers coming and going', async (t) => {
  const peer = endpointRecord({
    service: 'redis',
    host: '10.20.0.5',
    ports: { api: { host: 31002, container: 6379, protocol: 'tcp' } },
  });
  await putRecord(client, layout, peer);

  const started = docker(
    'run',
    '-d',
    '--network',
    'host',
    '--label',
    label,
    '-v',
    `${repo}:/opt/theseus:ro`,
    '-e',
    `ETCD_ENDPOINTS=${etcdUrl}`,
    '-e',
    `THESEUS_ETCD_PREFIX=${prefix}`,
    '-e',
    'ENVIRONMENT_NAME=default',
    '-e',
    'SERVICE_NAME=web',
    '-e',
    'MESOS_TASK_ID=theseus_default_web.instance-1._app.1',
    '-e',
    'HOST=10.20.0.1',
    '-e',
    'WATCHES=redis',
    '-e',
    'WATCH_HANDLER=/app/watch_methods.mjs',
    '-e',
    'WATCH_COALESCE_MS=20',
    '-e',
    'LOG_FORMAT=json',
    image,
    'node',
    '/opt/theseus/bin/theseus.js',
    'watch',
  );
  assert.equal(started.code, 0, started.stderr);
  const container = started.stdout.trim();
  t.after(() => docker('rm', '-f', container));
  const deltas = () =>
    docker('logs', container)
      .stdout.split('\n')
      .filter((l) => l.startsWith('{"service"'))
      .map((l) => JSON.parse(l) as { service: string; added: string[]; removed: string[]; current: string[] });

  // The CLI, from inside the container.
  const guest = (...args: string[]) =>
    docker('exec', container, 'node', '/opt/theseus/bin/theseus.js', 'guest', ...args);
  const nodes = guest('node-list', 'redis', '--ports', 'api');
  assert.equal(nodes.code, 0, nodes.stderr);
  assert.equal(nodes.stdout, '10.20.0.5:31002\n');
  assert.equal(guest('specific-port', 'redis', peer.taskId, 'api').stdout, '31002\n');
  assert.equal(guest('container-name').stdout, 'theseus_default_web.instance-1._app.1\n');
  const missing = guest('node-list', 'memcached');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /service "memcached" in environment "default" has no running instances/);

  // The watcher, running as the container's main process.
  await eventually(() => deltas().length === 1, 'the initial delta in the container log', 30_000);
  assert.deepEqual(deltas()[0], {
    service: 'redis',
    added: ['10.20.0.5:31002'],
    removed: [],
    current: ['10.20.0.5:31002'],
  });
  const second = endpointRecord({
    service: 'redis',
    host: '10.20.0.6',
    ports: { api: { host: 31003, container: 6379, protocol: 'tcp' } },
  });
  await putRecord(client, layout, second);
  await eventually(() => deltas().length === 2, 'the second peer in the container log', 30_000);
  assert.deepEqual(deltas()[1]!.added, ['10.20.0.6:31003']);
  await client.delete().key(layout.endpoint('default', 'redis', peer.taskId));
  await eventually(() => deltas().length === 3, 'the removal in the container log', 30_000);
  assert.deepEqual(deltas()[2], {
    service: 'redis',
    added: [],
    removed: ['10.20.0.5:31002'],
    current: ['10.20.0.6:31003'],
  });

  // docker stop sends SIGTERM: the watcher stops cleanly.
  assert.equal(docker('stop', '-t', '10', container).code, 0);
  assert.equal(docker('inspect', '-f', '{{.State.ExitCode}}', container).stdout.trim(), '0');
});
